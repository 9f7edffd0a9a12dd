#!/usr/bin/env python3
"""Filtered word-count baseline: multiprocessing.Pool, words of three letters or more.

usage: wc_filtered_pool.py INPUT_DIR OUTPUT_FILE [WORKERS]     (WORKERS default 2)

``wc_pool.py`` (its ``main``) with the filter of ``jobs/wordcount_filtered.py``
(``len(word) > 2``), written as a Python programmer would: a Counter per file, the Counters
merged in the parent.
"""

from __future__ import annotations

import collections
import re
import sys

from wc_pool import main

WORD = re.compile(r"[a-z]+")


def count_file(path: str) -> collections.Counter[str]:
    """Count the words of more than two letters of one file (runs in a worker)."""
    counts: collections.Counter[str] = collections.Counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            counts.update(w for w in WORD.findall(line.lower()) if len(w) > 2)
    return counts


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2, count_file)
