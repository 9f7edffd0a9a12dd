"""10,000 malformed, truncated and oversized frames at a coordinator while it runs a job.

A real coordinator process (with a 1 MiB message cap) runs a job on two workers; from
separate DEALER sockets on loopback the test sends 10,000 bad messages of every kind a
peer could get wrong, some over the cap, plus raw TCP garbage that is not even ZMTP.
The coordinator must stay up, its resident memory must stay within a modest margin, and
the job must finish with the inline runner's output.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import zmq

from minimr.cluster.client.client import submit_plan
from minimr.cluster.commands.status import fetch_status
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from tests.e2e.support import (
    HEARTBEAT,
    environment,
    free_address,
    hand_made_dealer,
    inline_output,
    make_plan,
    read_dir,
    small_inputs,
)

FRAMES = 10_000
MAX_MESSAGE = 1 << 20
#: the most the coordinator's peak resident memory may rise over both floods: ZeroMQ holds a
#: peer's unread messages (at most transport.RECEIVE_QUEUE of them), the allocators keep some
#: of what they took (5-7 MiB seen); an unbounded receive queue held a whole flood (+40-50 MiB)
FLOOD_MARGIN = 24 * 1024 * 1024
#: what the second flood may add to the resident memory left by the first: it reuses what the
#: first left, so a leak of more than 20 MiB a flood fails
SECOND_FLOOD_MARGIN = 20 * 1024 * 1024


def rss(pid: int, field: str = "VmRSS") -> int:
    """Resident set size of a process in bytes (``VmHWM``: its peak), from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for pid {pid}")


def header(command: int, version: int = wire.VERSION, magic: bytes = wire.MAGIC) -> bytes:
    """A message header, possibly with the wrong version or magic."""
    return struct.pack(">3sBH", magic, version, command)


def bad_message(rng: random.Random) -> list[bytes]:
    """One malformed message, of a kind picked at random."""
    command = rng.choice(list(p.Command))
    kind = rng.randrange(13)
    if kind == 0:  # random bytes, random frame count
        return [rng.randbytes(rng.randrange(0, 300)) for _ in range(rng.randrange(1, 5))]
    if kind == 1:  # wrong magic
        return [header(command, magic=rng.randbytes(3)), b"{}"]
    if kind == 2:  # other protocol version (the coordinator answers Reject)
        return [header(command, version=rng.choice([0, 2, 255])), b"{}"]
    if kind == 3:  # truncated header
        return [header(command)[: rng.randrange(0, 6)], b"{}"]
    if kind == 4:  # unknown command number
        return [header(rng.choice([0, 9, 39, 99, 65535])), b"{}"]
    if kind == 5:  # bad JSON
        return [header(command), rng.choice([b"{", b"{'a': 1}", b"nul", b'{"a":}', b"\xff\xfe"])]
    if kind == 6:  # JSON that is not an object
        return [header(command), rng.choice([b"[]", b"1", b"null", b'"s"', b"true"])]
    if kind == 7:  # an object with wrong, missing or mistyped fields
        body = rng.choice([{"nope": 1}, {"job_id": 7}, {"job_id": None}, {"slots": "many"}])
        return [header(command), json.dumps(body).encode()]
    if kind == 8:  # wrong frame count for the command
        return [header(command), b"{}", *[b"x"] * rng.choice([1, 2, 40])]
    if kind == 9:  # a valid header, then garbage
        return [header(command), rng.randbytes(rng.randrange(1, 2000))]
    if kind == 10:  # nested past the recursion limit, and past int's digit limit
        return [header(command), rng.choice([b"[" * 50_000, b"1" * 5_000, b'{"a":' * 20_000])]
    if kind == 11:  # empty frames
        return [b""] * rng.randrange(1, 4)
    return [header(command)]  # a header alone


def flood(address: str, seed: int) -> dict[str, int]:
    """Send FRAMES bad messages (a few oversized) from DEALER sockets; return counts."""
    rng = random.Random(seed)
    # peers holding this user's local keys (what the default cluster takes) send the bad
    # messages; a peer without them would not get past the handshake
    dealer = hand_made_dealer(address, options={zmq.SNDHWM: 0})
    # the coordinator drops this connection each time
    oversized = hand_made_dealer(address, options={zmq.RECONNECT_IVL: 10, zmq.SNDTIMEO: 2000})
    counts = {"malformed": 0, "oversized": 0, "raw": 0, "replies": 0}
    try:
        for i in range(FRAMES):
            if i % 250 == 0:
                oversized.send_multipart(
                    [header(p.Command.SUBMIT), b"{}", b"\0" * (MAX_MESSAGE * 2)]
                )
                counts["oversized"] += 1
            else:
                dealer.send_multipart(bad_message(rng))
                counts["malformed"] += 1
            if i % 500 == 0:
                counts["raw"] += raw_garbage(address, rng)
            while dealer.poll(0):
                dealer.recv_multipart()
                counts["replies"] += 1
        time.sleep(0.5)
        while dealer.poll(100):
            dealer.recv_multipart()
            counts["replies"] += 1
    finally:
        dealer.close(0)
        oversized.close(0)
    return counts


def raw_garbage(address: str, rng: random.Random) -> int:
    """A TCP connection that is not ZMTP at all, or a ZMTP frame claiming 2**62 bytes."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as conn:
        if rng.random() < 0.5:
            conn.sendall(rng.randbytes(rng.randrange(1, 4096)))
        else:
            greeting = (
                b"\xff"
                + b"\0" * 8
                + b"\x7f"
                + b"\x03\x00"
                + b"NULL"
                + b"\0" * 16
                + b"\0"
                + b"\0" * 31
            )
            conn.sendall(greeting + b"\x06" + struct.pack(">Q", 1 << 62))  # long frame, huge size
        try:
            conn.recv(64)
        except OSError:
            pass
    return 1


def test_coordinator_survives_10000_bad_frames_during_a_job(tmp_path, monkeypatch):
    """Malformed floods leave the coordinator up, its memory bounded, the job correct."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    (tmp_path / "probes").mkdir()
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0")
    inputs = small_inputs(tmp_path / "in", 12)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=2)
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "1")  # travels with the job: ~6 s of maps
    address = free_address()
    log = open(tmp_path / "coordinator.log", "w")  # noqa: SIM115
    coordinator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minimr",
            "coordinator",
            "--bind",
            address,
            *HEARTBEAT,
            "--max-message-size",
            str(MAX_MESSAGE),
            "--log-level",
            "WARNING",
        ],
        env=environment(),
        stderr=log,
    )
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "minimr.cluster.worker.worker",
                "--coordinator",
                address,
                "--work-dir",
                str(tmp_path / "work"),
            ],
            env=environment(),
        )
        for _ in range(2)
    ]
    outcome: dict = {}
    try:
        deadline = time.monotonic() + 20
        while len(fetch_status(address)["workers"]) < 2:
            assert time.monotonic() < deadline, "workers did not register"
            time.sleep(0.1)
        plan = make_plan("probe.py", inputs, tmp_path / "cluster", reducers=2)

        def run() -> None:
            try:
                outcome["result"] = submit_plan(plan, address)
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

        submitter = threading.Thread(target=run)
        submitter.start()
        while not fetch_status(address)["jobs"]:
            time.sleep(0.05)
        # Two floods: what the allocators keep of the first is used again by the second, so
        # the memory kept stays about that of one flood, while a leak would double.
        before = rss(coordinator.pid)
        started = time.monotonic()
        counts = flood(address, seed=5)
        flood_seconds = time.monotonic() - started
        assert fetch_status(address)["jobs"][0]["state"] == "running"  # the flood hit a job
        between = rss(coordinator.pid)
        again = flood(address, seed=6)  # for the memory bound: the job may have ended
        submitter.join(timeout=60)
        after, peak = rss(coordinator.pid), rss(coordinator.pid, "VmHWM")
        assert coordinator.poll() is None, "the coordinator died"
        assert "error" not in outcome, outcome.get("error")
        assert fetch_status(address)["jobs"][0]["state"] == "succeeded"
        assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
        for sent in (counts, again):
            assert sent["malformed"] + sent["oversized"] == FRAMES
            assert sent["replies"] > 0  # version mismatches were answered: it kept serving
        print(
            f"flood: {counts} in {flood_seconds:.1f} s; coordinator RSS "
            f"{before / 2**20:.1f} -> {between / 2**20:.1f} -> {after / 2**20:.1f} MiB "
            f"(peak {peak / 2**20:.1f} MiB)"
        )
        grew = f"RSS grew {before} -> {between} -> {after} bytes"
        assert peak - before < FLOOD_MARGIN, f"{grew} (peak {peak})"
        assert after - between < SECOND_FLOOD_MARGIN, grew
    finally:
        for process in [*workers, coordinator]:
            if process.poll() is None:
                process.terminate()
        for process in [*workers, coordinator]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
