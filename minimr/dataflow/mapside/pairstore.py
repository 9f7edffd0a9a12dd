"""Where a map task's output pairs wait until the buffer writes them: four stores, one per shape.

``KeyCounts``   keys counted in C, each standing for the pair ``(key, value)`` of one value:
                a ``map_keys``' words (the value 1), or a map whose pairs all had one value
``PairCounts``  identical ``(key, value)`` pairs counted in C: ``{("whale", 1): 1234}``
``Groups``      ``key -> [values]`` in map order: any key (unhashable ones wrapped), any value
``PairList``    the pairs as they came, for output with nothing to count (nearly all pairs
                distinct, with no combiner: a sort, a join; or nearly all keys distinct
                exact str, with one: an average's user ids)

A dict merges what compares equal, so the counting stores take keys and values of exact types
only (``exact``: str, bytes, int, bool, None, never int and bool together); the buffer checks
the types of each batch (C calls) and, when a batch does not fit, converts the store in place
into a more general one, its counts carried over: ``KeyCounts`` -> ``PairCounts`` -> ``Groups``.
Nothing runs the map again, and no exception steers the choice. ``Groups`` keeps every value
object as it came and, of a key's equal keys, the least (``exact.key_choice``): the key written.

``take()`` empties a counting or grouping store into ``Taken``: per key either a
``(value, times)`` run or a list of values.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, islice, repeat, starmap
from operator import itemgetter
from typing import Any

try:  # the C helper behind Counter.update(iterable)
    from _collections import _count_elements
except ImportError:  # pragma: no cover - other Pythons: the pure-Python version
    from collections import _count_elements  # type: ignore[attr-defined,no-redef]

from minimr.dataflow.exact import CANONICAL, exact, key_choice
from minimr.dataflow.mapside.pairscan import (
    KeyCounter,
    counted_runs,
    group_counted,
    group_pairs,
)
from minimr.dataflow.partition import key_bytes

_first = itemgetter(0)
_second = itemgetter(1)

# Rough CPython costs, used to estimate a store's memory without walking it.
ENTRY_OVERHEAD = 160  # a dict slot, the pair tuple or values list, the count
_VALUE_SLOT = 8  # one pointer in a values list
PAIR_OVERHEAD = 64  # a pair tuple and its list slot


@dataclass
class Taken:
    """A store's contents, emptied for writing."""

    # key -> (value, times) when ``runs``, else key -> list of values; with ``one_value``,
    # key -> times: a ``KeyCounter``'s taken counts (a mapping with ``counts_of``)
    sources: dict
    runs: bool
    wrapped: bool  # some keys are ``_Unhashable`` (Groups only)
    records: int  # the map output records they stand for
    # ``(value,)`` when every run is of that one value: ``sources`` is then key -> times
    one_value: tuple | None = None

    def runs_of(self, keys: list) -> tuple[list, list[int]]:
        """The runs of ``keys`` (a store of runs): their values and their times, in order."""
        if self.one_value is not None:
            return [*self.one_value] * len(keys), self.sources.counts_of(keys)
        found = list(map(self.sources.__getitem__, keys))
        return list(map(_first, found)), list(map(_second, found))


class KeyCounts:
    """Keys counted in C (``pairscan.KeyCounter``), each standing for the pair
    ``(key, value)`` of one ``value`` of an exact type: the int 1 of a ``map_keys``, or the
    one value of a map's every pair."""

    def __init__(self, value: Any = 1) -> None:
        self.value = value
        self.keyed = KeyCounter()
        self.key_types: set[type] = set()

    def __len__(self) -> int:
        return len(self.keyed)

    def holds(self, value: Any) -> bool:
        """Whether ``value`` (of a canonical type) is this store's one value."""
        return type(value) is type(self.value) and value == self.value

    def fits(self, key_types: set[type]) -> bool:
        """Whether keys of ``key_types`` may be counted here too (equal keys are one key)."""
        return key_types <= self.key_types or exact(self.key_types | key_types)

    def add_keys(self, keys: list, key_types: set[type]) -> None:
        """Count ``keys`` (that ``fits(key_types)``)."""
        self.key_types |= key_types
        self.keyed.count_keys(keys)

    def add_pair_keys(self, pairs: list, key_types: set[type]) -> None:
        """Count the keys of ``pairs`` (exact tuples of two whose value is this store's, with
        keys that ``fits(key_types)``)."""
        self.key_types |= key_types
        self.keyed.count_pairs(pairs)

    def items(self) -> Iterable[tuple[tuple[Any, Any], int]]:
        """``((key, value), times)`` for every key: the pairs counted, as ``PairCounts`` has
        them."""
        keyed = self.keyed.counts()
        return zip(zip(keyed, repeat(self.value)), keyed.values(), strict=False)

    def estimate(self) -> int:
        if not self.keyed:
            return 0
        sample = [(key, self.value) for key in self.keyed.first(16)]
        return int(len(self.keyed) * (ENTRY_OVERHEAD + _mean_size(sample)))

    def take(self) -> Taken:
        keyed, records = self.keyed.take()
        return Taken(keyed, True, False, records, (self.value,))


class PairCounts:
    """Identical ``(key, value)`` pairs counted in C, keys and values of exact types."""

    def __init__(self, counted: Counter | None = None, key_types: Iterable[type] = (),
                 value_types: Iterable[type] = ()) -> None:
        self.counted: Counter = counted if counted is not None else Counter()
        self.key_types = set(key_types)
        self.value_types = set(value_types)

    @classmethod
    def from_keys(cls, keys: KeyCounts) -> PairCounts:
        """``keys``' counts as pair counts, ``(key, 1)`` each (the store converted)."""
        counted = Counter(dict(keys.items()))
        return cls(counted, keys.key_types, {type(keys.value)} if keys.keyed else ())

    def __len__(self) -> int:
        return len(self.counted)

    def fits(self, key_types: set[type], value_types: set[type]) -> bool:
        """Whether pairs of these key and value types may be counted here too."""
        return exact(self.key_types | key_types) and exact(self.value_types | value_types)

    def add(self, pairs: list, key_types: set[type], value_types: set[type]) -> None:
        """Count ``pairs`` (exact tuples, that ``fits`` the types)."""
        self.key_types |= key_types
        self.value_types |= value_types
        _count_elements(self.counted, pairs)

    def items(self) -> Iterable[tuple[tuple[Any, Any], int]]:
        """``((key, value), times)`` for every pair counted."""
        return self.counted.items()

    def estimate(self) -> int:
        if not self.counted:
            return 0
        sample = list(islice(self.counted, 16))
        return int(len(self.counted) * (ENTRY_OVERHEAD + _mean_size(sample)))

    def produced(self) -> int:
        """The pairs counted so far."""
        return sum(self.counted.values())

    def take(self) -> Taken:
        counted, self.counted = self.counted, Counter()
        records = sum(counted.values())
        runs = counted_runs(counted)
        if runs is not None:  # no key has two distinct values
            return Taken(runs, True, False, records)
        # some key has several values: lists for every key
        return Taken(group_counted(counted), False, False, records)


class Groups:
    """``key -> [values]`` in map order; unhashable keys are wrapped (``_Unhashable``).

    Each group is ``[key to write, values]``: of equal keys, the least by ``key_choice``.
    """

    def __init__(self) -> None:
        self.groups: dict[Any, list] = {}
        self.values = 0
        self.wrapped = False

    @classmethod
    def from_counts(cls, store: KeyCounts | PairCounts) -> Groups:
        """A counting store's pairs as groups (the store converted: counts carry over)."""
        groups = cls()
        for (key, value), times in store.items():  # exact keys: the first seen is the one to write
            entry = groups.groups.get(key)
            if entry is None:
                groups.groups[key] = [key, [value] * times]
            else:
                entry[1].extend(repeat(value, times))
            groups.values += times
        return groups

    def __len__(self) -> int:
        return self.values

    def append(self, pairs: Iterable) -> None:
        """Append each value to its key's list (``pairs`` checked to be pairs).

        One pass, one dict look-up a pair: with a large dict, memory stalls cost more than
        the Python loop, so chains of C calls that walk the dict twice are slower. Pairs of
        canonical keys are appended by a compiled loop (``pairscan.group_pairs``), the
        others one at a time here.
        """
        if type(pairs) is not list:
            pairs = list(pairs)
        groups = self.groups
        at = 0
        while (at := group_pairs(groups, pairs, at)) < len(pairs):
            self._append_one(pairs[at])  # a key of another type, or to choose between
            at += 1
        self.values += len(pairs)

    def _append_one(self, pair: Any) -> None:
        """Append one pair's value: any key, wrapped when unhashable."""
        key, value = pair
        groups = self.groups
        try:
            entry = groups.get(key)
        except TypeError:  # hash() refused the key: a list, a dict, a tuple holding one
            key = _Unhashable(key)
            entry = groups.get(key)
            self.wrapped = True
        if entry is None:
            groups[key] = [key, [value]]
            return
        entry[1].append(value)
        chosen = entry[0]
        if chosen is not key and (type(chosen) is not type(key) or type(key) not in CANONICAL):
            _choose(entry, key)

    def estimate(self) -> int:
        if not self.groups:
            return 0
        sample = list(islice(self.groups.values(), 16))
        key_size = sum(sys.getsizeof(k) for k, _ in sample) / len(sample)
        value_size_ = sum(value_size(v[0]) for _, v in sample) / len(sample)
        return int(len(self.groups) * (ENTRY_OVERHEAD + key_size)
                   + self.values * (_VALUE_SLOT + value_size_))

    def take(self) -> Taken:
        taken = Taken(dict(map(tuple, self.groups.values())), False, self.wrapped, self.values)
        self.groups, self.values, self.wrapped = {}, 0, False
        return taken


class PairList:
    """The pairs in map order; sorted when written."""

    def __init__(self, pairs: list | None = None) -> None:
        self.pairs: list = pairs or []

    @classmethod
    def from_counts(cls, store: KeyCounts | PairCounts) -> PairList:
        """The counted pairs, each repeated as often as it was counted (the store converted)."""
        return cls(list(chain.from_iterable(starmap(repeat, store.items()))))

    def __len__(self) -> int:
        return len(self.pairs)

    def add(self, pairs: list) -> None:
        self.pairs.extend(pairs)

    def estimate(self) -> int:
        if not self.pairs:
            return 0
        sample = self.pairs[:: max(1, len(self.pairs) // 16)]
        return int(len(self.pairs) * (PAIR_OVERHEAD + _mean_size(sample)))

    def take(self) -> list:
        """The pairs, and an empty store."""
        pairs, self.pairs = self.pairs, []
        return pairs


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


def _choose(entry: list, key: Any) -> None:
    """Make ``key`` the group's key to write if it comes before the one there."""
    if key_choice(unwrap(key)) < key_choice(unwrap(entry[0])):
        entry[0] = key


def _mean_size(pairs: list) -> float:
    """The mean bytes of a sample of pairs' keys and values."""
    return sum(sys.getsizeof(k) + value_size(v) for k, v in pairs) / len(pairs)


def value_size(value: Any) -> int:
    """Bytes a value adds to a store: nothing for a cached small int, else its size."""
    if type(value) is int and -5 <= value <= 256:
        return 0  # a cached small int: only the slot counts
    return sys.getsizeof(value)
