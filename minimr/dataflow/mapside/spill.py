"""The map side's output buffer: count, combine, sort and spill, in bounded memory.

Map output pairs wait in one of the stores of ``pairstore``: counted (identical pairs, or keys
alone while every pair has had one value), grouped per key, or listed. A batch of records runs
as ``chain(starmap(map_fn, batch))`` straight into the store, all C code but the user's own
``map``. The first batch picks the store for the rest of the task; a store that meets output
it cannot hold raises ``RestartTask`` and the task runs again on a more general one. A map of
the shape ``for x in expression: yield x, constant`` is read as its keys (``mapshape``), counted
from the first batch on.

Writing does its per-key work with C calls over whole lists (partition numbers, the sort, the
``[value] * times`` lists); Python runs per key only to call the combiner (``combining``), and
not even that for a combiner of the shape ``yield key, sum(values)``.

When the estimated size passes the sort buffer, the buffer is written to disk as a sorted run
(a spill), combined first when the step has a combiner. ``finish`` writes the task's output
file: every partition as one segment, the spills merged in, the combiner applied across them
(Hadoop's model); with no combiner and at most ``MAX_RUNS`` spills, each partition's spilled
runs are copied side by side instead, for the reducer's merge to take as they are.

Output file layout: for each partition in order, one segment (see ``merge``); the byte ranges
are returned as a ``MapOutput`` and also saved beside the file as JSON (``.index``), so a
restarted worker can serve it again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice, starmap
from operator import gt, is_not, itemgetter
from typing import Any, BinaryIO

from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.format.segments import (
    MAX_RUNS,
    Segment,
    concatenate_segments,
    key_kind,
    write_segment,
    write_single_values,
)
from minimr.dataflow.mapshape import KeyedMap
from minimr.dataflow.mapside.combining import Combiner, several
from minimr.dataflow.mapside.pairstore import (
    ENTRY_OVERHEAD,
    Groups,
    KeyCounts,
    NeedsPerPairPath,
    PairCounts,
    PairList,
    RestartTask,
    Taken,
    unwrap,
)
from minimr.dataflow.partition import natively_sortable, sort_key
from minimr.dataflow.reduceside.merge import MergedGroups

__all__ = ["MapOutput", "MapOutputBuffer", "NeedsPerPairPath", "RestartTask", "batch_pairs"]

_first = itemgetter(0)
_second = itemgetter(1)
_not_none = partial(is_not, None)
_FIRST_BATCH = 256  # records in a map task's first batch
_MAX_BATCH = 50_000  # records in a batch at most
_BATCH_PAIRS = 200_000  # map output pairs to aim at per batch (less with a small buffer)


@dataclass(frozen=True)
class MapOutput:
    """Where a map task's output lives: a local file and each partition's byte range."""

    path: str
    partitions: list[tuple[int, int]]

    def segment(self, partition: int) -> Segment:
        """The segment of one partition."""
        offset, length = self.partitions[partition]
        return Segment(self.path, offset, length)

    def to_dict(self) -> dict:
        """Plain data for the wire."""
        return {"path": self.path, "partitions": [list(p) for p in self.partitions]}

    @classmethod
    def from_dict(cls, data: dict) -> MapOutput:
        """Inverse of ``to_dict``."""
        return cls(str(data["path"]), [(int(o), int(n)) for o, n in data["partitions"]])


class MapOutputBuffer:
    """Collects one map task's output and writes its partitioned, sorted output file.

    Args:
        partitioner: key -> partition number, with ``partition_many(keys)`` for a list.
        partitions: the number of reduce partitions.
        combine: the step's combiner ``(key, values) -> iterable of (key, value)``, or None.
        limit: the sort buffer size in bytes.
        path: the output file to write; spills go beside it.
        counters: where spill and combine counters go.
        fast: count pairs in C; False groups them per key (or lists them, with no combiner).
        single_value: on the fast path, count keys alone when the first batch's pairs all
            had one value (see ``_after_first_batch``).
    """

    def __init__(self, partitioner: Callable[[Any], int], partitions: int,
                 combine: Callable | None, limit: int, path: str, counters: Counters,
                 fast: bool = True, single_value: bool = True) -> None:
        self._partitioner = partitioner
        self._partitions = partitions
        self._combiner = Combiner(combine, counters) if combine is not None else None
        self._limit = limit
        self._path = path
        self._counters = counters
        self._single_ok = single_value
        self._store: PairCounts | KeyCounts | Groups | PairList = (
            PairCounts() if fast else PairList() if combine is None else Groups())
        self._spills: list[MapOutput] = []
        self._batch_pairs = max(64, min(_BATCH_PAIRS, limit // (4 * ENTRY_OVERHEAD)))
        self.map_output_records = 0

    # -- filling ------------------------------------------------------------------------------
    def consume(self, records: Iterable[tuple[Any, Any]], map_fn: Callable,
                keyed: KeyedMap | None = None) -> int:
        """Run ``map_fn`` over ``records`` into the buffer; the hot path of every map task.

        Args:
            keyed: ``map_fn`` read as keys with one value (``mapshape``): its keys are
                counted from the first record on, and ``map_fn`` itself is not called;
                ``records`` are the values alone when it is ``per_value``.

        Returns:
            The number of input records.

        Raises:
            RestartTask: the output does not fit the store (see ``pairstore``).
        """
        if keyed is not None:
            self._store = KeyCounts(keyed.value, {})
            apply = map if keyed.per_value else starmap
        records = iter(records)
        n = 0
        size = _FIRST_BATCH
        while True:
            batch = list(islice(records, size))
            if not batch:
                return n
            before = len(self._store)
            if keyed is not None:  # no None filter: a None is not iterable, as in the loop
                self._store.add_keys(chain.from_iterable(apply(keyed.keys, batch)))
            else:
                self._store.add(chain.from_iterable(_outputs(map_fn, batch)))
            pairs = len(self._store) - before
            if not n and type(self._store) is PairCounts:
                self._after_first_batch(self._store)
            n += len(batch)
            # Aim at about _batch_pairs pairs a batch, whatever one record yields.
            size = max(1, min(_MAX_BATCH, len(batch) * self._batch_pairs // max(pairs, 1)))
            if self._store.estimate() >= self._limit:
                self._spill()

    def add_all(self, result: Mapping | Iterable[tuple[Any, Any]] | None) -> None:
        """Add a batch map's result: a mapping (its items are the pairs), pairs, or None."""
        if isinstance(result, Mapping) and type(self._store) is Groups:
            self._store.append(result.items())  # pairs by construction: no check needed
        else:
            self._store.add(batch_pairs(result))
        if self._store.estimate() >= self._limit:
            self._spill()

    def _after_first_batch(self, counts: PairCounts) -> None:
        """Choose the store for the rest of the task from what the first batch gave.

        Without a combiner, when nearly every pair was distinct, counting saves nothing (a
        sort, a join): a list. When every pair had one value (a word count's 1s), the keys
        alone are counted. Otherwise pairs stay counted.
        """
        if not counts.counted:
            return
        if self._combiner is None and len(counts) * 10 > counts.produced() * 9:
            self._store = PairList.from_pairs(counts)
        elif self._single_ok and (single := counts.single_value()) is not None:
            self._store = KeyCounts.from_pairs(counts, single[0])

    # -- writing -------------------------------------------------------------------------------
    def _write(self, path: str) -> MapOutput:
        """Write (and empty) the buffer as one sorted segment per partition."""
        if type(self._store) is PairList:
            return self._write_segments(path, self._listed_parts(self._store.take()))
        taken = self._store.take()
        self.map_output_records += taken.records
        keys = list(taken.sources)
        native = not taken.wrapped and natively_sortable(keys)  # checked once, for all parts
        parts = (self._part(part, taken, key_kind(part, native))
                 for part in self._partition_keys(keys, taken.wrapped, native))
        return self._write_segments(path, parts)

    def _part(self, keys: list, taken: Taken, kind: bytes) -> Callable[[BinaryIO], tuple[int, int]]:
        """The writer of one partition: its sorted keys' values, combined when there is a
        combiner; as columns when its fold left one value a key (``Combiner.runs``)."""
        if self._combiner is not None and taken.runs:
            single = self._combiner.runs(*taken.runs_of(keys))
            if single is not None:
                return partial(write_single_values, keys=keys, values=single, kind=kind)
        return partial(write_segment, entries=self._entries(keys, taken), kind=kind)

    def _entries(self, keys: list, taken: Taken) -> Iterable[tuple[Any, list]]:
        """Sorted keys' ``(key, values list)`` entries, combined when there is a combiner.

        Built with C calls over whole lists; Python runs per key only to call the combiner,
        for every key with more than one value, as Hadoop does. Combining the keys seen only a
        few times too costs little and leaves most outputs (a word count's) one value a key,
        which ``segments`` stores as columns: cheaper to write, and half the reduce's CPU
        (a 16 MiB word count task: 1.27 s either way; the reduce of 16 of them, 1.0 -> 0.55 s
        per partition, against combining only keys of more than four values).
        """
        values = None
        if taken.runs:  # (value, times) each: [value] * times, unless combined below
            values, sizes = taken.runs_of(keys)
            lists = list(map(list, zip(values)))  # [value]: most keys of a Zipf vocabulary
            if self._combiner is None:
                for i in several(sizes):
                    lists[i] = lists[i] * sizes[i]
        else:
            lists = list(map(taken.sources.__getitem__, keys))
            sizes = list(map(len, lists))
            if taken.wrapped:
                keys = list(map(unwrap, keys))
        if self._combiner is not None:
            self._combiner.lists(keys, lists, sizes, values)
        return zip(keys, lists, strict=True)

    def _partition_keys(self, keys: list, wrapped: bool, native: bool) -> list[list]:
        """Keys by partition, each partition's keys sorted in minimr's order (``native``:
        plain comparisons give it)."""
        if wrapped:
            if self._partitions == 1:
                return [_sorted_wrapped(keys)]
            by_partition: list[list] = [[] for _ in range(self._partitions)]
            for key in keys:
                by_partition[self._partitioner(unwrap(key))].append(key)
            return [_sorted_wrapped(part) for part in by_partition]
        keys.sort(key=None if native else sort_key)
        return [part for part, in self._cut(keys, native=native)]

    def _cut(self, keys: list, *columns: list, native: bool) -> Iterator[tuple[list, ...]]:
        """Sorted ``keys`` (and lists parallel to them) cut into one slice per partition.

        A range partitioner's partitions follow the key order: keys sorted in their own
        order (``native``) are cut where the boundaries fall. Otherwise a stable sort by
        partition number keeps each partition's keys in order (with a range partitioner the
        numbers already ascend and the sort only checks that).
        """
        if self._partitions == 1:
            yield (keys, *columns)
            return
        starts = self._partitioner.starts_of_sorted(keys) if native else None
        if starts is not None:  # fewer boundaries than partitions leave the last ones empty
            starts += [len(keys)] * (self._partitions - len(starts))
            for start, end in zip(starts, [*starts[1:], len(keys)], strict=True):
                yield (keys[start:end], *(c[start:end] for c in columns))
            return
        numbers = self._partitioner.partition_many(keys)
        if any(map(gt, numbers, islice(numbers, 1, None))):
            order = sorted(range(len(keys)), key=numbers.__getitem__)
            keys, *columns = (list(map(c.__getitem__, order)) for c in (keys, *columns))
        sizes = Counter(numbers)
        start = 0
        for p in range(self._partitions):
            end = start + sizes[p]
            yield (keys[start:end], *(c[start:end] for c in columns))
            start = end

    def _listed_parts(self, pairs: list) -> Iterator[Callable[[BinaryIO], tuple[int, int]]]:
        """A list's partitions: its pairs sorted (stably) by key, each pair one value."""
        self.map_output_records += len(pairs)
        native = natively_sortable(map(_first, pairs))
        pairs.sort(key=_first if native else _sort_key_of_first)
        keys = list(map(_first, pairs))
        values = list(map(_second, pairs))
        del pairs
        for part_keys, part_values in self._cut(keys, values, native=native):
            yield partial(write_single_values, keys=part_keys, values=part_values,
                          kind=key_kind(part_keys, native))

    def _write_segments(self, path: str, parts: Iterable[Callable[[BinaryIO], tuple[int, int]]]
                        ) -> MapOutput:
        """Write each partition as one segment of a new file (``part(out)`` writes one)."""
        ranges = []
        values_written = 0
        with open(path, "wb") as out:
            offset = 0
            for write_part in parts:
                length, n = write_part(out)
                ranges.append((offset, length))
                offset += length
                values_written += n
        self._counters.increment(C.BUILTIN, C.SPILLED_RECORDS, values_written)
        return MapOutput(path, ranges)

    def _spill(self) -> None:
        self._spills.append(self._write(f"{self._path}.spill{len(self._spills)}"))

    def finish(self) -> MapOutput:
        """Write the task's output file and remove the spills; returns where it is."""
        if not self._spills:
            output = self._write(self._path)
        else:
            if len(self._store):
                self._spill()
            if self._combiner is None and len(self._spills) <= MAX_RUNS:
                output = self._concatenate_spills()
            else:
                output = self._merge_spills()
            for spill in self._spills:
                os.unlink(spill.path)
            self._spills = []
        with open(self._path + ".index", "w") as index:
            json.dump(output.to_dict(), index)
        return output

    def discard(self) -> None:
        """Drop every spill (the task restarts; the buffer is not used again)."""
        for spill in self._spills:
            if os.path.exists(spill.path):
                os.unlink(spill.path)
        self._spills = []

    def _concatenate_spills(self) -> MapOutput:
        """Each partition's spilled runs side by side: nothing to combine, so the reducer's
        merge takes them as they are (a merge here would read and write every record)."""
        def copy_runs(p: int, out: BinaryIO) -> tuple[int, int]:
            return concatenate_segments(out, [s.segment(p) for s in self._spills]), 0

        return self._write_segments(
            self._path, (partial(copy_runs, p) for p in range(self._partitions)))

    def _merge_spills(self) -> MapOutput:
        """Each partition's spills merged into one run, the combiner folding each key."""
        scratch = os.path.dirname(self._path) or "."

        def merge(p: int, out: BinaryIO) -> tuple[int, int]:
            with MergedGroups([s.segment(p) for s in self._spills], scratch) as merged:
                entries = (self._combiner.merged(merged.entries())
                           if self._combiner is not None else merged.entries())
                return write_segment(out, entries, merged.kind)

        return self._write_segments(
            self._path, (partial(merge, p) for p in range(self._partitions)))


def batch_pairs(result: Mapping | Iterable[tuple[Any, Any]] | None) -> Iterable:
    """A batch map's result as pairs: a mapping gives its items, None nothing."""
    if result is None:
        return ()
    return result.items() if isinstance(result, Mapping) else result


def _outputs(map_fn: Callable, batch: list) -> Iterator:
    """``map_fn`` applied to each record; a map that returns None contributes nothing."""
    return filter(_not_none, starmap(map_fn, batch))


def _sort_key_of_first(pair: tuple) -> tuple:
    return sort_key(pair[0])


def _sorted_wrapped(keys: list) -> list:
    """Keys, some wrapped because unhashable, in minimr's order of the user's keys."""
    return sorted(keys, key=lambda k: sort_key(unwrap(k)))
