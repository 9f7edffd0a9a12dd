"""The worker's loop without sockets or processes: a real coordinator on the in-memory
transport, executors served in threads, turns driven by hand."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from minimr.cluster.client.client import _checked_submit
from minimr.cluster.coordinator.coordinator import Coordinator
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.memory_transport import MemoryNetwork
from minimr.cluster.wire.transport import Waker
from minimr.cluster.worker.executor import read_available, serve
from minimr.cluster.worker.worker import Worker
from minimr.dataflow import taskenv
from tests import hostile
from tests.e2e.support import inline_output, make_plan, read_dir, small_inputs

HOST = "this-host"


class ThreadExecutor:
    """What the worker needs of an executor, served by a thread on a real pipe."""

    def __init__(self, slot: int, work_dir: str) -> None:
        self.conn, child = multiprocessing.Pipe()
        self._ended = Waker()  # the "process sentinel": readable once the thread is gone
        self.sentinel = self._ended.fd
        self.jobs: set[str] = set()
        self.process = self
        # the output pipe: a thread shares the test's stdout, so what it prints is not here;
        # the test writes to it as an executor process would
        self.output, self.output_w = os.pipe()
        os.set_blocking(self.output, False)
        self._thread = threading.Thread(target=self._serve, args=(child, work_dir), daemon=True)
        self._thread.start()

    def _serve(self, child, work_dir: str) -> None:
        serve(child, work_dir, HOST)
        self._ended.wake()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def send(self, message) -> bool:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    def read_output(self) -> bytes:
        return read_available(self.output)

    def describe_death(self) -> str:
        return "the executor thread ended"

    def kill(self) -> None:
        self.conn.close()
        self._thread.join(10)
        for fd in (self.output, self.output_w):
            os.close(fd)


class FakeShuffle:
    """A shuffle server that is never asked (every map output is on this host)."""

    address = "tcp://127.0.0.1:9"

    def stop(self) -> None:
        pass


class Cluster:
    """A coordinator and one worker on an in-memory network, turned by hand."""

    def __init__(self, tmp_path) -> None:
        self.network = MemoryNetwork()
        self.coordinator = Coordinator(
            self.network.bind("mem://c"), s.Scheduler(heartbeat_interval=0.05)
        )
        work = tmp_path / "work"
        work.mkdir(mode=0o700)
        self.worker = Worker(
            "mem://c",
            slots=2,
            work_dir=str(work),
            host=HOST,
            connect=self.network.connect,
            executor=lambda index, fork: ThreadExecutor(index, self.worker.work_dir),
            shuffle=FakeShuffle,
        )
        self.worker.start()
        self.client = self.network.connect("mem://c", b"client")

    def turn(self) -> list[p.Message]:
        """A turn of each; what the client received."""
        self.coordinator.turn()
        self.worker.turn()
        return [m for f in iter(self.client.recv, None) for m in wire.decode_all(f)]

    def run(self, plan, timeout: float = 30) -> p.JobResult:
        """Submit ``plan`` as a client would and turn until its result arrives."""
        options = {"max_attempts": 2}
        self.client.send(wire.encode(_checked_submit(plan, options, "cloudpickle", _blob(plan))))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.turn():
                if isinstance(message, p.JobResult):
                    return message
        raise AssertionError("the job did not end")

    def close(self) -> None:
        self.worker.close()


def _blob(plan) -> bytes:
    from minimr.cluster import shipping

    return shipping.dumps(plan, "cloudpickle")


@pytest.fixture
def cluster(tmp_path):
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    handlers = {sig: signal.getsignal(sig) for sig in signals}  # the worker installs its own
    c = Cluster(tmp_path)
    yield c
    c.close()
    # A task's environment (minimr.options(), side files) is one per process, as an executor
    # is; two thread executors in this process overlap their enter/exit, and the last exit
    # may restore the other's options: set it back, or a later test sees a task running.
    taskenv._options, taskenv._folder, taskenv._names = None, None, frozenset()
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def test_the_worker_registers_and_runs_a_job_to_the_inline_output(cluster, tmp_path):
    """Ready, Welcome, the plan fetched once, every task run: the inline runner's output."""
    inputs = small_inputs(tmp_path / "in", 4)
    inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=2)
    result = cluster.run(make_plan("wordcount.py", inputs, tmp_path / "out", reducers=2))
    assert result.state == "succeeded", result.error
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")
    assert cluster.worker.link.welcomed


def test_no_hostile_message_from_the_coordinator_stops_the_worker(cluster, tmp_path, caplog):
    """Every bent message, as if the coordinator sent it: no handler fails, and the worker
    then runs a job to the inline output."""
    server = cluster.coordinator.server
    cluster.turn()
    (worker_id,) = cluster.coordinator.scheduler.workers
    for number, case in enumerate(hostile.cases()):
        if case.base in (p.Reconnect, p.Reject):
            continue  # a well-formed Reconnect re-registers, a Reject ends a worker: by design
        server.send(worker_id.encode("latin-1"), case.frames)
        if number % 100 == 0:
            cluster.worker.turn()
    cluster.worker.turn()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:3000]
    inputs = small_inputs(tmp_path / "in", 2)
    inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=1)
    result = cluster.run(make_plan("wordcount.py", inputs, tmp_path / "out", reducers=1))
    assert result.state == "succeeded", result.error
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")


def _coordinator_batches() -> list[tuple[str, list[bytes]]]:
    """Batches a coordinator's key could send a worker: every layout the coordinator's own
    batch tests bend, and batches of the bent coordinator messages, each beside a valid
    ``ForgetJob`` (a message a worker takes, for a job it never heard of)."""
    forget = wire.encode(p.ForgetJob("no-such-job"))
    batches = [(case.name, case.frames) for case in hostile.batch_cases()]
    bent = [case for case in hostile.cases()
            if case.base not in (p.Reconnect, p.Reject)  # by design: re-register, or end
            and case.base in _TAKEN_BY_A_WORKER
            and case.name != "other version"]  # (a batch's messages are of its version)
    for start in range(0, len(bent), 40):
        chunk = bent[start:start + 40]
        batches.append((f"bent messages {start}-{start + len(chunk)}",
                        wire.batch([forget, *(case.frames for case in chunk), forget])))
    return batches


#: what a coordinator sends a worker (the worker's handlers, and the link's own)
_TAKEN_BY_A_WORKER = (p.Assign, p.Plan, p.CommitAnswer, p.CancelAttempt, p.ForgetJob, p.FetchLog,
                      p.Welcome, p.Heartbeat, p.Reconnect, p.Reject)


def test_no_hostile_batch_from_the_coordinator_stops_the_worker(cluster, tmp_path, caplog):
    """Every bent batch layout, and batches of bent messages beside valid ones, as if the
    coordinator sent them: each is dropped or taken message by message, no handler fails,
    the worker stays registered, and then runs a job to the inline output."""
    server = cluster.coordinator.server
    cluster.turn()
    (worker_id,) = cluster.coordinator.scheduler.workers
    batches = _coordinator_batches()
    assert len(batches) > 40
    for number, (_name, frames) in enumerate(batches):
        server.send(worker_id.encode("latin-1"), frames)
        if number % 10 == 0:
            cluster.worker.turn()
    cluster.worker.turn()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:3000]
    assert "malformed batch" in caplog.text and "malformed message" in caplog.text
    assert list(cluster.coordinator.scheduler.workers) == [worker_id]  # never re-registered
    inputs = small_inputs(tmp_path / "in", 2)
    inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=1)
    result = cluster.run(make_plan("wordcount.py", inputs, tmp_path / "out", reducers=1))
    assert result.state == "succeeded", result.error
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")


def test_a_failing_handler_is_logged_and_the_loop_goes_on(cluster, caplog):
    """A handler that raises is that message's problem: logged with its traceback."""
    cluster.turn()
    cluster.worker._handlers[p.ForgetJob] = lambda message: 1 / 0
    (worker_id,) = cluster.coordinator.scheduler.workers
    cluster.coordinator.server.send(worker_id.encode("latin-1"), wire.encode(p.ForgetJob("j")))
    cluster.worker.turn()
    assert "handling ForgetJob from the coordinator failed" in caplog.text
    assert "ZeroDivisionError" in caplog.text
    cluster.turn()  # and it goes on


def test_a_silent_coordinator_makes_the_link_register_again(cluster):
    """After interval x liveness of silence the link drops its attempts and reconnects with
    a new identity; the coordinator sees a new worker."""
    cluster.turn()
    first = set(cluster.coordinator.scheduler.workers)
    link = cluster.worker.link
    link.heard -= link.interval * link.liveness + 1
    link.maintain(time.monotonic())
    cluster.turn()
    cluster.turn()
    assert set(cluster.coordinator.scheduler.workers) - first


def test_a_plan_request_that_crossed_a_cancel_is_asked_again(cluster, monkeypatch):
    """The coordinator serves a plan only to a worker holding a task of its job, so one
    asked for an attempt cancelled meanwhile goes unanswered: the job's next assignment
    asks again instead of waiting for ever."""
    sent: list[p.Message] = []
    monkeypatch.setattr(cluster.worker.link, "post", sent.append)
    handle = cluster.worker._handlers
    handle[p.Assign](p.Assign("j", "s0-p00000-a1", "prepare", {"step": 0}))
    handle[p.CancelAttempt](p.CancelAttempt("j", "s0-p00000-a1"))
    handle[p.Assign](p.Assign("j", "s0-p00000-a2", "prepare", {"step": 0}))
    assert sent == [p.PlanRequest("j"), p.PlanRequest("j")]


def test_the_worker_keeps_each_attempts_log_and_serves_it_through_the_coordinator(
        cluster, tmp_path):
    """Every attempt the worker ran leaves a log it serves when `minimr logs` asks (through
    the coordinator); an attempt it never ran gets the reason instead."""
    inputs = small_inputs(tmp_path / "in", 2)
    result = cluster.run(make_plan("wordcount.py", inputs, tmp_path / "out", reducers=1))
    assert result.state == "succeeded", result.error
    job = result.job_id
    assert cluster.worker.logs.load(job, "s0-m00000-a1") is not None
    cluster.client.send(wire.encode(p.LogRequest(job, "s0-m00000-a1")))
    replies = [m for _ in range(5) for m in cluster.turn() if isinstance(m, p.LogReply)]
    assert replies and replies[0].error == "" and replies[0].running is False
    cluster.client.send(wire.encode(p.LogRequest(job, "s0-m00000-a1", 10**6)))
    replies = [m for _ in range(5) for m in cluster.turn() if isinstance(m, p.LogReply)]
    assert replies[0].data == b""
    cluster.worker.logs.folder = str(tmp_path / "elsewhere")  # as if it kept it no more
    cluster.client.send(wire.encode(p.LogRequest(job, "s0-m00000-a1")))
    replies = [m for _ in range(5) for m in cluster.turn() if isinstance(m, p.LogReply)]
    assert "has no log of s0-m00000-a1" in replies[0].error


def test_a_worker_is_sent_each_steps_table_once_and_its_reduces_read_it(cluster, tmp_path):
    """Of a step's reduces one worker runs, only the first carries the table of map output
    holders; the others name it, and the output is the inline runner's."""
    got: list[p.Assign] = []
    on_assign = cluster.worker._handlers[p.Assign]
    cluster.worker._handlers[p.Assign] = lambda m: (got.append(m), on_assign(m))
    inputs = small_inputs(tmp_path / "in", 3)
    inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=5)
    result = cluster.run(make_plan("wordcount.py", inputs, tmp_path / "out", reducers=5))
    assert result.state == "succeeded", result.error
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")
    reduces = [m for m in got if m.kind == "reduce"]
    assert len(reduces) == 5 and [m.inputs is not None for m in reduces].count(True) == 1
    assert {m.table for m in reduces} == {1}


def test_a_reduce_naming_a_table_the_worker_does_not_hold_fails_its_attempt(cluster, monkeypatch):
    """A worker that registered again holds no table: a reduce naming one fails (never runs
    on a table of another registration)."""
    sent: list[p.Message] = []
    monkeypatch.setattr(cluster.worker.link, "post", sent.append)
    holder = p.Holder("h", "tcp://h:1", "", "/w")
    table = p.ReduceInputs((holder,), (0,), (1,))
    cluster.worker._on_assign(p.Assign("j", "s0-r00000-a1", "reduce", {"step": 0}, table, 1))
    cluster.worker._on_assign(p.Assign("j", "s0-r00001-a1", "reduce", {"step": 0}, None, 1))
    assert [a.inputs for a in cluster.worker.slots.queue] == [table, table]
    cluster.worker._registration(b"w-again")
    cluster.worker._on_assign(p.Assign("j", "s0-r00002-a1", "reduce", {"step": 0}, None, 1))
    (failed,) = [m for m in sent if isinstance(m, p.TaskFailed)]
    assert failed.attempt == "s0-r00002-a1" and "was not sent (it holds none)" in failed.error
