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
map-side sort 11.3 -> 4.4 CPU s, its merge 6.8 -> 1.9).

The value is kept in the entry's values list, not taken from the composite key: the merge may
hand on, of equal composite keys (``(k, 1)`` and ``(k, 1.0)``), either, and the reducer must
still get each value as it was yielded.

The key handed to ``reduce`` is, of equal keys of different types (``0`` and ``-0.0``, ``1``,
``1.0`` and ``True``), the least (``exact``), as without ``sort_values``, though a key's
entries are ordered by value and its least key may come with any of them. The rule is
``exact``'s, kept in the composite key's key: every sorted run's first entry of a key carries
the least of the run's keys of it (a spill's list of pairs: ``composite_pairs``; a spill's
dict of groups holds the least already), and a merge gives the first entry it hands on of a
key the least of its sources' (``least_key_first``, ``merge.COMPOSITE``). When a merge hands
on a key's first entry, every source holding the key has its own first entry of it read, at
its head or in the batch (no source holds an entry below it left), so that takes no more
memory: a hot key still streams. Composite keys of one ``native_order`` signature never need
the choice (equal keys of one signature are one value), so the join's plain path does no
more than before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any

from minimr.dataflow.exact import least_first, least_of_runs
from minimr.dataflow.partition import native_order, sort_key

__all__ = ["composite_entries", "composite_pairs", "entry_key", "least_key_first",
           "plain_entries", "rekeyed"]

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

    The first pair of each key carries, as its key, the least of the pairs' equal keys
    (``exact``); pairs of one signature have no equal keys of other types.

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
        least_first(pairs)  # equal keys of other types (or reprs): the least in the first
    return signature


def plain_entries(batch: list) -> list:
    """A merged batch of composite entries (or pairs) with their plain keys again."""
    return list(zip(map(_first, map(_first, batch)), map(_second, batch), strict=True))


def entry_key(entry: tuple) -> Any:
    """The plain key of a composite entry ``((key, value), ...)``."""
    return entry[0][0]


def rekeyed(entry: tuple, key: Any) -> tuple:
    """A composite entry with ``key`` (an equal key) in place of its composite key's key."""
    return ((key, *entry[0][1:]), *entry[1:])


def least_key_first(entries: list) -> list:
    """Sorted composite entries, the first of each run of equal keys given, in its composite
    key, the least of the run's keys: ``exact.least_first`` for composite entries. Returns
    ``entries``, changed."""
    for i, key in least_of_runs(list(map(_first, map(_first, entries)))):
        entries[i] = rekeyed(entries[i], key)
    return entries
