"""The map side's output buffer: count, combine, sort and spill, in bounded memory.

Fast path: map output pairs are counted, not stored one by one. A batch of records runs as
``Counter`` counting over ``chain(starmap(map_fn, batch))``, all C code but the user's own
``map``, so a word count's ``(word, 1)`` pairs become ``{("whale", 1): 1234}``. Per-key value
lists are only built when the buffer is written out, per *distinct* pair. When a pair turns out
not to be hashable (a list key or value), the task must restart on the per-pair path
(``NeedsPerPairPath``), which keeps ``key -> [values]`` and wraps unhashable keys.

Single-value path: when every pair of the first batch had one value (a word count's 1s), the
keys alone are counted (a dict of str keys costs a cache miss less per look-up than one of
pair tuples: a 64 MB word count map task 6.6 -> 5.7 s); a later pair with another value
restarts the task on pair counting (``RestartTask``).

List path: with no combiner, when there is nothing to count (a batch map, unhashable pairs, or
a first batch whose pairs were nearly all distinct, as in a sort or a join), the pairs are kept
in a plain list and sorted, stably and in C, when written.

Writing does its per-key work with C calls over whole lists (partition numbers, the sort, the
``[value] * times`` lists); Python runs per key only to call the combiner.

When the estimated size passes the sort buffer, the buffer is written to disk as a sorted run
(a spill), combined first when the step has a combiner. ``finish`` writes the task's output
file: every partition as one sorted segment, the spills merged in, the combiner applied across
them (Hadoop's model).

Output file layout: for each partition in order, one segment (see ``merge``); the byte ranges
are returned as a ``MapOutput`` and also saved beside the file as JSON (``.index``), so a
restarted worker can serve it again.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, groupby, islice, repeat, starmap, tee
from operator import gt, is_not, itemgetter
from typing import Any

try:  # the C helper behind Counter.update(iterable)
    from _collections import _count_elements
except ImportError:  # pragma: no cover - other Pythons: the pure-Python version
    from collections import _count_elements  # type: ignore[attr-defined,no-redef]

from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.merge import (
    KIND_ANY,
    MergedGroups,
    Segment,
    key_kind,
    write_segment,
)
from minimr.dataflow.partition import key_bytes, natively_sortable, sort_key, sort_keys
from minimr.errors import JobDefinitionError

_first = itemgetter(0)
_second = itemgetter(1)
_not_none = partial(is_not, None)
_PAIR_TYPES = {tuple, list}
_PAIR_OVERHEAD = 64  # list path: the pair tuple and its list slot

# Rough CPython costs, used to estimate the buffer's memory without walking it.
_ENTRY_OVERHEAD = 160  # a dict slot, the pair tuple or values list, the count
_VALUE_SLOT = 8  # one pointer in a values list (per-pair path)
_FIRST_BATCH = 256  # records in a map task's first batch
_MAX_BATCH = 50_000  # records in a batch at most
_BATCH_PAIRS = 200_000  # map output pairs to aim at per batch (less with a small buffer)
# A key with this few identical values is written as they are: combining them would cost a
# Python call per key (the rare keys of a Zipf vocabulary) and save the reducer almost nothing.
_COMBINE_MIN = 4


class RestartTask(Exception):
    """The buffer's path cannot hold this map's output: rerun the task with ``options``.

    ``options`` are keyword arguments for a new ``MapOutputBuffer``; a task restarts at most
    twice (single value -> pair counting -> per-pair path), each time on a more general path.
    """

    options: dict = {"fast": True, "single_value": False}


class NeedsPerPairPath(RestartTask):
    """A map output pair could not be hashed: rerun the task with ``fast=False``."""

    options = {"fast": False}


class _Unhashable:
    """Wraps an unhashable key (a list, a dict) so it can live in the grouping dict."""

    __slots__ = ("key", "_hash")

    def __init__(self, key: Any) -> None:
        self.key = key
        self._hash = hash(key_bytes(key))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unhashable) and self.key == other.key


def unwrap(key: Any) -> Any:
    """The user's key, whether or not it was wrapped for hashing."""
    return key.key if type(key) is _Unhashable else key


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
        fast: count pairs in C (see the module docstring); False for the per-pair path.
        single_value: on the fast path, count keys alone when the first batch's pairs all
            had one value (see ``_after_first_batch``).
    """

    def __init__(self, partitioner: Callable[[Any], int], partitions: int,
                 combine: Callable | None, limit: int, path: str, counters: Counters,
                 fast: bool = True, single_value: bool = True) -> None:
        self._partitioner = partitioner
        self._partitions = partitions
        self._combine = combine
        self._limit = limit
        self._path = path
        self._counters = counters
        self._fast = fast
        # No combiner and nothing to count (a batch map, unhashable pairs, or pairs that are
        # mostly distinct, as in a sort): keep the pairs in a list, sorted when written.
        self._listing = combine is None and not fast
        self._pairs: list = []  # list path: the pairs, in map order
        self._counted: Counter = Counter()  # fast path: (key, value) -> times
        self._single_ok = single_value
        self._single: tuple | None = None  # (value,) when every pair so far had that value
        self._keyed: Counter = Counter()  # ... and then key -> times
        self._groups: dict[Any, list] = {}  # per-pair path: key -> values
        self._values = 0  # values held in _groups
        self._wrapped = False  # some key in _groups is wrapped (_Unhashable)
        self._spills: list[MapOutput] = []
        self._batch_pairs = max(64, min(_BATCH_PAIRS, limit // (4 * _ENTRY_OVERHEAD)))
        self.map_output_records = 0

    # -- filling ------------------------------------------------------------------------------
    def consume(self, records: Iterable[tuple[Any, Any]], map_fn: Callable) -> int:
        """Run ``map_fn`` over ``records`` into the buffer; the hot path of every map task.

        Returns:
            The number of input records.

        Raises:
            NeedsPerPairPath: on the fast path, when a pair cannot be hashed.
        """
        records = iter(records)
        n = 0
        size = _FIRST_BATCH
        while True:
            batch = list(islice(records, size))
            if not batch:
                return n
            before = self._held()
            self._add(chain.from_iterable(_outputs(map_fn, batch)))
            pairs = self._held() - before
            if not n and self._fast:
                self._after_first_batch()
            n += len(batch)
            # Aim at about _batch_pairs pairs a batch, whatever one record yields.
            size = max(1, min(_MAX_BATCH, len(batch) * self._batch_pairs // max(pairs, 1)))
            if self.estimate() >= self._limit:
                self._spill()

    def add_all(self, result: Mapping | Iterable[tuple[Any, Any]] | None) -> None:
        """Add a batch map's result: a mapping (its items are the pairs), pairs, or None."""
        if isinstance(result, Mapping) and not (self._fast or self._listing):
            self._append(result.items())  # pairs by construction: no check needed
        else:
            self._add(batch_pairs(result))
        if self.estimate() >= self._limit:
            self._spill()

    def _after_first_batch(self) -> None:
        """Choose the path for the rest of the task from what the first batch gave.

        Without a combiner, when nearly every pair was distinct, counting saves nothing (a
        sort, a join): the list path. When every pair had one value (a word count's 1s),
        keys alone are counted: a dict of str keys is ~20% faster to count into than one of
        pair tuples (a cache miss less a look-up). A later pair with another value restarts
        the task on plain pair counting (``RestartTask``).
        """
        counted = self._counted
        if not counted:
            return
        _check_pairs(counted)
        produced = sum(counted.values())
        if self._combine is None and len(counted) * 10 > produced * 9:
            self._pairs = list(chain.from_iterable(starmap(repeat, counted.items())))
            self._counted = Counter()
            self._fast = False
            self._listing = True
        elif (self._single_ok and len(set(map(_second, counted))) == 1
              and len(set(map(type, map(_second, counted)))) == 1):
            value = next(iter(counted))[1]
            self._single = (value,)
            self._is_single = {value: True}.__getitem__  # KeyError for any other value
            self._keyed = Counter(dict(zip(map(_first, counted), counted.values(), strict=True)))
            self._counted = Counter()

    def _add(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        if self._listing:
            self._pairs.extend(pairs)
            return
        if self._single is not None:
            # Two views of one stream of pairs, taken in step (so tee holds one pair): the
            # keys are counted, and compress asks each value if it is the single value.
            keys, values = tee(pairs)
            try:
                _count_elements(self._keyed, compress(map(_first, keys),
                                                      map(self._is_single, map(_second, values))))
            except KeyError:  # another value (or the map's own KeyError: pair counting tells)
                raise RestartTask from None
            except TypeError:
                raise NeedsPerPairPath from None
            return
        if self._fast:
            try:
                _count_elements(self._counted, pairs)
            except TypeError:
                raise NeedsPerPairPath from None
            return
        pairs = pairs if type(pairs) is list else list(pairs)
        _check_pairs(pairs)
        self._append(pairs)

    def _append(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Append each value to its key's list, wrapping unhashable keys.

        One pass, one dict look-up a pair: with a large dict, memory stalls cost more than
        the Python loop, so chains of C calls that walk the dict twice are slower.
        """
        groups = self._groups
        get = groups.get
        added = 0
        for key, value in pairs:
            added += 1
            try:
                values = get(key)
            except TypeError:
                key = _Unhashable(key)
                values = get(key)
                self._wrapped = True
            if values is None:
                groups[key] = [value]
            else:
                values.append(value)
        self._values += added

    def _held(self) -> int:
        """Distinct pairs (fast path) or values (per-pair path) in the buffer."""
        if self._listing:
            return len(self._pairs)
        if self._single is not None:
            return len(self._keyed)
        return len(self._counted) if self._fast else self._values

    def estimate(self) -> int:
        """Estimated bytes held, from the entry count and a small sample of keys and values."""
        if self._listing:
            if not self._pairs:
                return 0
            sample = self._pairs[:: max(1, len(self._pairs) // 16)]
            _check_pairs(sample)
            item = sum(sys.getsizeof(k) + _value_size(v) for k, v in sample) / len(sample)
            return int(len(self._pairs) * (_PAIR_OVERHEAD + item))
        if self._single is not None:
            if not self._keyed:
                return 0
            sample = list(islice(self._keyed, 16))
            item = sum(map(sys.getsizeof, sample)) / len(sample) + _value_size(self._single[0])
            return int(len(self._keyed) * (_ENTRY_OVERHEAD + item))
        if self._fast:
            if not self._counted:
                return 0
            sample = list(islice(self._counted, 16))
            _check_pairs(sample)  # a map yielding words, not pairs, fails here, early
            item = sum(sys.getsizeof(k) + _value_size(v) for k, v in sample) / len(sample)
            return int(len(self._counted) * (_ENTRY_OVERHEAD + item))
        if not self._groups:
            return 0
        sample = list(islice(self._groups.items(), 16))
        key_size = sum(sys.getsizeof(k) for k, _ in sample) / len(sample)
        value_size = sum(_value_size(v[0]) for _, v in sample) / len(sample)
        return int(len(self._groups) * (_ENTRY_OVERHEAD + key_size)
                   + self._values * (_VALUE_SLOT + value_size))

    # -- writing -------------------------------------------------------------------------------
    def _take(self) -> tuple[dict[Any, Any], bool]:
        """Empty the buffer into ``key -> values source`` and count the map's output records.

        Returns the sources and whether they are all ``(value, times)`` runs. A values source
        is, on the per-pair path, the list of values; on the fast path, a ``(value, times)``
        run for a key with one distinct value (the common case), else a list of such runs.
        """
        if not self._fast:
            groups, self._groups = self._groups, {}
            self.map_output_records += self._values
            self._values = 0
            return groups, False
        if self._single is not None:
            keyed, self._keyed = self._keyed, Counter()
            self.map_output_records += sum(keyed.values())
            runs = zip(repeat(self._single[0]), keyed.values(), strict=False)  # repeat never ends
            return dict(zip(keyed, runs, strict=True)), True
        counted, self._counted = self._counted, Counter()
        _check_pairs(counted)
        self.map_output_records += sum(counted.values())
        runs = dict(zip(map(_first, counted),
                        zip(map(_second, counted), counted.values(), strict=True), strict=True))
        if len(runs) == len(counted):  # no key has two distinct values: done in C
            return runs, True
        runs = {}
        get = runs.get
        for pair, times in counted.items():
            key = pair[0]
            found = get(key)
            if found is None:
                runs[key] = (pair[1], times)
            elif type(found) is tuple:
                runs[key] = [found, (pair[1], times)]
            else:
                found.append((pair[1], times))
        return runs, False

    def _entries(self, keys: list, sources: dict, all_runs: bool) -> Iterable[tuple[Any, list]]:
        """Sorted keys' ``(key, values list)`` entries, combined when there is a combiner.

        Built with C calls over whole lists; Python runs per key only to call the combiner,
        and only for keys with more than ``_COMBINE_MIN`` values (combining fewer would cost a
        call per rare key of a Zipf vocabulary and save the reducer almost nothing).
        """
        found = list(map(sources.__getitem__, keys))
        combine = self._combine
        if all_runs:  # (value, times) each: [value] * times, unless combined below
            values = list(map(_first, found))
            times = list(map(_second, found))
            lists = list(map(list, zip(values)))  # [value]: most keys of a Zipf vocabulary
            cap = _COMBINE_MIN if combine is not None else sys.maxsize
            for i in compress(range(len(keys)), map(gt, times, repeat(1))):
                if times[i] <= cap:  # a key over the cap is combined below
                    lists[i] = lists[i] * times[i]
        elif self._fast:  # some keys have several distinct values
            lists = [[s[0]] * s[1] if type(s) is tuple
                     else list(chain.from_iterable(starmap(repeat, s))) for s in found]
        else:
            lists = found
            if self._wrapped:
                keys = list(map(unwrap, keys))
        if combine is None:
            return zip(keys, lists, strict=True)
        seen = produced = 0
        sizes = times if all_runs else list(map(len, lists))
        for i in compress(range(len(keys)), map(gt, sizes, repeat(_COMBINE_MIN))):
            source = repeat(values[i], times[i]) if all_runs else iter(lists[i])
            lists[i] = list(map(_second, combine(keys[i], source)))
            seen += sizes[i]
            produced += len(lists[i])
        self._counters.increment(C.BUILTIN, C.COMBINE_INPUT_RECORDS, seen)
        self._counters.increment(C.BUILTIN, C.COMBINE_OUTPUT_RECORDS, produced)
        return zip(keys, lists, strict=True)

    def _partition_keys(self, keys: Iterable) -> list[list]:
        """Keys by partition, each partition's keys sorted in minimr's order."""
        keys = list(keys)
        if self._wrapped:
            if self._partitions == 1:
                return [_sorted(keys)]
            by_partition: list[list] = [[] for _ in range(self._partitions)]
            for key in keys:
                by_partition[self._partitioner(unwrap(key))].append(key)
            return [_sorted(part) for part in by_partition]
        keys = sort_keys(keys)
        return [part for part, in self._cut(keys)]

    def _cut(self, keys: list, *columns: list) -> Iterator[tuple[list, ...]]:
        """Sorted ``keys`` (and lists parallel to them) cut into one slice per partition.

        A stable sort by partition number keeps each partition's keys in order; with a range
        partitioner the numbers already ascend and the sort only checks that.
        """
        if self._partitions == 1:
            yield (keys, *columns)
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

    def _write(self, path: str) -> MapOutput:
        """Write (and empty) the buffer as one sorted segment per partition."""
        if self._listing:
            return self._write_segments(path, self._listed_parts())
        sources, all_runs = self._take()
        parts = ((keys, KIND_ANY if self._wrapped else key_kind(keys),
                  self._entries(keys, sources, all_runs))
                 for keys in self._partition_keys(sources))
        output = self._write_segments(path, parts)
        self._wrapped = False
        return output

    def _listed_parts(self) -> Iterator[tuple[list, bytes, Iterable]]:
        """The list path's partitions: its pairs sorted (stably) by key, one entry a pair."""
        pairs, self._pairs = self._pairs, []
        _check_pairs(pairs)
        self.map_output_records += len(pairs)
        pairs.sort(key=_first if natively_sortable(map(_first, pairs)) else _sort_key_of_first)
        keys = list(map(_first, pairs))
        values = list(map(_second, pairs))
        del pairs
        for part_keys, part_values in self._cut(keys, values):
            entries = zip(part_keys, map(list, zip(part_values)), strict=True)
            yield part_keys, key_kind(part_keys), entries

    def _write_segments(self, path: str, parts: Iterable[tuple[list, bytes, Iterable]]
                        ) -> MapOutput:
        """Write each partition's ``(keys, kind, entries)`` as one segment of a new file."""
        ranges = []
        values_written = 0
        with open(path, "wb") as out:
            offset = 0
            for _, kind, entries in parts:
                length, n = write_segment(out, entries, kind)
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
            if self._held():
                self._spill()
            output = self._merge_spills()
            for spill in self._spills:
                os.unlink(spill.path)
            self._spills = []
        with open(self._path + ".index", "w") as index:
            json.dump(output.to_dict(), index)
        return output

    def discard(self) -> None:
        """Drop everything buffered or spilled (the task restarts)."""
        for spill in self._spills:
            if os.path.exists(spill.path):
                os.unlink(spill.path)
        self._spills = []
        self._counted = Counter()
        self._keyed = Counter()
        self._groups = {}
        self._pairs = []
        self._values = 0
        self._wrapped = False

    def _merge_spills(self) -> MapOutput:
        scratch = os.path.dirname(self._path) or "."
        ranges = []
        with open(self._path, "wb") as out:
            offset = 0
            for p in range(self._partitions):
                segments = [s.segment(p) for s in self._spills]
                with MergedGroups(segments, scratch) as merged:
                    entries = (_combine_merged(merged, self._combine, self._counters)
                               if self._combine is not None else merged.entries())
                    length, n = write_segment(out, entries, merged.kind)
                ranges.append((offset, length))
                offset += length
                self._counters.increment(C.BUILTIN, C.SPILLED_RECORDS, n)
        return MapOutput(self._path, ranges)


def batch_pairs(result: Mapping | Iterable[tuple[Any, Any]] | None) -> Iterable:
    """A batch map's result as pairs: a mapping gives its items, None nothing."""
    if result is None:
        return ()
    return result.items() if isinstance(result, Mapping) else result


def _outputs(map_fn: Callable, batch: list) -> Iterator:
    """``map_fn`` applied to each record; a map that returns None contributes nothing."""
    return filter(_not_none, starmap(map_fn, batch))


def _check_pairs(pairs: Collection) -> None:
    """Fail clearly unless every item is a ``(key, value)`` pair (a tuple or list of two).

    Raises:
        JobDefinitionError: naming the first item that is not a pair.
    """
    try:
        if set(map(type, pairs)) <= _PAIR_TYPES and set(map(len, pairs)) <= {2}:
            return  # the common case, checked at C speed
    except TypeError:  # an item without a length
        pass
    for item in pairs:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise JobDefinitionError(
                f"map output must be (key, value) pairs (got {item!r:.80} that is a "
                f"{type(item).__name__}); yield a pair such as (word, 1)")


def _sort_key_of_first(pair: tuple) -> tuple:
    return sort_key(pair[0])


def _sorted(keys: list) -> list:
    if keys and type(keys[0]) is _Unhashable or any(type(k) is _Unhashable for k in keys):
        return sorted(keys, key=lambda k: sort_key(unwrap(k)))
    return sort_keys(keys)


def _value_size(value: Any) -> int:
    if type(value) is int and -5 <= value <= 256:
        return 0  # a cached small int: only the slot counts
    return sys.getsizeof(value)


def _combine_merged(merged: MergedGroups, combine: Callable, counters: Counters):
    """Entries of a spill merge, the combiner folding each key's values across spills."""
    seen = produced = 0
    for key, group in groupby(merged.entries(), key=itemgetter(0)):
        values = list(chain.from_iterable(v for _, v in group))
        seen += len(values)
        out = [value for _, value in combine(key, iter(values))] if len(values) > 1 else values
        produced += len(out)
        yield key, out
    counters.increment(C.BUILTIN, C.COMBINE_INPUT_RECORDS, seen)
    counters.increment(C.BUILTIN, C.COMBINE_OUTPUT_RECORDS, produced)
