"""Jobs for the dashboard's browser test: slow tasks, a map that fails once, a job that
fails for good, and texts that would be markup if a page trusted them.

``MINIMR_DASHBOARD_FLAGS`` (a folder) and ``MINIMR_DASHBOARD_SLEEP`` (seconds per map
task) are read when the job is loaded, so their values travel with the shipped job.
"""

from __future__ import annotations

import os
import time

from minimr import Job

#: what a job might print or raise: shown as text, it must never run in a page
MARKUP = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
FLAGS = os.environ.get("MINIMR_DASHBOARD_FLAGS", "")
SLEEP = float(os.environ.get("MINIMR_DASHBOARD_SLEEP", "0.5"))


class Slow(Job):
    """Word count whose map tasks take ``SLEEP`` seconds; the first attempt of the task that
    reads part-00001.txt from its start fails, printing and raising markup."""

    def setup(self):
        """The first record of the task does the sleeping and the failing."""
        self.first = True

    def map(self, key, line):
        """Count words (after the first record's sleep and, once, failure)."""
        if self.first:
            self.first = False
            time.sleep(SLEEP)
            path, offset = key
            print(f"reading {os.path.basename(path)} from byte {offset}: {MARKUP}", flush=True)
            flag = os.path.join(FLAGS, "failed-once")
            if os.path.basename(path) == "part-00001.txt" and offset == 0 and FLAGS and (
                    not os.path.exists(flag)):
                open(flag, "w").close()
                raise ValueError(f"the first try fails: {MARKUP}")
        self.increment_counter(MARKUP, "lines")
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts."""
        yield word, sum(counts)


class Broken(Job):
    """Every map fails, printing and raising markup: the job fails."""

    def map(self, key, line):
        """Fail."""
        print(f"about to fail: {MARKUP}", flush=True)
        raise ValueError(f"always fails: {MARKUP}")

    def reduce(self, word, counts):
        """Never reached."""
        yield word, sum(counts)
