"""The filtered word count of ``jobs/wordcount_filtered.py`` in minimr's declared forms.

``map_keys`` returns the words longer than two letters, each counted as ``(word, 1)``, and
``reduce = minimr.fold(sum)`` adds the counts up (and combines them before the shuffle).
"""

from __future__ import annotations

import re

import minimr
from minimr import Job

WORD = re.compile(r"[a-z]+")


class FilteredWordCountDeclared(Job):
    """Count the words of three letters or more."""

    def map_keys(self, key, line):
        """The words of the line longer than two letters."""
        return [word for word in WORD.findall(line.lower()) if len(word) > 2]

    reduce = minimr.fold(sum)
