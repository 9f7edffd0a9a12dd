"""A step's combiner on the map side, run as Hadoop runs one: on every key with more than one
value, when the buffer spills and when spills are merged.

``Combiner`` is Beam's ``CombineFn`` for a per-key streaming combine, taken a batch of keys at a
time so that a fold can run in C: ``combine`` is create + add every input + extract for each
key, and since a combiner's outputs are inputs again, merging accumulators (the values of a
key from several spills) is ``combine`` of them together (``merged``). Two implementations:

``FoldCombiner``  a declared fold (``minimr.fold(sum)``): each key's values folded in C, one
                  output value a key; runs (one value counted ``n`` times) folded without
                  the lists (``Fold.runs``), straight to a column (``Combined.single``).
``CallCombiner``  the user's ``combine(key, values)`` generator, called once a key as written;
                  what it yields is checked (``mistakes``). A run reaches it as
                  ``repeat(value, n)``, no list made; when every key yields one pair (a sum
                  does), the values are a column too.

The key a combiner receives is the key the map task writes: the least of the task's equal keys
(``exact``). Both count every value that went into a combine pass and every value that came
out, a key of one value (which the combiner is not called for) as one in and one out: with
one spill, combine input records equal map output records, and combine output records the
records spilled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, compress, count, islice, repeat
from operator import add, countOf, gt, is_, is_not, itemgetter, sub
from typing import Any

from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.folds import Fold
from minimr.dataflow.mapside.keysort import gather
from minimr.dataflow.mistakes import check_pairs, check_results, values_as_a_list
from minimr.dataflow.reduceside.grouping import group_starts

__all__ = ["CallCombiner", "Combined", "Combiner", "FoldCombiner", "keyed", "make_combiner",
           "several"]

_first = itemgetter(0)
_second = itemgetter(1)
_MERGE_CHUNK = 4096  # keys combined at a time when spills are merged
# Combiner calls made before their generators are drained: few enough for the generators to
# stay in the CPU's cache (130,000 made at once took 0.18 s to call and drain for a 16 MiB
# word count's keys, 0.12 s 1024 at a time, 0.12-0.13 s 64-256 at a time).
CALL_CHUNK = 1024
_END = object()  # follows each call's output in the chain of a chunk's calls: never a pair
_ENDS = (_END,)


def keyed(keys: list, lists: list[list]) -> Iterator[tuple[Any, list]]:
    """Each key with its combined values, a key its combiner yielded nothing for left out
    (as Hadoop leaves it: the reducer never sees it)."""
    return filter(_second, zip(keys, lists, strict=True))


def several(sizes: list[int]) -> list[int]:
    """The positions of the sizes over 1: the keys with more than one value."""
    return list(compress(range(len(sizes)), map(gt, sizes, repeat(1))))


@dataclass(frozen=True)
class Combined:
    """A batch of keys' combined values: one value a key, a column to write as it is
    (``single``), or a list of values a key (``lists``)."""

    single: list | None = None
    lists: list[list] | None = None

    def value_lists(self) -> list[list]:
        """A list of values a key, whichever form the values came in."""
        return self.lists if self.lists is not None else list(map(list, zip(self.single)))


class Combiner(ABC):
    """How a step combines each key's values before the shuffle (see the module docstring)."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    @abstractmethod
    def combine(self, keys: list, lists: list[list]) -> list[list]:
        """The output values of each key, from its values ``lists[i]`` (two or more)."""

    def runs(self, keys: list, values: list, sizes: list[int]) -> Combined:
        """The output values of each key, from its run: ``values[i]`` counted ``sizes[i]``
        times. A key of one value is left as it is, as Hadoop leaves it."""
        lists = list(map(list, zip(values)))
        for i in several(sizes):
            lists[i] = lists[i] * sizes[i]
        return Combined(lists=self.lists(keys, lists))

    def lists(self, keys: list, lists: list[list]) -> list[list]:
        """``lists`` with each key of more than one value combined (the others as they are)."""
        sizes = list(map(len, lists))
        many = several(sizes)
        singles = len(sizes) - len(many)  # passed through the pass unchanged: in 1, out 1
        if not many:
            self._count(singles, singles)
            return lists
        combined = self.combine(list(map(keys.__getitem__, many)),
                                list(map(lists.__getitem__, many)))
        lists = list(lists)
        for i, out in zip(many, combined, strict=True):
            lists[i] = out
        self._count(sum(sizes), sum(map(len, combined)) + singles)
        return lists

    def sorted_runs(self, keys: list, values: list, firsts: list[bool] | None = None
                    ) -> tuple[list, Combined]:
        """Each key of sorted ``keys`` (equal keys adjacent and exact str, so any of them is
        the key to write) once, with its values combined: ``values[i]`` is key i's, one
        value each; ``firsts[i]`` is True where a run of equal keys starts (found here when
        not given). A key of one value is left as it is, as ``lists`` leaves it; the others'
        values are slices of ``values``, no list a key made.

        Returns ``(keys, Combined)``, the keys distinct."""
        if firsts is not None:
            starts = list(compress(range(len(keys)), firsts))
        else:
            starts = group_starts(keys) if keys else []
        if len(starts) == len(keys):  # every key once (a partition of no key too)
            self._count(len(keys), len(keys))
            return keys, Combined(single=values)
        ends = [*islice(starts, 1, None), len(keys)]
        many = several(list(map(sub, ends, starts)))
        distinct = gather(keys, starts)  # the keys lie scattered after the sort: prefetched
        combined = self.combine(list(map(distinct.__getitem__, many)), list(map(
            values.__getitem__, map(slice, map(starts.__getitem__, many),
                                    map(ends.__getitem__, many)))))
        self._count(len(keys), sum(map(len, combined)) + len(starts) - len(many))
        if countOf(map(len, combined), 1) == len(combined):  # one value a key: a column
            single = gather(values, starts)
            for i, out in zip(many, combined, strict=True):
                single[i] = out[0]
            return distinct, Combined(single=single)
        lists = list(map(list, zip(gather(values, starts))))
        for i, out in zip(many, combined, strict=True):
            lists[i] = out
        return distinct, Combined(lists=lists)

    def merged(self, batches: Iterable[list]) -> Iterator[tuple[list, list]]:
        """Sorted entries of several spills, given in lists (``batches``), each key's values
        across them combined: chunks ``(keys, values lists)`` for ``write_key_lists`` (a key
        the combiner yielded nothing for has an empty list).

        The merge gives the first entry of a key the key to write (``exact``), which is the
        key the combiner receives. Keys are cut into groups ``_MERGE_CHUNK`` entries at a
        time with C calls over the chunk (``_key_groups``), so Python runs per key only in
        the user's combine, for keys of more than one value.
        """
        return ((keys, self.lists(keys, lists)) for keys, lists in _key_groups(batches))

    def _count(self, seen: int, produced: int) -> None:
        self._counters.increment(C.BUILTIN, C.COMBINE_INPUT_RECORDS, seen)
        self._counters.increment(C.BUILTIN, C.COMBINE_OUTPUT_RECORDS, produced)


class FoldCombiner(Combiner):
    """A declared fold as the combiner: one value a key, folded in C."""

    def __init__(self, fold: Fold, counters: Counters) -> None:
        super().__init__(counters)
        self.fold = fold

    def combine(self, keys: list, lists: list[list]) -> list[list]:
        return list(map(list, zip(self.fold.each(lists))))

    def runs(self, keys: list, values: list, sizes: list[int]) -> Combined:
        """Every key's run folded in C (``Fold.runs``): its one output value. A key of one
        value is folded too (no Python code picks it out), as a combiner may be run on any
        key; every key is one value out, as ``lists`` counts."""
        self._count(sum(sizes), len(sizes))
        return Combined(single=self.fold.runs(values, sizes))


class CallCombiner(Combiner):
    """The user's ``combine(key, values)`` generator, called once a key as written.

    The calls and the draining of what they yield are C calls over a batch of keys (``map``,
    ``list``, one ``chain`` of every call's output, each followed by an end marker, with no
    list a key): Python runs per key only inside the user's function. A run (one
    value ``n`` times: a counting store's) reaches it as ``repeat(value, n)``, with no list
    of ``n`` made.
    """

    def __init__(self, combine: Callable, counters: Counters) -> None:
        super().__init__(counters)
        self.fn = combine

    def combine(self, keys: list, lists: list[list]) -> list[list]:
        pairs, ends = self._outputs(keys, map(iter, lists))
        return _value_lists(pairs, ends)

    def runs(self, keys: list, values: list, sizes: list[int]) -> Combined:
        """Each key's run combined: one value a key (``single``) when every call yielded
        one pair, as a sum does."""
        many = several(sizes)  # a key of one value is left as it is
        pairs: list = []
        ends: list[int] | None = None
        if many:
            pairs, ends = self._outputs(list(map(keys.__getitem__, many)),
                                        map(repeat, map(values.__getitem__, many),
                                            map(sizes.__getitem__, many)))
        self._count(sum(sizes), len(pairs) + len(keys) - len(many))
        if ends is None:
            single = list(values)
            for i, value in zip(many, map(_second, pairs), strict=True):
                single[i] = value
            return Combined(single=single)
        lists = list(map(list, zip(values)))
        for i, out in zip(many, _value_lists(pairs, ends), strict=True):
            lists[i] = out
        return Combined(lists=lists)

    def _outputs(self, keys: list, values: Iterator[Iterator]) -> tuple[list, list[int] | None]:
        """Every pair the combiner yields, in key order, and where each key's pairs end in
        them (None when every key yielded one pair: ``pairs[i]`` is key i's).

        The calls, and the draining of what they yield, are C calls over the batch of keys:
        Python runs per key only inside the user's function, and each key's output is
        taken before the next key's call, as a loop would. ``CALL_CHUNK`` calls are made
        (and checked) before their generators are drained, all in one chain, each followed
        by an end marker (``_END``), rather than a list a key: the markers' places give
        each key's pairs, and a chain of pair, marker, pair, marker... one pair a key.
        """
        pairs: list = []
        ends: list[int] | None = None
        for at in range(0, len(keys), CALL_CHUNK):
            chunk = keys[at : at + CALL_CHUNK]
            given = list(islice(values, len(chunk)))
            with values_as_a_list(self.fn, given):
                results = list(map(self.fn, chunk, given))
                if type(None) in set(map(type, results)):  # a None yields nothing
                    results = [() if r is None else r for r in results]
                check_results(results, self.fn)
                flat = list(chain.from_iterable(chain.from_iterable(
                    zip(results, repeat(_ENDS)))))
            del results
            n = len(chunk)
            if ends is None and len(flat) == 2 * n and countOf(
                    map(is_, islice(flat, 1, None, 2), repeat(_END)), True) == n:
                pairs += islice(flat, 0, None, 2)  # one pair a key, the usual
                continue
            if ends is None:  # the keys before all yielded one pair
                ends = list(range(1, len(pairs) + 1))
            # key j's pairs end where its marker is, less the j markers before it
            marks = compress(count(), map(is_, flat, repeat(_END)))
            ends += map(add, map(sub, marks, count()), repeat(len(pairs)))
            pairs += compress(flat, map(is_not, flat, repeat(_END)))
        check_pairs(pairs, self.fn)
        return pairs, ends


def _value_lists(pairs: list, ends: list[int] | None) -> list[list]:
    """The values of each key's pairs, a list a key (``_outputs``' pairs and ends)."""
    values = list(map(_second, pairs))
    if ends is None:
        return list(map(list, zip(values)))
    return list(map(values.__getitem__, map(slice, [0, *ends[:-1]], ends)))


def _key_groups(batches: Iterable[list]) -> Iterator[tuple[list, list[list]]]:
    """The sorted ``(key, values list)`` entry ``batches`` as chunks ``(keys, values lists)``,
    each key once with the values of all its entries, in order, as ``itertools.groupby``
    groups them: a key starts a group where it differs from the one before (``!=``) and is
    not the same object (one NaN object twice is one group). A chunk's last group is held
    back until a key after it is seen, as its entries may run on into the next batch."""
    held: list = []  # the entries of the last group seen, not handed on yet
    for batch in batches:
        for at in range(0, len(batch), _MERGE_CHUNK):
            entries = [*held, *batch[at : at + _MERGE_CHUNK]] if held else batch[
                at : at + _MERGE_CHUNK]
            keys = list(map(_first, entries))
            starts = group_starts(keys)
            held = entries[starts[-1]:]
            if len(starts) > 1:
                yield _grouped(keys, list(map(_second, entries)), starts[:-1], starts[-1])
    if held:
        yield _grouped(list(map(_first, held)), list(map(_second, held)), [0], len(held))


def _grouped(keys: list, lists: list, starts: list[int], end: int) -> tuple[list, list]:
    """The groups starting at ``starts`` (the last ending at ``end``): each its first
    entry's key and its entries' values (a list, or a one-value tuple for an entry of a
    block of columns, taken as it is)."""
    if len(starts) == end:  # one entry a key (keys seen in one spill only): no slicing
        return keys[:end], lists[:end]
    ends = [*islice(starts, 1, None), end]
    grouped = list(map(lists.__getitem__, starts))  # a group of one entry: its values
    for i in several(list(map(sub, ends, starts))):  # keys seen in several spills: chained
        grouped[i] = list(chain.from_iterable(lists[starts[i] : ends[i]]))
    return list(map(keys.__getitem__, starts)), grouped


def make_combiner(combine: Callable | None, counters: Counters) -> Combiner | None:
    """The combiner of a step's ``combine`` (a ``Fold``, a generator function, or None)."""
    if combine is None:
        return None
    if type(combine) is Fold:
        return FoldCombiner(combine, counters)
    return CallCombiner(combine, counters)
