#!/usr/bin/env python3
"""Word-count baseline: PySpark RDDs on local[WORKERS].

usage: wc_spark.py INPUT_DIR OUTPUT_DIR [WORKERS]     (OUTPUT_DIR must not exist)

Output: OUTPUT_DIR/part-* of ``word<TAB>count`` lines. Spark's scratch space goes to
$TMPDIR (the benchmark points it into its work directory).
"""

from __future__ import annotations

import operator
import os
import re
import sys
import tempfile

from pyspark.sql import SparkSession

WORD = re.compile(r"[a-z]+")


def session(app: str, workers: int) -> SparkSession:
    """A local Spark session with the UI off and scratch files under $TMPDIR."""
    spark = (SparkSession.builder.master(f"local[{workers}]").appName(app)
             .config("spark.driver.memory", "4g")
             .config("spark.ui.enabled", "false")
             .config("spark.local.dir", os.path.join(tempfile.gettempdir(), "spark"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main(indir: str, outdir: str, workers: int = 2) -> None:
    """Count the words of INPUT_DIR/part-* into OUTPUT_DIR."""
    spark = session("minimr-bench-wordcount", workers)
    try:
        (spark.sparkContext.textFile(os.path.join(indir, "part-*"))
         .flatMap(lambda line: WORD.findall(line.lower()))
         .map(lambda word: (word, 1))
         .reduceByKey(operator.add)
         .map(lambda pair: f"{pair[0]}\t{pair[1]}")
         .saveAsTextFile(outdir))
    finally:
        spark.stop()


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
