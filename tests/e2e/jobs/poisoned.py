"""Word count with poison: its map raises on lines with 'poison', its reduce on 'venom'."""

from __future__ import annotations

from minimr import Job


class Poisoned(Job):
    """Fails on every line containing 'poison' and on the key group of the word 'venom'."""

    def map(self, key, line):
        """Count words; raise on a poisoned line."""
        if "poison" in line:
            raise ValueError(f"poisoned line at byte {key[1]}")
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        """Sum counts; raise on the word 'venom'."""
        if word == "venom":
            raise KeyError("venom")
        yield word, sum(counts)
