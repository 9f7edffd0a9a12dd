"""Word count as the README writes it: the plain class API, generators run as written.

The job zoo's "plain" word-count row (``scripts/bench.py``); ``jobs/wordcount.py`` is the same
job in the declared forms. A word is a run of the letters a-z after lower-casing.
"""

from __future__ import annotations

import re

from minimr import Job

WORD = re.compile(r"[a-z]+")


class WordCount(Job):
    """Count the words of every input line."""

    def map(self, key, line):
        """Yield ``(word, 1)`` for every word of the line."""
        for word in WORD.findall(line.lower()):
            yield word, 1

    def combine(self, word, counts):
        """Sum a map task's counts of one word before the shuffle."""
        yield word, sum(counts)

    def reduce(self, word, counts):
        """Sum the counts of one word."""
        yield word, sum(counts)
