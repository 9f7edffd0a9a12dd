"""A map-only job (0 reducers) whose every map run leaves a marker file (to count re-runs).

Each matching line is written as it is, keyed by ``(file name, offset)``. A map run writes
``MARK_DIR/map-<input file name>-<uuid>`` after sleeping ``MINIMR_MARK_SLEEP`` seconds at
its end (before its output is committed); both variables are read when the job file loads,
so they travel with the shipped job.
"""

from __future__ import annotations

import os
import time
import uuid

from minimr import Job

MARK_DIR = os.environ.get("MINIMR_MARK_DIR", "")
SLEEP = float(os.environ.get("MINIMR_MARK_SLEEP", "0"))


class MarkedMapOnly(Job):
    """Keep the lines with an "a"; mark each map run."""

    reducers = 0

    def setup(self):
        """Nothing read yet."""
        self.file = None

    def map(self, key, line):
        """Write the line keyed by where it is; remember the input file."""
        self.file = self.file or os.path.basename(key[0])
        if "a" in line:
            yield (self.file, key[1]), line

    def teardown(self):
        """Sleep, then leave this run's marker."""
        time.sleep(SLEEP)
        if MARK_DIR and self.file:
            with open(os.path.join(MARK_DIR, f"map-{self.file}-{uuid.uuid4().hex}"), "w"):
                pass
