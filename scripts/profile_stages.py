#!/usr/bin/env python3
"""Where a job's CPU time goes, stage by stage: CPU seconds and ns per record or per key.

usage: profile_stages.py JOB INPUT [INPUT ...] [--reducers N] [--sort-buffer SIZE]
                         [--option NAME=VALUE ...] [--file PATH ...]

Runs the job inline (every task in this process, as ``minimr submit --inline``) with a timer
around the engine's functions of each stage, and prints each stage's CPU seconds
(``time.process_time``), its share of the run and its cost per map output record (the map
side's record stages), per map-side key (the keys the map tasks sorted and wrote, summed over
tasks and spills) or per reduce key.

The time is exclusive: a stage that runs inside another (the serialising inside a spill, the
merge pulled by the grouping, the partition numbers inside the sort) is charged to itself
alone, never to its caller too. The user's code runs lazily inside the engine's loops: the
map's generators are drained by the feed, so "map call" is the feed's own time (the calls and
the draining); the reduce generators are drained as output is written, so "reduce call" is
the reduce loop's own time. The cyclic garbage collector's pauses are a stage of their own.
The timers wrap calls made a batch or a block at a time, so they cost little.

stages (map side)
  read         the input's lines decoded, a block at a time (``records.line_blocks``)
  map call     the user's map called on every record and its pairs made one list (``feed``);
               a ``map_batch`` called on every batch and what it returned taken, and
               ``map_final``'s result taken (its call is "other")
  check (map)  what map produced checked as pairs (``mistakes``)
  buffer       the pairs counted or grouped in the map output store (``add_pairs``); a word
               count's pairs are checked as they are counted (``add_if_one_value``), here
  partition    partition numbers of the keys (``partition_many``)
  sort         the keys sorted and cut per partition (``partsort``, ``listed_parts``)
  combine      the user's combine called on every key of several values (``Combiner``);
               a listed spill's runs of equal keys found (``sorted_runs``), here
  entries      the sorted entries made (``_entries``)
  serialise    blocks pickled and written (``write_block``)
  spill        the rest of writing a spill or the output file (``_write``, ``finish``)
stages (reduce side)
  merge        a partition's segments read, unpickled and merged
  group        merged entries cut into key groups (``grouping``)
  reduce call  the user's reduce called on every key and its output taken (``reduce_into``)
  check (red.) what reduce produced checked as pairs
  write        reduce output formatted and written to the part file (``write_many``)
and
  gc           the cyclic garbage collector's pauses
  other        the rest: planning, loading the job, committing (the whole run's CPU less
               every stage above)

example
  python scripts/profile_stages.py jobs/wordcount_filtered.py /tmp/text/part-0000[0-3].txt
  python scripts/profile_stages.py scripts/benchjobs/sum_by.py /tmp/events/*.jsonl \
      --option field=user --option value=ms
  python scripts/profile_stages.py jobs/join_replicated.py /tmp/join/orders/orders-00000.tsv \
      --file /tmp/join/users --option users=users
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from measuring import stale_warning  # noqa: E402

import minimr  # noqa: E402
from minimr.dataflow import counters as C  # noqa: E402
from minimr.dataflow import partition, tasks  # noqa: E402
from minimr.dataflow.format import output, partformats, segments  # noqa: E402
from minimr.dataflow.inputs import records  # noqa: E402
from minimr.dataflow.mapside import combining, feed, listed, partsort, spill  # noqa: E402
from minimr.dataflow.reduceside import merge, reducing  # noqa: E402

_clock = time.process_time
SECONDS: dict[str, float] = defaultdict(float)
MAP_KEYS = [0]  # keys the map side sorted and wrote, over every task and spill


class _Stack:
    """The stages running now, innermost last; time goes to the innermost alone."""

    def __init__(self) -> None:
        self.stages: list[str] = ["other"]
        self.mark = _clock()

    def enter(self, stage: str) -> None:
        now = _clock()
        SECONDS[self.stages[-1]] += now - self.mark
        self.mark = now
        self.stages.append(stage)

    def leave(self) -> None:
        now = _clock()
        SECONDS[self.stages.pop()] += now - self.mark
        self.mark = now


STACK = _Stack()


def _timed(stage: str, fn: Callable) -> Callable:
    """``fn`` with its own CPU time charged to ``stage``."""
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        STACK.enter(stage)
        try:
            return fn(*args, **kwargs)
        finally:
            STACK.leave()
    return timed


def _timed_iter(stage: str, fn: Callable) -> Callable:
    """``fn`` returning an iterator: the call and each step charged to ``stage``."""
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Iterator:
        STACK.enter(stage)
        try:
            iterator = iter(fn(*args, **kwargs))
        finally:
            STACK.leave()
        while True:
            STACK.enter(stage)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                STACK.leave()
            yield item
    return timed


def _gc_timer(phase: str, info: dict) -> None:
    if phase == "start":
        STACK.enter("gc")
    else:
        STACK.leave()


def _counting_keys(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def counted(self: Any, keys: list, *args: Any, **kwargs: Any) -> Any:
        MAP_KEYS[0] += len(keys)
        return fn(self, keys, *args, **kwargs)
    return counted


def _counting_runs(fn: Callable) -> Callable:
    """``Combiner.sorted_runs`` counting the distinct keys it gives (a listed spill's keys)."""
    @functools.wraps(fn)
    def counted(self: Any, *args: Any) -> Any:
        distinct, combined = fn(self, *args)
        MAP_KEYS[0] += len(distinct)
        return distinct, combined
    return counted


def install() -> None:
    """Put the timers in place (once, before the run). Each is patched where it is looked
    up: the module that calls it by a global name, or the class."""
    feed.line_blocks = _timed_iter("read", feed.line_blocks)
    records.line_blocks = _timed_iter("read", records.line_blocks)  # a map_batch's records
    tasks.feed_map = feed.feed_map = _timed("map call", feed.feed_map)
    tasks.feed_keys = feed.feed_keys = _timed("map call", feed.feed_keys)
    tasks.feed_batches = feed.feed_batches = _timed("map call", feed.feed_batches)
    tasks.feed_result = feed.feed_result = _timed("map call", feed.feed_result)
    feed.check_results = _timed("check (map)", feed.check_results)
    feed.check_pairs = _timed("check (map)", feed.check_pairs)
    buffer = spill.MapOutputBuffer
    buffer.add_pairs = _timed("buffer", buffer.add_pairs)
    buffer.add_if_one_value = _timed("buffer", buffer.add_if_one_value)
    buffer.add_keys = _timed("buffer", buffer.add_keys)
    buffer._write = _timed("spill", buffer._write)
    buffer.finish = _timed("spill", buffer.finish)
    sorter = partsort.PartitionSorter
    sorter.partition_keys = _timed("sort", _counting_keys(sorter.partition_keys))
    listed.listed_parts = _timed_iter("sort", listed.listed_parts)
    listed.sorted_key_runs = _timed("sort", listed.sorted_key_runs)
    buffer._entries = _timed("entries", buffer._entries)
    for kind in (partition.HashPartitioner, partition.RangePartitioner):
        kind.partition_many = _timed("partition", kind.partition_many)
    for cls in (combining.Combiner, combining.CallCombiner, combining.FoldCombiner):
        for name in ("lists", "runs", "merged", "combine", "sorted_runs"):
            if name in vars(cls):
                setattr(cls, name, _timed("combine", vars(cls)[name]))
    combining.Combiner.sorted_runs = _counting_runs(combining.Combiner.sorted_runs)
    segments.write_block = _timed("serialise", segments.write_block)
    segments.read_blocks = _timed_iter("merge", segments.read_blocks)
    merge.merge_in_memory = _timed("merge", merge.merge_in_memory)
    merge.merge_batches = _timed_iter("merge", merge.merge_batches)
    merge.group_columns = _timed_iter("group", merge.group_columns)
    merge.group_batches = _timed_iter("group", merge.group_batches)
    merge.column_groups = _timed_iter("merge", merge.column_groups)  # merged and listed in C
    merge.group_lists = _timed_iter("group", merge.group_lists)
    tasks.reduce_into = reducing.reduce_into = _timed("reduce call", reducing.reduce_into)
    reducing.check_results = _timed("check (reduce)", reducing.check_results)
    reducing.check_pairs = _timed("check (reduce)", reducing.check_pairs)
    for module in (output, partformats):
        for cls in vars(module).values():
            if isinstance(cls, type) and "write_many" in vars(cls):
                cls.write_many = _timed("write", cls.write_many)
                cls.write_columns = _timed("write", cls.write_columns)
    gc.callbacks.append(_gc_timer)


MAP_RECORD_STAGES = ("read", "map call", "check (map)", "buffer")
MAP_KEY_STAGES = ("partition", "sort", "combine", "entries", "serialise", "spill")
REDUCE_STAGES = ("merge", "group", "reduce call", "check (reduce)", "write")


def table(records: int, map_keys: int, keys: int) -> list[tuple[str, float, str]]:
    """``(stage, seconds, cost per unit)`` rows from the timers."""
    rows = []
    for stages, n, unit in ((MAP_RECORD_STAGES, records, "rec"),
                            (MAP_KEY_STAGES, map_keys, "map key"),
                            (REDUCE_STAGES, keys, "key")):
        # a job whose map output is not counted by key (a sort's pairs are kept as a list)
        # has no map keys: no cost per key then, rather than seconds divided by one
        rows += [(name, SECONDS[name],
                  f"{SECONDS[name] / n * 1e9:6.0f} ns/{unit}" if n else f"no {unit}s counted")
                 for name in stages]
    rows += [("gc", SECONDS["gc"], ""), ("other", SECONDS["other"], "")]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("job")
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--reducers", type=int, default=None)
    parser.add_argument("--sort-buffer", default=None)
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a job option, as --NAME VALUE on minimr submit's command line")
    parser.add_argument("--file", action="append", default=[], metavar="PATH",
                        help="a side file or folder for the tasks, as minimr submit --file")
    args = parser.parse_args()
    warning = stale_warning(os.path.dirname(minimr.__file__))
    if warning:
        print(warning, file=sys.stderr)
    install()
    out = tempfile.mkdtemp(prefix="profile-stages-")
    extra = {"sort_buffer": args.sort_buffer} if args.sort_buffer else {}
    if args.file:
        extra["files"] = args.file
    if args.option:
        extra["options"] = dict(option.split("=", 1) for option in args.option)
    STACK.mark = start = _clock()
    try:
        result = minimr.run(args.job, args.inputs, os.path.join(out, "out"), args.reducers,
                            runner="inline", overwrite=True, **extra)
    finally:
        STACK.enter("other")  # the time since the last stage left
        STACK.leave()
        total = _clock() - start
        gc.callbacks.remove(_gc_timer)
        shutil.rmtree(out, ignore_errors=True)
    records = result.counters.get(C.BUILTIN, C.MAP_OUTPUT_RECORDS)
    keys = result.counters.get(C.BUILTIN, C.REDUCE_INPUT_GROUPS)
    print(f"{args.job}: {records:,} map output records, {MAP_KEYS[0]:,} map-side keys, "
          f"{keys:,} reduce keys, {total:.2f} s CPU in all")
    print(f"| {'stage':14} | {'CPU s':>6} | {'share':>5} | {'cost':>18} |")
    print(f"| {'-' * 14} | {'-' * 6} | {'-' * 5} | {'-' * 18} |")
    for name, sec, per in table(records, MAP_KEYS[0], keys):
        print(f"| {name:14} | {sec:6.2f} | {sec / total:5.0%} | {per:>18} |")


if __name__ == "__main__":
    main()
