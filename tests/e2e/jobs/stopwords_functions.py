"""The stop-words count as a function job: ``minimr.options()`` and ``minimr.side_file()``."""

from __future__ import annotations

import re

import minimr
from minimr import Option

WORD = re.compile(r"[a-z]+")

options = [Option("--min-count", type=int, default=1, help="Keep words seen this often.")]
files = ["stop_words.txt"]


def map(key, line):
    """Yield ``(word, 1)`` for each word not in the shipped stop words."""
    with open(minimr.side_file("stop_words.txt")) as file:
        stop = set(file.read().split())
    for word in WORD.findall(line.lower()):
        if word not in stop:
            yield word, 1


def reduce(word, counts):
    """The total, when it reaches ``--min-count``."""
    total = sum(counts)
    if total >= minimr.options().min_count:
        yield word, total
