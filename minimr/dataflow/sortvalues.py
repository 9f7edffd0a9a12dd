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

Composite keys whose plain comparisons give minimr's order (``partition.native_order``: str
keys with str, int or tuple-of-such values, as a join's ``(user_id, (0, name, country))``)
are sorted with no sort key made per pair, and their segments' kind records the signature,
so the reducer's merge compares them plainly too when every run has it (a 256 MiB join's
map-side sort 11.3 -> 4.4 CPU s, its merge 6.8 -> 1.9). The key handed to ``reduce`` of equal
keys of different types is the first value's pair's (below), not the least key as without
``sort_values``: a known gap (``tests/dataflow/test_sortvalues.py``).

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

from minimr.dataflow.partition import native_order, sort_key

__all__ = ["composite_entries", "composite_pairs", "plain_entries"]

_first = itemgetter(0)
_second = itemgetter(1)


def _pair_key(pair: tuple) -> tuple:
    return sort_key(pair[0]), sort_key(pair[1])


def _sorted_values(values: list) -> list:
    """``values`` in minimr's order (plain comparisons when they give it)."""
    return sorted(values) if native_order(values) is not None else sorted(values, key=sort_key)


def composite_entries(entries: Iterable[tuple[Any, list]]) -> Iterator[tuple[tuple, list]]:
    """Sorted ``(key, values)`` entries as composite entries ``((key, value), [value])``,
    sorted by ``(key, value)``: each key's values (held by the map output buffer, bounded by
    it) sorted."""
    for key, values in entries:
        ordered = _sorted_values(values)
        yield from zip(zip(repeat(key), ordered), map(_listed, ordered), strict=True)


def _listed(value: Any) -> list:
    return [value]


def composite_pairs(pairs: list) -> bytes | None:
    """Sort ``(key, value)`` pairs by ``(key, value)``, in place; each pair is then also its
    own composite key.

    Returns the pairs' ``native_order`` signature: when they have one (str keys with values
    of str, int, or tuples of such, as a join's tagged rows), plain comparisons sort them, and
    the segments they are written to say so, for the reducer's merge to compare them plainly
    too; None when they are sorted through ``sort_key``.
    """
    signature = native_order(pairs)
    if signature is not None:
        pairs.sort()  # such tuples compare in minimr's order: no sort key made per pair
    else:
        pairs.sort(key=_pair_key)
    return signature


def plain_entries(batch: list) -> list:
    """A merged batch of composite entries (or pairs) with their plain keys again."""
    return [(composite[0], rest) for composite, rest in batch]
