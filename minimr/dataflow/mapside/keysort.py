"""A map task's listed pairs sorted by key into key and value columns, in one C pass.

A map output buffer with no combiner lists its pairs when they hardly repeat (a sort's
records, a join's rows) and writes them sorted by key (``spill``), grouped by partition first
when the partitions do not follow the key order (hashed: each pair's partition number is then
the first sort key, so no reordering by partition follows). ``list.sort`` with a key
function compares the keys through their objects, scattered in memory: a sort's 168,000
random 10-character keys took about 480 ns a pair, most of it waiting on memory, and
``qsort`` of each key's first 8 bytes beside where its text is about 220. Compiled
(``_keysort.pyx``, built by ``pip install`` when a compiler is there), ``sorted_columns``
groups the pairs by partition in one counting pass and radix-sorts each partition on its
keys' bytes, 8 at a time (a str's UTF-8 bytes, whose order is its code points'), comparing
whole keys only in small buckets: 55-70 ns a pair. It takes all exact str keys or all exact
bytes keys, whose plain order is minimr's (``natively_sortable``); for any other batch (mixed
types, subclasses) it returns None and the caller sorts as before, keeping their exact
types. Without the compiled module, ``sorted_columns_py`` sorts with ``list.sort``.

A combiner's listed pairs (``listed.combined_parts``) are sorted the same way by
``sorted_key_runs``, which also marks where each run of equal keys starts (a ``!=`` of each
sorted key and the one before it, and where the partition numbers change).

A counting store's distinct keys (a word count's, an index's words) are sorted the same way
by ``sorted_keys``, by partition first, with no values.

A secondary sort's pairs (``sortvalues``) are sorted by key and value: when their values
have a ``partition.native_order`` signature (a join's ``(0, name, country)``: str, int, bytes
and tuples of them, of one shape), ``sorted_composite_columns`` checks that signature and
sorts them in the same C pass, the values compared only where keys tie (by their items, as
Python compares them). ``native_order`` and ``sorted(pairs)`` in Python took about 700 and
1,100 ns a join's pair; the twin ``sorted_composite_columns_py`` does just that.

Nothing here runs user code: the pairs are exact tuples and the keys exact str or bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import accumulate, islice
from operator import countOf, itemgetter, ne
from typing import Any

from minimr.dataflow.partition import native_order

__all__ = ["COMPILED", "gather", "gather_py", "partition_sizes", "partition_sizes_py",
           "run_firsts", "run_firsts_py", "sorted_columns", "sorted_columns_py",
           "sorted_composite_columns", "sorted_composite_columns_py", "sorted_key_runs",
           "sorted_key_runs_py", "sorted_keys", "sorted_keys_py", "take_slices", "take_slices_py"]

_first = itemgetter(0)
_second = itemgetter(1)


def sorted_columns_py(pairs: list, numbers: list | None = None) -> tuple[list, list] | None:
    """``(keys, values)`` of ``pairs`` sorted stably by partition number (``numbers``, one a
    pair, or None) and key, when every pair is an exact tuple of two and the keys are all
    exact str or all exact bytes; otherwise None."""
    if not _exact_pairs(pairs):
        return None
    keys = list(map(_first, pairs))
    if not _one_key_type(keys):
        return None
    ordered = sorted(pairs, key=_first) if numbers is None else _by_partition(
        pairs, numbers, keys.__getitem__)
    return list(map(_first, ordered)), list(map(_second, ordered))


def sorted_key_runs_py(pairs: list, numbers: list | None = None
                       ) -> tuple[list, list, list[bool]] | None:
    """``(keys, values, firsts)``: ``sorted_columns``' columns, and ``firsts[i]`` True where
    key i is the first of its run of equal keys of one partition number; None where
    ``sorted_columns`` gives None."""
    return _with_runs(sorted_columns_py(pairs, numbers), numbers)


def _with_runs(columns: tuple[list, list] | None, numbers: list | None
               ) -> tuple[list, list, list[bool]] | None:
    """Sorted ``columns`` (by partition number first, when ``numbers`` are given) and where
    each run of equal keys of one partition number starts (``run_firsts``)."""
    if columns is None:
        return None
    keys, values = columns
    firsts = run_firsts(keys, numbers)
    if firsts is None:  # keys the compiled pass does not take: compared in Python
        firsts = run_firsts_py(keys, numbers)
    return keys, values, firsts


def run_firsts_py(keys: list, numbers: list | None = None) -> list[bool]:
    """``firsts[i]`` True where sorted ``keys[i] != keys[i - 1]`` or a partition starts (the
    first of each partition number's keys, ``numbers`` holding one a key, unsorted)."""
    if not keys:
        return []
    firsts = [True, *map(ne, islice(keys, 1, None), keys)]
    if numbers is not None:  # sorted by number first: each partition's first starts a run
        counts = Counter(numbers)
        for start in accumulate(counts[number] for number in sorted(counts)):
            if start < len(firsts):
                firsts[start] = True
    return firsts


def gather_py(column: list, places: list[int]) -> list:
    """``[column[i] for i in places]`` (``places`` from 0 below ``len(column)``)."""
    if places and min(places) < 0:  # a list would count it from the end
        raise IndexError(f"place {min(places)} of a column of {len(column)}")
    return list(map(column.__getitem__, places))


def sorted_keys_py(keys: list, numbers: list | None = None) -> list | None:
    """``keys`` sorted by partition number (``numbers``, one a key, or None) and key, when
    they are all exact str or all exact bytes; otherwise None. (Equal keys are one value: no
    order among them to keep.)"""
    if not _one_key_type(keys):
        return None
    if numbers is None:
        return sorted(keys)
    if len(numbers) != len(keys):
        raise ValueError(f"{len(numbers)} partition numbers for {len(keys)} keys")
    return list(map(_second, sorted(zip(numbers, keys, strict=True))))


def sorted_composite_columns_py(pairs: list, numbers: list | None = None
                                ) -> tuple[list, list, bytes] | None:
    """``(keys, values, signature)`` of ``pairs`` sorted stably by partition number
    (``numbers``, one a pair, or None), key and value, when every pair is an exact tuple of two
    whose key is an exact str and the pairs have a ``partition.native_order`` signature (their
    plain comparisons are minimr's order); otherwise None."""
    if not _exact_pairs(pairs):
        return None
    signature = native_order(pairs)
    if signature is None or signature[:2] != b"(s":
        return None
    ordered = sorted(pairs) if numbers is None else _by_partition(
        pairs, numbers, pairs.__getitem__)
    return list(map(_first, ordered)), list(map(_second, ordered)), signature


def take_slices_py(column: list, sizes: list[int]) -> list[list]:
    """``column`` cut into consecutive new lists of ``sizes`` (which add up to its length);
    ``column`` is left empty. (Compiled, ``take_slices`` moves the items rather than copying
    them: no object touched, 25-30 ns a word count's key less than slices and the list's end.)"""
    counts = list(sizes)
    if any(size < 0 for size in counts) or sum(counts) != len(column):
        raise ValueError(f"slices of sizes {counts} for a list of {len(column)}")
    starts = list(accumulate(counts, initial=0))
    parts = [column[start:end] for start, end in zip(starts, starts[1:], strict=False)]
    column.clear()
    return parts


def partition_sizes_py(numbers: list[int], partitions: int) -> list[int]:
    """How many of ``numbers`` each partition (0 to ``partitions`` - 1) has: a C pass over
    them a partition up to 16 partitions, else one ``Counter`` pass."""
    if partitions < 0:
        raise ValueError(f"{partitions} partitions")
    outside = [n for n in (min(numbers, default=0), max(numbers, default=0))
               if not 0 <= n < partitions] if numbers else []
    if outside:
        raise ValueError(f"partition number {outside[0]} of {partitions} partitions")
    if partitions <= 16:
        return list(map(numbers.count, range(partitions)))
    counted = Counter(numbers)
    return [counted[p] for p in range(partitions)]


def _one_key_type(keys: list) -> bool:
    """Whether the keys are all exact str or all exact bytes (none: True), whose plain
    comparisons are minimr's order (``partition.natively_sortable``)."""
    if not keys:
        return True
    kind = type(keys[0])
    return (kind is str or kind is bytes) and countOf(map(type, keys), kind) == len(keys)


def _exact_pairs(pairs: list) -> bool:
    n = len(pairs)
    return countOf(map(type, pairs), tuple) == n and countOf(map(len, pairs), 2) == n


def _by_partition(pairs: list, numbers: list, item: Callable[[int], Any]) -> list:
    """``pairs`` sorted stably by partition number, then by ``item(place)``."""
    if len(numbers) != len(pairs):
        raise ValueError(f"{len(numbers)} partition numbers for {len(pairs)} pairs")
    places = sorted(range(len(pairs)), key=item)
    places.sort(key=numbers.__getitem__)  # stable: each partition's places stay in order
    return list(map(pairs.__getitem__, places))


sorted_columns = sorted_columns_py
sorted_composite_columns = sorted_composite_columns_py
sorted_keys = sorted_keys_py
take_slices = take_slices_py
partition_sizes = partition_sizes_py
run_firsts = run_firsts_py
gather = gather_py
#: whether the compiled function is the one in use
COMPILED = False
try:
    from minimr.dataflow.mapside._keysort import (  # type: ignore[import-not-found,no-redef]
        gather,
        partition_sizes,
        run_firsts,
        sorted_columns,
        sorted_composite_columns,
        sorted_keys,
        take_slices,
    )
    COMPILED = True
except ImportError:  # no compiler where minimr was installed: the function above
    pass


def sorted_key_runs(pairs: list, numbers: list | None = None
                    ) -> tuple[list, list, list[bool]] | None:
    """``sorted_key_runs_py`` over the sort in use (``sorted_columns``, compiled where it
    was built)."""
    return _with_runs(sorted_columns(pairs, numbers), numbers)
