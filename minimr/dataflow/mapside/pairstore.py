"""Where a map task's output pairs wait until the buffer writes them: four stores, one per shape.

``PairCounts``  identical pairs counted in C: ``{("whale", 1): 1234}`` (the fast path)
``KeyCounts``   keys alone counted, when every pair has had one value (a word count's 1s):
                a dict of str keys costs one cache miss less a look-up than one of pair tuples
``Groups``      ``key -> [values]``, unhashable keys wrapped: batch maps' results, and pairs
                that cannot be hashed
``PairList``    the pairs as they came, for output with nothing to count (no combiner and
                nearly all pairs distinct: a sort, a join)

Every store counts or appends in C where it can and says, by raising ``RestartTask``, when the
task must run again on a more general store. ``take()`` empties a counting or grouping store
into ``Taken``: per key either a ``(value, times)`` run or a list of values.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import chain, compress, islice, repeat, starmap, tee
from operator import itemgetter
from typing import Any

try:  # the C helper behind Counter.update(iterable)
    from _collections import _count_elements
except ImportError:  # pragma: no cover - other Pythons: the pure-Python version
    from collections import _count_elements  # type: ignore[attr-defined,no-redef]

from minimr.dataflow.partition import key_bytes
from minimr.errors import JobDefinitionError

_first = itemgetter(0)
_second = itemgetter(1)
_PAIR_TYPES = {tuple, list}

# Rough CPython costs, used to estimate a store's memory without walking it.
ENTRY_OVERHEAD = 160  # a dict slot, the pair tuple or values list, the count
_VALUE_SLOT = 8  # one pointer in a values list
PAIR_OVERHEAD = 64  # a pair tuple and its list slot


class RestartTask(Exception):
    """The store cannot hold this map's output: rerun the task with ``options``.

    ``options`` are keyword arguments for a new ``MapOutputBuffer``; a task restarts at most
    twice (single value -> pair counting -> per-pair path), each time on a more general store.
    """

    options: dict = {"fast": True, "single_value": False}


class NeedsPerPairPath(RestartTask):
    """A map output pair could not be hashed: rerun the task with ``fast=False``."""

    options = {"fast": False}


@dataclass
class Taken:
    """A store's contents, emptied for writing."""

    sources: dict  # key -> (value, times) when ``runs``, else key -> list of values
    runs: bool
    wrapped: bool  # some keys are ``_Unhashable`` (Groups only)
    records: int  # the map output records they stand for
    # ``(value,)`` when every run is of that one value: ``sources`` is then key -> times
    one_value: tuple | None = None

    def runs_of(self, keys: list) -> tuple[list, list[int]]:
        """The runs of ``keys`` (a store of runs): their values and their times, in order."""
        if self.one_value is not None:
            return [*self.one_value] * len(keys), list(map(self.sources.__getitem__, keys))
        found = list(map(self.sources.__getitem__, keys))
        return list(map(_first, found)), list(map(_second, found))


class PairCounts:
    """Identical ``(key, value)`` pairs counted in C (the pairs must be hashable)."""

    def __init__(self) -> None:
        self.counted: Counter = Counter()

    def __len__(self) -> int:
        return len(self.counted)

    def add(self, pairs: Iterable) -> None:
        try:
            _count_elements(self.counted, pairs)
        except TypeError:
            raise NeedsPerPairPath from None

    def estimate(self) -> int:
        if not self.counted:
            return 0
        sample = list(islice(self.counted, 16))
        check_pairs(sample)  # a map yielding words, not pairs, fails here, early
        return int(len(self.counted) * (ENTRY_OVERHEAD + _mean_size(sample)))

    def produced(self) -> int:
        """The pairs counted so far."""
        return sum(self.counted.values())

    def single_value(self) -> tuple | None:
        """``(value,)`` when every pair so far had that one value (and type), else None."""
        values = set(map(_second, self.counted))
        if len(values) == 1 and len(set(map(type, map(_second, self.counted)))) == 1:
            return (next(iter(self.counted))[1],)
        return None

    def take(self) -> Taken:
        counted, self.counted = self.counted, Counter()
        check_pairs(counted)
        records = sum(counted.values())
        runs = dict(zip(map(_first, counted),
                        zip(map(_second, counted), counted.values(), strict=True), strict=True))
        if len(runs) == len(counted):  # no key has two distinct values: done in C
            return Taken(runs, True, False, records)
        groups: dict[Any, list] = {}  # some key has several values: lists for every key
        for (key, value), times in counted.items():
            groups.setdefault(key, []).extend(repeat(value, times))
        return Taken(groups, False, False, records)


class KeyCounts:
    """Keys counted in C while every pair carries ``value``; another value restarts the task."""

    def __init__(self, value: Any, counts: dict) -> None:
        self.value = value
        self.keyed: Counter = Counter(counts)
        self._is_value = {value: True}.__getitem__  # KeyError for any other value

    @classmethod
    def from_pairs(cls, pairs: PairCounts, value: Any) -> KeyCounts:
        """The same counts, keyed by key (every pair had ``value``)."""
        return cls(value, dict(zip(map(_first, pairs.counted), pairs.counted.values(),
                                   strict=True)))

    def __len__(self) -> int:
        return len(self.keyed)

    def add(self, pairs: Iterable) -> None:
        # Two views of one stream of pairs, taken in step (so tee holds one pair): the keys
        # are counted, and compress asks each value if it is the one value.
        keys, values = tee(pairs)
        try:
            _count_elements(self.keyed, compress(map(_first, keys),
                                                 map(self._is_value, map(_second, values))))
        except KeyError:  # another value (or the map's own KeyError: pair counting tells)
            raise RestartTask from None
        except TypeError:
            raise NeedsPerPairPath from None

    def add_keys(self, keys: Iterable) -> None:
        """Count keys that each stand for the pair ``(key, value)`` (``mapshape``'s keys)."""
        try:
            _count_elements(self.keyed, keys)
        except TypeError:  # an unhashable key, or the map's own error: the per-pair path tells
            raise NeedsPerPairPath from None

    def estimate(self) -> int:
        if not self.keyed:
            return 0
        sample = [(key, self.value) for key in islice(self.keyed, 16)]
        return int(len(self.keyed) * (ENTRY_OVERHEAD + _mean_size(sample)))

    def take(self) -> Taken:
        keyed, self.keyed = self.keyed, Counter()
        return Taken(keyed, True, False, sum(keyed.values()), (self.value,))


class Groups:
    """``key -> [values]``; unhashable keys are wrapped (``_Unhashable``)."""

    def __init__(self) -> None:
        self.groups: dict[Any, list] = {}
        self.values = 0
        self.wrapped = False

    def __len__(self) -> int:
        return self.values

    def add(self, pairs: Iterable) -> None:
        pairs = pairs if type(pairs) is list else list(pairs)
        check_pairs(pairs)
        self.append(pairs)

    def append(self, pairs: Iterable) -> None:
        """Append each value to its key's list (pairs known to be pairs: a mapping's items).

        One pass, one dict look-up a pair: with a large dict, memory stalls cost more than
        the Python loop, so chains of C calls that walk the dict twice are slower.
        """
        groups = self.groups
        get = groups.get
        added = 0
        for key, value in pairs:
            added += 1
            try:
                values = get(key)
            except TypeError:
                key = _Unhashable(key)
                values = get(key)
                self.wrapped = True
            if values is None:
                groups[key] = [value]
            else:
                values.append(value)
        self.values += added

    def estimate(self) -> int:
        if not self.groups:
            return 0
        sample = list(islice(self.groups.items(), 16))
        key_size = sum(sys.getsizeof(k) for k, _ in sample) / len(sample)
        value_size_ = sum(value_size(v[0]) for _, v in sample) / len(sample)
        return int(len(self.groups) * (ENTRY_OVERHEAD + key_size)
                   + self.values * (_VALUE_SLOT + value_size_))

    def take(self) -> Taken:
        taken = Taken(self.groups, False, self.wrapped, self.values)
        self.groups, self.values, self.wrapped = {}, 0, False
        return taken


class PairList:
    """The pairs in map order; checked and sorted when written."""

    def __init__(self, pairs: list | None = None) -> None:
        self.pairs: list = pairs or []

    @classmethod
    def from_pairs(cls, pairs: PairCounts) -> PairList:
        """The counted pairs, each repeated as often as it was counted."""
        return cls(list(chain.from_iterable(starmap(repeat, pairs.counted.items()))))

    def __len__(self) -> int:
        return len(self.pairs)

    def add(self, pairs: Iterable) -> None:
        self.pairs.extend(pairs)

    def estimate(self) -> int:
        if not self.pairs:
            return 0
        sample = self.pairs[:: max(1, len(self.pairs) // 16)]
        check_pairs(sample)
        return int(len(self.pairs) * (PAIR_OVERHEAD + _mean_size(sample)))

    def take(self) -> list:
        """The pairs (checked), and an empty store."""
        pairs, self.pairs = self.pairs, []
        check_pairs(pairs)
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


def check_pairs(pairs: Collection) -> None:
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


def _mean_size(pairs: list) -> float:
    """The mean bytes of a sample of pairs' keys and values."""
    return sum(sys.getsizeof(k) + value_size(v) for k, v in pairs) / len(pairs)


def value_size(value: Any) -> int:
    """Bytes a value adds to a store: nothing for a cached small int, else its size."""
    if type(value) is int and -5 <= value <= 256:
        return 0  # a cached small int: only the slot counts
    return sys.getsizeof(value)
