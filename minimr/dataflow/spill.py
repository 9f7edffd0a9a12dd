"""The map side's output buffer: group, combine, sort and spill, in bounded memory.

Map output goes into a dict ``key -> [values]`` (grouping costs one dict look-up per pair and
makes the later sort a sort of *distinct* keys). When the estimated size passes the sort buffer,
the combiner (if any) folds each key's values; if the buffer is still more than half full, it
is written to disk as a sorted run (a spill). ``finish`` writes the task's output file: every
partition as one sorted segment, spills merged in (with the combiner applied across them).

Output file layout: for each partition in order, one segment (see ``merge``); the byte ranges
are returned as a ``MapOutput`` and also saved beside the file as JSON (``.index``), so a
restarted worker can serve it again.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.merge import KIND_ANY, MergedGroups, Segment, key_kind, write_segment
from minimr.dataflow.partition import key_bytes, sort_key, sort_keys

# Rough CPython costs, used to estimate the buffer's memory without walking it.
_KEY_OVERHEAD = 150  # dict slot + list object + over-allocation, beyond the key itself
_VALUE_SLOT = 8  # one pointer in a values list
_PCACHE_MAX = 1 << 20
_FIRST_CHECK = 2000


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
        partitioner: key -> partition number.
        partitions: the number of reduce partitions.
        combine: the step's combiner ``(key, values) -> iterable of (key, value)``, or None.
        limit: the sort buffer size in bytes.
        path: the output file to write; spills go beside it.
        counters: where spill and combine counters go.
    """

    def __init__(
        self,
        partitioner: Callable[[Any], int],
        partitions: int,
        combine: Callable | None,
        limit: int,
        path: str,
        counters: Counters,
    ) -> None:
        self.groups: dict[Any, list] = {}
        self._partitioner = partitioner
        self._partitions = partitions
        self._combine = combine
        self._limit = limit
        self._path = path
        self._counters = counters
        self._pcache: dict[Any, int] = {}
        self._spills: list[MapOutput] = []
        self._last_estimate = 0
        self._carried = 0  # values in the buffer that a combine produced, not the map
        self.map_output_records = 0

    # -- filling ------------------------------------------------------------------------------
    def consume(self, records: Iterable[tuple[Any, Any]], map_fn: Callable) -> int:
        """Run ``map_fn`` over ``records`` into the buffer; the per-pair hot path of every map.

        Returns the number of input records. The memory check runs every so many records, more
        often as the buffer nears its limit.
        """
        groups = self.groups
        get = groups.get
        n = 0
        next_check = _FIRST_CHECK
        for rkey, rvalue in records:
            n += 1
            out = map_fn(rkey, rvalue)
            if out is not None:
                for key, value in out:
                    try:
                        values = get(key)
                    except TypeError:
                        key = _Unhashable(key)
                        values = get(key)
                    if values is None:
                        groups[key] = [value]
                    else:
                        values.append(value)
            if n >= next_check:
                next_check = n + self._check_interval()
                if self.check():
                    groups = self.groups
                    get = groups.get
        return n

    def add_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Add ``(key, value)`` pairs that do not come from a per-record map (e.g. a batch map)."""
        self.consume(((None, pairs),), _identity_map)

    def _check_interval(self) -> int:
        """Records until the next memory check: sparse while far from the limit."""
        fill = self._last_estimate / self._limit if self._limit else 1.0
        if fill < 0.25:
            return 20000
        if fill < 0.6:
            return 5000
        return 500

    def estimate(self) -> int:
        """Estimated bytes held: values slots plus per-key overhead, from a small sample."""
        groups = self.groups
        if not groups:
            return 0
        n_values = sum(map(len, groups.values()))
        sample = list(zip(range(16), groups.items(), strict=False))
        key_size = sum(sys.getsizeof(k) for _, (k, _v) in sample) / len(sample)
        value_size = sum(_value_size(v[0]) for _, (_k, v) in sample) / len(sample)
        return int(len(groups) * (_KEY_OVERHEAD + key_size) + n_values * (_VALUE_SLOT + value_size))

    def _account(self) -> None:
        """Count the map's fresh output records since the last combine or spill."""
        total = sum(map(len, self.groups.values()))
        self.map_output_records += total - self._carried
        self._carried = total

    def check(self) -> bool:
        """Combine, then spill, when the buffer is past its limit; True when ``groups`` changed."""
        self._last_estimate = self.estimate()
        if self._last_estimate < self._limit:
            return False
        self._account()
        if self._combine is not None:
            self._combine_in_place()
            self._last_estimate = self.estimate()
            if self._last_estimate < self._limit // 2:
                return False
        self._spills.append(self._write(self._path + f".spill{len(self._spills)}"))
        self.groups = {}
        self._last_estimate = self._carried = 0
        return True

    # -- combining and writing -----------------------------------------------------------------
    def _combine_in_place(self) -> None:
        """Fold every key's values with the combiner (keys with one value are left alone).

        The combiner must yield the key it was given, as in Hadoop; its values replace the
        key's values, so the dict is updated in place without growing.
        """
        combine = self._combine
        groups = self.groups
        seen = produced = 0
        for key, values in groups.items():
            if len(values) > 1:
                seen += len(values)
                folded = [value for _, value in combine(unwrap(key), iter(values))]
                produced += len(folded)
                groups[key] = folded
        self._counters.increment(C.BUILTIN, C.COMBINE_INPUT_RECORDS, seen)
        self._counters.increment(C.BUILTIN, C.COMBINE_OUTPUT_RECORDS, produced)
        self._carried += produced - seen

    def _partition_keys(self) -> list[list]:
        """The buffer's keys, by partition."""
        if self._partitions == 1:
            return [list(self.groups)]
        by_partition: list[list] = [[] for _ in range(self._partitions)]
        pcache = self._pcache
        if len(pcache) > _PCACHE_MAX:
            pcache.clear()
        partitioner = self._partitioner
        for key in self.groups:
            p = pcache.get(key)
            if p is None:
                p = pcache[key] = partitioner(unwrap(key))
            by_partition[p].append(key)
        return by_partition

    def _write(self, path: str) -> MapOutput:
        """Write the buffer as sorted segments, one per partition."""
        groups = self.groups
        ranges = []
        values_written = 0
        with open(path, "wb") as out:
            offset = 0
            for keys in self._partition_keys():
                if any(type(k) is _Unhashable for k in keys):
                    ordered = sorted(keys, key=lambda k: sort_key(unwrap(k)))
                    entries = ((unwrap(k), groups[k]) for k in ordered)
                    kind = KIND_ANY
                else:
                    ordered = sort_keys(keys)
                    entries = ((k, groups[k]) for k in ordered)
                    kind = key_kind(ordered)
                length, n = write_segment(out, entries, kind)
                ranges.append((offset, length))
                offset += length
                values_written += n
        self._counters.increment(C.BUILTIN, C.SPILLED_RECORDS, values_written)
        return MapOutput(path, ranges)

    def finish(self) -> MapOutput:
        """Write the task's output file and remove the spills; returns where it is."""
        self._account()
        if self._combine is not None and self.groups:
            self._combine_in_place()
        if not self._spills:
            output = self._write(self._path)
        else:
            if self.groups:
                self._spills.append(self._write(self._path + f".spill{len(self._spills)}"))
                self.groups = {}
            output = self._merge_spills()
            for spill in self._spills:
                os.unlink(spill.path)
            self._spills = []
        with open(self._path + ".index", "w") as index:
            json.dump(output.to_dict(), index)
        return output

    def _merge_spills(self) -> MapOutput:
        scratch = os.path.dirname(self._path) or "."
        ranges = []
        with open(self._path, "wb") as out:
            offset = 0
            for p in range(self._partitions):
                segments = [s.segment(p) for s in self._spills]
                with MergedGroups(segments, scratch) as merged:
                    entries = _combined_entries(merged, self._combine, self._counters)
                    length, n = write_segment(out, entries, merged.kind)
                ranges.append((offset, length))
                offset += length
                self._counters.increment(C.BUILTIN, C.SPILLED_RECORDS, n)
        return MapOutput(self._path, ranges)


def _identity_map(_key: Any, pairs: Iterable) -> Iterable:
    return pairs


def _value_size(value: Any) -> int:
    if type(value) is int and -5 <= value <= 256:
        return 0  # a cached small int: only the slot counts
    return sys.getsizeof(value)


def _combined_entries(merged: MergedGroups, combine: Callable | None, counters: Counters):
    """Entries of a spill merge, with the combiner folding each key's values across spills."""
    if combine is None:
        return merged.entries()
    return _combine_groups(merged, combine, counters)


def _combine_groups(merged: MergedGroups, combine: Callable, counters: Counters):
    seen = produced = 0
    for key, group in groupby(merged.entries(), key=itemgetter(0)):
        values = list(chain.from_iterable(v for _, v in group))
        seen += len(values)
        out = [value for _, value in combine(key, iter(values))] if len(values) > 1 else values
        produced += len(out)
        yield key, out
    counters.increment(C.BUILTIN, C.COMBINE_INPUT_RECORDS, seen)
    counters.increment(C.BUILTIN, C.COMBINE_OUTPUT_RECORDS, produced)
