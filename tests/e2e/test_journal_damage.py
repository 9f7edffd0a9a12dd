"""A damaged journal at a real `minimr coordinator --state-dir`: refused naming the
offset, or moved aside on request; a torn tail is still recovered."""

from __future__ import annotations

import subprocess
import sys
import time

from minimr.cluster.commands.status import fetch_status
from minimr.cluster.coordinator.journal import FILE_NAME, MAGIC
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from tests.e2e.support import HEARTBEAT, environment, free_address, hand_made_dealer

JOBS = ("job-a", "job-b", "job-c")


def coordinator(state_dir, address: str, *flags: str) -> subprocess.Popen:
    """A coordinator process journaling to ``state_dir``."""
    return subprocess.Popen(
        [sys.executable, "-m", "minimr", "coordinator", "--bind", address, *HEARTBEAT,
         "--state-dir", str(state_dir), "--log-level", "WARNING", *flags],
        env=environment(), stderr=subprocess.PIPE, text=True,
    )


def wait_up(address: str, timeout: float = 20) -> dict:
    """The coordinator's status, once it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fetch_status(address, timeout=1)
        except Exception:
            if time.monotonic() > deadline:
                raise


def journal_of_three_jobs(state_dir) -> bytes:
    """Three jobs submitted to a real coordinator (no workers: they stay queued), stopped."""
    address = free_address()
    process = coordinator(state_dir, address)
    try:
        wait_up(address)
        sock = hand_made_dealer(address)
        for job in JOBS:
            sock.send_multipart(wire.encode(p.Submit(job, "wc", 1, p.Options(), "cp", b"PLAN")))
            while sock.poll(5000):
                if wire.decode(sock.recv_multipart()) == p.Submitted(job):
                    break
            else:
                raise AssertionError(f"{job} was not accepted")
        sock.close(0)
    finally:
        process.terminate()
        process.communicate(timeout=10)
    return (state_dir / FILE_NAME).read_bytes()


def test_a_flipped_byte_in_the_first_record_stops_the_coordinator_naming_the_offset(tmp_path):
    """The reported case: one flipped byte in the first record. The coordinator refuses to
    start, naming the file and the offset; the file is kept byte for byte. With
    --move-aside-damaged-journal it starts empty and says so in its log and in status."""
    state = tmp_path / "state"
    whole = journal_of_three_jobs(state)
    damaged = bytearray(whole)
    damaged[len(MAGIC) + 20] ^= 0x01  # inside the first record's JSON
    (state / FILE_NAME).write_bytes(bytes(damaged))
    address = free_address()
    refused = coordinator(state, address)
    _, stderr = refused.communicate(timeout=30)
    assert refused.returncode != 0
    assert f"{state / FILE_NAME} is damaged at byte offset {len(MAGIC)}" in stderr, stderr
    assert "--move-aside-damaged-journal" in stderr
    assert (state / FILE_NAME).read_bytes() == bytes(damaged)

    started = coordinator(state, address, "--move-aside-damaged-journal")
    try:
        status = wait_up(address)
        assert status["jobs"] == []
        assert f"byte offset {len(MAGIC)}" in status["journal"]["message"]
        (aside,) = state.glob("journal.damaged-*")
        assert aside.read_bytes() == bytes(damaged)
        assert status["journal"]["damaged"] == str(aside)
    finally:
        started.terminate()
        _, stderr = started.communicate(timeout=10)
    assert "moved to" in stderr and "started without its jobs" in stderr


def test_a_torn_tail_is_cut_and_the_three_jobs_resume(tmp_path):
    """Half a record after the last sync (a crash mid-append): the jobs all come back."""
    state = tmp_path / "state"
    whole = journal_of_three_jobs(state)
    (state / FILE_NAME).write_bytes(whole + b"\x00\x00\x01\x00\xab\xcd")
    address = free_address()
    process = coordinator(state, address)
    try:
        status = wait_up(address)
        assert sorted(j["job_id"] for j in status["jobs"]) == sorted(JOBS)
        assert "journal" not in status
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "cut a torn last write (6 bytes" in stderr, stderr


def test_a_journal_of_an_older_minimr_is_refused_saying_what_to_do(tmp_path):
    """A journal an older minimr wrote (format 2: map outputs with their byte ranges) stops
    the coordinator with a message saying so and what to do, not a traceback; the file is
    kept byte for byte."""
    state = tmp_path / "state"
    whole = journal_of_three_jobs(state)
    older = b"MMRJ\x02" + whole[len(MAGIC):]
    (state / FILE_NAME).write_bytes(older)
    refused = coordinator(state, free_address())
    _, stderr = refused.communicate(timeout=30)
    assert refused.returncode != 0 and "Traceback" not in stderr, stderr
    assert "written by an older minimr (journal format 2" in stderr, stderr
    assert (state / FILE_NAME).read_bytes() == older
