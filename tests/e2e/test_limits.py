"""Bounded resources under load from one client or peer (issue 17, item 8).

Each test sends the hostile input of the review through real sockets to real processes on
loopback (a coordinator, workers, hand-made ZeroMQ peers) and checks that the process stays
up with its resident memory bounded, or that the job still ends, rightly, in bounded time.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from minimr.cluster.commands.status import fetch_status
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.security import Keys, keygen
from minimr.cluster.wire.transport import CurveClient
from minimr.cluster.worker import partindex
from tests.e2e.support import (
    HEARTBEAT,
    JOBS,
    environment,
    free_address,
    hand_made_dealer,
    stop_processes,
)

MiB = 1 << 20


def rss(pid: int, field: str = "VmRSS") -> int:
    """Resident set size of a process in bytes (``VmHWM``: its peak), from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for pid {pid}")


def start_coordinator(
    address: str, *flags: str, curve: CurveClient | None = None
) -> subprocess.Popen:
    """A coordinator process at ``address`` with fast heartbeats and ``flags`` (later win)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "minimr", "coordinator", "--bind", address, *HEARTBEAT,
         "--log-level", os.environ.get("MINIMR_TEST_LOG", "WARNING"), *flags],
        env=environment(),
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            fetch_status(address, curve=curve)
            return process
        except Exception:
            assert time.monotonic() < deadline, "the coordinator did not come up"
            time.sleep(0.1)


@pytest.fixture
def coordinator_at():
    """Start coordinators (``coordinator_at(address, *flags)``); stop them at the end."""
    started: list[subprocess.Popen] = []

    def start(address: str, *flags: str, curve: CurveClient | None = None) -> subprocess.Popen:
        started.append(start_coordinator(address, *flags, curve=curve))
        return started[-1]

    yield start
    stop_processes(started)


def dealer(address: str, curve: CurveClient | None = None, role: str = "submitter") -> zmq.Socket:
    """A hand-made client socket: what a hostile peer would use (with ``curve``, or else this
    user's local keys in ``role`` on loopback)."""
    identity = f"hostile-{secrets.token_hex(4)}".encode()
    if curve is None:
        return hand_made_dealer(address, role, identity, options={zmq.SNDHWM: 0})
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.IDENTITY, identity)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SNDHWM, 0)
    socket.curve_secretkey = curve.secret
    socket.curve_publickey = curve.public
    socket.curve_serverkey = curve.server_key
    socket.connect(address)
    return socket


def submit_frames(job_id: str, blob: bytes) -> list[bytes]:
    """A well-formed ``Submit`` of a job whose plan is ``blob``."""
    return wire.encode(p.Submit(job_id, "hostile", 1, {}, "cloudpickle", blob))


def replies(socket: zmq.Socket, wait: float) -> list[p.Message]:
    """Every message that arrives within ``wait`` seconds of the last one."""
    got = []
    while socket.poll(int(wait * 1000)):
        got.extend(wire.decode_all(socket.recv_multipart()))
    return got


def test_a_300_mib_message_leaves_the_coordinator_small(coordinator_at):
    """One message of 300 MiB is cut off at the socket: the coordinator's peak stays small."""
    address = free_address()
    coordinator = coordinator_at(address)
    before = rss(coordinator.pid)
    hostile = dealer(address)
    try:
        hostile.send_multipart(submit_frames("big", bytes(300 * MiB)))
        time.sleep(3)  # the time it took to take the whole message in
    finally:
        hostile.close(0)
    status = fetch_status(address)
    peak = rss(coordinator.pid, "VmHWM")
    print(f"300 MiB Submit: coordinator RSS {before / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB")
    assert coordinator.poll() is None
    assert status["jobs"] == []  # it never became a job
    assert peak < before + 64 * MiB


def test_50_plans_of_10_mib_from_one_submitter_are_bounded(coordinator_at):
    """A submitter past its queued jobs or plan bytes is refused with a reason; memory stays."""
    address = free_address()
    coordinator = coordinator_at(address)
    before = rss(coordinator.pid)
    hostile = dealer(address)
    try:
        for i in range(50):
            hostile.send_multipart(submit_frames(f"flood-{i:02d}", os.urandom(10 * MiB)))
        answers = replies(hostile, 3.0)
    finally:
        hostile.close(0)
    peak = rss(coordinator.pid, "VmHWM")
    accepted = [a for a in answers if isinstance(a, p.Submitted)]
    refused = [a for a in answers if isinstance(a, p.Reject)]
    print(
        f"50 x 10 MiB Submit: {len(accepted)} accepted, {len(refused)} refused; coordinator "
        f"RSS {before / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB"
    )
    assert coordinator.poll() is None
    assert len(accepted) + len(refused) == 50
    assert refused and all(r.code == "limit" for r in refused)
    assert "--max-plan-bytes" in refused[0].reason
    assert peak < before + 300 * MiB


def test_a_client_past_its_submitters_limit_is_told_why_at_once(coordinator_at, tmp_path):
    """`minimr submit` to a coordinator whose (keyless) budget is used up fails with the reason."""
    address = free_address()
    coordinator_at(address, "--max-jobs-per-submitter", "1")
    hostile = dealer(address)
    try:
        hostile.send_multipart(submit_frames("first", b"plan"))
        assert isinstance(replies(hostile, 3.0)[0], p.Submitted)
    finally:
        hostile.close(0)
    (tmp_path / "in.txt").write_text("a b c\n")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "minimr", "submit", str(JOBS / "wordcount.py"),
         "-i", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"), "--coordinator", address],
        env=environment(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "refused job" in result.stderr and "1 unfinished job," in result.stderr
    assert "--max-jobs-per-submitter" in result.stderr
    assert time.monotonic() - started < 15


def test_one_worker_key_registers_at_most_max_workers_per_key(coordinator_at, tmp_path):
    """200 registrations with one worker key: 64 join, the rest and a real worker are refused."""
    keys = tmp_path / "keys"
    keygen(str(keys))
    address = free_address()
    worker_keys = Keys(str(keys)).worker()
    curve = worker_keys.coordinator_client()
    coordinator = coordinator_at(
        address, "--keys", str(keys), "--heartbeat-liveness", "1000",
        curve=Keys(str(keys)).client(),
    )
    before = rss(coordinator.pid)
    sockets = [dealer(address, curve) for _ in range(200)]
    try:
        for i, socket in enumerate(sockets):
            socket.send_multipart(wire.encode(p.Ready(f"fake-{i}", "host", 1, 1, "tcp://x:1")))
        answers = [wire.decode(s.recv_multipart()) for s in sockets if s.poll(20_000)]
        refused = subprocess.run(
            [sys.executable, "-m", "minimr", "worker", "--coordinator", address,
             "--keys", str(keys)],
            env=environment(), capture_output=True, text=True, timeout=60,
        )
        status = fetch_status(address, curve=Keys(str(keys)).client())
    finally:
        for socket in sockets:
            socket.close(0)
    welcomed = [a for a in answers if isinstance(a, p.Welcome)]
    rejected = [a for a in answers if isinstance(a, p.Reject)]
    peak = rss(coordinator.pid, "VmHWM")
    print(
        f"200 registrations on one key: {len(welcomed)} welcomed, {len(rejected)} refused, "
        f"{len(status['workers'])} registered; coordinator RSS {before / MiB:.0f} MiB, "
        f"peak {peak / MiB:.0f} MiB; a real worker exited {refused.returncode}"
    )
    assert coordinator.poll() is None
    assert (len(welcomed), len(rejected)) == (64, 136)
    assert len(status["workers"]) == 64
    assert all(r.code == "limit" for r in rejected)
    assert refused.returncode == 2 and "--max-workers-per-key" in refused.stderr


def test_submit_refuses_a_plan_over_the_message_size_before_sending(tmp_path):
    """`minimr submit` names the plan's size and both flags, and sends nothing."""
    (tmp_path / "in.txt").write_text("a b c\n")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "minimr", "submit", str(JOBS / "wordcount.py"),
         "-i", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"),
         "--coordinator", free_address(), "--max-message-size", "1024"],
        env=environment(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "more than the 1024 bytes a coordinator accepts" in result.stderr
    assert "minimr coordinator --max-message-size" in result.stderr
    assert time.monotonic() - started < 15  # refused at once, not after waiting for answers


def start_worker(coordinator: str, work: Path, shuffle_port: int) -> subprocess.Popen:
    """A real worker process serving its map outputs on ``shuffle_port``."""
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o700)
    return subprocess.Popen(
        [sys.executable, "-m", "minimr", "worker", "--coordinator", coordinator,
         "--work-dir", str(work), "--shuffle-port", str(shuffle_port), "--slots", "1"],
        env=environment(MINIMR_LOG=os.environ.get("MINIMR_TEST_LOG", "ERROR")),
    )


def served_file(work: Path, size: int) -> Path:
    """A map output of one partition of ``size`` random bytes inside the worker's own folder
    (what it serves: map 0's of job ``j``, made by attempt 1)."""
    deadline = time.monotonic() + 20
    while not (folders := list(work.glob("minimr-worker-*"))):
        assert time.monotonic() < deadline, "the worker made no folder"
        time.sleep(0.1)
    path = Path(partindex.output_path(str(folders[0]), "j", "s0-m00000-a1"))
    path.parent.mkdir()
    path.write_bytes(os.urandom(size))
    partindex.write_ranges(str(path), [(0, size)])
    return path


def test_unread_shuffle_requests_leave_the_worker_small_and_serving(coordinator_at, tmp_path):
    """1,000 unread 1 MiB chunk requests: the worker's memory stays bounded, honest fetches work."""
    from minimr.cluster.wire.security import local_keys
    from minimr.cluster.worker.fetch import gather_segments
    from minimr.cluster.worker.shuffle import CHUNK_SIZE

    address = free_address()
    coordinator_at(address)
    shuffle = free_address()
    worker = start_worker(address, tmp_path / "work", int(shuffle.rsplit(":", 1)[1]))
    try:
        path = served_file(tmp_path / "work", 4 * CHUNK_SIZE)
        deadline = time.monotonic() + 20
        while not fetch_status(address)["workers"]:
            assert time.monotonic() < deadline, "the worker did not register"
            time.sleep(0.1)
        before = rss(worker.pid)
        # it reads nothing: the replies back up to the worker
        hostile = hand_made_dealer(
            shuffle,
            "worker",
            shuffle=True,
            options={zmq.SNDHWM: 0, zmq.RCVHWM: 1, zmq.RCVBUF: 4096},
        )
        for i in range(1000):
            fetch = p.FetchChunk(i, "j", "s0-m00000-a1", 0, 0, CHUNK_SIZE)
            hostile.send_multipart(wire.encode(fetch))
        time.sleep(5)
        flooded = rss(worker.pid)
        # meanwhile an honest reducer fetches the whole file from the same server
        pair = local_keys().identity("worker")  # the worker's keys: this user's local ones
        holder = p.Holder("elsewhere", shuffle, pair.public.decode(), "")
        (segment,) = gather_segments(p.ReduceInputs((holder,), (0,), (1,)), "j", 0, 0,
                                     str(tmp_path / "scratch"), "here", timeout=10, keys=pair)
        fetched = Path(segment.path).read_bytes()
        hostile.close(0)
        peak = rss(worker.pid, "VmHWM")
        print(
            f"1,000 unread 1 MiB shuffle requests: worker RSS {before / MiB:.0f} MiB -> "
            f"{flooded / MiB:.0f} MiB (peak {peak / MiB:.0f} MiB)"
        )
        assert worker.poll() is None
        assert fetched == path.read_bytes()
        assert peak < before + 100 * MiB
    finally:
        stop_processes([worker])


class FakeWorker:
    """A hand-made worker on a thread: registers, heartbeats, and answers each assignment
    as ``policy(assign)`` says (a list of messages to send; ``None``: leave and join again
    under a new identity). What a hostile peer holding a worker key could run."""

    def __init__(self, address: str, policy, slots: int = 1) -> None:
        import threading

        self.address = address
        self.policy = policy
        self.slots = slots
        self.assigned: list[p.Assign] = []
        self.sent: list[p.Message] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def join(self) -> zmq.Socket:
        socket = dealer(self.address, role="worker")
        socket.send_multipart(
            wire.encode(p.Ready("fake", "fakehost", 1, self.slots, "tcp://127.0.0.1:9"))
        )
        return socket

    def run(self) -> None:
        socket = self.join()
        beat = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() - beat > 0.2:
                    socket.send_multipart(wire.encode(p.Heartbeat()))
                    beat = time.monotonic()
                if not socket.poll(50):
                    continue
                for message in wire.decode_all(socket.recv_multipart()):
                    if isinstance(message, p.Reconnect):
                        socket.close(0)
                        socket = self.join()
                        break  # the rest was for the connection given up
                    if not isinstance(message, p.Assign):
                        continue
                    self.assigned.append(message)
                    answers = self.policy(message)
                    if answers is None:  # leave, and come back as somebody else
                        socket.send_multipart(wire.encode(p.Bye()))
                        socket.close(0)
                        socket = self.join()
                        break
                    for answer in answers:
                        socket.send_multipart(wire.encode(answer))
                        self.sent.append(answer)
        finally:
            socket.close(0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def start_workers(address: str, work: Path, count: int) -> list[subprocess.Popen]:
    """``count`` real worker processes of one slot each."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "minimr", "worker", "--coordinator", address,
             "--work-dir", str(work), "--slots", "1"],
            env=environment(MINIMR_LOG=os.environ.get("MINIMR_TEST_LOG", "ERROR")),
        )
        for _ in range(count)
    ]


def wait_for_workers(address: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(fetch_status(address)["workers"]) < count:
        assert time.monotonic() < deadline, f"fewer than {count} workers registered"
        time.sleep(0.1)


def run_with_deadline(plan, address: str, seconds: float) -> dict:
    """Submit ``plan`` on a thread; return its outcome (``result``/``error``), or raise if
    it is still running after ``seconds`` (the job looped or stalled)."""
    import threading

    from minimr.cluster.client.client import submit_plan

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = submit_plan(plan, address)
        except Exception as exc:  # reported by the caller's assertions
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the job was still running after {seconds:g} s"
    outcome["elapsed"] = time.monotonic() - started
    return outcome


def beside_a_hostile_worker(
    tmp_path: Path, policy, slots: int, honest: int, deadline: float, *flags: str
) -> tuple[FakeWorker, dict, dict]:
    """Run a word count on ``honest`` real workers beside a :class:`FakeWorker` answering
    as ``policy`` says, registered first (so first served), at a coordinator with
    ``flags``; check the output equals inline's. Returns the fake, the outcome, the job."""
    from tests.e2e.support import inline_output, make_plan, read_dir, small_inputs

    inputs = small_inputs(tmp_path / "in", 6)
    inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=4)
    address = free_address()
    coordinator = start_coordinator(address, *flags)
    fake = FakeWorker(address, policy, slots=slots)
    workers: list[subprocess.Popen] = []
    try:
        wait_for_workers(address, 1)
        workers = start_workers(address, tmp_path / "work", honest)
        wait_for_workers(address, 1 + honest)
        plan = make_plan("wordcount.py", inputs, tmp_path / "cluster", reducers=4)
        outcome = run_with_deadline(plan, address, deadline)
        (job,) = fetch_status(address)["jobs"]
    finally:
        fake.close()
        stop_processes([*workers, coordinator])
    assert "error" not in outcome, outcome.get("error")
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    return fake, outcome, job


def test_a_reducer_reporting_fetch_failures_without_end_cannot_loop_the_job(tmp_path):
    """A peer answering every task with a fetch failure (a reduce's naming all its inputs,
    which then really run again) cannot keep a job going round: it ends, with the right output."""

    def liar(assign: p.Assign) -> list[p.Message]:
        listed = assign.inputs.listed(assign.task["step"]) if assign.inputs else []
        lost = [(i.map, i.attempt) for i in listed]
        return [p.FetchFailed(assign.job_id, assign.attempt, lost, "cannot fetch (a lie)")]

    fake, outcome, job = beside_a_hostile_worker(tmp_path, liar, 4, 2, 90)
    print(
        f"a liar answering {len(fake.sent)} tasks with fetch failures: job {job['state']} in "
        f"{outcome['elapsed']:.1f} s, attempts {job['attempts']}, excluded {job['excluded']}"
    )


def test_a_black_hole_worker_cannot_stall_a_job(tmp_path):
    """A peer that takes 16 tasks at a time, heartbeats, and never finishes one: its tasks
    get backups elsewhere, it is excluded from the job, and the job ends right."""
    hole, outcome, job = beside_a_hostile_worker(
        tmp_path, lambda assign: [], 16, 3, 60, "--backup-after", "1"
    )
    print(
        f"a black hole took {len(hole.assigned)} tasks: job {job['state']} in "
        f"{outcome['elapsed']:.1f} s, attempts {job['attempts']}, excluded {job['excluded']}"
    )
    assert len(job["excluded"]) == 1 and job["excluded"][0].startswith("hostile-")
