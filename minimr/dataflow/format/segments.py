"""Segments on disk: how a map output's partitions (and spills) are written and read back.

A segment is one partition of one map output (or of a spill): a byte range of a local file that
starts with one *kind* byte and continues with framed blocks of ``(key, values)`` entries, sorted
by ``partition.sort_key``. The kind byte says whether all keys are str (``s``) or all bytes
(``b``), in which case the merge compares keys directly at C speed; ``a`` means anything else.
A block whose entries have one value each (a sort's or a join's records) is stored as two
columns, ``(keys, values)``: no tuple and no one-item list per record to make and pickle. Read
back, its entries are ``(key, (value,))``: values are any sequence.

A secondary sort's composite keys ``(key, value)`` (``sortvalues``) of a
``partition.native_order`` signature (a join's ``(user_id, (0, name, country))``: str, int
and tuples of them) have the kind ``c``, then the signature's length in one byte and the
signature (``(s(iss))``). Their blocks are the columns of plain keys and values, each
composite key made again as ``(key, value)`` when read, so a value is stored once and pickled
without the memo; segments of one signature are merged by plain comparisons, and segments
of different kinds through ``sort_key`` (other composite keys are stored whole, kind ``a``).

A segment may hold several sorted *runs* (a map task's spills, copied side by side rather than
merged on the map side: the reducer merges them anyway). Its kind byte is then upper-case
(``S``, ``B``, ``A``, ``C`` before the signature) and each run follows as its byte length
(``<u64``) and its blocks: one kind for all the runs, so runs of a composite kind are never
copied beside runs of another (``concatenable``; they would be read as plain keys). A
segment of no entries is its kind byte alone. ``merge`` merges
the runs of many segments.

A map task's output file (``MapOutput``) is one segment per partition, side by side.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice, repeat
from operator import countOf, itemgetter
from typing import Any, BinaryIO

from minimr.dataflow.format.blocks import BLOCK_ENTRIES, read_blocks, write_block
from minimr.dataflow.partition import natively_sortable

KIND_STR, KIND_BYTES, KIND_ANY = b"s", b"b", b"a"
_COMPOSITE = b"c"  # then the signature's length (one byte) and the signature
# A map output segment holds at most this many runs (see ``concatenate_segments``).
MAX_RUNS = 4
_RUN_HEADER = struct.Struct("<Q")
# Values of one key are cut into entries of at most this many, so one entry (and one block)
# stays small even for a hot key.
MAX_VALUES_PER_ENTRY = 65536
_first = itemgetter(0)
_second = itemgetter(1)
# the key type of each kind whose blocks can be read as key columns (``column_runs``)
_COLUMN_KINDS = {KIND_STR: str, KIND_BYTES: bytes}
# a composite kind's key type, by the first letter of the key's part of its signature
_COMPOSITE_KEYS = {b"s": str, b"b": bytes, b"i": int, b"(": tuple}
_TUPLE_TYPE, _LIST_TYPE, _TWO = {tuple}, {list}, {2}


@dataclass(frozen=True)
class Segment:
    """A byte range of a local file holding one sorted segment."""

    path: str
    offset: int
    length: int

    def to_dict(self) -> dict:
        """Plain data for the wire."""
        return {"path": self.path, "offset": self.offset, "length": self.length}

    @classmethod
    def from_dict(cls, data: dict) -> Segment:
        """Inverse of ``to_dict``."""
        return cls(str(data["path"]), int(data["offset"]), int(data["length"]))


@dataclass(frozen=True)
class MapOutput:
    """Where a map task's output lives: a local file and each partition's byte range."""

    path: str
    partitions: list[tuple[int, int]]

    def segment(self, partition: int) -> Segment:
        """The segment of one partition."""
        offset, length = self.partitions[partition]
        return Segment(self.path, offset, length)

    def to_dict(self) -> dict:
        """Plain data for the wire."""
        return {"path": self.path, "partitions": [list(p) for p in self.partitions]}

    @classmethod
    def from_dict(cls, data: dict) -> MapOutput:
        """Inverse of ``to_dict``."""
        return cls(str(data["path"]), [(int(o), int(n)) for o, n in data["partitions"]])


def key_kind(keys: Iterable, native: bool | None = None) -> bytes:
    """The kind byte for a sorted run of ``keys``; ``native`` is ``natively_sortable(keys)``
    when the caller knows it already (of these keys or of a list they were cut from)."""
    keys = list(keys) if not isinstance(keys, list) else keys
    if keys and (natively_sortable(keys) if native is None else native):
        return KIND_STR if type(keys[0]) is str else KIND_BYTES
    return KIND_ANY


def composite_kind(signature: bytes | None) -> bytes:
    """The kind of a sorted run of composite keys ``(key, value)`` of the
    ``partition.native_order`` signature ``signature`` (None: ``KIND_ANY``, stored whole)."""
    if signature is None or len(signature) > 255:
        return KIND_ANY
    return _COMPOSITE + bytes([len(signature)]) + signature


def plainly_ordered(kind: bytes) -> bool:
    """True when the keys of segments of ``kind`` (all of them) compare plainly in minimr's
    order: str, bytes, or composite keys of one signature."""
    return kind != KIND_ANY


def composite(kind: bytes) -> bool:
    """True for the kind of a secondary sort's composite segments of one signature
    (``composite_kind``)."""
    return kind[:1] == _COMPOSITE


def _column_key_type(kind: bytes) -> type | None:
    """The type of every key of a segment of ``kind`` read as key columns, or None when its
    blocks are not columns of one key type. A composite kind's signature is ``(`` and the
    key's, then the value's (``composite_kind``)."""
    if composite(kind):
        return _COMPOSITE_KEYS.get(kind[3:4])
    return _COLUMN_KINDS.get(kind)


def write_segment(
    out: BinaryIO, entries: Iterable[tuple[Any, list]], kind: bytes
) -> tuple[int, int]:
    """Write sorted ``(key, values)`` entries as one segment.

    Entries go out ``BLOCK_ENTRIES`` at a time; a chunk holding more than
    ``MAX_VALUES_PER_ENTRY`` values is re-cut so that no block, and no entry, is larger (one
    key's long values list becomes several entries of that key). Returns
    ``(bytes written, values written)``.
    """
    written = out.write(kind)
    entries_written, values_written = _write_entries(out, entries, composite(kind))
    return written + entries_written, values_written


def write_key_lists(out: BinaryIO, chunks: Iterable[tuple[list, list]], kind: bytes
                    ) -> tuple[int, int]:
    """Write sorted keys with their values as one segment, given a chunk at a time as
    ``(keys, values lists)`` (a list or tuple of values a key; a key of none is left out).

    A chunk whose keys have one value each is written as columns without making an entry
    (as ``write_single_values``); another as ``write_segment`` writes its entries. Not for
    a composite ``kind``. Returns ``(bytes written, values written)``.
    """
    written = out.write(kind)
    values_written = 0
    for keys, lists in chunks:
        if countOf(map(len, lists), 1) == len(lists):
            for block in _column_blocks(keys, list(map(_first, lists))):
                written += write_block(out, block)
            values_written += len(keys)
            continue
        entries = filter(_second, zip(keys, map(list, lists), strict=True))
        n, values = _write_entries(out, entries, False)
        written += n
        values_written += values
    return written, values_written


def _write_entries(out: BinaryIO, entries: Iterable[tuple[Any, list]], composite: bool
                   ) -> tuple[int, int]:
    """The blocks of ``write_segment``: ``(bytes written, values written)``."""
    written = values_written = 0
    entries = iter(entries)
    while True:
        chunk = list(islice(entries, BLOCK_ENTRIES))
        if not chunk:
            return written, values_written
        lists = list(map(_second, chunk))
        sizes = list(map(len, lists))
        n = sum(sizes)
        values_written += n
        if sizes.count(1) == len(chunk):
            keys = list(map(_first, chunk))
            if composite:  # each composite key (key, value) made again when read
                keys = list(map(_first, keys))
            written += write_block(out, (keys, list(map(_first, lists))))
            continue
        if composite:
            raise ValueError("a composite segment holds one value an entry")
        if n <= MAX_VALUES_PER_ENTRY:
            written += write_block(out, chunk)
            continue
        block: list = []
        block_values = 0
        for key, values in chunk:
            for i in range(0, max(len(values), 1), MAX_VALUES_PER_ENTRY):
                piece = values[i : i + MAX_VALUES_PER_ENTRY]
                if block and block_values + len(piece) > MAX_VALUES_PER_ENTRY:
                    written += write_block(out, block)
                    block, block_values = [], 0
                block.append((key, piece))
                block_values += len(piece)
        if block:
            written += write_block(out, block)


def write_single_values(out: BinaryIO, keys: list, values: list, kind: bytes) -> tuple[int, int]:
    """Write sorted ``keys`` with one value each (``values[i]`` is key i's) as one segment.

    The bytes ``write_segment`` writes for the entries ``(key, [value])``, without making them
    (for a composite ``kind``, ``keys`` are the plain keys: of the entries ``((key, value),
    [value])``). Returns ``(bytes written, values written)``.
    """
    return write_columns(out, _column_blocks(keys, values), kind)


def _column_blocks(keys: list, values: list) -> Iterator[tuple[list, list]]:
    """``(keys, values)`` cut into blocks of ``BLOCK_ENTRIES`` rows, in order."""
    return ((keys[i : i + BLOCK_ENTRIES], values[i : i + BLOCK_ENTRIES])
            for i in range(0, len(keys), BLOCK_ENTRIES))


def write_columns(out: BinaryIO, blocks: Iterable[tuple[list, list]], kind: bytes
                  ) -> tuple[int, int]:
    """Write sorted keys with one value each, given a block at a time as ``(keys, values)``
    columns of at most ``BLOCK_ENTRIES``, as one segment: one stored block each (a merge's
    batches as they come, ``write_single_values``' slices). Returns ``(bytes written,
    values written)``.
    """
    written = out.write(kind)
    values_written = 0
    for keys, values in blocks:
        written += write_block(out, (keys, values))
        values_written += len(keys)
    return written, values_written


def has_entries(segment: Segment) -> bool:
    """False for a segment of no entries (its kind byte alone, or nothing)."""
    return segment.length > len(KIND_ANY)


def _runs(file: BinaryIO, segment: Segment) -> tuple[bytes, list[tuple[int, int]]]:
    """A segment's kind (lower-case) and the ``(offset, length)`` of each of its runs."""
    if not has_entries(segment):
        return KIND_STR, []
    file.seek(segment.offset)
    head = file.read(1)
    kind = head.lower()
    if kind == _COMPOSITE:
        kind += file.read(1)
        kind += file.read(kind[1])
    if not head.isupper():
        return kind, [(segment.offset + len(kind), segment.length - len(kind))]
    runs = []
    position, end = segment.offset + len(kind), segment.offset + segment.length
    while position < end:
        file.seek(position)
        (length,) = _RUN_HEADER.unpack(file.read(_RUN_HEADER.size))
        position += _RUN_HEADER.size
        runs.append((position, length))
        position += length
    return kind, runs


def run_count(segment: Segment) -> int:
    """The number of sorted runs in a segment (0 for an empty one)."""
    with open(segment.path, "rb") as file:
        return len(_runs(file, segment)[1])


def _runs_of(segments: list[Segment]) -> tuple[set[bytes], list[tuple[str, int, int]]]:
    """The kinds of the segments that hold entries, and every run as ``(path, offset,
    length)``."""
    pieces = []
    kinds = set()
    for segment in segments:
        with open(segment.path, "rb") as file:
            kind, runs = _runs(file, segment)
        if runs:
            kinds.add(kind)
            pieces += [(segment.path, offset, length) for offset, length in runs]
    return kinds, pieces


def _alike(kinds: set[bytes]) -> bool:
    return len(kinds) < 2 or not any(map(composite, kinds))


def concatenable(segments: list[Segment]) -> bool:
    """True when the runs of ``segments`` can be copied side by side as one segment: of one
    kind, or of no composite kind (a composite run's blocks hold plain keys, read back as
    composite keys only under its own kind; str and bytes blocks read as any others)."""
    return _alike(_runs_of(segments)[0])


def concatenate_segments(out: BinaryIO, segments: list[Segment]) -> int:
    """Write the runs of ``segments`` side by side as one segment, without merging them.

    The bytes are copied as they are: no entry is read. Returns the bytes written.

    Raises:
        ValueError: the segments are not ``concatenable``.
    """
    kinds, pieces = _runs_of(segments)
    if not _alike(kinds):
        raise ValueError("runs of a composite kind and of another kind cannot be one segment:"
                         " merge them")
    kind = kinds.pop() if len(kinds) == 1 else KIND_ANY
    written = out.write(kind[:1].upper() + kind[1:] if len(pieces) > 1 else kind)
    for path, offset, length in pieces:
        if len(pieces) > 1:
            written += out.write(_RUN_HEADER.pack(length))
        with open(path, "rb") as file:
            file.seek(offset)
            piece = _Limited(file, length)
            shutil.copyfileobj(piece, out, 1 << 20)
        if piece.left:
            raise OSError(f"{path} ends {piece.left} bytes before its run (a torn spill file)")
        written += length
    return written


class _Limited:
    """The next ``length`` bytes of a file, as a file to copy from."""

    def __init__(self, file: BinaryIO, length: int) -> None:
        self._file, self.left = file, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self._file.read(size)
        self.left -= len(data)
        return data


def block_entries(block: list | tuple, pairs: bool = False, composite: bool = False) -> list:
    """A stored block's ``(key, values)`` entries (a block of columns: ``(key, (value,))``);
    with ``pairs``, its ``(key, value)`` pairs, one a value; with ``composite`` (a block of a
    composite segment), each key the composite ``(key, value)``."""
    if type(block) is tuple:  # columns: keys, and one value each
        keys, values = block
        if composite:
            keys = zip(keys, values, strict=True)
        return list(zip(keys, values if pairs else zip(values), strict=True))
    if pairs:  # each value under its entry's key
        return list(chain.from_iterable(
            map(zip, map(repeat, map(_first, block)), map(_second, block))))
    return block


class SegmentReader:
    """An open segment: its kind, its runs (each an iterator of blocks) and the values read.

    Each run is read through a file of its own, so that the runs can be merged. The runs'
    blocks are lists of ``(key, values)`` entries; ``pairs`` makes them lists of
    ``(key, value)`` pairs instead, one a value (for a reader that wants no groups: the
    identity reduce), so no one-value tuple is made for a block of columns.
    """

    def __init__(self, segment: Segment, pairs: bool = False) -> None:
        self._pairs = pairs
        self._where = f"{segment.path} at {segment.offset}"
        self.file = open(segment.path, "rb")
        self._others: list[BinaryIO] = []
        self.kind, runs = _runs(self.file, segment)
        self._composite = composite(self.kind)
        self.values = 0
        self.runs = []
        self._raw: list[Iterator[list | tuple]] = []  # each run's blocks as stored
        for offset, length in runs:
            file = self.file if not self.runs else self._open_another(segment.path)
            file.seek(offset)
            self._raw.append(read_blocks(file, length))
            self.runs.append(map(self._entries, self._raw[-1]))

    def stored_blocks(self) -> list[list | tuple]:
        """Every block of every run, in order, as stored: columns ``(keys, values)`` tuples or
        entry lists (counted as read). Reads the whole segment: for a merge in memory; the
        runs are then used up."""
        blocks = [block for run in self._raw for block in run]
        for block in blocks:
            self._count(block)
        if self._composite:  # the composite keys made again
            blocks = [(list(zip(*block, strict=True)), block[1]) for block in blocks]
        return blocks

    def column_runs(self) -> list[Iterator[tuple[list, list]]]:
        """Each run's blocks as ``(keys, values)`` columns, one value a key (counted as read;
        an entry list's values each under its entry's key), for a segment of str or bytes
        keys (``KIND_STR``, ``KIND_BYTES``) or a ``composite`` one (its plain keys and its
        values, as stored: no composite key made); use these or ``runs``, not both.

        Raises:
            ValueError: (as a run is read) a block of another shape, or a key of another
                type than the segment's kind says: a damaged segment.
        """
        key_type = _column_key_type(self.kind)
        if key_type is None:
            raise ValueError(f"a segment of kind {self.kind!r} has no key columns")
        return [map(partial(self._columns, key_type), raw) for raw in self._raw]

    def _columns(self, key_type: type, block: list | tuple) -> tuple[list, list]:
        if type(block) is tuple and len(block) == 2:
            keys, values = block
        elif type(block) is list and not self._composite and (
                set(map(type, block)) <= _TUPLE_TYPE and set(map(len, block)) <= _TWO):
            lists = list(map(_second, block))
            if not set(map(type, lists)) <= _LIST_TYPE:
                raise ValueError(f"{self._where}: an entry's values are not a list")
            keys = list(chain.from_iterable(map(repeat, map(_first, block), map(len, lists))))
            values = list(chain.from_iterable(lists))
        else:
            raise ValueError(f"{self._where}: a block that is neither columns nor entries")
        if type(keys) is not list or type(values) is not list or len(keys) != len(values):
            raise ValueError(f"{self._where}: a block of columns of unequal lengths")
        if countOf(map(type, keys), key_type) != len(keys):
            raise ValueError(f"{self._where}: a key not of type {key_type.__name__}, in a"
                             f" segment of kind {self.kind!r}")
        self.values += len(keys)
        return keys, values

    def _open_another(self, path: str) -> BinaryIO:
        file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._others.append(file)
        return file

    def _entries(self, block: list | tuple) -> list:
        self._count(block)
        return block_entries(block, self._pairs, self._composite)

    def _count(self, block: list | tuple) -> None:
        # a block at a time, so that no Python code runs per entry (or per key) to count
        if type(block) is tuple:  # columns: keys, and one value each
            self.values += len(block[0])
        else:
            self.values += sum(map(len, map(_second, block)))

    def close(self) -> None:
        self.file.close()
        for file in self._others:
            file.close()
