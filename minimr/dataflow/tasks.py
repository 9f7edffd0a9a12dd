"""Running one task: the same functions run inline and on cluster workers.

What the tasks are (``JobPlan``, ``MapTask``, ``ReduceTask``, ``SampleTask``) lives in
``minimr.dataflow.plan``; this module runs them: a map task's user code into the map output
buffer (``mapside``), or, in a map-only step, straight into its part file
(``mapside/direct.py``); a reduce task through the merge into a part writer
(``reduceside``); a sample task into range boundaries. Each runs the user's ``setup`` once,
every record through the map once (or every key through the reduce once), and ``teardown``
once: nothing is run again within an attempt, and an exception from user code goes through
as it is.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain, islice, repeat
from typing import Any

from minimr.dataflow import counters as C
from minimr.dataflow import mistakes, skips, storage, taskgc
from minimr.dataflow.counters import Counters
from minimr.dataflow.format import output as out
from minimr.dataflow.format.segments import MapOutput, Segment
from minimr.dataflow.format.unpicklable import raise_culprit
from minimr.dataflow.inputs.inputformats import Text
from minimr.dataflow.inputs.records import (
    drop_bad,
    mark_bad,
    raise_bad,
    read_text_blocks,
    reader_for,
)
from minimr.dataflow.inputs.splits import Split
from minimr.dataflow.mapside.combining import make_combiner
from minimr.dataflow.mapside.direct import DirectOutput
from minimr.dataflow.mapside.feed import (
    Records,
    TextLines,
    batch_pairs,
    feed_batches,
    feed_keys,
    feed_map,
    feed_result,
)
from minimr.dataflow.mapside.pairstore import PAIR_OVERHEAD
from minimr.dataflow.mapside.spill import MapOutputBuffer
from minimr.dataflow.partition import boundary_texts, choose_boundaries, make_partitioner
from minimr.dataflow.plan import JobPlan, MapTask, ReduceTask, SampleTask, StepPlan
from minimr.dataflow.reduceside.reducing import reduce_into, write_final

__all__ = [
    "JobPlan", "StepPlan", "MapTask", "ReduceTask", "SampleTask", "MapOutput", "Segment",
    "run_sample_task", "run_map_task", "run_map_only_task", "run_reduce_task",
    "commit_output", "task_from_dict",
]

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
    boundaries = list(task.boundaries) if task.boundaries is not None else None
    partitioner = make_partitioner(sp.partitioner if sp.needs_sample else "hash",
                                   task.reducers, boundaries)
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, f"map-s{task.step}-m{task.index:05d}-{attempt}.out")
    setup, teardown = _lifecycle(sp.step)
    tracker = _tracker(plan, task.describe_input(), task.skip, "record")
    with C.activate(counters), skips.reporting(tracker), _gc_for(plan), \
            mistakes.naming_unpicklable(_producers(sp.step, map_side=True)):
        setup()
        buffer = MapOutputBuffer(partitioner, task.reducers,
                                 make_combiner(sp.step.combine, counters), plan.sort_buffer,
                                 path, counters, sort_values=bool(sp.step.sort_values))
        n = _map_into(buffer, plan, task, sp, tracker)
        result = buffer.finish()  # runs the last combines: teardown comes after them
        teardown()
    _count_map(counters, task, tracker, n, buffer.map_output_records)
    return result


def _count_map(counters: Counters, task: MapTask, tracker: skips.Tracker | None,
               records: int, outputs: int) -> None:
    """A map task's built-in counters: records read and skipped, pairs out, bytes read."""
    if tracker is not None and tracker.skipped:
        counters.increment(C.BUILTIN, C.SKIPPED_RECORDS, tracker.skipped)
    counters.increment(C.BUILTIN, C.MAP_INPUT_RECORDS, records)
    counters.increment(C.BUILTIN, C.MAP_OUTPUT_RECORDS, outputs)
    counters.increment(C.BUILTIN, C.MAP_INPUT_BYTES, sum(s.end - s.start for s in task.splits))


def run_map_only_task(plan: JobPlan, task: MapTask, attempt: str, counters: Counters) -> str:
    """Run one map task of a map-only step (0 reducers): what the map yields is written, in
    the map's order, to the task's part file, uncommitted.

    Returns:
        The attempt's output path; ``commit_output`` moves it into place.
    """
    sp = plan.steps[task.step]
    temp = plan.attempt_path(task, attempt)
    storage.makedirs(storage.parent(temp))
    setup, teardown = _lifecycle(sp.step)
    tracker = _tracker(plan, task.describe_input(), task.skip, "record")
    with C.activate(counters), skips.reporting(tracker), _gc_for(plan), \
            mistakes.naming_unpicklable(_producers(sp.step, map_side=True)):
        setup()
        with plan.part_writer(task, temp) as writer:
            sink = DirectOutput(writer)
            n = _map_into(sink, plan, task, sp, tracker)
            size = writer.close()
        teardown()
    _count_map(counters, task, tracker, n, sink.map_output_records)
    counters.increment(C.BUILTIN, C.MAP_OUTPUT_BYTES, size)
    return temp


def _producers(step: Any, map_side: bool) -> list[Callable | None]:
    """The step's functions whose output a map task (``map_side``) or a reduce task writes:
    the map's and the combiner's, or the reducer's (the map's, when there is none)."""
    maps = [step.map, step.map_keys, step.map_batch, step.map_final]
    if map_side:
        return [*maps, step.combine]
    reduces = [step.reduce] if step.reduce is not None else maps
    return [*reduces, step.reduce_final]


def _tracker(plan: JobPlan, where: str, skip: frozenset[int], noun: str) -> skips.Tracker | None:
    """In skip mode, what follows the record (or key group) user code is on."""
    return skips.Tracker(where, skip, noun) if plan.settings.get("skip_bad_records") else None


def _map_into(buffer: MapOutputBuffer | DirectOutput, plan: JobPlan, task: MapTask, sp: StepPlan,
              tracker: skips.Tracker | None) -> int:
    """Run the step's map over the task's input into ``buffer``; returns the records read."""
    step = sp.step
    fmt = sp.input_format if task.step == 0 else "records"
    # in skip mode, a record the format cannot read goes on marked, for the tracker to skip
    read = reader_for(fmt, raise_bad if tracker is None else mark_bad)
    records = chain.from_iterable(map(read, task.splits))
    if step.map_batch is not None:
        map_batch = step.map_batch
        if tracker is not None:  # records become (ordinal, key, value), skipped ones left out
            records, map_batch = tracker.records(records), tracker.map_batch(map_batch,
                                                                               batch_pairs)
        n = feed_batches(buffer, records, map_batch, step.map_batch,
                         max(1 << 20, plan.sort_buffer // 4))
    else:
        user_fn = step.map_keys if step.map_keys is not None else step.map
        feed = feed_keys if step.map_keys is not None else feed_map
        if tracker is not None:  # records become (ordinal, key, value), skipped ones left out
            n = feed(buffer, Records(tracker.records(records)), tracker.map(user_fn), user_fn)
        elif type(fmt) is Text:  # a subclass may parse its lines: read through it
            n = feed(buffer, TextLines(task.splits), user_fn, user_fn)
        else:
            n = feed(buffer, Records(records), user_fn, user_fn)
    if step.map_final is not None:  # pairs, a mapping or None, as a batch map's
        feed_result(buffer, step.map_final(), step.map_final)
    return n


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
    setup, teardown = _lifecycle(sp.step)
    tracker = _tracker(plan, f"partition {task.partition} of step {task.step}", task.skip,
                       "key group")
    with C.activate(counters), _gc_for(plan), skips.reporting(tracker), \
            mistakes.naming_unpicklable(_producers(sp.step, map_side=False)):
        setup()
        with writer_cls(temp) as writer:
            groups, entries = reduce_into(segments, scratch, writer, sp.step.reduce, tracker,
                                          bool(sp.step.sort_values))
            if sp.step.reduce_final is not None:
                write_final(writer, sp.step.reduce_final)
            records, size = writer.records, writer.close()
        teardown()
    if tracker is not None and tracker.skipped:
        counters.increment(C.BUILTIN, C.SKIPPED_RECORDS, tracker.skipped)
    counters.increment(C.BUILTIN, C.REDUCE_INPUT_GROUPS, groups)
    counters.increment(C.BUILTIN, C.REDUCE_INPUT_RECORDS, entries)
    counters.increment(C.BUILTIN, C.REDUCE_OUTPUT_RECORDS, records)
    counters.increment(C.BUILTIN, C.REDUCE_OUTPUT_BYTES, size)
    return temp


def commit_output(plan: JobPlan, task: ReduceTask | MapTask, temp_path: str) -> str:
    """Move an attempt's part file (a reduce's, a map-only map's) into place (atomic,
    idempotent); returns the final path."""
    return out.commit(temp_path, plan.final_path(task))


def task_from_dict(kind: str, data: dict) -> MapTask | ReduceTask:
    """A map or reduce task from its plain data (``kind``: ``"map"`` or ``"reduce"``)."""
    return MapTask.from_dict(data) if kind == "map" else ReduceTask.from_dict(data)


def run_sample_task(plan: JobPlan, task: SampleTask, counters: Counters) -> list:
    """Sample the step's map output keys and return the range boundaries.

    Raises:
        JobCodeError: a boundary key is not a Python literal (``partition.boundary_texts``):
            boundaries travel to map tasks as text, never pickled.
    """
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
                elif sp.step.map_keys is not None:
                    keys.extend(sp.step.map_keys(*record) or ())
                else:
                    keys.extend(k for k, _ in sp.step.map(*record) or ())
        if sp.step.map_final is not None:  # what the map held back comes out here
            keys.extend(k for k, _ in batch_pairs(sp.step.map_final()))
        teardown()
        boundaries = choose_boundaries(keys, sp.reducers)
        try:  # a key that cannot be pickled is named with the function that yielded it
            pickle.dumps(boundaries, protocol=4)
        except Exception as exc:
            raise_culprit(zip(boundaries, repeat(None)), exc)
            raise
        boundary_texts(boundaries)  # the same keys on every runner: those with a plain text
        return boundaries


def _sample_records(split: Split, fmt: object, rng: random.Random) -> Iterator:
    """Records read at a few evenly spaced places in a split."""
    read = reader_for(fmt, drop_bad)  # a bad record is no key to sample; its map task fails
    if type(fmt) is not Text or split.compressed:
        yield from islice(read(split), SAMPLE_POINTS * SAMPLE_RECORDS)
        return
    step = (split.end - split.start) / SAMPLE_POINTS
    for i in range(SAMPLE_POINTS):
        start = split.start + int(i * step)
        # the lines that start before the next place: places never overlap, so the map sees
        # a line once however short the split (user code runs once per record)
        end = split.end if i == SAMPLE_POINTS - 1 else split.start + int((i + 1) * step)
        sub = Split(split.path, start, end)
        # small reads: a few hundred lines, not a whole READ_BLOCK decoded at each place
        yield from islice(chain.from_iterable(read_text_blocks(sub, SAMPLE_BLOCK)), SAMPLE_RECORDS)


def scratch_dir(prefix: str = "minimr-") -> str:
    """A private temporary folder (the inline runner's work dir)."""
    return tempfile.mkdtemp(prefix=prefix)


def remove_dir(path: str) -> None:
    """Remove a work folder, ignoring what is already gone."""
    shutil.rmtree(path, ignore_errors=True)
