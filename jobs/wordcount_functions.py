"""Word count written as plain functions: no class, just module-level map/combine/reduce.

A module whose top level defines ``map(key, value)`` and ``reduce(key, values)`` (and
optionally ``combine``, ``setup``, ``teardown``, and the options ``reducers``,
``input_format`` and ``partitioner`` as globals) is a job. It computes exactly what
``wordcount.py`` computes: how many times each word (a run of the letters a-z, after
lower-casing) occurs in the input. It is written plainly, as generators that minimr runs as
written, once a line and once a word; ``wordcount.py`` says the same in the declared forms
(``map_keys``, ``minimr.fold(sum)``), which minimr runs in C.

Run it on the project's sample text::

    minimr submit jobs/wordcount_functions.py --input data/text --output out/wordcount \\
        --overwrite

Output: ``out/wordcount/part-00000`` ... one word a line, ``repr(word)`` TAB ``count``, words
sorted within each part::

    'a'	2883
    'aaims'	1

From Python: ``minimr.run("jobs/wordcount_functions.py", ["data/text"], "out/wordcount")``,
or pass the imported module itself as the job.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[a-z]+")


def map(key, line):  # shadows the builtin: minimr looks for this name
    """Yield ``(word, 1)`` for every word of the line; ``key`` is (path, offset)."""
    for word in WORD.findall(line.lower()):
        yield word, 1


def combine(word, counts):
    """Sum a map task's counts of one word before the shuffle."""
    yield word, sum(counts)


def reduce(word, counts):
    """Sum the counts of one word; ``counts`` is an iterator."""
    yield word, sum(counts)
