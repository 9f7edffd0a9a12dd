#!/usr/bin/env python3
"""The job zoo's jobs in PySpark RDDs on local[WORKERS] (scripts/zoo.py; word count and sort
have wc_spark.py and sort_spark.py).

usage: zoo_spark.py JOB WORKERS OUTPUT_DIR INPUT_DIR...     (OUTPUT_DIR must not exist)

Each job does the work of its Pool script in this folder, with the same tokenising and
parsing, and writes the lines that script writes, as OUTPUT_DIR/part-*:

  wcfilter  words longer than two letters, counted        word<TAB>count
  index     word -> sorted documents (file base names)    repr(word)<TAB>repr(documents)
  join      orders with their users, on user_id (inner)   user_id<TAB>name<TAB>country<TAB>...
  jsonl     JSON lines counted by 'user'                  user<TAB>count
  jsonsum   JSON lines: sum of 'ms' by 'user'             user<TAB>sum
  average   mean float amount of each user's orders       user_id<TAB>repr(mean)
  topwords  word count, then the 100 most frequent        rank<TAB>repr((word, count))
  smallfiles  word count of 10,000 files of 2.3 KB        word<TAB>count
"""

from __future__ import annotations

import json
import operator
import os
import re
import sys
from collections.abc import Callable

from pyspark import RDD, SparkContext
from wc_spark import session

WORD = re.compile(r"[a-z]+")
FIELD, VALUE, TOP_N = "user", "ms", 100     # as scripts/zoo.py passes to the Pool scripts


def lines(sc: SparkContext, folder: str, pattern: str = "part-*") -> RDD:
    """The lines of the ``pattern`` files of ``folder``."""
    return sc.textFile(os.path.join(folder, pattern))


def counts(pairs: RDD) -> RDD:
    """``key<TAB>total`` lines of (key, number) pairs."""
    return pairs.reduceByKey(operator.add).map(lambda kv: f"{kv[0]}\t{kv[1]}")


def wcfilter(sc: SparkContext, texts: str) -> RDD:
    """The words longer than two letters, counted."""
    return counts(lines(sc, texts)
                  .flatMap(lambda line: [w for w in WORD.findall(line.lower()) if len(w) > 2])
                  .map(lambda word: (word, 1)))


def index(sc: SparkContext, texts: str) -> RDD:
    """Every word and the sorted base names of the files holding it."""
    def words_of(path_text: tuple[str, str]) -> list[tuple[str, str]]:
        document = os.path.basename(path_text[0])
        return [(word, document) for word in set(WORD.findall(path_text[1].lower()))]
    return (sc.wholeTextFiles(os.path.join(texts, "part-*")).flatMap(words_of)
            .groupByKey().map(lambda kv: f"{kv[0]!r}\t{sorted(kv[1])!r}"))


def join(sc: SparkContext, users: str, orders: str) -> RDD:
    """Each order with each user row of its user id."""
    by_user = lines(sc, users, "*.tsv").map(lambda line: line.split("\t")).map(
        lambda f: (f[0], (f[1], f[2])))
    placed = lines(sc, orders, "*.tsv").map(lambda line: line.split("\t")).map(
        lambda f: (f[1], (f[0], f[2])))
    return by_user.join(placed).map(
        lambda kv: f"{kv[0]}\t{kv[1][0][0]}\t{kv[1][0][1]}\t{kv[1][1][0]}\t{kv[1][1][1]}")


def jsonl(sc: SparkContext, events: str) -> RDD:
    """Records counted by FIELD."""
    return counts(lines(sc, events).filter(str.strip)
                  .map(lambda line: (json.loads(line).get(FIELD), 1)))


def jsonsum(sc: SparkContext, events: str) -> RDD:
    """The sum of VALUE by FIELD."""
    return counts(lines(sc, events).filter(str.strip).map(json.loads)
                  .map(lambda record: (record[FIELD], record[VALUE])))


def average(sc: SparkContext, orders: str) -> RDD:
    """The mean amount of each user's orders."""
    return (lines(sc, orders, "*.tsv").map(lambda line: line.split("\t"))
            .map(lambda f: (f[1], (float(f[2]), 1)))
            .reduceByKey(lambda a, b: (a[0] + b[0], a[1] + b[1]))
            .map(lambda kv: f"{kv[0]}\t{kv[1][0] / kv[1][1]!r}"))


def topwords(sc: SparkContext, texts: str) -> RDD:
    """The TOP_N most frequent words, highest count first, ties alphabetical."""
    best = (lines(sc, texts).flatMap(lambda line: WORD.findall(line.lower()))
            .map(lambda word: (word, 1)).reduceByKey(operator.add)
            .takeOrdered(TOP_N, key=lambda kv: (-kv[1], kv[0])))
    return sc.parallelize([f"{rank}\t{pair!r}" for rank, pair in enumerate(best, 1)], 1)


def smallfiles(sc: SparkContext, texts: str) -> RDD:
    """Word count of many small files, each read whole (``wholeTextFiles`` packs them into
    a few partitions; words never span lines, so a file's words are its lines' words)."""
    return counts(sc.wholeTextFiles(os.path.join(texts, "part-*"))
                  .flatMap(lambda path_text: WORD.findall(path_text[1].lower()))
                  .map(lambda word: (word, 1)))


JOBS: dict[str, Callable[..., RDD]] = {f.__name__: f for f in (
    wcfilter, index, join, jsonl, jsonsum, average, topwords, smallfiles)}


def main(job: str, workers: int, outdir: str, inputs: list[str]) -> None:
    """Run ``job`` on ``inputs`` into ``outdir``."""
    spark = session(f"minimr-bench-{job}", workers)
    try:
        JOBS[job](spark.sparkContext, *inputs).saveAsTextFile(outdir)
    finally:
        spark.stop()


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] not in JOBS:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
