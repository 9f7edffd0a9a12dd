"""Inverted index: for every word, the sorted list of documents that contain it.

A document is an input file, named by its base name (``data/text/part-00000.txt`` is
``"part-00000.txt"``), so two inputs with the same base name in different folders count as
one document. Words are runs of the letters a-z after lower-casing, as in ``wordcount.py``.

The map emits ``(word, document)`` once per occurrence; the combiner drops a map task's
duplicates before the shuffle (a word that a split uses a thousand times costs one pair), and
the reducer returns the sorted set of what it receives.

Run it on the project's sample text::

    minimr submit jobs/inverted_index.py --input data/text --output out/index --overwrite

Output: ``out/index/part-00000`` ... one word a line, ``repr(word)`` TAB the ``repr`` of a
sorted list of document names, words sorted within each part::

    'a'	['part-00000.txt', 'part-00001.txt', 'part-00002.txt', 'part-00003.txt']
    'aaims'	['part-00000.txt']
"""

from __future__ import annotations

import os
import re

from minimr import Job

WORD = re.compile(r"[a-z]+")


class InvertedIndex(Job):
    """Map each word to the documents it occurs in."""

    def setup(self):
        """Start a cache of document names: one ``basename`` call per file, not per line."""
        self._names = {}

    def map(self, key, line):
        """Yield ``(word, document)`` for every word of the line."""
        path = key[0]
        document = self._names.get(path)
        if document is None:
            document = self._names[path] = os.path.basename(path)
        for word in set(WORD.findall(line.lower())):
            yield word, document

    def combine(self, word, documents):
        """Send each document of a word once per map task."""
        for document in sorted(set(documents)):
            yield word, document

    def reduce(self, word, documents):
        """The word and the sorted list of its distinct documents."""
        yield word, sorted(set(documents))
