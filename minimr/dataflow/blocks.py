"""Framed pickle blocks: the on-disk unit of spills, map outputs and intermediate step output.

Records are pickled a block at a time (a list of many entries with protocol 5), never one by
one: one ``pickle.dumps`` of a list is far cheaper than thousands of small ones. A block on
disk is ``<u32 length><pickled bytes>``.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from typing import BinaryIO

_HEADER = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
# Entries per block: large enough to amortise pickling, small enough that a reducer merging
# hundreds of segments holds only one modest block of each in memory.
BLOCK_ENTRIES = 4096


def write_block(out: BinaryIO, entries: list) -> int:
    """Append one block holding ``entries``; returns the bytes written."""
    data = pickle.dumps(entries, protocol=5)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    return HEADER_SIZE + len(data)


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
        yield pickle.loads(data)


def iter_entries(source: BinaryIO, length: int) -> Iterator:
    """Yield the entries of every block in the next ``length`` bytes of ``source``."""
    for entries in read_blocks(source, length):
        yield from entries
