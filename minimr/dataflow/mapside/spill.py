"""The map side's output buffer: count, combine, sort and spill, in bounded memory.

Map output waits in one of the stores of ``pairstore``: keys counted (a ``map_keys``), pairs
counted, grouped per key, or listed; the buffer picks the store from the first batch and
converts it in place when a batch does not fit it exactly (by the types of its keys and
values, checked with C calls a batch at a time). ``feed`` runs the user's map into it.

Writing does its per-key work with C calls over whole lists (the keys cut into partitions and
sorted, ``partsort``; the ``[value] * times`` lists; listed pairs sorted into columns,
``listed``); Python runs per key only to call a combiner written as a generator
(``combining``), never for a declared fold.

When the estimated size passes the sort buffer, the buffer is written to disk as a sorted run
(a spill), combined first when the step has a combiner. ``finish`` writes the task's output
file: every partition as one segment, the spills merged in, the combiner applied across them
(Hadoop's model); with no combiner and at most ``MAX_RUNS`` spills, each partition's spilled
runs are copied side by side instead, for the reducer's merge to take as they are (merged
after all when a secondary sort's runs are of a composite kind and another). Of equal
keys, the first entry of a key in every run carries the one to write (``exact``).

A step with ``sort_values`` writes every run as composite entries, each key's values sorted
(``sortvalues``), and combines only when the buffer spills.

Output file layout: for each partition in order, one segment (see ``segments``); the byte
ranges are returned as a ``segments.MapOutput`` and also saved beside the file as JSON
(``.index``), so a restarted worker can serve it again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import repeat
from operator import countOf, is_, itemgetter
from typing import Any, BinaryIO

from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.exact import CANONICAL, exact
from minimr.dataflow.format.segments import (
    KIND_ANY,
    MAX_RUNS,
    MapOutput,
    concatenable,
    concatenate_segments,
    key_kind,
    write_key_lists,
    write_segment,
    write_single_values,
)
from minimr.dataflow.mapside import listed
from minimr.dataflow.mapside.combining import Combiner, keyed, several
from minimr.dataflow.mapside.pairscan import one_value_key_types
from minimr.dataflow.mapside.pairstore import (
    ENTRY_OVERHEAD,
    Groups,
    KeyCounts,
    PairCounts,
    PairList,
    Taken,
    unwrap,
)
from minimr.dataflow.mapside.partsort import PartitionSorter
from minimr.dataflow.partition import natively_sortable
from minimr.dataflow.reduceside.merge import MergedEntries
from minimr.dataflow.sortvalues import composite_entries

__all__ = ["MapOutputBuffer"]

_first = itemgetter(0)
_second = itemgetter(1)
_TUPLE = {tuple}
_STR = {str}
# Map outputs a batch brings at most: small enough for the batch's list (and the words in it)
# to stay in the CPU's cache while they are counted, and a fraction of a small sort buffer.
BATCH_PAIRS = 2048


class MapOutputBuffer:
    """Collects one map task's output and writes its partitioned, sorted output file.

    The first ``add_*`` call picks the store (``pairstore``): keys counted for ``add_keys``,
    pairs counted for ``add_pairs`` (a list instead when the first batch's pairs were nearly
    all distinct: with no combiner, or with one when their keys were exact str,
    ``_listable``), groups for ``add_mapping``. A batch the store cannot hold exactly (by the
    types of its keys and values) converts it in place to a more general one.

    Args:
        partitioner: key -> partition number, with ``partition_many(keys)`` for a list.
        partitions: the number of reduce partitions.
        combiner: the step's combiner (``combining.make_combiner``), or None.
        limit: the sort buffer size in bytes.
        path: the output file to write; spills go beside it.
        counters: where spill and combine counters go.
        sort_values: write each key's values sorted, as composite entries (``sortvalues``);
            the combiner then runs when the buffer spills, not when spills merge.
    """

    def __init__(self, partitioner: Callable[[Any], int], partitions: int,
                 combiner: Combiner | None, limit: int, path: str, counters: Counters,
                 sort_values: bool = False) -> None:
        self._partitions = partitions
        self._sorter = PartitionSorter(partitioner, partitions)
        self._combiner = combiner
        self._sort_values = sort_values
        self._limit = limit
        self._path = path
        self._counters = counters
        self._store: KeyCounts | PairCounts | Groups | PairList | None = None
        self._spills: list[MapOutput] = []
        self._check_at = 0  # the store's length at which its size is estimated again
        self.map_output_records = 0
        #: map outputs to aim at per batch added (``feed``)
        self.batch_pairs = max(64, min(BATCH_PAIRS, limit // (4 * ENTRY_OVERHEAD)))

    # -- filling ------------------------------------------------------------------------------
    def add_keys(self, keys: list) -> None:
        """Add keys that each stand for the pair ``(key, 1)`` (a ``map_keys``' output)."""
        if self._store is None:
            self._store = KeyCounts()
        key_types = _types(keys)
        if type(self._store) is KeyCounts and self._store.fits(key_types):
            self._store.add_keys(keys, key_types)
            self._spill_if_full()
        elif keys:
            self.add_pairs(list(zip(keys, repeat(1))), _TUPLE)

    def add_if_one_value(self, pairs: list) -> bool:
        """Count ``pairs`` in one pass (``pairscan``) when they are a word count's: exact tuples
        of two whose values are all one object of a canonical type, with keys the key-counting
        store holds exactly. Otherwise False, nothing added: ``add_pairs`` takes them, checked."""
        store = self._store
        if not pairs or (store is not None and type(store) is not KeyCounts):
            return False
        first = pairs[0]
        if type(first) is not tuple or len(first) != 2 or type(first[1]) not in CANONICAL:
            return False
        one = first[1]
        key_types = one_value_key_types(pairs, one)
        if key_types is None or not self._into_key_counts(
                one, key_types, pairs, lambda store: store.add_pair_keys(pairs, key_types)):
            return False
        self._spill_if_full()
        return True

    def add_pairs(self, pairs: list, pair_types: set[type]) -> None:
        """Add ``(key, value)`` pairs, checked (``mistakes.check_pairs`` gave ``pair_types``)."""
        if not pairs:
            return
        store = self._store
        if type(store) is not Groups and type(store) is not PairList:
            if self._counted(pairs, pair_types):
                self._spill_if_full()
                return
            store = self._store = self._general(self._store, pairs)
            self._check_at = 0
        if type(store) is PairList:
            store.add(pairs)
        else:
            store.append(pairs)
        self._spill_if_full()

    def _counted(self, pairs: list, pair_types: set[type]) -> bool:
        """Count ``pairs`` when a counting store holds them exactly (exact tuples, keys and
        values of exact types); else False. Pairs all of one value have their keys counted
        alone (``KeyCounts``); any other pairs convert such a store to ``PairCounts``."""
        if pair_types != _TUPLE:  # a dict of pairs holds exact tuples alone
            return False
        keys = list(map(_first, pairs))
        key_types = _types(keys)

        def count_keys(store: KeyCounts) -> None:
            store.add_keys(keys, key_types)

        one = pairs[0][1]
        # one value object in every pair (a `yield word, 1`), of a canonical type: one pass
        if (type(one) in CANONICAL
                and countOf(map(is_, map(_second, pairs), repeat(one)), True) == len(pairs)
                and self._into_key_counts(one, key_types, pairs, count_keys)):
            return True
        values = list(map(_second, pairs))
        value_types = _types(values)
        if (exact(value_types) and len(value_types) == 1
                and values.count(values[0]) == len(values)
                and self._into_key_counts(values[0], key_types, pairs, count_keys)):
            return True
        store = self._store
        fresh = store is None
        if fresh:
            store = PairCounts()
        elif type(store) is KeyCounts:
            store = self._store = PairCounts.from_keys(store)
            self._check_at = 0
        if not store.fits(key_types, value_types):
            return False
        self._store = store
        store.add(pairs, key_types, value_types)
        self._uncounted_if_distinct(fresh, pairs)
        return True

    def _into_key_counts(self, one: Any, key_types: set[type], pairs: list,
                         count: Callable[[KeyCounts], None]) -> bool:
        """Have ``count`` add a batch of ``pairs`` to the key-counting store (a new one when
        there is none yet) if it holds the value ``one`` and keys of ``key_types`` exactly;
        else False, nothing added."""
        store = self._store
        fresh = store is None
        if fresh:
            store = KeyCounts(one)
        if type(store) is not KeyCounts or not (store.holds(one) and store.fits(key_types)):
            return False
        self._store = store
        count(store)
        self._uncounted_if_distinct(fresh, pairs)
        return True

    def _uncounted_if_distinct(self, fresh: bool, pairs: list) -> None:
        """After a first batch of nearly all distinct pairs, counting saves nothing: with no
        combiner (a sort, a join) a list does; with one, pairs of several values a key (a
        sum by field's ``(user, ms)``) are grouped by key, one dict look-up a pair instead of
        a count a pair and a regrouping when written, and pairs of nearly all distinct str
        keys are listed too (``_listable``). Keys counted alone stay counted.

        When every pair of the batch was distinct, the list is the batch's, in order, as the
        counts would unroll to (copied: a ``map_batch`` may reuse the list it returned):
        the 166,633 distinct words of a 16 MiB index's ``map_final``, 0.17 -> 0.05 s."""
        added = len(pairs)
        if not fresh or len(self._store) * 10 <= added * 9:
            return
        store = self._store
        if self._combiner is None or (type(store) is PairCounts and self._listable(
                store.key_types, list(map(_first, store.counted)), added)):
            self._store = PairList(pairs[:]) if len(store) == added else PairList.from_counts(
                store)
        elif type(store) is PairCounts:
            self._store = Groups.from_counts(store)
        self._check_at = 0

    def _general(self, store: KeyCounts | PairCounts | None, pairs: list) -> Groups | PairList:
        """A general store, holding what ``store`` counted (converted in place: the counts
        carry over): the pairs listed with no combiner, grouped by key with one, unless a
        first batch, ``pairs``, is ``_listable``."""
        if store is None:
            if self._combiner is None:
                return PairList()
            keys = list(map(_first, pairs))
            return PairList() if self._listable(_types(keys), keys, len(pairs)) else Groups()
        if self._combiner is None:
            return PairList.from_counts(store)
        return Groups.from_counts(store)

    def _listable(self, key_types: set[type], keys: list, added: int) -> bool:
        """Whether a combiner's first batch of ``added`` pairs, of ``keys`` (distinct or
        not), is kept as a list: keys of exact type str, nearly all distinct (an average's
        user ids: 1.1 pairs a key in a 13 MB task). Sorted into columns in C when written
        (``listed.combined_parts``), they cost less than a dict of a list a key; equal str
        keys are one value, so no key is to be chosen among equal ones."""
        return (not self._sort_values and key_types == _STR
                and len(set(keys)) * 10 > added * 9)

    def add_mapping(self, mapping: Mapping) -> None:
        """Add a mapping's items as pairs (a batch map's ``Counter``)."""
        if self._store is None:
            self._store = Groups()
        if type(self._store) is Groups:
            self._store.append(mapping.items())  # pairs by construction: no check needed
            self._spill_if_full()
        else:
            self.add_pairs(list(mapping.items()), _TUPLE)

    def _spill_if_full(self) -> None:
        """Spill when the store's estimated size reaches the sort buffer. The estimate samples
        the store, so it is made again only once the store has filled half the room the last
        one left (a store's size grows with its entries)."""
        entries = len(self._store)
        if entries < self._check_at:
            return
        size = self._store.estimate()
        if size >= self._limit:
            self._spill()
            self._check_at = 0
        else:
            room = (self._limit - size) * entries // max(size, 1)
            self._check_at = entries + max(64, room // 2)

    # -- writing -------------------------------------------------------------------------------
    def _write(self, path: str) -> MapOutput:
        """Write (and empty) the buffer as one sorted segment per partition."""
        if self._store is None:  # no map output at all: empty segments
            self._store = PairList()
        store = self._store
        if type(store) is PairList:
            pairs = store.take()
            if self._combiner is None:
                parts = listed.listed_parts(pairs, self._sorter, self._sort_values)
            else:
                parts = listed.combined_parts(pairs, self._sorter, self._combiner)
            if parts is not None:
                self.map_output_records += len(pairs)
                if self._combiner is not None:  # the next batch picks again: its keys may
                    self._store = None          # repeat (a dict of lists holds them in less)
                return self._write_segments(path, parts)
            # a combiner's keys the column sort does not take: grouped, from now on too
            store = self._store = Groups()
            store.append(pairs)
            del pairs
        taken = store.take()
        self.map_output_records += taken.records
        keys = list(taken.sources)
        native = not taken.wrapped and natively_sortable(keys)  # checked once, for all parts
        parts = (self._part(part, taken, key_kind(part, native))
                 for part in self._sorter.partition_keys(keys, taken.wrapped, native))
        return self._write_segments(path, parts)

    def _part(self, keys: list, taken: Taken, kind: bytes) -> Callable[[BinaryIO], tuple[int, int]]:
        """The writer of one partition: its sorted keys' values, combined when there is a
        combiner; as columns when the combiner left one value a key (``Combined.single``);
        as composite entries, each key's values sorted, with ``sort_values``."""
        if self._sort_values:
            return partial(write_segment, entries=composite_entries(self._entries(keys, taken)),
                           kind=KIND_ANY)
        if self._combiner is not None and taken.runs:
            combined = self._combiner.runs(keys, *taken.runs_of(keys))
            if combined.single is not None:
                return partial(write_single_values, keys=keys, values=combined.single, kind=kind)
            return partial(write_segment, entries=keyed(keys, combined.lists), kind=kind)
        if self._combiner is not None:  # one value a key, as combiners mostly leave them:
            return partial(write_key_lists, chunks=[self._combined(keys, taken)], kind=kind)
        return partial(write_segment, entries=self._entries(keys, taken), kind=kind)

    def _entries(self, keys: list, taken: Taken) -> Iterable[tuple[Any, list]]:
        """Sorted keys' ``(key, values list)`` entries, combined when there is a combiner.

        Built with C calls over whole lists; Python runs per key only in a combiner that is
        called (not a declared fold's), for every key with more than one value, as Hadoop
        does. That leaves most outputs (a word count's) one value a key, which ``segments``
        stores as columns: cheaper to write, and half the reduce's CPU (a 16 MiB word count
        task: 1.27 s either way; the reduce of 16 of them, 1.0 -> 0.55 s per partition,
        against combining only keys of more than four values).
        """
        if taken.runs:  # (value, times) each: [value] * times, unless combined
            values, sizes = taken.runs_of(keys)
            if self._combiner is not None:
                return keyed(keys, self._combiner.runs(keys, values, sizes).value_lists())
            lists = list(map(list, zip(values)))  # [value]: most keys of a Zipf vocabulary
            for i in several(sizes):
                lists[i] = lists[i] * sizes[i]
            return zip(keys, lists, strict=True)
        if self._combiner is not None:
            return keyed(*self._combined(keys, taken))
        lists = list(map(taken.sources.__getitem__, keys))
        if taken.wrapped:
            keys = list(map(unwrap, keys))
        return zip(keys, lists, strict=True)

    def _combined(self, keys: list, taken: Taken) -> tuple[list, list[list]]:
        """Sorted keys of a grouping store (no runs) and their values lists, combined:
        columns, for ``write_key_lists`` to write as columns when each key has one value."""
        lists = list(map(taken.sources.__getitem__, keys))
        if taken.wrapped:
            keys = list(map(unwrap, keys))
        return keys, self._combiner.lists(keys, lists)

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
            if self._store is not None and len(self._store):
                self._spill()
            if (self._combiner is None or self._sort_values) and len(self._spills) <= MAX_RUNS:
                output = self._concatenate_spills()
            else:
                output = self._merge_spills()
            for spill in self._spills:
                os.unlink(spill.path)
            self._spills = []
        with open(self._path + ".index", "w") as index:
            json.dump(output.to_dict(), index)
        return output

    def _concatenate_spills(self) -> MapOutput:
        """Each partition's spilled runs side by side: nothing to combine, so the reducer's
        merge takes them as they are (a merge here would read and write every record).
        A partition whose spills a secondary sort wrote of a composite kind and another
        (``segments.concatenable``) is merged instead."""
        def copy_runs(p: int, out: BinaryIO) -> tuple[int, int]:
            segments = [s.segment(p) for s in self._spills]
            if not concatenable(segments):
                return self._merge_partition(p, out)
            return concatenate_segments(out, segments), 0

        return self._write_segments(
            self._path, (partial(copy_runs, p) for p in range(self._partitions)))

    def _merge_spills(self) -> MapOutput:
        """Each partition's spills merged into one run, the combiner folding each key (not
        with ``sort_values``: a combiner's output would need sorting again)."""
        return self._write_segments(
            self._path, (partial(self._merge_partition, p) for p in range(self._partitions)))

    def _merge_partition(self, p: int, out: BinaryIO) -> tuple[int, int]:
        """Write partition ``p`` of the spills merged into one run (``_merge_spills``)."""
        scratch = os.path.dirname(self._path) or "."
        combiner = None if self._sort_values else self._combiner
        with MergedEntries([s.segment(p) for s in self._spills], scratch,
                           sort_values=self._sort_values) as merged:
            if combiner is not None:
                return write_key_lists(out, combiner.merged(merged.batches()), merged.kind)
            return merged.write(out)


def _types(items: list) -> set[type]:
    """The types of ``items``: counted against the first one's, the common case (a word
    count's str keys), in a third fewer steps than ``set(map(type, items))``."""
    if not items:
        return set()
    first = type(items[0])
    if countOf(map(type, items), first) == len(items):
        return {first}
    return set(map(type, items))

