"""Secondary sort: each key's values reach ``reduce`` sorted, in bounded memory.

A step with ``sort_values`` (mrjob's ``SORT_VALUES``, Hadoop's secondary sort) writes its map
output with composite keys: each value ``v`` of key ``k`` becomes the entry ``((k, v), [v])``,
sorted by ``(k, v)`` in minimr's order (``partition.sort_key``: Python's order, typed for
mixed types, as keys are). The partition is still chosen by ``k`` alone, on the map side,
before the composite is made. Everything after that is the engine's usual machinery: spills
are sorted runs of composite entries, the merge of spills and the reducer's k-way merge
order them by ``(k, v)`` holding one block of each run at a time, and on the reduce side the
composite is unwrapped again, a batch of entries at a time, before the entries are cut into
key groups: a key's entries are adjacent and in value order, so its values iterator yields
them sorted, and a hot key of ten million values is never a list in memory.

The value is kept in the entry's values list, not taken from the composite key: the merge may
hand on, of equal composite keys (``(k, 1)`` and ``(k, 1.0)``), the least one, and the reducer
must still get each value as it was yielded. When equal keys of different types meet (``1``
and ``1.0``), the key handed to ``reduce`` is the one of its first (least) value's pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any

from minimr.dataflow.partition import natively_sortable, sort_key

__all__ = ["composite_entries", "composite_pairs", "plain_entries"]

_first = itemgetter(0)
_second = itemgetter(1)


_INT = {int}


def _pair_key(pair: tuple) -> tuple:
    return sort_key(pair[0]), sort_key(pair[1])


def _native(values: Iterable) -> bool:
    """True when plain comparisons of ``values`` give minimr's order: all str, all bytes,
    or all int (not bool)."""
    values = list(values)
    return natively_sortable(values) or set(map(type, values)) == _INT


def _sorted_values(values: list) -> list:
    """``values`` in minimr's order (plain comparisons when they give it)."""
    return sorted(values) if _native(values) else sorted(values, key=sort_key)


def composite_entries(entries: Iterable[tuple[Any, list]]) -> Iterator[tuple[tuple, list]]:
    """Sorted ``(key, values)`` entries as composite entries ``((key, value), [value])``,
    sorted by ``(key, value)``: each key's values (held by the map output buffer, bounded by
    it) sorted."""
    for key, values in entries:
        ordered = _sorted_values(values)
        yield from zip(zip(repeat(key), ordered), map(_listed, ordered), strict=True)


def _listed(value: Any) -> list:
    return [value]


def composite_pairs(pairs: list) -> list:
    """``(key, value)`` pairs sorted by ``(key, value)``, in place; each pair is then also
    its own composite key."""
    if natively_sortable(map(_first, pairs)) and _native(map(_second, pairs)):
        pairs.sort()  # such tuples compare in minimr's order: no sort key made per pair
    else:
        pairs.sort(key=_pair_key)
    return pairs


def plain_entries(batch: list) -> list:
    """A merged batch of composite entries (or pairs) with their plain keys again."""
    return [(composite[0], rest) for composite, rest in batch]
