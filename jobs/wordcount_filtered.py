"""Word count of the words of three letters or more, written as a user writes it: loops.

The map yields ``(word, 1)`` for each word longer than two letters (a run of a-z after
lower-casing); ``combine`` and ``reduce`` add the counts up in a ``for`` loop. No declared
form (``map_keys``, ``minimr.fold``): minimr runs every function as written, once a line and
once a key. ``scripts/baselines/wc_filtered_pool.py`` is the same work by hand
(``multiprocessing.Pool``), and ``scripts/bench_plain.py`` times the two side by side.

Run it on the project's sample text::

    minimr submit jobs/wordcount_filtered.py --input data/text --output out/filtered \\
        --overwrite
"""

from __future__ import annotations

import re

from minimr import Job

WORD = re.compile(r"[a-z]+")


class FilteredWordCount(Job):
    """Count the words of three letters or more."""

    def map(self, key, line):
        """Yield ``(word, 1)`` for every word of more than two letters."""
        for word in WORD.findall(line.lower()):
            if len(word) > 2:
                yield word, 1

    def combine(self, word, counts):
        """Add up a map task's counts of one word."""
        total = 0
        for c in counts:
            total += c
        yield word, total

    def reduce(self, word, counts):
        """Add up the counts of one word."""
        total = 0
        for c in counts:
            total += c
        yield word, total
