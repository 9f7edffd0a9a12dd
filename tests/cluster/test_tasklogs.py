"""Task logs: an attempt's output kept bounded (head, tail, the cut marked) and read by offset."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.cluster.worker.tasklogs import AttemptLogs, BoundedLog, copy_logs


def stream(log: BoundedLog, chunks: list[bytes]) -> bytes:
    for chunk in chunks:
        log.write(chunk)
    return b"".join(chunks)


def test_a_short_log_is_kept_whole():
    """Output that fits is kept as it came, with nothing cut and no mark."""
    log = BoundedLog(head=10, tail=10)
    data = stream(log, [b"hello ", b"world\n"])
    assert log.render() == data and log.cut == 0 and log.written == len(data)


def test_a_long_log_keeps_its_head_and_tail_and_marks_the_cut():
    """Past head + tail bytes, the middle goes: the mark says how many bytes, and the
    head and tail are the stream's first and last bytes."""
    log = BoundedLog(head=8, tail=6)
    data = stream(log, [bytes([65 + i % 26]) * 7 for i in range(100)])
    rendered = log.render()
    assert rendered.startswith(data[:8]) and rendered.endswith(data[-6:])
    assert log.cut == len(data) - 14
    mark = f"[minimr: {len(data) - 14} bytes cut here; this log keeps the first 8 and the last 6"
    assert mark.encode() in rendered
    assert len(log.tail) <= 12  # memory stays bounded too


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=30), head=st.integers(0, 30),
       tail=st.integers(0, 30), offset=st.integers(0, 1500))
def test_reading_from_an_offset_is_the_same_live_and_from_the_file(chunks, head, tail, offset):
    """A reader at any offset of the stream gets what is kept from there on (the mark where
    bytes were cut) and the offset to read next; a finished log read back from its file
    answers the same, and reading from 0 gives the file."""
    log = BoundedLog(head=head, tail=tail)
    data = stream(log, chunks)
    live = log.read(offset)
    parsed = BoundedLog.parse(log.render())
    assert parsed.read(offset) == live
    assert log.read(0)[0] == log.render()
    assert live[1] == len(data)
    if offset >= len(data):
        assert live[0] == b""
    elif log.cut == 0:
        assert live[0] == data[offset:]


def test_a_printed_line_that_looks_like_the_mark_is_not_taken_for_it():
    """Parsing finds the mark only where the head ends: the user's lookalike line stays text."""
    fake = (b"\n[minimr: 5 bytes cut here; this log keeps the first 1 and the last 1 bytes of "
            b"the attempt's output]\n")
    log = BoundedLog(head=1000, tail=1000)
    log.write(b"abc" + fake + b"def")
    parsed = BoundedLog.parse(log.render())
    assert parsed.cut == 0 and parsed.read(0)[0] == b"abc" + fake + b"def"


def test_a_worker_keeps_the_logs_of_its_last_jobs(tmp_path):
    """Saved logs load back by job and attempt; past jobs_kept jobs the oldest job's go; an
    attempt id that is not one, or a job id with a path in it, finds nothing."""
    logs = AttemptLogs(str(tmp_path / "logs"), jobs_kept=2)
    for job in ("j1", "j2", "j3"):
        log = logs.new()
        log.write(f"output of {job}\n".encode())
        logs.save(job, "s0-m00000-a1", log)
    assert logs.load("j1", "s0-m00000-a1") is None
    assert logs.load("j3", "s0-m00000-a1").read(0)[0] == b"output of j3\n"
    assert logs.load("j3", "../j2/s0-m00000-a1") is None
    assert logs.load("..", "s0-m00000-a1") is None
    assert sorted(os.listdir(tmp_path / "logs")) == ["j2", "j3"]


def test_an_embedded_clusters_logs_are_copied_flat_into_the_output(tmp_path):
    """copy_logs puts every attempt's file of the workers' log folder into one folder."""
    logs = AttemptLogs(str(tmp_path / "logs"))
    for attempt in ("s0-m00000-a1", "s0-r00001-a2"):
        log = logs.new()
        log.write(attempt.encode())
        logs.save("job", attempt, log)
    assert copy_logs(str(tmp_path / "logs"), str(tmp_path / "out" / "_logs")) == 2
    assert sorted(os.listdir(tmp_path / "out" / "_logs")) == [
        "s0-m00000-a1.log", "s0-r00001-a2.log"]
    assert copy_logs(str(tmp_path / "none"), str(tmp_path / "x")) == 0
    assert not (tmp_path / "x").exists()
