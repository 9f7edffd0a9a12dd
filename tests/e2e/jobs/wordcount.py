"""Word count, the e2e suite's own copy (the suite must not depend on jobs/)."""

from __future__ import annotations

import re

from minimr import Job

WORD = re.compile(r"[a-z]+")


class WordCount(Job):
    """Count the words of every line."""

    def map(self, key, line):
        """Yield (word, 1) for every word."""
        for word in WORD.findall(line.lower()):
            yield word, 1

    def combine(self, word, counts):
        """Sum one map task's counts of a word."""
        yield word, sum(counts)

    def reduce(self, word, counts):
        """Sum the counts of a word."""
        yield word, sum(counts)
