"""Framed pickle blocks: the on-disk unit of spills, map outputs and intermediate step output.

Records are pickled a block at a time (a list of many entries with protocol 5), never one by
one: one ``pickle.dumps`` of a list is far cheaper than thousands of small ones. A block on
disk is ``<u32 length><pickled bytes>``, or, where the compiled writers are built, for
columns of ASCII str (a sort's records) ``<u32 length><their text>`` (``strcolumns``), and
for columns of ints, floats, ASCII str or tuples of them (a float average's ``(total,
count)``, a join's tagged rows, a word count's counts) the fields unpickled
(``typedcolumns``).

A block of columns (one value a key: a sort's records, a word count's combined counts) that
holds only str, bytes and numbers, or in a column only tuples of them (a join's rows), is
pickled without the memo (``Pickler.fast``), which otherwise records every object written to
find it again and is 80% of the cost of pickling a block of distinct strings. The bytes are
ordinary pickle data (any reader loads them); an object written twice is written twice, which
for atomic values and tuples of them (immutable, holding nothing shared) changes nothing but
identity. Other blocks (other containers or objects of the user's) keep the memo, so sharing
and cycles come back as they went.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Iterator
from itertools import chain
from typing import Any, BinaryIO

from minimr.dataflow.format import strcolumns, typedcolumns
from minimr.dataflow.format.unpicklable import raise_culprit

_HEADER = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
# Entries per block: large enough to amortise pickling, small enough that a reducer merging
# hundreds of segments holds only one modest block of each in memory.
BLOCK_ENTRIES = 4096
# Objects that hold no references: writing one twice cannot make a copy of anything shared.
_ATOMIC = frozenset({str, bytes, int, float, bool, type(None)})
_TUPLE = {tuple}
# a block's reader by its first byte (a pickle's is b"\x80")
_READERS = {strcolumns.TAG: strcolumns.decode, typedcolumns.TAG: typedcolumns.decode}


def write_block(out: BinaryIO, entries: list | tuple, records: bool = False) -> int:
    """Append one block holding ``entries``; returns the bytes written.

    ``entries`` are columns ``(keys, values)``, or a list of ``(key, values list)`` entries
    or, with ``records``, of ``(key, value)`` records.

    Raises:
        UnpicklableRecord: a key or value cannot be pickled (``unpicklable.py``).
    """
    data = _columns(entries)
    if data is None:
        data = _pickled(entries, records)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    return HEADER_SIZE + len(data)


def _columns(block: list | tuple) -> bytes | None:
    """A block of columns stored unpickled, where the compiled writers are built: ASCII str
    as their text (``strcolumns``), ints, floats, ASCII str and tuples of them as typed
    columns (``typedcolumns``); otherwise None."""
    if (type(block) is not tuple or len(block) != 2 or type(block[0]) is not list
            or type(block[1]) is not list):
        return None
    data = strcolumns.encode(*block) if strcolumns.encode is not None else None
    if data is None and typedcolumns.encode is not None:
        data = typedcolumns.encode(*block)
    return data


def _pickled(entries: list | tuple, records: bool) -> bytes:
    try:
        return _dumps(entries) if _flat(entries) else pickle.dumps(entries, protocol=5)
    except Exception as exc:  # look for the culprit only now: checking first would cost
        if type(entries) is tuple:  # columns
            raise_culprit(zip(*entries, strict=True), exc)
        else:
            raise_culprit(entries, exc, grouped=not records)
        raise


def _flat(block: list | tuple) -> bool:
    """True for a block of columns ``(keys, values)`` holding atomic values (or tuples of them).

    Checking costs a look at every object, about a third of what the memo costs: worth it
    for columns (one value a key), not for entries whose values come in lists (a word
    count's uncombined counts), where it would cost as much as it saves.
    """
    return type(block) is tuple and all(map(_flat_column, block))


def _flat_column(column: Any) -> bool:
    """A list of atomic values, or of tuples of atomic values only."""
    if type(column) is not list:
        return False
    kinds = set(map(type, column))
    if _ATOMIC.issuperset(kinds):
        return True
    return kinds == _TUPLE and _ATOMIC.issuperset(map(type, chain.from_iterable(column)))


def _dumps(block: Any) -> bytes:
    """``pickle.dumps`` without the memo: for blocks of atomic values only (see ``_flat``)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    try:
        pickler.fast = True  # documented as deprecated since 3.0, and still there in 3.13
    except AttributeError:  # gone in some later Python: the memo costs time, not correctness
        return pickle.dumps(block, protocol=5)
    pickler.dump(block)
    return buffer.getvalue()


def write_blocks(out: BinaryIO, entries: list, per_block: int = BLOCK_ENTRIES) -> int:
    """Write ``entries`` as consecutive blocks of ``per_block``; returns the bytes written."""
    written = 0
    for i in range(0, len(entries), per_block):
        written += write_block(out, entries[i : i + per_block])
    return written


def read_blocks(source: BinaryIO, length: int) -> Iterator[list]:
    """Yield the entry lists of the blocks in the next ``length`` bytes of ``source``.

    Raises:
        ValueError: when the bytes end in the middle of a block (a torn or truncated file).
    """
    remaining = length
    while remaining > 0:
        header = source.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE:
            raise ValueError("truncated block header")
        (size,) = _HEADER.unpack(header)
        if size > remaining - HEADER_SIZE:
            raise ValueError(f"block of {size} bytes overruns its segment")
        data = source.read(size)
        if len(data) < size:
            raise ValueError("truncated block")
        remaining -= HEADER_SIZE + size
        yield _READERS.get(data[:1], pickle.loads)(data)


def iter_entries(source: BinaryIO, length: int) -> Iterator:
    """Yield the entries of every block in the next ``length`` bytes of ``source``."""
    for entries in read_blocks(source, length):
        yield from entries
