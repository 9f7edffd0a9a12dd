"""Word count: how many times each word occurs in a set of text files.

A word is a run of the letters a-z after lower-casing, so "Whale's" counts as "whale" and
"s", and digits and punctuation separate words.

This is the README's word count written in minimr's declared forms, which say what the plain
generators mean and let the engine run them in C: ``map_keys`` returns the words of a line,
each counted as the pair ``(word, 1)`` (the plain ``for word in ...: yield word, 1``), and
``reduce = minimr.fold(sum)`` yields ``(word, sum(counts))`` for every word (the plain
``yield word, sum(counts)``) and, as the step has no ``combine`` of its own, also sums each
map task's counts before the shuffle, so a map task sends one pair per distinct word, not one
per occurrence. ``wordcount_functions.py`` is the same job written plainly, as functions;
both give the same output, byte for byte.

Run it on the project's sample text::

    minimr submit jobs/wordcount.py --input data/text --output out/wordcount --overwrite

Output: ``out/wordcount/part-00000`` ... (one per reducer), one word a line, ``repr(word)``
TAB ``count``, words sorted within each part::

    'a'	2883
    'aaims'	1

Read it back typed with ``minimr.read_output("out/wordcount")`` (pairs ``("a", 12345)``).
See ``wordcount_batch.py`` for a batch form of the same job.
"""

from __future__ import annotations

import re

import minimr
from minimr import Job

WORD = re.compile(r"[a-z]+")


class WordCount(Job):
    """Count the words of every input line."""

    def map_keys(self, key, line):
        """The words of the line, each counted as ``(word, 1)``; ``key`` is (path, offset)."""
        return WORD.findall(line.lower())

    # yield word, sum(counts) for every word; with no combine of its own, it combines too
    reduce = minimr.fold(sum)
