"""Running one task: the same functions run inline and on cluster workers.

What the tasks are (``JobPlan``, ``MapTask``, ``ReduceTask``, ``SampleTask``) lives in
``minimr.dataflow.plan``; this module runs them: a map task through the map output buffer
(``spill``), a reduce task through the merge (``merge``) into a part writer (``output``), a
sample task into range boundaries.
"""

from __future__ import annotations

import inspect
import os
import pickle
import random
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import chain, islice, repeat, starmap
from operator import is_not, itemgetter
from typing import Any

from minimr.dataflow import counters as C
from minimr.dataflow import foldshape, mapshape, mistakes, skips, storage, taskgc
from minimr.dataflow.counters import Counters
from minimr.dataflow.format import output as out
from minimr.dataflow.format.segments import Segment
from minimr.dataflow.format.unpicklable import raise_culprit
from minimr.dataflow.inputformats import Text
from minimr.dataflow.mapside.pairstore import PAIR_OVERHEAD
from minimr.dataflow.mapside.spill import MapOutput, MapOutputBuffer, RestartTask, batch_pairs
from minimr.dataflow.partition import choose_boundaries, make_partitioner
from minimr.dataflow.plan import JobPlan, MapTask, ReduceTask, SampleTask, StepPlan
from minimr.dataflow.records import (
    drop_bad,
    mark_bad,
    raise_bad,
    read_text_blocks,
    read_text_lines,
    reader_for,
)
from minimr.dataflow.reduceside.merge import MergedGroups
from minimr.dataflow.splits import Split

__all__ = [
    "JobPlan", "StepPlan", "MapTask", "ReduceTask", "SampleTask", "MapOutput", "Segment",
    "run_sample_task", "run_map_task", "run_reduce_task", "commit_reduce_output",
]

BATCH_CHUNK = 1024  # records read at a time while filling a map_batch batch
# Reduce output records handed to the part writer at a time: enough to format them in C, few
# enough to stay in the CPU's cache (a sort's 256 MiB partition: 4.0-4.2 s CPU at 256 or
# 1024, 4.6 s at 4096).
REDUCE_BATCH = 256
SAMPLE_SPLITS = 20  # splits a sample task reads from
SAMPLE_POINTS = 5  # places in each split it reads from
SAMPLE_RECORDS = 200  # records it reads at each place
SAMPLE_BLOCK = 64 * 1024  # bytes read at a time there


def _gc_for(plan: JobPlan):
    """The garbage collector's policy for a task: its threshold may grow past the most pairs
    a full map output buffer holds, so that filling the buffer starts no collection."""
    return taskgc.adaptive(plan.sort_buffer // PAIR_OVERHEAD)


def _lifecycle(step: Any):
    return step.setup or (lambda: None), step.teardown or (lambda: None)


def run_map_task(plan: JobPlan, task: MapTask, work_dir: str, attempt: str,
                 counters: Counters) -> MapOutput:
    """Run one map task; its partitioned, sorted output goes to a file in ``work_dir``."""
    sp = plan.steps[task.step]
    boundaries = pickle.loads(task.boundaries) if task.boundaries is not None else None
    partitioner = make_partitioner(sp.partitioner if sp.needs_sample else "hash",
                                   task.reducers, boundaries)
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, f"map-s{task.step}-m{task.index:05d}-{attempt}.out")
    setup, teardown = _lifecycle(sp.step)
    tracker = _tracker(plan, task.describe_input(), task.skip, "record")
    with C.activate(counters), skips.reporting(tracker), _gc_for(plan), \
            mistakes.naming_unpicklable(_producers(sp.step, map_side=True)):
        setup()
        saved = counters.to_dict()
        options: dict = {}
        while True:
            try:
                buffer, n = _map_into_buffer(plan, task, sp, partitioner, path, counters,
                                             tracker, **options)
                break
            except RestartTask as restart:
                # The output does not fit the buffer's path (an unhashable pair, a second
                # value): run the split again on a more general one, as if this were a new
                # attempt (the counters go back to where they were).
                counters.restore(saved)
                options = restart.options
        result = buffer.finish()  # runs the last combines: teardown comes after them
        teardown()
    if tracker is not None and tracker.skipped:
        counters.increment(C.BUILTIN, C.SKIPPED_RECORDS, tracker.skipped)
    counters.increment(C.BUILTIN, C.MAP_INPUT_RECORDS, n)
    counters.increment(C.BUILTIN, C.MAP_OUTPUT_RECORDS, buffer.map_output_records)
    counters.increment(C.BUILTIN, C.MAP_INPUT_BYTES, sum(s.end - s.start for s in task.splits))
    return result


def _producers(step: Any, map_side: bool) -> list[Callable | None]:
    """The step's functions whose output a map task (``map_side``) or a reduce task writes:
    the map's and the combiner's, or the reducer's (the map's, when there is none)."""
    maps = [step.map, step.map_batch, step.map_final]
    if map_side:
        return [*maps, step.combine]
    return [step.reduce] if step.reduce is not None else maps


def _read_all(read: Callable[[Split], Iterator], splits: tuple[Split, ...]) -> Iterator:
    """The records of the splits, one after the other."""
    return chain.from_iterable(map(read, splits))


def _tracker(plan: JobPlan, where: str, skip: frozenset[int], noun: str) -> skips.Tracker | None:
    """In skip mode, what follows the record (or key group) user code is on."""
    return skips.Tracker(where, skip, noun) if plan.settings.get("skip_bad_records") else None


def _map_into_buffer(plan: JobPlan, task: MapTask, sp: StepPlan, partitioner, path: str,
                     counters: Counters, tracker: skips.Tracker | None,
                     fast: bool = True, **options: bool) -> tuple[MapOutputBuffer, int]:
    """One attempt at the task's map: its input read from the start into a new buffer."""
    # A batch map returns one value per key per batch (a Counter's counts): they differ, so
    # counting identical pairs would gain nothing; the per-pair path groups them directly.
    # With map_final, a restart on another path would run the map again over state it has
    # already added to: such steps take the general path (it never restarts) from the start.
    general = sp.step.map_batch is not None or sp.step.map_final is not None
    buffer = MapOutputBuffer(partitioner, task.reducers, sp.step.combine, plan.sort_buffer,
                             path, counters, fast=fast and not general, **options)
    map_fn, map_batch = sp.step.map, sp.step.map_batch
    fmt = sp.input_format if task.step == 0 else "records"
    keyed = None  # a map of the commonest shape runs as its keys (mapshape), where it can
    if map_batch is None and fast and not general and tracker is None:
        keyed = _keyed(map_fn, fmt)
    # lines alone when the keyed map never uses a line's key: no key tuple per line
    # in skip mode, a record the format cannot read goes on marked, for the tracker to skip
    on_bad = raise_bad if tracker is None else mark_bad
    read = (read_text_lines if keyed is not None and keyed.per_value
            else reader_for(fmt, on_bad))
    records = _read_all(read, task.splits)
    if tracker is not None:  # records become (ordinal, key, value), skipped ones left out
        records = tracker.records(records)
        map_fn = map_fn and tracker.map(map_fn)
        map_batch = map_batch and tracker.map_batch(map_batch, batch_pairs)
    try:
        if map_batch is not None:
            n = _consume_batches(buffer, records, map_batch, max(1 << 20, plan.sort_buffer // 4))
        else:
            n = buffer.consume(records, map_fn, keyed)
        if sp.step.map_final is not None:
            buffer.add_all(sp.step.map_final())  # pairs, a mapping or None, as a batch map's
        return buffer, n
    except RestartTask:
        buffer.discard()
        raise


def _keyed(map_fn: Callable, fmt: object) -> mapshape.KeyedMap | None:
    """A map of the commonest shape read as its keys (``mapshape``); over text lines, taking
    the lines alone when its expression never uses the key."""
    if type(fmt) is Text:  # a subclass may parse its lines: read through it
        keyed = mapshape.keyed_map(map_fn, per_value=True)
        if keyed is not None:
            return keyed
    return mapshape.keyed_map(map_fn)


def _consume_batches(buffer: MapOutputBuffer, records: Iterator, map_batch,
                     target: int) -> int:
    n = 0
    for batch in _batches(records, target):
        n += len(batch)
        buffer.add_all(map_batch(batch))  # a mapping, pairs or None
    return n


def _batches(records: Iterator, target: int) -> Iterator[list]:
    """Lists of records holding about ``target`` bytes of values each.

    Large batches let a batch map's result (a dict of the batch's distinct keys) be merged
    fewer times; measuring by bytes keeps a batch of whole files as bounded as one of lines.
    A quarter of the sort buffer (16 MB by default): two 64 MB word count tasks took 8.6 s
    instead of 9.4 s with an eighth, at 216 MiB peak instead of 152 MiB (the records held).
    """
    while True:
        batch: list = []
        size = 0
        for chunk in iter(lambda: list(islice(records, BATCH_CHUNK)), []):
            batch.extend(chunk)
            try:
                size += sum(map(len, map(itemgetter(1), chunk)))
            except TypeError:  # values without a length: count them at a guess
                size += 100 * len(chunk)
            if size >= target:
                break
        if not batch:
            return
        yield batch


def run_reduce_task(plan: JobPlan, task: ReduceTask, segments: list[Segment], attempt: str,
                    counters: Counters, work_dir: str | None = None) -> str:
    """Merge a partition's segments, reduce each key, and write the (uncommitted) part file.

    Returns:
        The attempt's output path; ``commit_reduce_output`` moves it into place.
    """
    sp = plan.steps[task.step]
    temp = plan.attempt_path(task, attempt)
    storage.makedirs(storage.parent(temp))
    # merge scratch files stay on local disk, even when the output is remote
    scratch = work_dir or (tempfile.gettempdir() if storage.is_url(temp) else storage.parent(temp))
    writer_cls = partial(plan.part_writer, task)  # the run's part format, if the last step
    reduce_fn = sp.step.reduce
    setup, teardown = _lifecycle(sp.step)
    tracker = _tracker(plan, f"partition {task.partition} of step {task.step}", task.skip,
                       "key group")
    # a reducer of the shape ``yield key, sum(values)`` as its builtin alone (foldshape)
    fold = foldshape.fold_of(reduce_fn) if tracker is None else None
    reduce_into = partial(_reduce_into, segments, scratch, writer_cls, temp, reduce_fn,
                          tracker)
    with C.activate(counters), _gc_for(plan), skips.reporting(tracker), \
            mistakes.naming_unpicklable(_producers(sp.step, map_side=False)):
        setup()
        try:
            groups, entries, records, size = reduce_into(fold)
        except _FoldFailed:  # the reducer as written raises it again, from the user's line
            groups, entries, records, size = reduce_into(None)
        teardown()
    if tracker is not None and tracker.skipped:
        counters.increment(C.BUILTIN, C.SKIPPED_RECORDS, tracker.skipped)
    counters.increment(C.BUILTIN, C.REDUCE_INPUT_GROUPS, groups)
    counters.increment(C.BUILTIN, C.REDUCE_INPUT_RECORDS, entries)
    counters.increment(C.BUILTIN, C.REDUCE_OUTPUT_RECORDS, records)
    counters.increment(C.BUILTIN, C.REDUCE_OUTPUT_BYTES, size)
    return temp


def _reduce_into(segments: list[Segment], scratch: str, writer_cls: type, temp: str,
                 reduce_fn: Callable | None, tracker: skips.Tracker | None,
                 fold: Callable | None) -> tuple[int, int, int, int]:
    """Merge the segments through the reducer (or its ``fold``) into a new part file at
    ``temp``; returns ``(groups, entries, records written, bytes written)``.

    Raises:
        _FoldFailed: the fold raised.
    """
    identity = reduce_fn is None and tracker is None  # values merged as pairs, to the writer
    with MergedGroups(segments, scratch, pairs=identity) as merged, writer_cls(temp) as w:
        if tracker is not None:
            groups = _reduce_tracked(tracker.groups(merged), reduce_fn, w.write)
        elif identity:  # merged values straight to the writer, no iterator per key
            for keys, values in merged.columns(REDUCE_BATCH):
                w.write_columns(keys, values)
            groups = merged.groups
        elif fold is not None:  # each key's one output value, made in C
            for keys, values in merged.chunks():
                w.write_columns(keys, _folded(fold, values))
            groups = merged.groups
        else:
            produced = _reduce_output(merged, reduce_fn)
            try:
                for batch in iter(lambda: list(islice(produced, REDUCE_BATCH)), []):
                    w.write_many(batch)
            except _ReduceStopped as stopped:
                raise stopped.stop from None  # the user's own StopIteration, as before
            groups = merged.groups
        return groups, merged.values_read, w.records, w.close()


class _FoldFailed(Exception):
    """A reducer's fold raised: the reduce runs again with the reducer as written."""


def _folded(fold: Callable, values: Iterable[Iterator]) -> list:
    """``fold`` of each key's values iterator."""
    try:
        return list(map(fold, values))
    except Exception as exc:
        raise _FoldFailed from exc


class _ReduceStopped(Exception):
    """A reduce function raised StopIteration (carried as ``stop``)."""

    def __init__(self, stop: StopIteration) -> None:
        super().__init__("reduce raised StopIteration")
        self.stop = stop


def _reduce_output(merged: MergedGroups, reduce_fn: Callable) -> Iterator[tuple[Any, Any]]:
    """Every pair the reduce outputs, in order, with no Python code of ours per key or pair.

    Within a chunk of keys, ``map`` takes a key, then its values, then calls the reducer;
    ``chain`` drains that key's output (and so the reducer's use of its values) before the
    next key is taken, as a loop would. A reducer that returns None contributes nothing.
    """
    chunks = merged.chunks()
    if not inspect.isgeneratorfunction(reduce_fn):
        reduce_fn = partial(_call_reduce, reduce_fn)
    outputs = chain.from_iterable(starmap(partial(map, reduce_fn), chunks))
    return chain.from_iterable(filter(partial(is_not, None), outputs))


def _call_reduce(reduce_fn: Callable, key: Any, values: Iterator) -> Any:
    # Inside map(), a StopIteration from the reducer would end the whole reduce quietly and
    # drop the keys after it; a generator reducer cannot raise one (PEP 479), a plain one can.
    try:
        return reduce_fn(key, values)
    except StopIteration as stop:
        raise _ReduceStopped(stop) from None


def _reduce_tracked(groups: Iterable[tuple[Any, Iterator]], reduce_fn: Callable | None,
                    write: Callable[[Any, Any], None]) -> int:
    """Reduce the groups with each output pair written at once; returns the groups reduced.

    Skip mode's path: a failure, writing included, must surface while the tracker still
    holds the group that caused it, not a batch later.
    """
    n = 0
    for key, values in groups:
        n += 1
        if reduce_fn is None:
            for value in values:
                write(key, value)
            continue
        produced = reduce_fn(key, values)
        if produced is not None:
            for out_key, out_value in produced:
                write(out_key, out_value)
    return n


def commit_reduce_output(plan: JobPlan, task: ReduceTask, temp_path: str) -> str:
    """Move an attempt's part file into place (atomic, idempotent); returns the final path."""
    return out.commit(temp_path, plan.final_path(task))


def run_sample_task(plan: JobPlan, task: SampleTask, counters: Counters) -> bytes:
    """Sample the step's map output keys and return pickled range boundaries."""
    sp = plan.steps[task.step]
    splits = [s for s in plan.input_splits(task.step) if s.end > s.start]
    rng = random.Random(0)  # a fixed seed: the same boundaries, so the same parts, every run
    if len(splits) > SAMPLE_SPLITS:
        splits = sorted(rng.sample(splits, SAMPLE_SPLITS), key=lambda s: (s.path, s.start))
    fmt = sp.input_format if task.step == 0 else "records"
    keys: list = []
    setup, teardown = _lifecycle(sp.step)
    # sampling must not count toward the job's counters
    with C.activate(Counters()), mistakes.naming_unpicklable(_producers(sp.step, True)):
        setup()
        for split in splits:
            for record in _sample_records(split, fmt, rng):
                if sp.step.map_batch is not None:
                    keys.extend(k for k, _ in batch_pairs(sp.step.map_batch([record])))
                else:
                    produced = sp.step.map(*record)
                    if produced is not None:
                        keys.extend(k for k, _ in produced)
        if sp.step.map_final is not None:  # what the map held back comes out here
            keys.extend(k for k, _ in batch_pairs(sp.step.map_final()))
        teardown()
        boundaries = choose_boundaries(keys, sp.reducers)
        try:
            return pickle.dumps(boundaries, protocol=4)
        except Exception as exc:
            raise_culprit(zip(boundaries, repeat(None)), exc)
            raise


def _sample_records(split: Split, fmt: object, rng: random.Random) -> Iterator:
    """Records read at a few evenly spaced places in a split."""
    read = reader_for(fmt, drop_bad)  # a bad record is no key to sample; its map task fails
    if type(fmt) is not Text or split.compressed:
        yield from islice(read(split), SAMPLE_POINTS * SAMPLE_RECORDS)
        return
    step = (split.end - split.start) / SAMPLE_POINTS
    for i in range(SAMPLE_POINTS):
        start = split.start + int(i * step)
        sub = Split(split.path, start, split.end)
        # small reads: a few hundred lines, not a whole READ_BLOCK decoded at each place
        yield from islice(chain.from_iterable(read_text_blocks(sub, SAMPLE_BLOCK)), SAMPLE_RECORDS)


def scratch_dir(prefix: str = "minimr-") -> str:
    """A private temporary folder (the inline runner's work dir)."""
    return tempfile.mkdtemp(prefix=prefix)


def remove_dir(path: str) -> None:
    """Remove a work folder, ignoring what is already gone."""
    shutil.rmtree(path, ignore_errors=True)
