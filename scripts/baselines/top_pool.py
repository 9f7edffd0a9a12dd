#!/usr/bin/env python3
"""Top-words baseline: word count over multiprocessing.Pool, then the 100 most frequent.

usage: top_pool.py INPUT_DIR OUTPUT_FILE [WORKERS]     (WORKERS default 2)

The work of ``jobs/top_words.py`` with N = 100: ``wc_pool.py``'s counts, then
``heapq.nsmallest`` ranking by count, highest first, ties alphabetical. Writes the text
minimr writes: ``rank<TAB>('word', count)``, rank 1 first.
"""

from __future__ import annotations

import collections
import heapq
import multiprocessing
import sys

from _inputs import input_files
from wc_pool import count_file

TOP_N = 100


def main(indir: str, outfile: str, workers: int = 2) -> None:
    """Rank the words under ``indir`` with ``workers`` processes into ``outfile``."""
    total: collections.Counter[str] = collections.Counter()
    with multiprocessing.Pool(workers) as pool:
        for counts in pool.imap_unordered(count_file, input_files(indir)):
            total.update(counts)
    best = heapq.nsmallest(TOP_N, total.items(), key=lambda pair: (-pair[1], pair[0]))
    with open(outfile, "w", encoding="utf-8") as out:
        out.writelines(f"{rank}\t{pair!r}\n" for rank, pair in enumerate(best, start=1))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
