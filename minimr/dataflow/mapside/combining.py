"""A step's combiner on the map side, run as Hadoop runs one: on every key with more than one
value, when the buffer spills and when spills are merged.

``Combiner`` is Beam's ``CombineFn`` for a per-key streaming combine, taken a batch of keys at a
time so that a fold can run in C: ``combine`` is create + add every input + extract for each
key, and since a combiner's outputs are inputs again, merging accumulators (the values of a
key from several spills) is ``combine`` of them together (``merged``). Two implementations:

``FoldCombiner``  a declared fold (``minimr.fold(sum)``): each key's values folded in C, one
                  output value a key; runs (one value counted ``n`` times) folded without
                  the lists (``Fold.runs``), straight to columns (``single_runs``).
``CallCombiner``  the user's ``combine(key, values)`` generator, called once a key as written;
                  what it yields is checked (``mistakes``).

The key a combiner receives is the key the map task writes: the least of the task's equal keys
(``exact``). Both count every value that went into a combine pass and every value that came
out, a key of one value (which the combiner is not called for) as one in and one out: with
one spill, combine input records equal map output records, and combine output records the
records spilled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, compress, groupby, repeat
from operator import gt, itemgetter
from typing import Any

from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.folds import Fold
from minimr.dataflow.mistakes import check_pairs, check_results

__all__ = ["CallCombiner", "Combiner", "FoldCombiner", "make_combiner", "several"]

_first = itemgetter(0)
_second = itemgetter(1)
_MERGE_CHUNK = 4096  # keys combined at a time when spills are merged


def several(sizes: list[int]) -> list[int]:
    """The positions of the sizes over 1: the keys with more than one value."""
    return list(compress(range(len(sizes)), map(gt, sizes, repeat(1))))


class Combiner(ABC):
    """How a step combines each key's values before the shuffle (see the module docstring)."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    @abstractmethod
    def combine(self, keys: list, lists: list[list]) -> list[list]:
        """The output values of each key, from its values ``lists[i]`` (two or more)."""

    def runs(self, keys: list, values: list, sizes: list[int]) -> list[list]:
        """The output values of each key, from its run: ``values[i]`` counted ``sizes[i]``
        times. A key of one value is left as it is, as Hadoop leaves it."""
        lists = list(map(list, zip(values)))
        for i in several(sizes):
            lists[i] = lists[i] * sizes[i]
        return self.lists(keys, lists)

    def single_runs(self, values: list, sizes: list[int]) -> list | None:
        """Each key's one output value from its run, when this combiner gives one value a key
        with no Python code per key (a declared fold: columns to write); else None, and
        ``runs`` combines."""
        return None

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

    def merged(self, entries: Iterable[tuple[Any, list]]) -> Iterator[tuple[Any, list]]:
        """Sorted entries of several spills, each key's values across them combined.

        The merge gives the first entry of a key the key to write (``exact``), which is the
        key the combiner receives; keys are combined ``_MERGE_CHUNK`` at a time.
        """
        keys: list = []
        lists: list[list] = []
        for key, group in groupby(entries, key=_first):
            keys.append(key)
            lists.append(list(chain.from_iterable(map(_second, group))))
            if len(keys) >= _MERGE_CHUNK:
                yield from zip(keys, self.lists(keys, lists), strict=True)
                keys, lists = [], []
        if keys:
            yield from zip(keys, self.lists(keys, lists), strict=True)

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

    def single_runs(self, values: list, sizes: list[int]) -> list:
        """Every key's run folded in C (``Fold.runs``): its one output value. A key of one
        value is folded too (no Python code picks it out), as a combiner may be run on any
        key; every key is one value out, as ``lists`` counts."""
        self._count(sum(sizes), len(sizes))
        return self.fold.runs(values, sizes)


class CallCombiner(Combiner):
    """The user's ``combine(key, values)`` generator, called once a key as written."""

    def __init__(self, combine: Callable, counters: Counters) -> None:
        super().__init__(counters)
        self.fn = combine

    def combine(self, keys: list, lists: list[list]) -> list[list]:
        results = list(map(self.fn, keys, map(iter, lists)))
        check_results([r for r in results if r is not None], self.fn)
        produced = [[] if r is None else list(r) for r in results]  # a None yields nothing
        check_pairs(list(chain.from_iterable(produced)), self.fn)
        return [list(map(_second, pairs)) for pairs in produced]


def make_combiner(combine: Callable | None, counters: Counters) -> Combiner | None:
    """The combiner of a step's ``combine`` (a ``Fold``, a generator function, or None)."""
    if combine is None:
        return None
    if type(combine) is Fold:
        return FoldCombiner(combine, counters)
    return CallCombiner(combine, counters)
