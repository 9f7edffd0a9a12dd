"""Hostile messages at real processes: nothing a peer sends stops a coordinator, a worker
or a shuffle server, and a job's output stays the inline runner's.

Each test sends bent messages through real sockets (hand-made DEALER sockets on loopback)
to a real coordinator and real workers, then checks that every process is still up and
that a job run afterwards (or meanwhile) writes exactly what the inline runner writes.
The examples of issue 17 are here by name (Infinity in a submit's options, a map output
lacking partitions, a reduce partition of 999, a shuffle offset of 10**30, a name holding
a NUL, a negative partition), beside a sample of tests/hostile.py's generated cases.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time

import zmq

from minimr.cluster.client.client import submit_plan
from minimr.cluster.commands.status import fetch_status
from minimr.cluster.coordinator import entries, journal
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from tests import hostile
from tests.e2e.conftest import Cluster
from tests.e2e.support import hand_made_dealer, inline_output, make_plan, read_dir, small_inputs

REPLY_WAIT = 5000  # ms a bent message may take to be answered


def dealer(
    address: str, identity: bytes | None = None, role: str = "submitter", shuffle: bool = False
) -> zmq.Socket:
    """A DEALER socket on ``address``, as a hand-made peer holding a key uses."""
    return hand_made_dealer(address, role, identity, shuffle)


def replies(sock: zmq.Socket, timeout_ms: int = REPLY_WAIT) -> list[p.Message]:
    """What ``sock`` receives until it has been quiet a moment (the first wait is long)."""
    got = []
    while sock.poll(timeout_ms):
        got.extend(wire.decode_all(sock.recv_multipart()))
        timeout_ms = 200
    return got


def run_and_compare(address: str, tmp_path, name: str) -> None:
    """Run word count on the cluster; its output must be the inline runner's."""
    inputs = small_inputs(tmp_path / "in", 6)
    if not (tmp_path / "inline").exists():
        inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=2)
    plan = make_plan("wordcount.py", inputs, tmp_path / name, reducers=2)
    result = submit_plan(plan, address)
    assert result.counters is not None
    assert read_dir(tmp_path / name) == read_dir(tmp_path / "inline")


def all_up(cluster) -> None:
    """The coordinator and every worker process are still running."""
    assert cluster.coordinator.poll() is None, "the coordinator died"
    for worker in cluster.workers:
        assert worker.poll() is None, "a worker died"


def submit_frames(options_body: bytes, job_id: str = "hostile-job") -> list[bytes]:
    """A Submit whose options object is ``options_body`` (raw JSON)."""
    head, body, blob = wire.encode(p.Submit(job_id, "wc", 1, p.Options(), "cloudpickle", b"x"))
    start = body.index(b'"options":') + len(b'"options":')
    end = body.index(b"}", start) + 1
    return [head, body[:start] + options_body + body[end:], blob]


def test_submits_with_numbers_no_option_can_hold_are_refused(cluster, tmp_path):
    """Infinity, NaN, 1e400, 10**30 or -1 in a submit's options: refused with a reason,
    the coordinator stays up and the next job runs right."""
    cluster.add_worker()
    cluster.wait_for_workers(1)
    sock = dealer(cluster.address)
    bent = [
        b'{"task_timeout":Infinity}', b'{"task_timeout":NaN}', b'{"worker_timeout":-Infinity}',
        b'{"task_timeout":1e400}', b'{"max_attempts":1000000000000000000000000000000}',
        b'{"max_attempts":-1}', b'{"max_skips":1e10}', b'{"max_attempts":0}',
        b'{"speculation":"yes"}', b'{"task_timeout":"30"}', b'{"nope":1}', b"[]",
    ]
    try:
        for options in bent:
            sock.send_multipart(submit_frames(options))
            (answer,) = replies(sock)
            assert isinstance(answer, p.Reject) and answer.code == "malformed", answer
    finally:
        sock.close(0)
    all_up(cluster)
    assert not fetch_status(cluster.address)["jobs"]  # none of them was queued
    run_and_compare(cluster.address, tmp_path, "after")
    all_up(cluster)


# --- a worker that answers every assignment with a bent result ---------------------------


def _done(assign: p.Assign, output: object) -> dict:
    return {"job_id": assign.job_id, "attempt": assign.attempt, "output": output,
            "counters": {}, "elapsed": 0.1}


def _lists(assign: p.Assign, partitions: list, reducers: int = 2) -> dict:
    step = assign.task["step"]
    maps = [{"step": step, "index": 0, "reducers": reducers}]
    return {"map_tasks": maps, "reduce_tasks": [{"step": step, "partition": r} for r in partitions]}


#: bent results by task kind: each a function of the assignment giving a raw JSON body
BENT_RESULTS = {
    "prepare": [
        lambda a: _done(a, _lists(a, [0, 999])),
        lambda a: _done(a, _lists(a, [0, -1])),
        lambda a: _done(a, _lists(a, [0, "x"])),
        lambda a: _done(a, _lists(a, [0, 0])),
        lambda a: _done(a, _lists(a, [0, 1], reducers=999)),
        lambda a: _done(a, {"map_tasks": []}),
    ],
    "map": [
        lambda a: _done(a, {"size": 10}),  # lacking partitions
        lambda a: _done(a, {"partitions": [[0, 1], [1, 1]], "size": 2}),  # the old shape
        lambda a: _done(a, {"partitions": 999, "size": 10}),
        lambda a: _done(a, {"partitions": 2, "size": -5}),
        lambda a: _done(a, {"partitions": 2, "size": 10**30}),
        lambda a: _done(a, {"partitions": 2, "size": 1, "path": "a\u0000b"}),
        lambda a: _done(a, _lists(a, [0, 1])),  # a prepare's result for a map
    ],
    "reduce": [
        lambda a: _done(a, {"partitions": 2, "size": 2}),
        lambda a: {**_done(a, None), "counters": {"g": {"n": 1e400}}},
    ],
    "commit": [lambda a: _done(a, _lists(a, [0, 1]))],
}


class BentWorker(threading.Thread):
    """A hand-made worker: registers, heartbeats, and answers each assignment it gets with
    the next bent result for its kind (tests that the coordinator fails those attempts)."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.stopping = threading.Event()
        self.answered: list[str] = []
        self._bends = {kind: itertools.cycle(bends) for kind, bends in BENT_RESULTS.items()}

    def run(self) -> None:
        sock = dealer(self.address, b"w-bent-" + os.urandom(4).hex().encode(), "worker")
        try:
            ready = p.Ready("bent", "bent-host", os.getpid(), 1, "tcp://127.0.0.1:9")
            sock.send_multipart(wire.encode(ready))
            beat = 0.0
            while not self.stopping.is_set():
                if time.monotonic() - beat > 0.1:
                    sock.send_multipart(wire.encode(p.Heartbeat()))
                    beat = time.monotonic()
                if not sock.poll(50):
                    continue
                for message in wire.decode_all(sock.recv_multipart()):
                    if not isinstance(message, p.Assign):
                        continue
                    body = next(self._bends[message.kind])(message)
                    header = wire.encode(p.Heartbeat())[0][:4] + int(p.Command.TASK_DONE).to_bytes(
                        2, "big"
                    )
                    sock.send_multipart([header, json.dumps(body).replace(
                        "1e+400", "1e400").encode()])
                    self.answered.append(message.kind)
        finally:
            sock.close(0)


def test_bent_results_fail_only_their_attempts_and_are_never_journaled(journaled_cluster, tmp_path):
    """A worker answering every task with a result that does not fit (no partitions, 999
    of them, a reduce partition of 999, -1 or "x"...) only fails those attempts; the job is
    right, nothing bent is journaled, and a restarted coordinator comes up (no crash loop)."""
    cluster = journaled_cluster
    bent = BentWorker(cluster.address)
    bent.start()
    cluster.add_worker(hash_seed="1")
    cluster.add_worker(hash_seed="2")
    cluster.wait_for_workers(3)
    try:
        run_and_compare(cluster.address, tmp_path, "first")
        run_and_compare(cluster.address, tmp_path, "second")
    finally:
        bent.stopping.set()
        bent.join(5)
    assert bent.answered, "the bent worker was never given a task"
    all_up(cluster)
    contents = journal.read_records(str(tmp_path / "state" / journal.FILE_NAME))
    for record in contents.records:
        entry = entries.parse(record)  # raises if anything invalid was journaled
        if isinstance(entry, entries.TaskEntry) and isinstance(entry.output, p.MapOutputRef):
            assert entry.output.partitions == 2 and entry.output.size < 2**40
    cluster.coordinator.terminate()
    cluster.coordinator.wait(10)
    cluster.coordinator = cluster.start_coordinator()
    cluster.wait_for_workers(2)
    time.sleep(1)
    all_up(cluster)
    run_and_compare(cluster.address, tmp_path, "after-restart")
    print(f"bent results sent: {len(bent.answered)} ({', '.join(sorted(set(bent.answered)))})")


# --- the shuffle server -------------------------------------------------------------------


def fetch_frames(request: int, job_id: str, attempt: str, partition: int, offset: int,
                 length: int) -> list[bytes]:
    """A FetchChunk with any numbers and names, as raw JSON (no client-side check)."""
    body = json.dumps({"request": request, "job_id": job_id, "attempt": attempt,
                       "partition": partition, "offset": offset, "length": length})
    return [wire.encode(p.FetchChunk(0, "j", "s0-m00000-a1", 0, 0, 0))[0], body.encode()]


def test_bent_shuffle_requests_leave_every_shuffle_server_serving(cluster, tmp_path):
    """Offsets of 10**30, names with a NUL or a path in them, negative numbers and every
    generated bend at a worker's shuffle server: it answers the next request, and reducers on
    another host fetch through it to the inline runner's output."""
    cluster.add_worker(hash_seed="1", host="host-a")
    cluster.add_worker(hash_seed="2", host="host-b")
    cluster.wait_for_workers(2)
    servers = [w["shuffle"] for w in fetch_status(cluster.address)["workers"]]
    named = [
        fetch_frames(1, "j", "s0-m00000-a1", 0, 10**30, 10),
        fetch_frames(2, "j\0b", "s0-m00000-a1", 0, 0, 10),
        fetch_frames(3, "j", "s0-m00000-a1", -1, 0, 10),
        fetch_frames(4, "j", "s0-m00000-a1", 0, 0, -10),
        fetch_frames(-1, "j", "s0-m00000-a1", 0, 0, 10),
        fetch_frames(5, "../../etc", "s0-m00000-a1", 0, 0, 10),
        fetch_frames(6, "j", "../../etc/passwd", 0, 0, 10),
        fetch_frames(7, "j", "s0-m00000-a1", 10**9, 0, 10),
    ]
    generated = [c.frames for c in hostile.cases((hostile.sample(p.FetchChunk),))]
    for address in servers:
        sock = dealer(address, role="worker", shuffle=True)
        try:
            for frames in named + generated:
                sock.send_multipart(frames)
            replies(sock, 1000)
            fetch = p.FetchChunk(77, "no-such-job", "s0-m00000-a1", 0, 0, 1)
            sock.send_multipart(wire.encode(fetch))
            answers = [m for m in replies(sock) if isinstance(m, p.Chunk) and m.request == 77]
            assert answers and answers[0].error, f"{address} stopped answering"
        finally:
            sock.close(0)
    all_up(cluster)
    run_and_compare(cluster.address, tmp_path, "after")
    all_up(cluster)


def test_a_sample_of_generated_hostile_messages_leaves_the_coordinator_serving(cluster, tmp_path):
    """One in five generated bends, from a stranger and as a client, while a job runs:
    the coordinator stays up and the job's output is the inline runner's."""
    cluster.add_worker(hash_seed="1")
    cluster.add_worker(hash_seed="2")
    cluster.wait_for_workers(2)
    stranger = dealer(cluster.address)
    sent = 0
    outcome: dict = {}
    runner = threading.Thread(
        target=lambda: outcome.update(ok=run_and_compare(cluster.address, tmp_path, "during"))
    )
    try:
        runner.start()
        for number, case in enumerate(hostile.cases()):
            if number % 5 == 0:
                stranger.send_multipart(case.frames)
                sent += 1
            while stranger.poll(0):
                stranger.recv_multipart()
        runner.join(120)
    finally:
        stranger.close(0)
    assert "ok" in outcome, "the job did not finish right while bent messages arrived"
    all_up(cluster)
    run_and_compare(cluster.address, tmp_path, "after")
    print(f"sent {sent} generated hostile messages")


# --- batches ------------------------------------------------------------------------------


def labels(messages: list[p.Message]) -> list[str]:
    """Each reply's class name (a ``Reject``'s with its code), as ``hostile.BatchCase`` owes."""
    return [f"Reject:{m.code}" if isinstance(m, p.Reject) else type(m).__name__
            for m in messages]


def answers_to(sock: zmq.Socket, frames: list[bytes], owed: int) -> list[str]:
    """Send ``frames`` then a status request; what comes back up to that request's answer
    (``owed``: the status replies the frames themselves are owed, before it)."""
    sock.send_multipart(frames)
    sock.send_multipart(wire.encode(p.StatusRequest()))
    got: list[p.Message] = []
    while sum(isinstance(m, p.StatusReply) for m in got) <= owed:
        assert sock.poll(REPLY_WAIT * 4), f"no answer in time; so far {labels(got)}"
        got.extend(wire.decode_all(sock.recv_multipart()))
    return labels(got)


def test_hostile_batches_are_dropped_whole_or_answered_message_by_message(tmp_path):
    """Batches that do not add up (counts truncated, overrunning, huge, of the wrong type;
    an empty batch; too many messages) are dropped whole and logged; a batch inside a batch
    is dropped; every other message of a batch is answered as if it had come alone (a valid
    request beside a malformed one, worker messages from a submitter's key refused). All of
    it sent while a job runs: the coordinator stays up, keeps its workers, and the job's
    output is the inline runner's."""
    cluster = Cluster(tmp_path, log_level="WARNING")
    try:
        cluster.add_worker(hash_seed="1")
        cluster.add_worker(hash_seed="2")
        cluster.wait_for_workers(2)
        workers = {w["id"] for w in fetch_status(cluster.address)["workers"]}
        outcome: dict = {}
        runner = threading.Thread(
            target=lambda: outcome.update(ok=run_and_compare(cluster.address, tmp_path, "during"))
        )
        sock = dealer(cluster.address)
        dropped = 0
        try:
            runner.start()
            for case in hostile.batch_cases():
                owed = case.answers.count("StatusReply")
                got = answers_to(sock, case.frames, owed)
                assert got == [*case.answers, "StatusReply"], case.name
                dropped += not case.answers
            runner.join(120)
        finally:
            sock.close(0)
        assert "ok" in outcome, "the job did not finish right while hostile batches arrived"
        all_up(cluster)
        assert {w["id"] for w in fetch_status(cluster.address)["workers"]} == workers
        assert cluster.logged().count("dropping a malformed batch") >= 20
        run_and_compare(cluster.address, tmp_path, "after")
        print(f"sent {dropped} batches owed nothing")
    finally:
        cluster.close()
