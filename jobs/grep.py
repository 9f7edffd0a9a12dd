"""Grep: every input line that matches a regular expression, with its file and byte offset.

The pattern is a Python regular expression (``re`` syntax, searched anywhere in the line, as
``grep -E`` does) taken from the environment variable ``MINIMR_GREP_PATTERN``; it defaults to
``whale``. It is read in ``setup()``, which runs at the start of every task, so it must be
set where the tasks run: with the default inline runner (and a local ``--workers`` cluster,
whose workers inherit the environment) that is the shell that runs ``minimr submit``; on a
cluster started separately, it is the environment of each ``minimr worker``.

The job has no reduce: each matching line is written as it is. The range partitioner sorts
the matches by ``(path, offset)`` across the part files too, so reading ``part-00000``,
``part-00001``, ... in order lists the matches in input order, file by file, like ``grep``.

Run it on the project's sample text (its words are synthetic, so there is no whale in it)::

    MINIMR_GREP_PATTERN='\\bpeople\\b' minimr submit jobs/grep.py --input data/text \\
        --output out/grep --overwrite

Output: ``out/grep/part-00000`` ... one match a line: the key ``(path, byte offset of the
line)``, a TAB, the line itself (all as Python literals; paths are absolute)::

    ('/work/main/data/text/part-00000.txt', 5625)	'112 houck people as our that oannes ...'

The counter ``grep/matching lines`` in the table ``minimr submit`` prints is the number of
matches.
"""

from __future__ import annotations

import os
import re

from minimr import Job

PATTERN_VARIABLE = "MINIMR_GREP_PATTERN"
DEFAULT_PATTERN = "whale"


class Grep(Job):
    """Keep the lines that match ``$MINIMR_GREP_PATTERN``."""

    partitioner = "range"

    def setup(self):
        """Compile the pattern from the environment, once per task."""
        text = os.environ.get(PATTERN_VARIABLE, DEFAULT_PATTERN)
        try:
            self.pattern = re.compile(text)
        except re.error as exc:
            raise ValueError(
                f"{PATTERN_VARIABLE}={text!r} is not a valid regular expression: {exc}"
            ) from None

    def map(self, key, line):
        """Yield ``((path, offset), line)`` when the line matches."""
        if self.pattern.search(line):
            self.increment_counter("grep", "matching lines")
            yield key, line
