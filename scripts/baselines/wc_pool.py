#!/usr/bin/env python3
"""Word-count baseline: multiprocessing.Pool, one task per input file, Counters merged.

usage: wc_pool.py INPUT_DIR OUTPUT_FILE [WORKERS]     (WORKERS default 2)

What a Python programmer would write by hand before reaching for a framework: no
shuffle, no spilling; each worker returns a whole Counter and the parent adds them up.
"""

from __future__ import annotations

import collections
import multiprocessing
import sys
from collections.abc import Callable

from _inputs import input_files
from wc_serial import count_words, write_counts


def count_file(path: str) -> collections.Counter[str]:
    """Count the words of one file (runs in a worker)."""
    return count_words([path])


def main(indir: str, outfile: str, workers: int = 2,
         count: Callable[[str], collections.Counter[str]] = count_file) -> None:
    """Count the words under ``indir`` with ``workers`` processes into ``outfile`` (a file's
    words counted by ``count``)."""
    total: collections.Counter[str] = collections.Counter()
    with multiprocessing.Pool(workers) as pool:
        # Unordered: merge whichever file finishes first; addition does not care.
        for counts in pool.imap_unordered(count, input_files(indir)):
            total.update(counts)
    write_counts(total, outfile)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
