"""What the fast paths may merge, and which of several equal keys is written.

Values reach ``combine`` and ``reduce`` exactly as ``map`` produced them: same type, same value,
same multiplicity. A store that counts values in a dict merges the values that compare equal
(``1``, ``1.0``, ``True``, ``-0.0`` and ``0.0``, ``Decimal("1.0")`` and ``Decimal("1.00")``),
so it may count only values of ``CANONICAL`` types, where equal values are one value:
``exact(types)`` says whether a set of types is such (int and bool together are not: ``1 ==
True``). Every other value takes the general path, which keeps each value object as it came.

Keys group by Python equality, as in a dict (``1``, ``1.0`` and ``True`` are one key). Of several
equal keys, the one written and handed to ``combine`` and ``reduce`` is the least by
``key_choice``, ``(type(key).__name__, repr(key))``: ``True`` of ``1``, ``1.0`` and ``True``,
``-0.0`` of ``0.0`` and ``-0.0``. Every store, sorted run and merge keeps it so: the first entry
of a key in a sorted run carries the least of that key's keys in the run, and a merge gives the
first entry of each key the least of its sources' (``least_first``). So the key written does
not depend on split sizes, worker counts, spills or failures. A secondary sort keeps the rule
in its composite keys' keys (``sortvalues``). Keys of ``CANONICAL`` types,
which are the common case, never need the choice (``chosen_alike``).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress, islice
from operator import eq, itemgetter
from typing import Any

__all__ = ["CANONICAL", "chosen_alike", "exact", "key_choice", "least", "least_first",
           "least_of_runs"]

#: types whose equal instances are one value (same repr): str, bytes, int, bool, None
CANONICAL = frozenset({str, bytes, int, bool, type(None)})
_INT_AND_BOOL = frozenset({int, bool})
_first = itemgetter(0)


def exact(types: Iterable[type]) -> bool:
    """True when values of ``types`` that compare equal are always the same value, so a dict
    may count them: every type canonical, and not both int and bool."""
    types = set(types)
    return types <= CANONICAL and not _INT_AND_BOOL <= types


def key_choice(key: Any) -> tuple[str, str]:
    """The order in which the key written is chosen among equal keys: the least wins."""
    return (type(key).__name__, repr(key))


def least(keys: Iterable[Any]) -> Any:
    """The key written for a group of equal ``keys``."""
    return min(keys, key=key_choice)


def chosen_alike(a: Any, b: Any) -> bool:
    """True when two equal keys need no choice between them: the same type, and canonical."""
    return type(a) is type(b) and type(a) in CANONICAL


def least_first(entries: list) -> list:
    """Sorted ``(key, ...)`` entries (or pairs), the first of each run of equal keys given
    the least of the run's keys (a new tuple in its place); returns ``entries``, changed."""
    for i, key in least_of_runs(list(map(_first, entries))):
        entries[i] = (key, *entries[i][1:])
    return entries


def least_of_runs(keys: list) -> list[tuple[int, Any]]:
    """Where, in sorted ``keys``, a run of equal keys starts with a key other than the least
    of the run's keys, and that least: ``(position, least key)`` pairs, in order.

    C calls find the runs; Python runs only for equal neighbours, and only when the keys are
    not all of one canonical type (a run of equal str keys needs no choice).
    """
    n = len(keys)
    if n < 2 or exact(map(type, keys)):
        return []
    changes: dict[int, Any] = {}
    start = previous = -2
    for i in compress(range(1, n), map(eq, islice(keys, 1, None), keys)):
        if i != previous + 1:  # a new run of equal keys, from i - 1
            start = i - 1
        previous = i
        first, key = changes.get(start, keys[start]), keys[i]
        if (key is not first and not chosen_alike(key, first)
                and key_choice(key) < key_choice(first)):
            changes[start] = key
    return list(changes.items())
