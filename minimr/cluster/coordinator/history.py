"""The finished jobs a coordinator with ``--state-dir`` remembers: ``minimr status --all``.

The scheduler keeps a bounded number of finished jobs in memory (``scheduler.py``:
``FINISHED_JOBS_KEPT``, ``FINISHED_JOBS_TTL``), which ``minimr status`` lists. Beyond them,
each job's one-line summary is appended, as it ends, to ``STATE_DIR/history.jsonl`` (one
JSON object a line, wall-clock times); the file keeps the last ``KEPT`` jobs (it is cut
back to them when it opens and whenever it has grown to twice as many).
"""

from __future__ import annotations

import json
import logging
import os
import time

from minimr.cluster.scheduling.tables import Job, Kind
from minimr.cluster.scheduling.views import job_state

log = logging.getLogger("minimr.coordinator")

FILE = "history.jsonl"
#: finished jobs the history file keeps
KEPT = 10_000
#: jobs ``minimr status --all`` lists at most (the newest)
SHOWN = 1000


def summary(job: Job, now: float, wall: float | None = None) -> dict:
    """A finished job in one line: what ``status --all`` shows. ``now`` is the scheduler's
    clock, ``wall`` the same moment as wall-clock time (``time.time()``)."""
    wall = time.time() if wall is None else wall
    elapsed = (job.finished if job.finished is not None else now) - job.submitted
    return {
        "job_id": job.id,
        "name": job.name,
        "state": job_state(job),
        "submitted_at": wall - (now - job.submitted),
        "elapsed": elapsed,
        "maps_total": job.total.get(Kind.MAP, 0),
        "reduces_total": job.total.get(Kind.REDUCE, 0),
        "failed_attempts": sum(t.failures for t in job.tasks.values()),
        "cancelled_by": job.cancelled_by,
        "error": (job.error or {}).get("message", ""),
        "owner": job.owner,  # its submitter's key: who may see it (besides admins)
    }


class History:
    """The history file in ``folder`` (a coordinator's ``--state-dir``)."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, FILE)
        self._lines = len(self._read_lines())
        if self._lines > KEPT:
            self._rewrite()

    def append(self, entry: dict) -> None:
        """Add a finished job's summary (written through; not fsynced: a lost line is a
        lost summary, never a lost job)."""
        try:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as exc:
            log.warning("could not add job %s to %s: %s", entry.get("job_id"), self.path, exc)
            return
        self._lines += 1
        if self._lines >= 2 * KEPT:
            self._rewrite()

    def read(self, limit: int = SHOWN) -> list[dict]:
        """The newest ``limit`` summaries, oldest first (a damaged line is left out)."""
        entries = []
        for line in self._read_lines()[-limit:]:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def _read_lines(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as file:
                return [line for line in file.read().splitlines() if line.strip()]
        except FileNotFoundError:
            return []

    def _rewrite(self) -> None:
        lines = self._read_lines()[-KEPT:]
        temp = self.path + ".new"
        with open(temp, "w", encoding="utf-8") as file:
            file.write("".join(line + "\n" for line in lines))
        os.replace(temp, self.path)
        self._lines = len(lines)
