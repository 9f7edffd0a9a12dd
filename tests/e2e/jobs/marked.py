"""Word count whose every map and reduce run leaves a marker file (to count re-runs).

A map run writes ``MARK_DIR/map-<input file name>-<uuid>``; a reduce run writes
``MARK_DIR/reduce-<its first key>-<uuid>`` (the first key of a partition names it: keys
come sorted). ``MINIMR_MARK_DIR`` and ``MINIMR_MARK_SLEEP`` (seconds each task sleeps
at its end, before its output is committed) are read when the job file loads, so they
travel with the shipped job.
"""

from __future__ import annotations

import os
import time
import uuid

from minimr import Job

MARK_DIR = os.environ.get("MINIMR_MARK_DIR", "")
SLEEP = float(os.environ.get("MINIMR_MARK_SLEEP", "0"))


class Marked(Job):
    """Count words; mark each task run."""

    def setup(self):
        """Nothing seen yet."""
        self.first = None

    def map(self, key, line):
        """Count words; remember the input file."""
        self.first = self.first or ("map", os.path.basename(key[0]))
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts; remember the partition's first key."""
        self.first = self.first or ("reduce", word)
        yield word, sum(counts)

    def teardown(self):
        """Sleep, then leave this run's marker."""
        time.sleep(SLEEP)
        if MARK_DIR and self.first:
            kind, name = self.first
            with open(os.path.join(MARK_DIR, f"{kind}-{name}-{uuid.uuid4().hex}"), "w"):
                pass
