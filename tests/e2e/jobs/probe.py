"""A job that records when and where each map and reduce task ran (for parallelism tests).

Each task appends ``kind pid start end`` to a file under ``MINIMR_PROBE_DIR`` (read when
the job is loaded, so the value travels with the shipped job); ``MINIMR_PROBE_SLEEP``
seconds of sleep per task make overlaps measurable; a worker whose environment has
``MINIMR_STRAGGLER`` set sleeps 20 times as long in map tasks (a slow machine, for
speculation tests).
"""

from __future__ import annotations

import os
import time
import uuid

from minimr import Job

PROBE_DIR = os.environ.get("MINIMR_PROBE_DIR", "")
SLEEP = float(os.environ.get("MINIMR_PROBE_SLEEP", "0.5"))


def record(kind: str, started: float) -> None:
    """Write one probe line for a finished task: whole or not at all, as a test polling the
    folder sees it (written beside the folder, then renamed into it: a test read a file
    created but not yet written, and failed on its empty text)."""
    name = f"{kind}-{uuid.uuid4().hex}"
    beside = os.path.join(os.path.dirname(os.path.abspath(PROBE_DIR)), f".{name}")
    with open(beside, "w") as file:
        file.write(f"{kind} {os.getpid()} {started} {time.time()}\n")
    os.replace(beside, os.path.join(PROBE_DIR, name))


class Probe(Job):
    """Word count whose tasks sleep and record themselves."""

    def setup(self):
        """Remember when the task started."""
        self.started = time.time()
        self.saw_reduce = False

    def map(self, key, line):
        """Count words."""
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts."""
        self.saw_reduce = True
        yield word, sum(counts)

    def teardown(self):
        """Sleep (a map 20x as long on a worker with MINIMR_STRAGGLER set), then record."""
        slow = 20 if os.environ.get("MINIMR_STRAGGLER") and not self.saw_reduce else 1
        time.sleep(SLEEP * slow)
        record("reduce" if self.saw_reduce else "map", self.started)
