#!/usr/bin/env python3
"""Word-count baseline: mrjob with a combiner.

usage: wc_mrjob.py -r local --no-conf INPUT_DIR/part-* --output-dir OUTPUT_DIR

Give mrjob the part files, not the directory, so it reads nothing but data.
Output lines are ``word<TAB>count``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from mrjob.job import MRJob
from mrjob.protocol import RawValueProtocol

WORD = re.compile(r"[a-z]+")


class WordCount(MRJob):
    """Tokens are runs of a-z after lowercasing, as in every other word-count row."""

    OUTPUT_PROTOCOL = RawValueProtocol

    def mapper(self, _key: None, line: str) -> Iterator[tuple[str, int]]:
        """Emit (word, 1) for each word of the line."""
        for word in WORD.findall(line.lower()):
            yield word, 1

    def combiner(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        """Pre-add counts on the map side."""
        yield word, sum(counts)

    def reducer(self, word: str, counts: Iterable[int]) -> Iterator[tuple[None, str]]:
        """Emit the final ``word<TAB>count`` line."""
        yield None, f"{word}\t{sum(counts)}"


if __name__ == "__main__":
    WordCount.run()
