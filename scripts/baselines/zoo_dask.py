#!/usr/bin/env python3
"""The job zoo's jobs in Dask bags on a distributed LocalCluster (WORKERS processes x 1
thread; scripts/zoo.py; word count has wc_dask.py).

usage: zoo_dask.py JOB WORKERS OUTPUT_DIR INPUT_DIR...

The jobs and the lines they write are zoo_spark.py's (wcfilter, index, join, jsonl, jsonsum,
average, topwords, smallfiles), as OUTPUT_DIR/part-*.txt. Counts use ``Bag.frequencies`` and
other per-key totals ``Bag.foldby`` (a combine in each partition, then across them); the join
matches each orders partition against the users table read into one partition, the hash join
of join_pool.py.
"""

from __future__ import annotations

import heapq
import json
import operator
import os
import re
import sys
import tempfile
from collections.abc import Callable

import dask.bag as db
from dask.distributed import Client, LocalCluster

WORD = re.compile(r"[a-z]+")
FIELD, VALUE, TOP_N = "user", "ms", 100     # as scripts/zoo.py passes to the Pool scripts
FILES_PER_PARTITION = 100                    # smallfiles: 10,000 files in 100 partitions


def text(folder: str, pattern: str = "part-*") -> db.Bag:
    """The lines of the ``pattern`` files of ``folder``, without their newlines."""
    return db.read_text(os.path.join(folder, pattern)).map(str.rstrip, "\n")


def tab_pairs(pairs: db.Bag) -> db.Bag:
    """``key<TAB>value`` lines of (key, value) pairs."""
    return pairs.map(lambda kv: f"{kv[0]}\t{kv[1]}")


def long_words(line: str) -> list[str]:
    """The words of the line longer than two letters."""
    return [w for w in WORD.findall(line.lower()) if len(w) > 2]


def wcfilter(texts: str) -> db.Bag:
    """The words longer than two letters, counted."""
    return tab_pairs(text(texts).map(long_words).flatten().frequencies())


def _add_document(documents: set, word_document: tuple[str, str]) -> set:
    documents.add(word_document[1])
    return documents


def index(texts: str) -> db.Bag:
    """Every word and the sorted base names of the files holding it."""
    pairs = db.read_text(os.path.join(texts, "part-*"), include_path=True).map(
        lambda lp: [(w, os.path.basename(lp[1])) for w in set(WORD.findall(lp[0].lower()))])
    return (pairs.flatten().foldby(operator.itemgetter(0), _add_document, set, set.union, set)
            .map(lambda kv: f"{kv[0]!r}\t{sorted(kv[1])!r}"))


def join(users: str, orders: str) -> db.Bag:
    """Each order with each user row of its user id."""
    by_user = text(users, "*.tsv").map(str.split, "\t").repartition(1)
    return (text(orders, "*.tsv").map(str.split, "\t")
            .join(by_user, on_self=operator.itemgetter(1), on_other=operator.itemgetter(0))
            .map(lambda uo: f"{uo[0][0]}\t{uo[0][1]}\t{uo[0][2]}\t{uo[1][0]}\t{uo[1][2]}"))


def jsonl(events: str) -> db.Bag:
    """Records counted by FIELD."""
    return tab_pairs(text(events).filter(str.strip).map(json.loads)
                     .map(lambda record: record.get(FIELD)).frequencies())


def jsonsum(events: str) -> db.Bag:
    """The sum of VALUE by FIELD."""
    return tab_pairs(text(events).filter(str.strip).map(json.loads).foldby(
        operator.itemgetter(FIELD), lambda total, record: total + record[VALUE], 0,
        operator.add, 0))


def _add_amount(total: tuple[float, int], fields: list[str]) -> tuple[float, int]:
    return total[0] + float(fields[2]), total[1] + 1


def average(orders: str) -> db.Bag:
    """The mean amount of each user's orders."""
    return (text(orders, "*.tsv").map(str.split, "\t")
            .foldby(operator.itemgetter(1), _add_amount, (0.0, 0),
                    lambda a, b: (a[0] + b[0], a[1] + b[1]), (0.0, 0))
            .map(lambda kv: f"{kv[0]}\t{kv[1][0] / kv[1][1]!r}"))


def topwords(texts: str) -> db.Bag:
    """The TOP_N most frequent words, highest count first, ties alphabetical."""
    counts = text(texts).map(lambda line: WORD.findall(line.lower())).flatten().frequencies()
    best = heapq.nsmallest(TOP_N, counts.compute(), key=lambda kv: (-kv[1], kv[0]))
    return db.from_sequence([f"{rank}\t{pair!r}" for rank, pair in enumerate(best, 1)],
                            npartitions=1)


def smallfiles(texts: str) -> db.Bag:
    """Word count of many small files, FILES_PER_PARTITION of them to a partition."""
    lines = db.read_text(os.path.join(texts, "part-*"), files_per_partition=FILES_PER_PARTITION)
    return tab_pairs(lines.map(lambda line: WORD.findall(line.lower())).flatten().frequencies())


JOBS: dict[str, Callable[..., db.Bag]] = {f.__name__: f for f in (
    wcfilter, index, join, jsonl, jsonsum, average, topwords, smallfiles)}


def main(job: str, workers: int, outdir: str, inputs: list[str]) -> None:
    """Run ``job`` on ``inputs`` into ``outdir``."""
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="8GiB",
                           local_directory=os.path.join(tempfile.gettempdir(), "dask"))
    with cluster, Client(cluster):
        JOBS[job](*inputs).to_textfiles(os.path.join(outdir, "part-*.txt"), last_endline=True)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] not in JOBS:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
