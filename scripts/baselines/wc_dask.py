#!/usr/bin/env python3
"""Word-count baseline: Dask bag on a distributed LocalCluster (WORKERS processes x 1 thread).

usage: wc_dask.py INPUT_DIR OUTPUT_DIR [WORKERS]

One bag partition per input file. Output: OUTPUT_DIR/part-*.txt of ``word<TAB>count``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import dask.bag as db
from dask.distributed import Client, LocalCluster

WORD = re.compile(r"[a-z]+")


def tokens(line: str) -> list[str]:
    """The words of one line."""
    return WORD.findall(line.lower())


def main(indir: str, outdir: str, workers: int = 2) -> None:
    """Count the words of INPUT_DIR/part-* into OUTPUT_DIR."""
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="8GiB",
                           local_directory=os.path.join(tempfile.gettempdir(), "dask"))
    with cluster, Client(cluster):
        (db.read_text(os.path.join(indir, "part-*"), encoding="utf-8")
         .map(tokens).flatten()
         .frequencies()
         .map(lambda pair: f"{pair[0]}\t{pair[1]}")
         .to_textfiles(os.path.join(outdir, "part-*.txt")))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
