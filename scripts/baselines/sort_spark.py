#!/usr/bin/env python3
"""Sort baseline: PySpark sortBy on the whole record, local[WORKERS].

usage: sort_spark.py INPUT_DIR OUTPUT_DIR [WORKERS]     (OUTPUT_DIR must not exist)

Output: OUTPUT_DIR/part-*, globally ordered across parts (Spark's range partitioner),
one record a line without any decoration, so the concatenated parts equal GNU sort's
output. Records are unique, so sorting by the whole line equals sorting by key.
"""

from __future__ import annotations

import os
import sys

from wc_spark import session


def main(indir: str, outdir: str, workers: int = 2) -> None:
    """Sort the records of INPUT_DIR/part-* into OUTPUT_DIR."""
    spark = session("minimr-bench-sort", workers)
    try:
        (spark.sparkContext.textFile(os.path.join(indir, "part-*"))
         .sortBy(lambda line: line.encode("ascii"))   # byte order, like LC_ALL=C sort
         .saveAsTextFile(outdir))
    finally:
        spark.stop()


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
