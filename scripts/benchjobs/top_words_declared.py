"""``jobs/top_words.py`` (word count, then the 100 most frequent words) with step 1 declared.

Step 1 counts words with ``map_keys`` and ``minimr.fold(sum)``; step 2 is ``top_words.py``'s:
every ``(word, count)`` to one key, each map task's best 100 by its combiner, ranked by one
reducer (highest count first, ties alphabetical). Output: ``rank TAB ('word', count)``.
"""

from __future__ import annotations

import heapq
import re

import minimr
from minimr import Job, Step

WORD = re.compile(r"[a-z]+")
TOP_N = 100


def _rank_order(pair):
    word, count = pair
    return -count, word


class TopWordsDeclared(Job):
    """Count words, then keep the 100 most frequent, ranked."""

    def steps(self):
        """A declared word count, then the top 100 in one reducer."""
        return [
            Step(map_keys=self.words, reduce=minimr.fold(sum)),
            Step(map=self.to_candidates, combine=self.keep_top, reduce=self.rank, reducers=1),
        ]

    def words(self, key, line):
        """The words of the line."""
        return WORD.findall(line.lower())

    def to_candidates(self, word, count):
        """Every ``(word, count)`` under one key."""
        yield None, (word, count)

    def keep_top(self, key, candidates):
        """A map task's best candidates."""
        for pair in heapq.nsmallest(TOP_N, candidates, key=_rank_order):
            yield key, pair

    def rank(self, key, candidates):
        """``(rank, (word, count))`` for the best, rank 1 first."""
        yield from enumerate(heapq.nsmallest(TOP_N, candidates, key=_rank_order), start=1)
