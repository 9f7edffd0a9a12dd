"""A coordinator with a journal: it dies, a new one replays the journal and resumes the job."""

from __future__ import annotations

import os

from minimr.cluster.coordinator.coordinator import Coordinator
from minimr.cluster.coordinator.journal import (
    FILE_NAME,
    Journal,
    JournalDamaged,
    JournalError,
    Record,
    encode,
    read_records,
)
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.memory_transport import MemoryNetwork


class Life:
    """One coordinator life on an in-memory network, journaling to ``state_dir``."""

    def __init__(self, state_dir: str) -> None:
        self.network = MemoryNetwork()
        self.coordinator = Coordinator(
            self.network.bind("mem://c"), s.Scheduler(recovery_grace=5.0), clock=lambda: 100.0
        )
        self.journal, contents = Journal.open(state_dir)
        self.resumed = self.coordinator.recover(self.journal, contents.records)

    def exchange(self, peer, *messages: p.Message) -> list[p.Message]:
        for message in messages:
            peer.send(wire.encode(message))
        self.coordinator.turn()
        received = []
        while (frames := peer.recv()) is not None:
            received.extend(wire.decode_all(frames))
        return received

    def worker(self, identity: str, outputs: tuple = ()):
        conn = self.network.connect("mem://c", identity.encode())
        ready = p.Ready(identity, "host", 1, 1, f"tcp://{identity}:1", outputs=outputs)
        return conn, self.exchange(conn, ready)


def of_type(messages: list, cls: type) -> list:
    return [m for m in messages if isinstance(m, cls)]


LISTING = p.TaskLists(
    ({"step": 0, "index": 0, "reducers": 1}, {"step": 0, "index": 1, "reducers": 1}),
    ({"step": 0, "partition": 0},),
)
OUTPUT = p.MapOutputRef(1, 5)


def test_a_restarted_coordinator_resumes_the_job_where_the_journal_left_it(tmp_path):
    """Submission, plan and committed map survive; the client's Watch and the worker's
    re-registered output pick up where the dead coordinator stopped."""
    first = Life(str(tmp_path))
    assert first.resumed == 0
    worker, _ = first.worker("w1")
    client = first.network.connect("mem://c", b"client")
    submit = p.Submit("j", "job", 1, p.Options(max_attempts=2), "cloudpickle", b"PLAN")
    first.exchange(client, submit)
    (prepare,) = of_type(first.exchange(worker), p.Assign)
    listed = first.exchange(worker, p.TaskDone("j", prepare.attempt, LISTING, {}, 0))
    (map0,) = of_type(listed, p.Assign)
    counters = {"g": {"n": 1}}
    first.exchange(worker, p.TaskDone("j", map0.attempt, OUTPUT, counters, 0))
    first.journal.close()  # what was journaled is already synced: as good as kill -9

    second = Life(str(tmp_path))
    assert second.resumed == 1
    job = second.coordinator.scheduler.jobs["j"]
    assert job.max_attempts == 2
    assert job.tasks["s0-m00000"].state is s.TaskState.DONE
    client = second.network.connect("mem://c", b"client")
    assert of_type(second.exchange(client, p.Watch("j")), p.Progress)
    worker, replies = second.worker("w2", outputs=(p.HeldOutput("j", map0.attempt, OUTPUT),))
    (assign,) = of_type(replies, p.Assign)
    assert assign.kind == "map" and assign.task["index"] == 1  # map 0 is not run again
    (plan,) = of_type(second.exchange(worker, p.PlanRequest("j")), p.Plan)
    assert plan.blob == b"PLAN"
    replies = second.exchange(worker, p.TaskDone("j", assign.attempt, OUTPUT, {}, 0))
    (reduce,) = of_type(replies, p.Assign)
    assert reduce.kind == "reduce" and reduce.inputs.attempts == (1, 1)
    assert second.coordinator.scheduler.job_counters("j").count(counters) == 1
    second.journal.close()


def test_a_finished_job_is_remembered_and_its_plan_dropped(tmp_path):
    """After a restart, a job that had ended answers Watch with its result, from a journal
    compacted without the plan."""
    first = Life(str(tmp_path))
    client = first.network.connect("mem://c", b"client")
    first.exchange(client, p.Submit("j", "job", 1, {}, "cloudpickle", b"PLAN"))
    first.exchange(client, p.CancelJob("j"))
    first.journal.close()
    second = Life(str(tmp_path))
    assert second.resumed == 0
    client = second.network.connect("mem://c", b"client")
    (result,) = of_type(second.exchange(client, p.Watch("j")), p.JobResult)
    assert result.state == "cancelled"
    second.journal.close()
    contents = read_records(str(tmp_path / FILE_NAME))
    assert [r.type for r in contents.records] == ["submit", "end"]
    assert contents.records[0].blob == b""


def three_jobs(state_dir) -> bytes:
    """A journal a coordinator wrote for three submitted jobs (one with a map done)."""
    life = Life(str(state_dir))
    client = life.network.connect("mem://c", b"client")
    worker, _ = life.worker("w1")
    for job in ("a", "b", "c"):
        plan = b"PLAN-" + job.encode()
        life.exchange(client, p.Submit(job, "job", 1, p.Options(), "cloudpickle", plan))
    (prepare,) = of_type(life.exchange(worker), p.Assign)
    life.exchange(worker, p.TaskDone(prepare.job_id, prepare.attempt, LISTING, {}, 0))
    life.journal.close()
    return (state_dir / FILE_NAME).read_bytes()


def flipped_journals(whole: bytes):
    """Every single-byte flip of a journal (three patterns a byte), as (offset, bytes)."""
    for offset in range(len(whole)):
        for mask in (0x01, 0xFF):
            data = bytearray(whole)
            data[offset] ^= mask
            yield offset, bytes(data)


def test_a_flipped_byte_anywhere_brings_every_job_back_or_stops_naming_the_offset(
    tmp_path, monkeypatch
):
    """Flip each byte of a three-job journal in turn: a restarted coordinator either resumes
    all three jobs, or refuses to start with JournalDamaged naming the file and an offset at
    or before the flip, the file untouched. Never fewer jobs in silence."""
    whole = three_jobs(tmp_path / "first")
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # thousands of restarts: no disk waits
    outcomes = {"resumed": 0, "refused": 0}
    for offset, data in flipped_journals(whole):
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        (state / FILE_NAME).write_bytes(data)
        try:
            life = Life(str(state))
        except JournalError as exc:
            assert (state / FILE_NAME).read_bytes() == data, offset  # kept as it was
            if isinstance(exc, JournalDamaged):
                assert exc.path == str(state / FILE_NAME) and exc.offset <= offset, offset
                assert f"byte offset {exc.offset}" in str(exc)
            else:
                assert offset < 5, offset  # the magic: "not a minimr journal"
            outcomes["refused"] += 1
            continue
        assert sorted(life.coordinator.scheduler.jobs) == ["a", "b", "c"], offset
        assert life.resumed == 3, offset
        life.journal.close()
        outcomes["resumed"] += 1
    assert outcomes["refused"] > 0 and outcomes["resumed"] > 0  # the sync marks may be torn


def test_a_torn_tail_after_three_jobs_is_still_recovered(tmp_path):
    """A journal cut anywhere in a last, unsynced record resumes the three jobs."""
    whole = three_jobs(tmp_path / "first")
    tail = encode(Record({"type": "task", "job_id": "a", "task": "s0-m00000"}))
    for cut in range(1, len(tail)):
        state = tmp_path / f"cut-{cut}"
        state.mkdir()
        (state / FILE_NAME).write_bytes(whole + tail[:cut])
        life = Life(str(state))
        assert life.resumed == 3, cut
        life.journal.close()


def test_a_turns_commits_are_synced_once_and_before_anything_is_sent(tmp_path):
    """Two maps done in one turn: their commits are journaled with one fsync, and that fsync
    comes before the turn sends anything (the reduce they release, a progress)."""
    life = Life(str(tmp_path))
    worker = life.network.connect("mem://c", b"w1")
    life.exchange(worker, p.Ready("w1", "host", 1, 2, "tcp://w1:1"))
    client = life.network.connect("mem://c", b"client")
    life.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"PLAN"))
    (prepare,) = of_type(life.exchange(worker), p.Assign)
    maps = of_type(life.exchange(worker, p.TaskDone("j", prepare.attempt, LISTING, {}, 0)),
                   p.Assign)
    assert len(maps) == 2
    events: list[str] = []
    sync, send = life.journal.sync, life.coordinator.server.send
    life.journal.sync = lambda: (events.append("sync"), sync())[1]
    life.coordinator.server.send = lambda *a: (events.append("send"), send(*a))[1]
    done = [p.TaskDone("j", m.attempt, OUTPUT, {}, 0) for m in maps]
    (reduce,) = of_type(life.exchange(worker, *done), p.Assign)
    turn = events[:]  # (closing syncs too)
    life.journal.close()
    assert reduce.kind == "reduce"
    assert turn[0] == "sync" and turn.count("sync") == 1 and "send" in turn
    records = read_records(os.path.join(str(tmp_path), FILE_NAME)).records
    assert [r.body["type"] for r in records[-2:]] == ["task", "task"]
