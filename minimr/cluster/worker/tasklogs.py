"""Task logs: each attempt's stdout, stderr and ``logging`` output, bounded, kept by its worker.

An executor's file descriptors 1 and 2 are the write end of a pipe whose read end the worker
polls (``executor.py``): whatever the attempt writes there, from ``print``, ``logging``
(the executor's root handler writes to stderr), C code or a child process, and minimr's own
lines about the attempt, reaches the worker as bytes, which it keeps in a
:class:`BoundedLog`: the first ``head`` bytes and the last ``tail`` bytes (64 KiB and
192 KiB by default), with the cut between them marked. Memory and disk stay bounded however
much an attempt prints, and a user's code never waits on its own output for long, since the
worker reads the pipe every loop turn.

When the attempt ends (done, failed, cancelled, its executor dead) the worker writes the log
to ``FOLDER/JOB/ATTEMPT.log`` (:class:`AttemptLogs`): its work folder's ``logs/``, or the
folder ``--log-dir`` names (the embedded cluster's, copied to ``OUTPUT/_logs/`` at the end).
A worker keeps the logs of its last ``JOBS_KEPT`` jobs; its work folder, logs included, goes
when it stops, so the logs of a worker that died went with it.

Offsets: a reader (``minimr logs --follow``) asks from an offset in the attempt's *stream*
(every byte it wrote, in order) and gets what is kept from there on, the mark in place of
what was cut, and the offset to ask from next. A finished log is read back the same way
(:meth:`BoundedLog.parse` finds the mark).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

#: bytes kept of the start and of the end of an attempt's output
HEAD = 64 * 1024
TAIL = 192 * 1024
#: a worker keeps the logs of its last this many jobs
JOBS_KEPT = 50
SUFFIX = ".log"

_MARK = (b"\n[minimr: %d bytes cut here; this log keeps the first %d and the last %d bytes of "
         b"the attempt's output]\n")
_MARK_PATTERN = re.compile(
    rb"\n\[minimr: (\d+) bytes cut here; this log keeps the first (\d+) and the last (\d+) "
    rb"bytes of the attempt's output\]\n"
)
_NAME = re.compile(r"s\d{1,9}-[pmrc]\d{1,12}-a\d{1,12}")  # an attempt id: the file's name


class BoundedLog:
    """One attempt's output as it arrives: its first ``head`` and last ``tail`` bytes.

    Attributes:
        written: every byte the attempt wrote so far (the stream's length).
    """

    def __init__(self, head: int = HEAD, tail: int = TAIL) -> None:
        self.head_limit = head
        self.tail_limit = tail
        self.head = bytearray()
        self.tail = bytearray()
        self.written = 0

    def write(self, data: bytes) -> None:
        """Take more of the stream: the head fills first, the tail keeps the latest bytes."""
        self.written += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_limit:  # trimmed now and then: amortized O(n)
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def cut(self) -> int:
        """Bytes of the stream not kept (between the head and the tail)."""
        return self.written - len(self.head) - min(len(self.tail), self.tail_limit)

    def _kept_tail(self) -> bytes:
        return bytes(self.tail[-self.tail_limit:]) if self.tail_limit else b""

    def mark(self) -> bytes:
        """The line that stands where bytes were cut."""
        return _MARK % (self.cut, self.head_limit, self.tail_limit)

    def render(self) -> bytes:
        """The log as a file holds it: head, the mark if anything was cut, tail."""
        return bytes(self.head) + (self.mark() if self.cut else b"") + self._kept_tail()

    def read(self, offset: int) -> tuple[bytes, int]:
        """What is kept of the stream from ``offset`` on (the mark where bytes were cut),
        and the offset to read from next."""
        head, tail, cut = bytes(self.head), self._kept_tail(), self.cut
        if offset < len(head):
            data = head[offset:] + (self.mark() if cut else b"") + tail
        elif offset < len(head) + cut:
            data = self.mark() + tail
        else:
            data = tail[offset - len(head) - cut:]
        return data, self.written

    def tail_text(self, size: int) -> str:
        """The last ``size`` bytes written, as text (for a failure's message)."""
        kept = self._kept_tail() or bytes(self.head)
        return kept[-size:].decode("utf-8", "replace")

    @classmethod
    def parse(cls, data: bytes) -> BoundedLog:
        """A finished log back from its file, its stream offsets as they were."""
        log = cls(head=len(data), tail=0)
        for match in _MARK_PATTERN.finditer(data):
            cut, head, tail = (int(n) for n in match.groups())
            if match.start() == head:  # the mark, not a line the user printed like it
                log = cls(head=head, tail=tail)
                log.head += data[:head]
                log.tail += data[match.end():]
                log.written = head + cut + len(log.tail)
                return log
        log.head += data
        log.written = len(data)
        return log


class AttemptLogs:
    """A worker's finished attempt logs, ``folder/JOB/ATTEMPT.log``, for its last ``jobs_kept``
    jobs.

    Args:
        folder: where they go (made if missing).
        head, tail: the bytes kept of each log's start and end.
    """

    def __init__(self, folder: str, head: int = HEAD, tail: int = TAIL,
                 jobs_kept: int = JOBS_KEPT) -> None:
        self.folder = folder
        self.head = head
        self.tail = tail
        self.jobs_kept = jobs_kept
        self._jobs: list[str] = []  # oldest first
        os.makedirs(folder, mode=0o700, exist_ok=True)

    def new(self) -> BoundedLog:
        """An empty log for an attempt that starts."""
        return BoundedLog(self.head, self.tail)

    def path(self, job_id: str, attempt: str) -> str:
        """Where a finished attempt's log is (or will be)."""
        return os.path.join(self.folder, job_id, attempt + SUFFIX)

    def save(self, job_id: str, attempt: str, log: BoundedLog) -> str:
        """Write an ended attempt's log; the oldest job's logs go past ``jobs_kept`` jobs.

        Returns:
            The file's path.
        """
        if job_id not in self._jobs:
            self._jobs.append(job_id)
            for old in self._jobs[: -self.jobs_kept]:
                shutil.rmtree(os.path.join(self.folder, old), ignore_errors=True)
            del self._jobs[: -self.jobs_kept]
        path = self.path(job_id, attempt)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        temp = path + ".new"
        with open(temp, "wb") as file:
            file.write(log.render())
        os.replace(temp, path)
        return path

    def load(self, job_id: str, attempt: str) -> BoundedLog | None:
        """A finished attempt's log, or None when this worker has none."""
        if not _NAME.fullmatch(attempt) or os.sep in job_id or job_id in ("", ".", ".."):
            return None
        try:
            with open(self.path(job_id, attempt), "rb") as file:
                return BoundedLog.parse(file.read())
        except OSError:
            return None


def log_files(folder: str) -> Iterator[tuple[str, str]]:
    """``(attempt, path)`` of each log in a folder of one job's logs, in attempt order."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        if name.endswith(SUFFIX) and _NAME.fullmatch(name[: -len(SUFFIX)]):
            yield name[: -len(SUFFIX)], os.path.join(folder, name)


def copy_logs(folder: str, destination: str) -> int:
    """Copy the attempt logs under ``folder`` (``JOB/ATTEMPT.log``, any job) into the folder
    ``destination`` (a path or a URL), as ``ATTEMPT.log``; returns how many."""
    from minimr.dataflow import storage

    copied = 0
    try:
        jobs = sorted(os.listdir(folder))
    except OSError:
        return 0
    for job in jobs:
        for attempt, path in log_files(os.path.join(folder, job)):
            if not copied:
                storage.makedirs(destination)
            with open(path, "rb") as source, storage.open_write(
                    storage.join(destination, attempt + SUFFIX)) as target:
                shutil.copyfileobj(source, target)
            copied += 1
    return copied
