"""A map task's listed pairs (``pairstore.PairList``) written as sorted partitions.

The map output buffer (``spill``) lists its pairs when they hardly repeat (a sort's records, a
join's rows) and hands them here to be written: sorted by key (stably), cut per partition
(``partsort``), one writer of a segment a partition, each pair one value. Exact str keys,
or exact bytes keys, are sorted into key and value columns in one C pass (``keysort``'s
radix sort); other keys by ``list.sort``, the first of equal keys the one to write
(``exact``).

A step with ``sort_values`` has its pairs sorted by ``(key, value)`` instead, each pair its
own composite key (``sortvalues``), cut by the partition of the key alone.

A step with a combiner lists its pairs only when their keys are exact str and nearly all
distinct (an average's user ids): ``combined_parts`` sorts them into columns the same way
and marks where each run of equal keys starts (``keysort.sorted_key_runs``), and each
partition's runs of equal keys are combined (``Combiner.sorted_runs``), with no dict of a
values list a key made, kept or freed. Keys the column sort does not take give
None, and the buffer groups the pairs instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from operator import countOf, itemgetter
from typing import BinaryIO

from minimr.dataflow.exact import least_first
from minimr.dataflow.format.segments import (
    KIND_ANY,
    composite_kind,
    key_kind,
    write_segment,
    write_single_values,
)
from minimr.dataflow.mapside.combining import Combiner, keyed
from minimr.dataflow.mapside.keysort import (
    sorted_columns,
    sorted_composite_columns,
    sorted_key_runs,
)
from minimr.dataflow.mapside.partsort import PartitionSorter
from minimr.dataflow.partition import natively_sortable, sort_key
from minimr.dataflow.sortvalues import composite_pairs

__all__ = ["combined_parts", "listed_parts"]

_first = itemgetter(0)
_second = itemgetter(1)

#: writes one partition's segment to the file: ``(bytes written, values written)``
PartWriter = Callable[[BinaryIO], tuple[int, int]]


def listed_parts(pairs: list, sorter: PartitionSorter, sort_values: bool
                 ) -> Iterator[PartWriter]:
    """The writers of ``pairs``' partitions: the pairs sorted (stably) by key, each pair one
    value (by ``(key, value)``, each its own composite key, with ``sort_values``)."""
    if sort_values:
        yield from _composite_parts(pairs, sorter)
        return
    numbers = None
    if sorter.groups_by_number:  # hashed partitions: their numbers sort first
        keys = list(map(_first, pairs))
        native = natively_sortable(keys)
        numbers = sorter.numbers_to_group(keys) if native else None
        columns = sorted_columns(pairs, numbers) if native else None  # one C pass
    else:  # the C pass checks the keys' types itself: no list of keys to check first
        columns = sorted_columns(pairs)
        native = columns is not None or natively_sortable(list(map(_first, pairs)))
    if columns is None:
        numbers = None
        pairs.sort(key=_first if native else _sort_key_of_first)
        if not native:  # equal keys of other types or reprs: the first is the key to write
            least_first(pairs)
        columns = list(map(_first, pairs)), list(map(_second, pairs))
    keys, values = columns
    del pairs, columns
    for part_keys, part_values in sorter.cut(keys, values, native=native, numbers=numbers):
        yield partial(write_single_values, keys=part_keys, values=part_values,
                      kind=key_kind(part_keys, native))


def combined_parts(pairs: list, sorter: PartitionSorter, combiner: Combiner
                   ) -> Iterator[PartWriter] | None:
    """The writers of a combiner's listed ``pairs``' partitions, each partition's runs of
    equal keys combined; None, nothing done, unless every pair is an exact tuple of two whose
    key is an exact str (a subclass, or another type, leaves them to the grouping store)."""
    keys = list(map(_first, pairs))
    if countOf(map(type, keys), str) != len(keys):
        return None
    numbers = sorter.numbers_to_group(keys)
    del keys
    columns = sorted_key_runs(pairs, numbers)
    if columns is None:
        return None
    return _combined_parts(*columns, numbers, sorter, combiner)


def _combined_parts(keys: list, values: list, firsts: list[bool], numbers: list | None,
                    sorter: PartitionSorter, combiner: Combiner) -> Iterator[PartWriter]:
    """Sorted key and value columns cut per partition (with ``firsts``, where each run of
    equal keys starts), each partition's keys combined: a column of one value a key when
    the combiner left one (a partition of no key is one)."""
    for part_keys, part_values, part_firsts in sorter.cut(keys, values, firsts, native=True,
                                                          numbers=numbers):
        part_keys, combined = combiner.sorted_runs(part_keys, part_values, part_firsts)
        kind = key_kind(part_keys, True)
        if combined.single is not None:
            yield partial(write_single_values, keys=part_keys, values=combined.single,
                          kind=kind)
        else:
            yield partial(write_segment, entries=keyed(part_keys, combined.lists), kind=kind)


def _composite_parts(pairs: list, sorter: PartitionSorter) -> Iterator[PartWriter]:
    """A list's partitions for ``sort_values``: its pairs sorted by ``(key, value)``, each
    its own composite key, cut by the partition of the key alone.

    Pairs of str keys with values of one ``native_order`` signature (a join's tagged
    rows) are sorted into columns in one C pass, by partition first (``keysort``);
    others as ``composite_pairs`` sorts them."""
    keys = list(map(_first, pairs))
    numbers = sorter.numbers_to_group(keys) if natively_sortable(keys) else None
    columns = sorted_composite_columns(pairs, numbers)
    kind = composite_kind(columns[2]) if columns is not None else KIND_ANY
    if kind != KIND_ANY:
        keys, values, _signature = columns
        del pairs, columns
        for part_keys, part_values in sorter.cut(keys, values, native=True, numbers=numbers):
            yield partial(write_single_values, keys=part_keys, values=part_values,
                          kind=kind if part_keys else KIND_ANY)
        return
    kind = composite_kind(composite_pairs(pairs))
    keys = list(map(_first, pairs))
    values = list(map(_second, pairs))
    if kind == KIND_ANY:  # stored whole, each composite key the pair itself
        for _, part_composites, part_values in sorter.cut(
                keys, pairs, values, native=natively_sortable(keys)):
            yield partial(write_single_values, keys=part_composites, values=part_values,
                          kind=KIND_ANY)
        return
    del pairs  # columns of plain keys and values: each pair made again when read
    for part_keys, part_values in sorter.cut(keys, values, native=natively_sortable(keys)):
        yield partial(write_single_values, keys=part_keys, values=part_values,
                      kind=kind if part_keys else KIND_ANY)


def _sort_key_of_first(pair: tuple) -> tuple:
    return sort_key(pair[0])
