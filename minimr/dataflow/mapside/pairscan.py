"""One pass over a batch of map output that is a word count's: checked and counted together.

A map that yields ``(word, 1)`` hands the buffer batches of exact tuples of two whose values
are all one object. Checking that (``mistakes.check_pairs``), taking the keys and their types,
seeing that every value is the one object, then counting the keys is five passes of C calls
over the batch, about 90 ns a pair beside the count itself. ``one_value_key_types`` checks it
all in one pass and ``KeyCounter.count_pairs`` counts the keys straight from the pairs;
compiled from ``_pairscan.pyx`` (Cython, built by ``pip install`` when a compiler is there)
the check costs a few ns a pair. Without the compiled module the code below does the same with
C calls, as fast as the passes it replaces.

``KeyCounter`` is the buffer's key-counting store's table (a word count's or an index's keys,
or a ``map_keys``' keys). In Python it is a dict of counts (``Counter.update``'s C helper);
compiled, an open-addressed table of ``(hash, key, count)`` slots probed linearly, as a
``set`` is: one probe a key, the count a C integer, where a dict of counts looks a key up
twice (a get and a set, each through its index array to its entries, comparing the stored
key's text when the str hashes collide) and makes a new int for every count past 256. An
inverted index's 64 MiB map task (11.3 million pairs, 193,000 keys): the buffer 233-249 ->
130-134 ns a pair, the task 6.8-7.0 -> 5.7-5.8 s CPU (inline, ``profile_stages``). A batch's
keys are hashed a few keys ahead of their count, their slots prefetched, and a str of 1 to 7
ASCII characters is compared by the text its slot keeps, its object left unread: a 16 MiB
word count's buffer 116-132 -> 70-74 ns a pair (each count kept in its slot too). Its
``take`` hands the table over as it is (``Counted``, a read-only mapping) rather than a dict
of counts, and a spill's sorted keys are looked up in it by one prefetching pass
(``counts_of``): the dict's making and look-ups took about 320 ns a key, the look-ups alone
70 now.

``counted_runs`` and ``group_counted`` turn counted pairs back into each key's values when the
buffer writes them: one ``(value, times)`` run a key, or, when a key had several values (a sum
by field's ``(user, ms)`` pairs, nearly all distinct), a list a key. In Python the first is
tried whole with C calls and the second is a loop of a dict look-up and an append a pair:
together about 1.5 us a pair, a fifth of a JSON sum's map side; compiled, the first stops at
the first key seen twice, and both cost a few hundred ns a pair. ``group_pairs`` appends
pairs of canonical keys to a grouping store's lists (``pairstore.Groups``) in one compiled
pass, leaving any other pair to the store's own Python.

Nothing here runs user code: the items are exact tuples (never a subclass), compared by
identity, so no ``__eq__`` or ``__len__`` of the user's is called.
"""

from __future__ import annotations

from itertools import islice, repeat
from operator import countOf, is_, itemgetter
from typing import Any

from minimr.dataflow.exact import CANONICAL

try:  # the C helper behind Counter.update(iterable)
    from _collections import _count_elements
except ImportError:  # pragma: no cover - other Pythons: the pure-Python version
    from collections import _count_elements  # type: ignore[attr-defined,no-redef]

__all__ = ["COMPILED", "CountedPy", "KeyCounter", "KeyCounterPy", "counted_runs",
           "counted_runs_py", "group_counted", "group_counted_py", "group_pairs",
           "group_pairs_py", "one_value_key_types", "one_value_key_types_py"]

_first = itemgetter(0)
_second = itemgetter(1)


def one_value_key_types_py(pairs: list, one: Any) -> set[type] | None:
    """The types of the keys when every item of ``pairs`` is an exact tuple of two whose value
    is the object ``one``; otherwise None."""
    n = len(pairs)
    if countOf(map(type, pairs), tuple) != n or countOf(map(len, pairs), 2) != n:
        return None
    if countOf(map(is_, map(_second, pairs), repeat(one)), True) != n:
        return None
    return set(map(type, map(_first, pairs)))


class KeyCounterPy:
    """Keys counted (the pure-Python twin of the compiled ``KeyCounter``): equal keys are one
    key, the first seen kept, as in a dict. The keys must be of exact types (``exact``): their
    hashing and comparing run no code of the user's. ``hash_mask`` and ``slot_limit`` are
    the compiled table's (for tests): a dict's hashes and counts are its own."""

    def __init__(self, hash_mask: int = -1, slot_limit: int = 2**32 - 1) -> None:
        self._counts: dict = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self._counts)

    def count_pairs(self, pairs: list) -> None:
        """Count the key of every pair (exact tuples of two)."""
        _count_elements(self._counts, map(_first, pairs))
        self._total += len(pairs)

    def count_keys(self, keys: list) -> None:
        """Count every key."""
        _count_elements(self._counts, keys)
        self._total += len(keys)

    def first(self, n: int) -> list:
        """The first ``n`` keys counted."""
        return list(islice(self._counts, n))

    def counts(self) -> dict:
        """``key -> count``, first seen first."""
        return dict(self._counts)

    def take(self) -> tuple[CountedPy, int]:
        """``(the counts, the keys counted)``, the counter emptied."""
        taken = CountedPy(self._counts), self._total
        self._counts, self._total = {}, 0
        return taken


class CountedPy(dict):
    """``key -> count`` taken from a ``KeyCounterPy`` (the pure-Python twin of the compiled
    ``Counted``): a dict, with ``counts_of``."""

    def counts_of(self, keys: list) -> list[int]:
        """The count of each of ``keys`` (KeyError for a key not counted)."""
        return list(map(self.__getitem__, keys))


def counted_runs_py(counted: dict) -> dict[Any, tuple[Any, int]] | None:
    """``key -> (value, times)`` from a dict of ``(key, value) -> times`` (exact tuples of
    two, keys of exact types) when no key has two values; else None."""
    runs = dict(zip(map(_first, counted),
                    zip(map(_second, counted), counted.values(), strict=True), strict=True))
    return runs if len(runs) == len(counted) else None


def group_pairs_py(groups: dict, pairs: list, start: int) -> int:
    """Append the value of each pair of ``pairs[start:]`` to its key's entry of ``groups``
    (``key -> [key to write, values]``, made when missing) while the pair is an exact tuple
    of two whose key is of an exact canonical type and, when its key is there already, of
    the type of the key to write there. Returns the index of the first pair it left
    (``len(pairs)`` when none)."""
    get = groups.get
    for i in range(start, len(pairs)):
        item = pairs[i]
        if type(item) is not tuple or len(item) != 2:
            return i
        key, value = item
        kind = type(key)
        if kind not in CANONICAL:
            return i
        entry = get(key)
        if entry is None:
            groups[key] = [key, [value]]
        elif type(entry[0]) is not kind:
            return i
        else:
            entry[1].append(value)
    return len(pairs)


def group_counted_py(counted: dict) -> dict[Any, list]:
    """``key -> [value, ...]`` from a dict of ``(key, value) -> times`` (exact tuples of two,
    keys of exact types): each value repeated ``times``, the values of a key in the dict's
    order."""
    groups: dict[Any, list] = {}
    for (key, value), times in counted.items():
        values = groups.get(key)
        if values is None:
            groups[key] = [value] * times
        else:
            values.extend(repeat(value, times))
    return groups


KeyCounter = KeyCounterPy
one_value_key_types = one_value_key_types_py
counted_runs = counted_runs_py
group_counted = group_counted_py
group_pairs = group_pairs_py
#: whether the compiled functions are the ones in use
COMPILED = False
try:
    from minimr.dataflow.mapside._pairscan import (  # type: ignore[import-not-found,no-redef]
        KeyCounter,
        counted_runs,
        group_counted,
        group_pairs,
        one_value_key_types,
    )
    COMPILED = True
except ImportError:  # no compiler where minimr was installed: the functions above
    pass
