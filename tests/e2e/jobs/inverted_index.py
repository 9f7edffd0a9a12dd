"""Inverted index: each word and the sorted list of files it appears in."""

from __future__ import annotations

import os
import re

from minimr import Job

WORD = re.compile(r"[a-z]+")


class InvertedIndex(Job):
    """Map words to the documents that contain them."""

    def map(self, key, line):
        """Yield (word, document) for every word; key is (path, offset)."""
        document = os.path.basename(key[0])
        for word in WORD.findall(line.lower()):
            yield word, document

    def reduce(self, word, documents):
        """The sorted distinct documents of a word."""
        yield word, sorted(set(documents))
