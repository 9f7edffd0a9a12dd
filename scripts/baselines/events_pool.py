#!/usr/bin/env python3
"""JSON-lines baseline: multiprocessing.Pool, one task per input file, Counters merged.

usage: events_pool.py INPUT_DIR OUTPUT_FILE FIELD [WORKERS]     (WORKERS default 2)

What a Python programmer would write by hand to count JSON-lines records by one field:
each worker parses its file's lines with the standard ``json`` module (the library minimr's
``jsonl`` input format uses) and returns a Counter; the parent adds them up. Blank lines are
skipped, as minimr skips them. Writes ``value<TAB>count`` lines sorted by value.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import sys
from functools import partial

from _inputs import input_files


def count_file(field: str, path: str) -> collections.Counter:
    """Count the records of one file by ``field`` (runs in a worker)."""
    counts: collections.Counter = collections.Counter()
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                counts[json.loads(line).get(field)] += 1
    return counts


def main(indir: str, outfile: str, field: str, workers: int = 2) -> None:
    """Count the records under ``indir`` by ``field`` with ``workers`` processes."""
    total: collections.Counter = collections.Counter()
    with multiprocessing.Pool(workers) as pool:
        for counts in pool.imap_unordered(partial(count_file, field), input_files(indir)):
            total.update(counts)
    with open(outfile, "w", encoding="utf-8") as out:
        out.writelines(f"{value}\t{n}\n" for value, n in sorted(total.items(), key=str))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 2)
