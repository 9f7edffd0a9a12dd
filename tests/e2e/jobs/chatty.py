"""A word count whose map and reduce print and log: the task logs' test job.

``--flood BYTES`` makes the first map print that many bytes more; ``--fail-on WORD`` makes
a map fail on the first line holding the word; ``--sleep SECONDS`` slows each map record.
"""

from __future__ import annotations

import logging
import sys
import time

from minimr import Job, Option

log = logging.getLogger("chatty")


class Chatty(Job):
    """Count words, saying so on stdout, stderr and through logging."""

    options = [
        Option("--flood", type=int, default=0),
        Option("--fail-on", default=""),
        Option("--sleep", type=float, default=0.0),
    ]

    def setup(self):
        self.flooded = False

    def map(self, key, line):
        if self.options.flood and not self.flooded:
            self.flooded = True
            line_bytes = 100
            for n in range(self.options.flood // line_bytes):
                print(f"flood line {n:09d} ".ljust(line_bytes - 1, "x"))
        if self.options.fail_on and self.options.fail_on in line.split():
            raise ValueError(f"chatty cannot take {self.options.fail_on!r}")
        time.sleep(self.options.sleep)
        words = line.split()
        print(f"map print: {len(words)} words at {key[1]}")
        print(f"map stderr: {key[1]}", file=sys.stderr)
        log.warning("map logging: line at %s", key[1])
        for word in words:
            yield word.lower(), 1

    def reduce(self, word, counts):
        total = sum(counts)
        if total > 100:
            print(f"reduce print: {word} {total}")
            log.warning("reduce logging: %s", word)
        yield word, total
