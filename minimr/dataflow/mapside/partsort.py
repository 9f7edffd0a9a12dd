"""A spill's keys cut into reduce partitions, each partition's keys in minimr's order.

The map output buffer (``spill``) hands over a spill's distinct keys (or its listed pairs as
parallel key and value columns) and writes one segment per partition from what comes back.
Both steps are C calls over whole lists; Python runs per partition, not per key:

- ``PartitionSorter.partition_keys``: a counting store's keys. str keys, or bytes keys,
  are sorted by partition and key in one C pass (``keysort.sorted_keys``) and ``cut``.
  Otherwise, with a hash partitioner and up to ``SPLIT_FIRST_PARTITIONS`` partitions, the
  keys are split by partition first and each part sorted (smaller sorts, no reordering
  after); else all the keys are sorted once and ``cut``.
- ``PartitionSorter.cut``: sorted keys and columns parallel to them sliced per partition, at
  the boundaries of a range partitioner when the keys sort in their own order, else after a
  stable reordering by partition number. The slices take the items over (compiled, without
  touching them: a slice would write every key's and value's reference count, and the
  emptied list again).

Keys wrapped because they are unhashable (``pairstore.unwrap``) are partitioned and sorted by
the user's key they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import compress, islice, repeat
from operator import eq, gt, sub
from typing import Any

from minimr.dataflow.mapside.keysort import partition_sizes, sorted_keys, take_slices
from minimr.dataflow.mapside.pairstore import unwrap
from minimr.dataflow.partition import sort_key

__all__ = ["SPLIT_FIRST_PARTITIONS", "PartitionSorter"]

#: up to this many partitions, a spill's keys are split by partition (a C pass over the keys
#: per partition) before each part is sorted; with more, those passes would cost more than
#: the one sort of all the keys and the stable reordering by partition (``cut``) they save
SPLIT_FIRST_PARTITIONS = 16


class PartitionSorter:
    """Cuts keys into ``partitions`` parts with ``partitioner``, each part sorted.

    Args:
        partitioner: key -> partition number, with ``partition_many(keys)`` for a list,
            ``starts_of_sorted(keys)`` and ``ordered`` (``partition``'s partitioners).
        partitions: the number of reduce partitions.
    """

    def __init__(self, partitioner: Callable[[Any], int], partitions: int) -> None:
        self._partitioner = partitioner
        self._partitions = partitions

    def partition_keys(self, keys: list, wrapped: bool, native: bool) -> list[list]:
        """Keys by partition, each partition's keys sorted in minimr's order.

        Args:
            keys: distinct keys, taken over: sorted in place when they are sorted by
                ``list.sort`` and not split first, and emptied when cut (``cut``).
            wrapped: some keys are wrapped because unhashable (``pairstore.unwrap``).
            native: plain comparisons give minimr's order (``partition.natively_sortable``).
        """
        if native and keys:  # all str or all bytes: their plain order is minimr's
            numbers = self.numbers_to_group(keys)
            ordered = sorted_keys(keys, numbers)  # one C pass
            if ordered is not None:
                return [part for part, in self.cut(ordered, native=True, numbers=numbers)]
        if wrapped:
            if self._partitions == 1:
                return [_sorted_wrapped(keys)]
            by_partition: list[list] = [[] for _ in range(self._partitions)]
            for key in keys:
                by_partition[self._partitioner(unwrap(key))].append(key)
            return [_sorted_wrapped(part) for part in by_partition]
        order = None if native else sort_key
        if 1 < self._partitions <= SPLIT_FIRST_PARTITIONS and not self._partitioner.ordered:
            # partitions first, then each sorted: smaller sorts, and no reordering after
            numbers = self._partitioner.partition_many(keys)
            parts = [list(compress(keys, map(eq, numbers, repeat(p))))
                     for p in range(self._partitions)]
            for part in parts:
                part.sort(key=order)
            return parts
        keys.sort(key=order)
        return [part for part, in self.cut(keys, native=native)]

    @property
    def groups_by_number(self) -> bool:
        """Whether a sort groups keys by partition number first (``numbers_to_group``): the
        partitions do not follow the key order (hashed, more than one)."""
        return self._partitions > 1 and not self._partitioner.ordered

    def numbers_to_group(self, keys: list) -> list[int] | None:
        """The partition numbers of ``keys``, for a sort to group them by partition before
        their order (``keysort``), when the partitions do not follow the key order (hashed);
        None when sorted keys are cut as they are (one partition, or a range partitioner)."""
        if not self.groups_by_number:
            return None
        return self._partitioner.partition_many(keys)

    def cut(self, keys: list, *columns: list, native: bool, numbers: list[int] | None = None
            ) -> Iterator[tuple[list, ...]]:
        """Sorted ``keys`` (and lists parallel to them) cut into one slice per partition.
        With more than one partition, the lists given are left empty: their items are moved
        into the slices, not copied (``keysort.take_slices``).

        Keys sorted by partition number first (``numbers``: the numbers ``numbers_to_group``
        gave, in any order) are cut by how many each partition has. A range partitioner's
        partitions follow the key order: keys sorted in their own order (``native``) are cut
        where the boundaries fall. Otherwise a stable sort by partition number keeps each
        partition's keys in order (with a range partitioner the numbers already ascend and
        the sort only checks that).
        """
        if self._partitions == 1:
            yield (keys, *columns)
            return
        if numbers is not None:
            yield from _slices(partition_sizes(numbers, self._partitions), keys, *columns)
            return
        starts = self._partitioner.starts_of_sorted(keys) if native else None
        if starts is not None:  # fewer boundaries than partitions leave the last ones empty
            starts += [len(keys)] * (self._partitions - len(starts))
            sizes = list(map(sub, [*starts[1:], len(keys)], starts))
            yield from _slices(sizes, keys, *columns)
            return
        numbers = self._partitioner.partition_many(keys)
        if any(map(gt, numbers, islice(numbers, 1, None))):
            order = sorted(range(len(keys)), key=numbers.__getitem__)
            keys, *columns = (list(map(c.__getitem__, order)) for c in (keys, *columns))
        yield from _slices(partition_sizes(numbers, self._partitions), keys, *columns)


def _slices(sizes: list[int], *columns: list) -> Iterator[tuple[list, ...]]:
    """Columns cut into consecutive slices of ``sizes``, one slice of each column a size; the
    columns' items are moved into the slices (``keysort.take_slices``), leaving them empty."""
    return zip(*(take_slices(c, sizes) for c in columns), strict=True)


def _sorted_wrapped(keys: list) -> list:
    """Keys, some wrapped because unhashable, in minimr's order of the user's keys."""
    return sorted(keys, key=lambda k: sort_key(unwrap(k)))
