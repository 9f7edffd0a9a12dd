"""Jobs whose map fails on a marked line: by an exception, os._exit, or holding the GIL."""

from __future__ import annotations

import os
import time

from minimr import Job


class RaiseOnBad(Job):
    """Raises ValueError on any line containing 'poison'."""

    def map(self, key, line):
        """Fail on poison, else count words."""
        if "poison" in line:
            print("about to fail on", key, flush=True)
            raise ValueError(f"poisoned record at {key[1]}")
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts."""
        yield word, sum(counts)


class ExitOnBad(Job):
    """Calls os._exit(3) on any line containing 'poison'."""

    def map(self, key, line):
        """Exit the process on poison, else count words."""
        if "poison" in line:
            os._exit(3)
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts."""
        yield word, sum(counts)


class HoldGil(Job):
    """Spins in pure Python (holding the GIL) for HOLD seconds per map task."""

    HOLD = float(os.environ.get("MINIMR_HOLD_SECONDS", "2"))

    def setup(self):
        """Spin before mapping."""
        end = time.perf_counter() + self.HOLD
        while time.perf_counter() < end:
            pass

    def map(self, key, line):
        """Count words."""
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts."""
        yield word, sum(counts)
