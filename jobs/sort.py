"""Distributed sort (TeraSort-style) of fixed-width records: a total order across part files.

Each input line is a record: its first 10 characters are the key, the rest of the line is the
value (in the gensort-like files of ``data/sort``, made by ``scripts/gen_corpus.py sort``,
records are 100 bytes: a 10-byte key, 89 bytes of value and the newline).
The map splits the line; the range partitioner samples the keys first and picks boundaries
so that part ``i`` holds only keys smaller than those of part ``i + 1``: every part is sorted,
and so is the concatenation ``part-00000``, ``part-00001``, ... There is no reduce: the
identity reduce writes each record under its key, straight from the merge (as Hadoop's
TeraSort does). Records with equal keys come out together, in their input order (files in
name order, lines in file order) as long as whole records do not repeat: the result then
equals ``sorted(lines, key=lambda line: line[:10])``, and ``sorted(lines)`` when keys are
unique, as random 10-byte keys are. (When many records of a map task are identical, minimr
counts them instead of listing them: a key's values from that task then come out with
identical ones together.) Empty lines are skipped (and counted as ``sort/empty lines``).

Run it on the project's sample records::

    minimr submit jobs/sort.py --input data/sort --output out/sort --reducers 4 --overwrite

Output: ``out/sort/part-00000`` ... in minimr's text format, ``repr(key)`` TAB
``repr(value)``::

    '!#xS/T?Chj'	'  00000000000000000000000000000249  NOPQRSTUVWXYZABCDEFGHIJ...'

To get the raw sorted lines back (key immediately followed by value, as in the input),
run this file itself on the output folder, or call ``raw_lines`` from Python::

    python jobs/sort.py out/sort > sorted.txt
    cmp sorted.txt <(LC_ALL=C sort data/sort/*)      # identical (no key repeats there)

    python -c "import minimr; [print(k + v) for k, v in minimr.read_output('out/sort')]"
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import minimr
from minimr import Job

KEY_LENGTH = 10


class Sort(Job):
    """Sort lines by their first ``KEY_LENGTH`` characters, across all part files."""

    partitioner = "range"

    def map(self, key, line):
        """Yield ``(line[:10], line[10:])``; ``key`` (path, offset) is not needed."""
        if not line:
            self.increment_counter("sort", "empty lines")
            return
        yield line[:KEY_LENGTH], line[KEY_LENGTH:]


def raw_lines(output_dir: str) -> Iterator[str]:
    """The sorted records of a finished sort's output folder, as the original lines."""
    for key, value in minimr.read_output(output_dir):
        yield key + value


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python jobs/sort.py OUTPUT_DIR  (prints the sorted lines)")
    sys.stdout.writelines(line + "\n" for line in raw_lines(sys.argv[1]))
