"""Top words: the N most frequent words of the input, in a two-step job.

Step 1 is ``wordcount.py``: ``(word, count)`` for every word (a run of the letters a-z after
lower-casing), over as many reducers as the run asks for. Step 2 reads those pairs and keeps
the N largest under one key, in a single reducer (``Step(reducers=1)``): each map task's
combiner first cuts its share down to N candidates, so the one reducer receives at most N per
map task, whatever the vocabulary size. Ranking is by count, highest first; words with equal
counts are ranked alphabetically, so the result is deterministic.

N is the class attribute ``top_n`` (20), overridden by the environment variable
``MINIMR_TOP_N`` where the tasks run (as for ``grep.py``: the shell of ``minimr submit`` for
the inline runner and local workers).

Run it on the project's sample text::

    minimr submit jobs/top_words.py --input data/text --output out/top --overwrite
    MINIMR_TOP_N=5 minimr submit jobs/top_words.py --input data/text --output out/top5 \\
        --overwrite

Output: one file, ``out/top/part-00000``, N lines in rank order: the key is the rank (1 is the
most frequent word), the value ``(word, count)``::

    1	('the', 14152)
    2	('of', 7118)
"""

from __future__ import annotations

import heapq
import os
import re

from minimr import Job, Step

WORD = re.compile(r"[a-z]+")
TOP_N_VARIABLE = "MINIMR_TOP_N"


def _rank_order(pair):
    """Sort key of a ``(word, count)`` pair: higher counts first, then alphabetical."""
    word, count = pair
    return -count, word


class TopWords(Job):
    """Count words, then keep the ``top_n`` most frequent, ranked."""

    top_n = 20

    def steps(self):
        """Word count over the run's reducers, then the top N in one reducer."""
        return [
            Step(map=self.map_words, combine=self.sum_counts, reduce=self.sum_counts),
            Step(map=self.to_candidates, combine=self.keep_top, reduce=self.rank,
                 setup=self.setup, reducers=1),
        ]

    def setup(self):
        """Read N from ``$MINIMR_TOP_N``, else the class attribute ``top_n``."""
        text = os.environ.get(TOP_N_VARIABLE, str(self.top_n))
        try:
            self.n = int(text)
        except ValueError:
            self.n = 0
        if self.n < 1:
            raise ValueError(f"{TOP_N_VARIABLE} must be a positive integer (got {text!r})")

    # -- step 1: word count --------------------------------------------------------------------
    def map_words(self, key, line):
        """Yield ``(word, 1)`` for every word of the line."""
        for word in WORD.findall(line.lower()):
            yield word, 1

    def sum_counts(self, word, counts):
        """Sum the counts of one word (the combiner and the reducer of step 1)."""
        yield word, sum(counts)

    # -- step 2: top N -------------------------------------------------------------------------
    def to_candidates(self, word, count):
        """Send every ``(word, count)`` to one key, so that one reducer sees them all."""
        yield None, (word, count)

    def keep_top(self, key, candidates):
        """Keep a map task's N best candidates."""
        for pair in heapq.nsmallest(self.n, candidates, key=_rank_order):
            yield key, pair

    def rank(self, key, candidates):
        """Yield ``(rank, (word, count))`` for the N best, rank 1 first."""
        best = heapq.nsmallest(self.n, candidates, key=_rank_order)
        yield from enumerate(best, start=1)
