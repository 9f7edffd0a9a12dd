"""Cutting merged, sorted entries into key groups a batch at a time, with C calls only.

The reduce side's merge hands on ``(key, values)`` entries in lists (batches); entries of one
key are adjacent, and a key's entries may run on across several batches (a hot key fills many).
``group_batches`` turns them into chunks ``(keys, values)``: each key once, with its values as
an iterator. Within a batch the group boundaries are found with C calls over the whole list
(``map(ne, ...)``, ``compress``, slices), so no Python code runs per key or per entry; a
key that runs on into the next batch gets a lazy iterator that reads on through the batches as
the reducer takes its values, so a key with ten million values is never a list in memory.

Contract (``itertools.groupby``'s): take a key's values before the next chunk is asked for;
a chunk asked for ends the values of the chunk before, and values left unread are skipped.

A merge in memory of blocks that are all columns (a word count's combined counts) is sorted as
two columns, keys and values, one value a pair; ``group_columns`` cuts them the same way, each
key's values an iterator over its slice of the values column: no entry, one-value tuple or
chain per key is made (a reduce partition of a 256 MiB word count: 0.42 -> 0.27 s CPU).

The identity reduce needs no groups, only every value under its key: it merges ``(key, value)``
pairs (``SegmentReader(pairs=True)``), and ``pair_columns`` cuts them into ``(keys, values)``
column lists, counting the groups the same way (a key differing from the one before it
starts one). For str or bytes keys, the compiled ``_colmerge`` does both at once, where built.

A secondary sort's composite segments of one signature (a join's) are merged and grouped by
the compiled ``_colmerge.ColumnGroups`` where built: each key once with a list of its values,
a batch at a time; ``group_lists`` turns those into chunks, a key running on past a batch
read on lazily as in ``group_batches``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain, compress, islice, repeat
from operator import is_, itemgetter, ne, sub
from typing import Any

_first = itemgetter(0)
_second = itemgetter(1)


def _starts(keys: list) -> list[int]:
    """Where a group starts in ``keys``: at 0, and where a key differs from the one before."""
    return [0, *compress(range(1, len(keys)), map(ne, islice(keys, 1, None), keys))]


def group_starts(keys: list) -> list[int]:
    """Where a group starts in ``keys`` as ``itertools.groupby`` cuts them: at 0, and where
    a key differs from the one before and is not the same object (one key object twice, an
    entry's values, is one group even for a key not equal to itself, a NaN)."""
    starts = _starts(keys)
    if len(starts) > 1 and any(map(is_, islice(keys, 1, None), keys)):
        starts = [i for i in starts if not i or keys[i] is not keys[i - 1]]
    return starts


def pair_columns(batches: Iterable[list], size: int) -> Iterator[tuple[list, list, int]]:
    """The merged ``(key, value)`` pair ``batches`` (one pair a value) as column lists of at
    most ``size`` pairs, in order: ``(keys, values, groups)``, ``groups`` being the number of
    key groups that start in those pairs.

    All the values of a group are written under one key object, its first pair's, as a loop
    over the groups would write them (pickled records then refer back to it, not repeat it).
    """
    previous: list = []  # the last key handed on, if any (a list: no key can be taken for it)
    for batch in batches:
        for at in range(0, len(batch), size):
            pairs = batch[at : at + size]
            keys = list(map(_first, pairs))
            n = len(keys)
            starts = group_starts(keys)
            groups = len(starts)
            if previous and (keys[0] is previous[0] or not keys[0] != previous[0]):  # runs on
                keys[0] = previous[0]
                groups -= 1
            if groups < n:  # keys repeat: each group's key object for all of its pairs
                sizes = map(sub, [*islice(starts, 1, None), n], starts)
                keys = list(chain.from_iterable(map(repeat, map(keys.__getitem__, starts), sizes)))
            previous = keys[-1:]
            yield keys, list(map(_second, pairs)), groups


def group_columns(keys: list, values: list) -> Iterator[tuple[list, list]]:
    """The chunk ``(keys, values iterators)`` of sorted key and value columns, one value a
    pair (a merge in memory of column blocks): each key once, its values an iterator over
    their slice of ``values``."""
    n = len(keys)
    if not n:
        return
    starts = _starts(keys)
    ends = [*islice(starts, 1, None), n]
    yield (list(map(keys.__getitem__, starts)),
           list(map(iter, map(values.__getitem__, map(slice, starts, ends)))))


def group_batches(batches: Iterable[list]) -> Iterator[tuple[list, list]]:
    """Chunks ``(keys, values iterators)`` of the merged entry ``batches``, each key once."""
    return _Grouper(batches).chunks()


class _Grouper:
    """The state shared by the chunks and a running-on key's lazy values: a batch read ahead."""

    def __init__(self, batches: Iterable[list]) -> None:
        self._batches = iter(batches)
        self._ahead: list | None = None

    def _take(self) -> list | None:
        """The next non-empty batch (the one read ahead first), or None at the end."""
        batch, self._ahead = self._ahead, None
        if batch is None:
            batch = next(self._batches, None)
        while batch is not None and not batch:
            batch = next(self._batches, None)
        return batch

    def chunks(self) -> Iterator[tuple[list, list]]:
        batch = self._take()
        while batch is not None:
            keys = list(map(_first, batch))
            values = list(map(_second, batch))
            n = len(keys)
            # a group starts where a key differs from the one before it
            starts = _starts(keys)
            if len(starts) == n:  # one entry a key (a sort's records): no slicing
                group_keys, group_values = keys, list(map(iter, values))
            else:
                ends = [*islice(starts, 1, None), n]
                group_keys = list(map(keys.__getitem__, starts))
                group_values = list(map(chain.from_iterable,
                                        map(values.__getitem__, map(slice, starts, ends))))
            self._ahead = self._take()
            if self._ahead is None or self._ahead[0][0] != group_keys[-1]:
                yield group_keys, group_values
                batch = self._take()
                continue
            # the last key runs on into the next batch: its values read on lazily
            last = group_values[-1] = chain(
                group_values[-1], chain.from_iterable(self._running_on(group_keys[-1])))
            yield group_keys, group_values
            deque(last, 0)  # values the reducer left unread
            batch = self._take()

    def _running_on(self, key: Any) -> Iterator[Any]:
        """The values lists of ``key``'s entries at the head of the following batches."""
        while (batch := self._take()) is not None:
            keys = list(map(_first, batch))
            cut = next(compress(range(len(keys)), map(ne, keys, repeat(key))), len(keys))
            yield from map(_second, batch[:cut])
            if cut < len(batch):
                self._ahead = batch[cut:]
                return


def group_lists(batches: Iterable[tuple[list, list, bool]]) -> Iterator[tuple[list, list]]:
    """Chunks ``(keys, values iterators)`` of the merged key groups ``batches`` (``(keys,
    values lists, runs_on)``, ``_colmerge.ColumnGroups``), each key once: a batch's last key
    that ``runs_on`` has its values in the next batch's first list (and maybe further)."""
    return _ListGrouper(batches).chunks()


class _ListGrouper:
    """The state shared by the chunks and a running-on key's lazy values: what is left of a
    batch whose first list ended a running-on key."""

    def __init__(self, batches: Iterable[tuple[list, list, bool]]) -> None:
        self._batches = iter(batches)
        self._ahead: tuple[list, list, bool] | None = None

    def chunks(self) -> Iterator[tuple[list, list]]:
        while True:
            batch, self._ahead = self._ahead, None
            if batch is None and (batch := next(self._batches, None)) is None:
                return
            keys, lists, runs_on = batch
            values = list(map(iter, lists))
            if not runs_on:
                yield keys, values
                continue
            last = values[-1] = chain(values[-1], chain.from_iterable(self._running_on()))
            yield keys, values
            deque(last, 0)  # values the reducer left unread

    def _running_on(self) -> Iterator[list]:
        """The values lists of the running-on key at the head of the following batches."""
        for keys, lists, runs_on in self._batches:
            yield lists[0]
            if len(keys) > 1:
                self._ahead = keys[1:], lists[1:], runs_on
                return
            if not runs_on:
                return
