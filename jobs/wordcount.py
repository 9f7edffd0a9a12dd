"""Word count: how many times each word occurs in a set of text files.

A word is a run of the letters a-z after lower-casing, so "Whale's" counts as "whale" and
"s", and digits and punctuation separate words. The combiner sums each map task's counts
before the shuffle, so a map task sends one pair per distinct word, not one per occurrence.

Run it on the project's sample text::

    minimr submit jobs/wordcount.py --input data/text --output out/wordcount --overwrite

Output: ``out/wordcount/part-00000`` ... (one per reducer), one word a line, ``repr(word)``
TAB ``count``, words sorted within each part::

    'a'	2883
    'aaims'	1

Read it back typed with ``minimr.read_output("out/wordcount")`` (pairs ``("a", 12345)``).
See ``wordcount_batch.py`` for a faster form of the same job and ``wordcount_functions.py``
for the same job written as plain functions.
"""

from __future__ import annotations

import re

from minimr import Job

WORD = re.compile(r"[a-z]+")


class WordCount(Job):
    """Count the words of every input line."""

    def map(self, key, line):
        """Yield ``(word, 1)`` for every word of the line; ``key`` is (path, offset)."""
        for word in WORD.findall(line.lower()):
            yield word, 1

    def combine(self, word, counts):
        """Sum a map task's counts of one word before the shuffle."""
        yield word, sum(counts)

    def reduce(self, word, counts):
        """Sum the counts of one word; ``counts`` is an iterator."""
        yield word, sum(counts)
