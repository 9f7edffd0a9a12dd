"""Merging sorted segments: the reduce side's k-way merge (and the map side's, of spills).

The segments and their runs are ``segments``' format. The merge streams: it holds one block of
each run at a time, and the values of a key are handed on as an iterator that pulls entries
from the runs as the reducer consumes them, so a key with ten million values is never a list
in memory (``grouping`` cuts the merged entries into key groups). When there are more runs
than ``passes.MERGE_FACTOR``, segments are first merged in passes into fewer, larger ones
(Hadoop's io.sort.factor; ``passes`` plans them, ``_write_merge`` here writes each), so open
files and buffers stay bounded.

The identity reduce of str or bytes keys (a sort's) is merged by the compiled
``_colmerge.ColumnMerge`` where it is built: the runs' column blocks as they are, into the
part writer's columns, with no ``(key, value)`` pair made (``MergedPairs.columns``). So are a
secondary sort's composite segments of one signature (a join's), as their plain key and value
columns: into the writer's columns, as key groups (``MergedGroups.chunks``) or in a merge
pass, with no composite key, entry or one-value tuple made a record (``columns``).
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, count, repeat, starmap
from operator import itemgetter, ne
from typing import Any, BinaryIO, TypeVar

from minimr.dataflow.exact import least, least_first
from minimr.dataflow.format.segments import (
    KIND_ANY,
    KIND_STR,
    Segment,
    SegmentReader,
    block_entries,
    has_entries,
    plainly_ordered,
    write_columns,
    write_segment,
)
from minimr.dataflow.partition import sort_key
from minimr.dataflow.reduceside.columns import (
    GROUP_BATCH,
    column_groups,
    column_merged,
    column_pairs,
    merged_columns,
)
from minimr.dataflow.reduceside.grouping import (
    group_batches,
    group_columns,
    group_lists,
    pair_columns,
)
from minimr.dataflow.reduceside.passes import premerge
from minimr.dataflow.sortvalues import entry_key, least_key_first, plain_entries, rekeyed

_Merge = TypeVar("_Merge", bound="MergedEntries")
# Segments adding up to at most this many bytes are merged by one in-memory sort (of columns,
# when every block is columns: ``merge_in_memory``).
IN_MEMORY_MERGE = 16 * 2**20
_first = itemgetter(0)
_second = itemgetter(1)


@dataclass(frozen=True)
class KeyPlace:
    """Where a merged entry's key is, for the key to write (``exact``): first in a plain
    entry ``(key, ...)`` (``PLAIN``), first in the composite key of a secondary sort's
    ``((key, value), ...)`` (``COMPOSITE``, ``sortvalues``).

    Attributes:
        key: an entry's key.
        rekeyed: an entry with another key (an equal one) in its place.
        least_first: sorted entries, each run of equal keys' first entry given the least
            of the run's keys (in place; returns the list).
    """

    key: Callable[[tuple], Any]
    rekeyed: Callable[[tuple, Any], tuple]
    least_first: Callable[[list], list]


def _with_key(entry: tuple, key: Any) -> tuple:
    return (key, *entry[1:])


PLAIN = KeyPlace(_first, _with_key, least_first)
COMPOSITE = KeyPlace(entry_key, rekeyed, least_key_first)


def merge_entries(readers: list[SegmentReader], in_memory: bool = False,
                  place: KeyPlace = PLAIN) -> Iterator[tuple[Any, list]]:
    """All entries of the readers, in sort order (entries of equal keys stay adjacent)."""
    return chain.from_iterable(merge_batches(readers, in_memory, place))


def merge_batches(readers: list[SegmentReader], in_memory: bool = False,
                  place: KeyPlace = PLAIN) -> Iterator[list]:
    """All entries of the readers in sort order, as a sequence of lists.

    ``in_memory`` loads every entry and sorts them in one C call (Timsort finds the sorted
    runs and gallops through them): much faster than a merge's Python loop, for inputs small
    enough to hold (deserialized, a few times their on-disk size). Otherwise the runs are
    merged a batch at a time by ``merge_blocks``. Both are stable, so equal keys keep their
    segment order, and the first entry of each key carries the key to write (``exact``),
    where ``place`` says an entry's key is.
    """
    native = plainly_ordered(merged_kind(readers))
    runs = [run for reader in readers for run in reader.runs]
    if len(runs) == 1:
        return runs[0]
    if in_memory:
        return iter([_sorted_entries(chain.from_iterable(runs), native, place)])
    return merge_blocks(runs, native, place)


def merge_in_memory(readers: list[SegmentReader]) -> tuple[list, list] | list:
    """All entries of the readers in sort order, read and sorted in memory (stable).

    When every block is columns and the keys are str or bytes: ``(keys, values)`` columns,
    one value a pair, sorted by one C sort of their positions, with no entry made
    (``grouping.group_columns`` groups them); otherwise the sorted entries list.
    """
    blocks = [block for reader in readers for block in reader.stored_blocks()]
    native = plainly_ordered(merged_kind(readers))
    if native and all(type(block) is tuple for block in blocks):
        keys = list(chain.from_iterable(map(_first, blocks)))
        values = list(chain.from_iterable(map(_second, blocks)))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return list(map(keys.__getitem__, order)), list(map(values.__getitem__, order))
    return _sorted_entries(map(block_entries, blocks), native)


def _sorted_entries(blocks: Iterable[list], native: bool, place: KeyPlace = PLAIN) -> list:
    """The entries of the blocks, one list, sorted (stably) by key: Timsort finds the
    sorted runs and gallops through them. Keys of other types than str or bytes are
    compared through ``sort_key``, and each key's first entry given the key to write."""
    everything: list = []
    for block in blocks:
        everything.extend(block)
    if native:
        everything.sort(key=_first)
        return everything
    everything.sort(key=_sort_key_of_first)
    return place.least_first(everything)


def _sort_key_of_first(entry: tuple) -> tuple:
    return sort_key(entry[0])


def merge_blocks(sources: list[Iterator[list]], native: bool = True,
                 place: KeyPlace = PLAIN) -> Iterator[list]:
    """Merge runs of ``(key, values)`` entries sorted by key, a batch at a time.

    Each source yields a run's blocks, in order. The result is a sequence of lists whose
    concatenation is what ``heapq.merge`` gives: sorted and stable (entries of equal keys
    in source order, then run order). The work is done in C for ``native`` keys (str, or
    bytes): a bisect per source and one sort of a few sorted pieces per batch, rather than a
    heap step in Python per entry; other keys are compared through ``sort_key``. At most one
    block of each source is held at a time, besides the batch handed on.

    Keys other than ``native`` ones keep ``exact``'s rule: each source's first entry of a key
    carries the key to write of that source, and the first entry handed on of the key gets
    the least of them. When it is handed on, every source's first entry of the key has been
    read (a source holding the key has no entry below it left, so its block holds the key),
    and is in the batch or the source's next entry (``_least_with_heads``). ``place`` says
    where an entry's key is: a secondary sort's composite keys ``(key, value)`` are ordered
    by value within a key, so one key's entries may straddle the bound.
    """
    key = _first if native else _sort_key_of_first
    blocks: list[list] = [[] for _ in sources]
    starts = [0] * len(sources)  # where the entries not yet handed on begin, in each block
    # sources with entries left: a source leaves only once its last block is handed on
    live = list(range(len(sources)))

    def refill(i: int) -> None:
        for block in sources[i]:
            if block:
                blocks[i], starts[i] = block, 0
                return
        live.remove(i)

    for i in range(len(sources)):
        refill(i)
    while live:
        # No source can still hold a key below the smallest last key read: every entry
        # below it is here, and sorting them (stable, in source order) merges them.
        last = min((blocks[i][-1] for i in live), key=key)
        bound = key(last)
        batch: list = []
        for i, block in enumerate(blocks):
            cut = bisect_left(block, bound, starts[i], key=key)
            batch += block[starts[i] : cut]
            starts[i] = cut
        batch.sort(key=key)
        chosen = None  # the key the bound's first entry handed on is to carry
        if not native:
            heads = _heads(blocks, starts, place.key(last), place)
            chosen = _least_with_heads(place.least_first(batch), heads, place)
        if batch:
            yield batch
        # Then the bound key itself, one source after the other, reading on through a
        # source's run of it (a hot key may fill many blocks: they are not all held).
        for i in range(len(sources)):
            while starts[i] < len(blocks[i]) and not bound < key(blocks[i][starts[i]]):
                cut = bisect_right(blocks[i], bound, starts[i], key=key)
                piece = blocks[i][starts[i] : cut]
                if chosen is not None:  # the bound key's first entry: the key to write
                    if place.key(piece[0]) is not chosen:
                        piece[0] = place.rekeyed(piece[0], chosen)
                    chosen = None
                yield piece
                starts[i] = cut
                if cut == len(blocks[i]):
                    refill(i)
        for i in list(live):
            if starts[i] == len(blocks[i]):
                refill(i)


def _heads(blocks: list[list], starts: list[int], bound_key: Any, place: KeyPlace) -> list:
    """The keys of the sources' next entries (after the batch) equal to ``bound_key``, the
    bound's key, in source order: the first entries of it not yet handed on."""
    heads = [place.key(block[start]) for block, start in zip(blocks, starts, strict=True)
             if start < len(block)]
    return [head for head in heads if head == bound_key]


def _least_with_heads(batch: list, heads: list, place: KeyPlace) -> Any:
    """Give the bound's key its key to write, the least of ``heads`` (``_heads``) and of the
    sorted ``batch``'s run of it; returns what the bound's first entry handed on is to carry
    (None: as it is).

    When the batch ends with a run of the bound's key (composite keys: its lower values),
    the run's first entry takes the least of its key and the heads' (None is returned);
    else the bound's first entry, one of the heads, takes the least of them.
    """
    if not heads:
        return None
    if batch and place.key(batch[-1]) == heads[0]:
        keys = list(map(place.key, batch))
        start = len(keys) - next(compress(count(), map(ne, reversed(keys), repeat(keys[-1]))),
                                 len(keys))
        chosen = least([keys[start], *heads])
        if chosen is not keys[start]:
            batch[start] = place.rekeyed(batch[start], chosen)
        return None
    return least(heads) if len(heads) > 1 else None


def merged_kind(readers: list[SegmentReader]) -> bytes:
    """The kind byte of the merge of ``readers``."""
    kinds = {r.kind for r in readers}
    return kinds.pop() if len(kinds) == 1 else KIND_ANY


def _write_merge(out: BinaryIO, readers: list[SegmentReader], place: KeyPlace
                 ) -> tuple[int, int]:
    """Write the merge of ``readers`` as one segment of their kind: ``(bytes written, values
    written)``. In C for composite segments the compiled merge takes (``columns``)."""
    kind = merged_kind(readers)
    if place is COMPOSITE and column_merged(kind, True):
        return write_columns(out, merged_columns(readers), kind)
    return write_segment(out, merge_entries(readers, place=place), kind)


class MergedEntries:
    """The merge of sorted segments, read as ``(key, values list)`` entries; a context manager.

    The base of the two ways a reduce reads a merge, ``MergedGroups`` and ``MergedPairs``;
    read as it is, it is how a map task merges its spills (``entries``).

    Args:
        segments: the segments to merge (their files must stay until the iteration ends).
        scratch: a folder for intermediate merge passes when there are many segments.
        memory_limit: segments of at most this many bytes in all are merged in memory.
        sort_values: the segments hold composite entries (``sortvalues``): merged by key and
            value, streamed (read and sorted in memory they take several times their size),
            and read with their plain keys by ``MergedGroups`` and ``MergedPairs``
            (``entries`` gives them composite, for a map task's merge of its spills).
    """

    _pairs = False  # how the segments' blocks are read (``SegmentReader``)

    def __init__(self, segments: list[Segment], scratch: str,
                 memory_limit: int = IN_MEMORY_MERGE, sort_values: bool = False) -> None:
        self._sort_values = sort_values
        self._place = COMPOSITE if sort_values else PLAIN
        # An empty segment's kind (an empty run's) says nothing: merged in, it would send str
        # keys down the Python-compared path.
        segments = list(filter(has_entries, segments))
        # composite entries are several times their plain size read and sorted: streamed
        self._in_memory = not sort_values and sum(s.length for s in segments) <= memory_limit
        self._temporary: list[str] = []
        if not self._in_memory:
            segments, self._temporary = premerge(segments, scratch,
                                                 partial(_write_merge, place=self._place))
        self._segments = segments
        self._readers: list[SegmentReader] = []
        # the keys handed on so far, counted a chunk at a time (ahead of the iteration, as
        # values_read): exact once the iteration has ended
        self.groups = 0

    def __enter__(self: _Merge) -> _Merge:
        self._readers = [SegmentReader(s, self._pairs) for s in self._segments]
        return self

    def __exit__(self, *exc: object) -> None:
        for reader in self._readers:
            reader.close()
        for path in self._temporary:
            if os.path.exists(path):
                os.unlink(path)

    @property
    def premerged(self) -> bool:
        """True when the segments were first merged in passes through temporary files."""
        return bool(self._temporary)

    @property
    def values_read(self) -> int:
        """The values read from the segments so far.

        They are counted a block at a time as blocks are read (ahead of the iteration), so
        the number is exact once the iteration has ended: every value of every segment.
        """
        return sum(reader.values for reader in self._readers)

    @property
    def kind(self) -> bytes:
        """The kind byte of the merged output."""
        return merged_kind(self._readers) if self._readers else KIND_STR

    def entries(self) -> Iterator[tuple[Any, list]]:
        """The merged ``(key, values list)`` entries, several per key when keys repeat; the
        first of a key carries the key to write."""
        return chain.from_iterable(self.batches())

    def batches(self) -> Iterator[list]:
        """The merged entries of ``entries``, in lists."""
        if not self._readers:
            return iter(())
        return merge_batches(self._readers, self._in_memory, self._place)

    def write(self, out: BinaryIO) -> tuple[int, int]:
        """Write the merged ``entries`` as one segment of the merge's kind (a map task's
        spills merged): ``(bytes written, values written)``."""
        if self._in_memory or not self._readers:
            return write_segment(out, self.entries(), self.kind)
        return _write_merge(out, self._readers, self._place)


class MergedGroups(MergedEntries):
    """The merge read as key groups: ``(key, values iterator)``, each key once."""

    def __iter__(self) -> Iterator[tuple[Any, Iterator]]:
        return chain.from_iterable(starmap(zip, self.chunks()))

    def chunks(self) -> Iterator[tuple[list, list]]:
        """The keys and their values a chunk at a time: ``(keys, values iterators)`` lists,
        each key once (``grouping``). Take a chunk's values, in order, before asking for the
        next chunk: that ends the values of the chunk before."""
        if not self._readers:
            return iter(())
        if self._sort_values and column_merged(self.kind, True):  # compiled: no entry made
            return map(self._counted, group_lists(column_groups(self._readers, GROUP_BATCH)))
        if self._sort_values:  # a key's composite entries are adjacent, in value order
            batches = map(plain_entries,
                          merge_batches(self._readers, self._in_memory, self._place))
            return map(self._counted, group_batches(batches))
        if self._in_memory and sum(len(reader.runs) for reader in self._readers) > 1:
            merged = merge_in_memory(self._readers)
            if type(merged) is tuple:  # columns: no entry per value, no chain per key
                return map(self._counted, group_columns(*merged))
            return map(self._counted, group_batches(iter([merged])))
        return map(self._counted, group_batches(merge_batches(self._readers)))

    def _counted(self, chunk: tuple[list, list]) -> tuple[list, list]:
        # a chunk at a time: no Python code runs per key
        self.groups += len(chunk[0])
        return chunk


class MergedPairs(MergedEntries):
    """The merge read as ``(key, value)`` pairs, one a value, with no group made: what an
    identity reduce writes (``groups`` counts the keys all the same)."""

    _pairs = True  # ``entries`` are ``(key, value)`` pairs

    def columns(self, size: int) -> Iterator[tuple[list, list]]:
        """Every merged value under its key, in order, as ``(keys, values)`` column lists of
        at most ``size`` values, with no iterator made per key; every value of a key under
        one key object, the key to write."""
        if self._readers and column_merged(self.kind, self._sort_values):
            # compiled: the runs' columns merged as they are, no pair made (``columns``)
            for keys, values, groups in column_pairs(self._readers, size, self._sort_values):
                self.groups += groups
                yield keys, values
            return
        batches = (merge_batches(self._readers, self._in_memory, self._place)
                   if self._readers else iter(()))
        if self._sort_values:
            batches = map(plain_entries, batches)
        for keys, values, groups in pair_columns(batches, size):
            self.groups += groups
            yield keys, values
