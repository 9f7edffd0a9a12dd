"""The MIT 6.824 crash test: map and reduce tasks that die or stall at random.

On a worker whose environment has ``MINIMR_CRASH`` set, each task, when it starts,
exits the process (``os._exit``) with probability 0.15, or stalls for 3 s with
probability 0.15; elsewhere (the inline reference run) it never does. The output
must equal a failure-free run.
"""

from __future__ import annotations

import os
import random
import time

from minimr import Job


def maybe_misbehave() -> None:
    """Crash or stall at random, only where MINIMR_CRASH is set."""
    if not os.environ.get("MINIMR_CRASH"):
        return
    roll = random.random()
    if roll < 0.15:
        os._exit(1)
    if roll < 0.30:
        time.sleep(3)


class Crashy(Job):
    """Word count whose tasks misbehave at random."""

    def setup(self):
        """Maybe crash or stall before the task's work."""
        maybe_misbehave()

    def map(self, key, line):
        """Count words."""
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts."""
        yield word, sum(counts)
