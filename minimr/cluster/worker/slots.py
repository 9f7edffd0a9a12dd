"""A worker's slots: its executors, the attempts waiting for them, and each attempt's log.

The worker's loop (``worker.py``) hands :class:`Slots` what the coordinator says about
attempts (an assignment, a plan, a commit answer, a cancel, a forgotten job) and the
executors that have something to say; :class:`Slots` turns the executors' replies
(``pipe.py``) into the messages the coordinator is sent (``TaskDone``, ``CommitRequest``,
``TaskFailed``, ``FetchFailed``), through the ``send`` it was given.

- An assignment waits in ``queue`` until its job's plan is here (asked for once per job, then
  kept) and a slot is idle; the executor loads a job's plan once.
- A slot whose executor died, or runs an attempt that was cancelled or whose job was
  forgotten, gets a fresh executor: the old one may be running stale user code.
- What an executor writes (the user's ``print``s, stderr, ``logging``) goes into the running
  attempt's bounded log (``tasklogs.py``), saved when the attempt ends; a failure's message
  carries its last bytes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from minimr.cluster.wire import protocol as p
from minimr.cluster.worker import pipe
from minimr.cluster.worker.executor import STDERR_TAIL, Executor
from minimr.cluster.worker.tasklogs import AttemptLogs, BoundedLog

log = logging.getLogger("minimr.worker")


@dataclass
class Slot:
    """An executor and the attempt it is running, if any."""

    executor: Executor
    assignment: p.Assign | None = None
    counters: dict = field(default_factory=dict)  # a reduce's counters, held until commit
    elapsed: float = 0.0
    temp_path: str = ""
    log: BoundedLog | None = None  # the running attempt's output (``assignment``'s)


class Slots:
    """A worker's executor slots and what waits for them.

    Args:
        count: attempts run at once (one executor each).
        executor: makes slot N's executor ``(N, fork) -> Executor``.
        logs: where ended attempts' logs are kept.
        name: the worker's name, for messages.
        send: posts a message to the coordinator.
    """

    def __init__(self, count: int, executor: Callable[[int, bool], Executor],
                 logs: AttemptLogs, name: str, send: Callable[[p.Message], None]) -> None:
        self.count = count
        self.logs = logs
        self.name = name
        self._executor = executor
        self._send = send
        self.slots: list[Slot] = []
        self.queue: deque[p.Assign] = deque()
        self.plans: dict[str, tuple[str, bytes]] = {}
        self.plans_requested: set[str] = set()
        #: the worker is stopping: an executor's death is not an attempt's failure
        self.stopping = False
        self._replies: dict[type, Callable] = {
            pipe.Done: self._on_done,
            pipe.ReadyToCommit: self._on_ready_to_commit,
            pipe.Committed: self._on_committed,
            pipe.FetchLost: self._on_fetch_lost,
            pipe.Failed: self._on_failed,
        }

    def start(self, fork: bool) -> None:
        """Start the executors (forked when ``fork``: see executor.py)."""
        self.slots = [Slot(self._executor(i, fork)) for i in range(self.count)]

    def pollables(self) -> list:
        """What to wait on: each executor's replies, death and output."""
        items: list = []
        for slot in self.slots:
            items += [slot.executor.conn, slot.executor.sentinel, slot.executor.output]
        return items

    def close(self) -> None:
        """Save the running attempts' logs and kill every executor."""
        for slot in self.slots:
            self._end_log(slot, "the worker stopped")
            slot.executor.kill()

    # --- what the coordinator says ----------------------------------------------------------

    def assign(self, message: p.Assign) -> None:
        """Queue an assignment (its reduce table resolved); ask for its job's plan once."""
        if message.job_id not in self.plans and message.job_id not in self.plans_requested:
            self.plans_requested.add(message.job_id)
            self._send(p.PlanRequest(message.job_id))
        self.queue.append(message)

    def take_plan(self, message: p.Plan) -> None:
        self.plans[message.job_id] = (message.serializer, message.blob)
        self.plans_requested.discard(message.job_id)

    def cancel(self, message: p.CancelAttempt) -> None:
        self.queue = deque(a for a in self.queue if a.attempt != message.attempt)
        for index, slot in enumerate(self.slots):
            if slot.assignment is not None and slot.assignment.attempt == message.attempt:
                self._replace_executor(index)
        if not any(a.job_id == message.job_id for a in self.queue):
            # the coordinator serves a plan only to a worker with an assignment of its job:
            # a request that crossed this cancel goes unanswered, the next assignment asks again
            self.plans_requested.discard(message.job_id)

    def answer_commit(self, message: p.CommitAnswer) -> None:
        for slot in self.slots:
            assignment = slot.assignment
            if assignment is None or assignment.attempt != message.attempt:
                continue
            if message.ok:
                slot.executor.send(
                    pipe.Commit(assignment.job_id, assignment.attempt, assignment.task,
                                slot.temp_path, assignment.kind)
                )
            else:
                slot.executor.send(pipe.Discard(slot.temp_path))
                self._end_log(slot, "its commit was refused: another attempt committed first")
                slot.assignment = None

    def forget_job(self, job_id: str) -> None:
        """Drop a job's plan and queued attempts; stop its running ones."""
        self.plans.pop(job_id, None)
        self.plans_requested.discard(job_id)
        self.queue = deque(a for a in self.queue if a.job_id != job_id)
        for index, slot in enumerate(self.slots):
            if slot.assignment is not None and slot.assignment.job_id == job_id:
                self._replace_executor(index)
            elif job_id in slot.executor.jobs:
                slot.executor.send(pipe.ForgetPlan(job_id))
                slot.executor.jobs.discard(job_id)

    def abandon(self) -> None:
        """The connection is gone: its attempts are the coordinator's to run again."""
        self.queue.clear()
        self.plans_requested.clear()  # asked on a connection that is gone: ask again
        for index, slot in enumerate(self.slots):
            if slot.assignment is None:
                continue
            if self.stopping:  # every executor is killed as the worker ends: none to start
                self._end_log(slot, "the worker stopped")
                slot.assignment = None
            else:
                self._replace_executor(index)

    def running_log(self, job_id: str, attempt: str) -> BoundedLog | None:
        """The log of that attempt if a slot runs it, up to date; else None."""
        for slot in self.slots:
            if (slot.log is not None and slot.assignment is not None
                    and (slot.assignment.job_id, slot.assignment.attempt) == (job_id, attempt)):
                self._take_output(slot)
                return slot.log
        return None

    # --- the executors ---------------------------------------------------------------------

    def serve(self, ready: list) -> None:
        """Handle the output, replies and deaths of executors that have something to say."""
        for slot in list(self.slots):
            if slot.executor.output in ready:
                self._take_output(slot)
            if slot.executor.conn in ready or slot.executor.sentinel in ready:
                self._drain_executor(slot)

    def start_queued(self) -> None:
        """Give queued assignments whose plan is here to idle executors."""
        for slot in self.slots:
            if slot.assignment is not None:
                continue
            assignment = next((a for a in self.queue if a.job_id in self.plans), None)
            if assignment is None:
                return
            self.queue.remove(assignment)
            if assignment.job_id not in slot.executor.jobs:
                serializer, blob = self.plans[assignment.job_id]
                slot.executor.send(pipe.LoadPlan(assignment.job_id, serializer, blob))
                slot.executor.jobs.add(assignment.job_id)
            slot.assignment = assignment
            slot.log = self.logs.new()
            slot.executor.send(
                pipe.Run(
                    assignment.job_id,
                    assignment.attempt,
                    assignment.kind,
                    assignment.task,
                    assignment.inputs,
                )
            )

    def _drain_executor(self, slot: Slot) -> None:
        index = self.slots.index(slot)
        self._take_output(slot)  # written before the reply was sent: the log comes first
        try:
            while slot.executor.conn.poll():
                reply = slot.executor.conn.recv()
                handler = self._replies.get(type(reply))
                if handler is None:
                    log.warning("dropping %r from executor %d", reply, index)
                elif slot.assignment is not None and reply.attempt == slot.assignment.attempt:
                    handler(slot, reply)
        except (EOFError, OSError):
            pass
        if not slot.executor.process.is_alive():
            self._on_executor_died(index)

    def _on_done(self, slot: Slot, reply: pipe.Done) -> None:
        assignment = slot.assignment
        self._end_log(slot)
        slot.assignment = None
        self._send(
            p.TaskDone(assignment.job_id, reply.attempt, reply.output, reply.counters,
                       reply.elapsed)
        )

    def _on_ready_to_commit(self, slot: Slot, reply: pipe.ReadyToCommit) -> None:
        slot.temp_path, slot.counters, slot.elapsed = reply.temp_path, reply.counters, reply.elapsed
        self._send(p.CommitRequest(slot.assignment.job_id, reply.attempt))

    def _on_committed(self, slot: Slot, reply: pipe.Committed) -> None:
        self._on_done(slot, pipe.Done(reply.attempt, None, slot.counters, slot.elapsed))

    def _on_fetch_lost(self, slot: Slot, reply: pipe.FetchLost) -> None:
        assignment = slot.assignment
        self._end_log(slot)
        slot.assignment = None
        self._send(p.FetchFailed(assignment.job_id, reply.attempt, reply.lost, reply.reason))

    def _on_failed(self, slot: Slot, reply: pipe.Failed) -> None:
        assignment = slot.assignment
        tail = self._end_log(slot)
        slot.assignment = None
        self._send(
            p.TaskFailed(
                assignment.job_id,
                reply.attempt,
                f"{reply.error}(on worker {self.name})",
                tail,
                record=reply.record,
                final=reply.final,
            )
        )

    def _on_executor_died(self, index: int) -> None:
        slot = self.slots[index]
        assignment = slot.assignment
        reason = slot.executor.describe_death()
        if self.stopping:
            # Stopped with this worker (systemd signals the unit's whole cgroup): the attempt
            # is not a failure. The Bye this worker sends as it leaves has the coordinator
            # run it again, uncounted; a new executor would only be killed at once.
            log.info("executor of slot %d ended as the worker stops: %s", index, reason)
            return
        log.warning("executor of slot %d died: %s", index, reason)
        if assignment is not None:
            tail = self._end_log(slot, reason)
            self._send(
                p.TaskFailed(
                    assignment.job_id,
                    assignment.attempt,
                    f"{reason} while running {assignment.attempt} on worker {self.name}",
                    tail,
                    crashed=True,
                )
            )
        self._replace_executor(index)

    def _replace_executor(self, index: int) -> None:
        """Kill a slot's executor (it may be running stale user code) and start a fresh one."""
        self._end_log(self.slots[index], "the attempt was stopped (cancelled, or its job ended)")
        self.slots[index].executor.kill()
        self.slots[index] = Slot(self._executor(index, False))

    # --- attempt logs ----------------------------------------------------------------------

    def _take_output(self, slot: Slot) -> None:
        """Move what the slot's executor wrote into its attempt's log (none: dropped)."""
        data = slot.executor.read_output()
        if data and slot.log is not None:
            slot.log.write(data)
        elif data:
            log.debug("slot output outside any attempt dropped: %d bytes", len(data))

    def _end_log(self, slot: Slot, why: str = "") -> str:
        """Save the slot's attempt log (with ``why`` the worker ended it, if it did);
        returns its last bytes, for a failure's message."""
        if slot.log is None or slot.assignment is None:
            return ""
        self._take_output(slot)
        if why:
            slot.log.write(f"[minimr] worker {self.name}: {why}\n".encode())
        tail = slot.log.tail_text(STDERR_TAIL)
        try:
            self.logs.save(slot.assignment.job_id, slot.assignment.attempt, slot.log)
        except OSError as exc:
            log.warning("could not save the log of %s: %s", slot.assignment.attempt, exc)
        slot.log = None
        return tail
