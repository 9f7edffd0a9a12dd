"""A worker's slots on fake executors: what waits, what each reply becomes for the
coordinator, and an executor's death."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.transport import Waker
from minimr.cluster.worker import pipe
from minimr.cluster.worker.executor import read_available
from minimr.cluster.worker.slots import Slots
from minimr.cluster.worker.tasklogs import AttemptLogs


class FakeExecutor:
    """An executor the test speaks for: ``reply`` sends what the executor would, ``write``
    is its output, ``die`` ends it."""

    def __init__(self) -> None:
        self.conn, self.child = multiprocessing.Pipe()
        self._ended = Waker()
        self.sentinel = self._ended.fd
        self.output, self._output_w = os.pipe()
        os.set_blocking(self.output, False)
        self.jobs: set[str] = set()
        self.process = self
        self.alive = True
        self.killed = False
        self.got: list = []  # what the slot sent it

    def send(self, message) -> bool:
        self.got.append(message)
        return True

    def reply(self, message) -> None:
        self.child.send(message)

    def write(self, text: str) -> None:
        os.write(self._output_w, text.encode())

    def die(self) -> None:
        self.alive = False
        self._ended.wake()

    def is_alive(self) -> bool:
        return self.alive

    def read_output(self) -> bytes:
        return read_available(self.output)

    def describe_death(self) -> str:
        return "killed by signal 9 (SIGKILL)"

    def kill(self) -> None:
        self.killed = True

    def close(self) -> None:
        self.conn.close()
        self.child.close()
        self._ended.close()
        os.close(self.output)
        os.close(self._output_w)


@pytest.fixture
def slots(tmp_path):
    made: list[FakeExecutor] = []
    sent: list = []

    def executor(index: int, fork: bool) -> FakeExecutor:
        made.append(FakeExecutor())
        return made[-1]

    slots = Slots(2, executor, AttemptLogs(str(tmp_path / "logs")), "w1", sent.append)
    slots.start(fork=False)
    slots.made, slots.sent = made, sent  # for the tests
    yield slots
    for executor in made:
        executor.close()


def turn(slots: Slots) -> None:
    """What the worker's turn does with its slots: serve every executor, start the queued."""
    slots.serve(slots.pollables())
    slots.start_queued()


def assign(attempt: str, kind: str = "map") -> p.Assign:
    return p.Assign("j", attempt, kind, {"step": 0})


def test_assignments_wait_for_their_plan_asked_once_and_each_executor_loads_it_once(slots):
    """Two assignments of a job ask for its plan once; both start once it is here, each
    executor loading it before its first run."""
    slots.assign(assign("s0-m00000-a1"))
    slots.assign(assign("s0-m00001-a1"))
    turn(slots)
    assert slots.sent == [p.PlanRequest("j")]
    assert all(s.assignment is None for s in slots.slots)
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    turn(slots)
    for executor, attempt in zip(slots.made, ("s0-m00000-a1", "s0-m00001-a1"), strict=True):
        assert [type(m) for m in executor.got] == [pipe.LoadPlan, pipe.Run]
        assert executor.got[1].attempt == attempt
    assert not slots.queue


def test_a_done_reply_frees_the_slot_reports_it_and_keeps_the_log(slots):
    """The executor's output goes into the attempt's log, saved when it is done; the
    coordinator is sent TaskDone and the slot takes the next assignment."""
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    slots.assign(assign("s0-m00000-a1"))
    turn(slots)
    executor = slots.made[0]
    executor.write("hello from map\n")
    executor.reply(pipe.Done("s0-m00000-a1", None, {"c": {"n": 1}}, 0.5))
    turn(slots)
    assert slots.sent == [p.TaskDone("j", "s0-m00000-a1", None, {"c": {"n": 1}}, 0.5)]
    assert slots.slots[0].assignment is None
    kept = slots.logs.load("j", "s0-m00000-a1")
    assert b"hello from map" in kept.read(0)[0]


def test_a_reply_of_another_attempt_is_ignored(slots):
    """A stale reply (an attempt the slot no longer runs) is dropped."""
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    slots.assign(assign("s0-m00000-a1"))
    turn(slots)
    slots.made[0].reply(pipe.Done("s0-m00000-a0", None, {}, 0.1))
    turn(slots)
    assert slots.sent == []
    assert slots.slots[0].assignment is not None


def test_an_executor_that_dies_fails_its_attempt_with_its_output_and_is_replaced(slots):
    """A death mid-attempt is a crashed TaskFailed carrying the reason and the output's
    tail; the slot gets a fresh executor."""
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    slots.assign(assign("s0-m00000-a1"))
    turn(slots)
    dead = slots.made[0]
    dead.write("Traceback: out of memory\n")
    dead.die()
    turn(slots)
    [failed] = slots.sent
    assert isinstance(failed, p.TaskFailed) and failed.crashed
    assert "SIGKILL" in failed.error and "on worker w1" in failed.error
    assert "out of memory" in failed.stderr
    assert dead.killed and slots.slots[0].executor is not dead


def test_a_death_as_the_worker_stops_is_not_a_failure(slots):
    """Stopping, an executor's end is not reported: the worker's goodbye requeues."""
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    slots.assign(assign("s0-m00000-a1"))
    turn(slots)
    slots.stopping = True
    slots.made[0].die()
    turn(slots)
    assert slots.sent == []


def test_a_reduce_commits_only_when_granted_and_a_refusal_discards_its_output(slots):
    """ReadyToCommit asks the coordinator; a grant has the executor commit (then TaskDone
    with the counters held), a refusal discards the output and frees the slot."""
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    slots.assign(assign("s0-r00000-a1", "reduce"))
    slots.assign(assign("s0-r00001-a1", "reduce"))
    turn(slots)
    first, second = slots.made
    first.reply(pipe.ReadyToCommit("s0-r00000-a1", "/tmp/t0", {"c": {"n": 2}}, 1.0))
    second.reply(pipe.ReadyToCommit("s0-r00001-a1", "/tmp/t1", {}, 1.0))
    turn(slots)
    assert slots.sent == [p.CommitRequest("j", "s0-r00000-a1"),
                          p.CommitRequest("j", "s0-r00001-a1")]
    slots.answer_commit(p.CommitAnswer("j", "s0-r00000-a1", True))
    slots.answer_commit(p.CommitAnswer("j", "s0-r00001-a1", False))
    assert isinstance(first.got[-1], pipe.Commit) and first.got[-1].temp_path == "/tmp/t0"
    assert second.got[-1] == pipe.Discard("/tmp/t1")
    assert slots.slots[1].assignment is None
    first.reply(pipe.Committed("s0-r00000-a1"))
    turn(slots)
    assert slots.sent[-1] == p.TaskDone("j", "s0-r00000-a1", None, {"c": {"n": 2}}, 1.0)


def test_forgetting_a_job_replaces_its_running_executors_and_drops_its_queue(slots):
    """A forgotten job's queued attempts go, its running one's executor is replaced."""
    slots.take_plan(p.Plan("j", "cloudpickle", b"plan"))
    for i in range(3):
        slots.assign(assign(f"s0-m0000{i}-a1"))
    turn(slots)
    running = slots.made[0]
    slots.forget_job("j")
    assert not slots.queue and "j" not in slots.plans
    assert running.killed and slots.slots[0].executor is not running
