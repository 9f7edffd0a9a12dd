"""A word count whose reduce fails on one key: its partition can never commit."""

from __future__ import annotations

from minimr import Job

POISON = "poison"


class FailOnPoisonKey(Job):
    """Counts words; the reduce of the word ``poison`` raises every time."""

    def map(self, key, line):
        """Yield (word, 1) for every word."""
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum the counts, except for the poisoned word."""
        if word == POISON:
            raise ValueError("poisoned key in reduce")
        yield word, sum(counts)
