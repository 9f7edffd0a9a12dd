#!/usr/bin/env python3
"""JSON-lines group-by-and-sum baseline: multiprocessing.Pool, a task per file, dicts merged.

usage: sum_pool.py INPUT_DIR OUTPUT_FILE FIELD VALUE [WORKERS]     (WORKERS default 2)

The work of ``benchjobs/sum_by.py``: each worker parses its file's lines with the standard
``json`` module and adds up ``record[VALUE]`` per ``record[FIELD]``; the parent adds the
workers' sums. Blank lines are skipped. Writes ``group<TAB>sum`` lines sorted by group.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import sys
from functools import partial

from _inputs import input_files


def sum_file(field: str, value: str, path: str) -> collections.Counter:
    """The sums of one file (runs in a worker)."""
    sums: collections.Counter = collections.Counter()
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                sums[record[field]] += record[value]
    return sums


def main(indir: str, outfile: str, field: str, value: str, workers: int = 2) -> None:
    """Sum ``value`` by ``field`` under ``indir`` with ``workers`` processes."""
    total: collections.Counter = collections.Counter()
    with multiprocessing.Pool(workers) as pool:
        for sums in pool.imap_unordered(partial(sum_file, field, value), input_files(indir)):
            total.update(sums)
    with open(outfile, "w", encoding="utf-8") as out:
        out.writelines(f"{group}\t{n}\n" for group, n in sorted(total.items(), key=str))


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    main(*sys.argv[1:5], int(sys.argv[5]) if len(sys.argv) == 6 else 2)
