"""``jobs/inverted_index.py`` in minimr's batch forms: word -> the sorted documents it is in.

The plain job yields ``(word, document)`` for every distinct word of every line (some 2.8
million pairs for a 16 MiB file), and its combiner drops the duplicates per map task again.
Here ``map_batch`` takes a block of lines at once and files the words of a thousand lines
at a time under their document, found as ``jobs/wordcount_batch.py`` finds them (joined by
newlines, lower-cased, every byte but a-z made a space by ``bytes.translate``, split): no
Python code per word, none per line but the list that picks the lines out. The map returns
nothing; ``map_final`` hands on each document's distinct words once per task (in-mapper
combining), so no combiner is needed. The reduce is the plain job's: a map task that reads
part of a file and another that reads the rest each send the word.

A batch may hold lines of several files (small files packed into one task): they are cut by
path as they come, in order.

The declared ``map_keys`` and ``minimr.fold`` do not fit: ``map_keys`` counts keys (each
stands for ``(key, 1)``) and the folds add or compare values, and an index's value is a set
of documents, not a count.
"""

from __future__ import annotations

import os
from itertools import groupby, repeat

from minimr import Job

LINES_AT_A_TIME = 1000
# a-z stay, every other byte becomes a space (as in jobs/wordcount_batch.py)
LETTERS_ONLY = bytes(c if ord("a") <= c <= ord("z") else ord(" ") for c in range(256))


def _path(record):
    """A text record's path: its key is ``(path, byte offset)``."""
    return record[0][0]


class InvertedIndexDeclared(Job):
    """Map each word to the documents it occurs in, a block of lines per map call."""

    def setup(self):
        """Start the task's words (as bytes) per input path."""
        self.words = {}

    def map_batch(self, records):
        """File the words of a batch of ``((path, offset), line)`` records under their path."""
        for path, group in groupby(records, key=_path):
            lines = [line for _, line in group]
            words = self.words.setdefault(path, set())
            for i in range(0, len(lines), LINES_AT_A_TIME):
                text = "\n".join(lines[i : i + LINES_AT_A_TIME]).lower()
                words.update(text.encode("ascii", "replace").translate(LETTERS_ONLY).split())

    def map_final(self):
        """``(word, document)`` once for every distinct word of each document of the task."""
        pairs = []
        for path, words in self.words.items():
            pairs += zip(map(bytes.decode, words), repeat(os.path.basename(path)))
        return pairs

    def reduce(self, word, documents):
        """The word and the sorted list of its distinct documents."""
        yield word, sorted(set(documents))
