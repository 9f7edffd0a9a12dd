"""Grep: every input line that matches a regular expression, with its file and byte offset.

The pattern is a Python regular expression (``re`` syntax, searched anywhere in the line, as
``grep -E`` does), the job's option ``--pattern`` (``whale`` by default); ``--ignore-case``
matches regardless of case. Both are checked before any task runs (an invalid expression is
a usage error naming it) and reach every task with the job, wherever it runs.

The job has no reduce: each matching line is written as it is. The range partitioner sorts
the matches by ``(path, offset)`` across the part files too, so reading ``part-00000``,
``part-00001``, ... in order lists the matches in input order, file by file, like ``grep``.

Why not a map-only step (``reducers = 0``), since the map makes the final rows? It would
write the same lines in the same order without the sample and the shuffle (0.8 s against
0.2 s inline on the sample text), but one ``part-m-NNNNN`` a map task: a pattern found in a
few lines of 100 GB would leave some 800 part files, nearly all empty, where this writes
``--reducers`` parts (4 by default). And a run's ``--reducers N`` wins over a class's 0 (see
docs/jobs.md): without the range partitioner, which a map-only step cannot declare, those N
parts would be sorted by a hash of the key, and reading them in order would no longer list
the matches in input order. For the same reason ``--reducers 0`` is refused here.

Run it on the project's sample text (its words are synthetic, so there is no whale in it)::

    minimr submit jobs/grep.py --input data/text --output out/grep --overwrite \\
        --pattern '\\bpeople\\b'

Output: ``out/grep/part-00000`` ... one match a line: the key ``(path, byte offset of the
line)``, a TAB, the line itself (all as Python literals; paths are absolute)::

    ('/work/main/data/text/part-00000.txt', 5625)	'112 houck people as our that oannes ...'

The counter ``grep/matching lines`` in the table ``minimr submit`` prints is the number of
matches.
"""

from __future__ import annotations

import re

from minimr import Job, Option, UsageError


class Grep(Job):
    """Keep the lines that match ``--pattern``."""

    partitioner = "range"
    options = [
        Option("--pattern", default="whale",
               help="A Python regular expression, searched anywhere in each line."),
        Option("--ignore-case", type=bool, help="Match regardless of case."),
    ]

    def steps(self):
        """Compile the pattern (at submit, before any task: a bad one is a usage error)."""
        flags = re.IGNORECASE if self.options.ignore_case else 0
        try:
            self.pattern = re.compile(self.options.pattern, flags)
        except re.error as exc:
            raise UsageError(
                f"--pattern {self.options.pattern!r} is not a valid regular expression: {exc}"
            ) from None
        return super().steps()

    def map(self, key, line):
        """Yield ``((path, offset), line)`` when the line matches."""
        if self.pattern.search(line):
            self.increment_counter("grep", "matching lines")
            yield key, line
