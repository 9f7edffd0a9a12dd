"""A block of two str columns stored as their text, not pickled: its layout, and its reader.

A block of columns (``blocks.py``) whose keys and values are all exact str of ASCII
characters (a sort's records) is written, where the compiled ``_strcolumns`` is built, as::

    b"S"  <u32 n>  <n u32: each key's length>  <n u32: each value's length>
    <the keys' text, one after the other>  <the values' text>

(little-endian, lengths in bytes). Pickle writes each str as an opcode, its length and its
text, and reads it back through its dispatch loop; here the texts are copied out and made
back into str in one pass (a sort's block: about 170 ns a record to pickle, 90 to unpickle,
on this machine). A pickle of protocol 2 or later starts with ``b"\\x80"``, so the first
byte tells the two apart (``is_str_columns``).

Read from disk, a block is hostile input: ``decode`` (compiled, or ``decode_py`` here for a
minimr built without a compiler) checks the count and the lengths against the block's size
and decodes the text strictly as UTF-8, so a damaged block raises ``ValueError``, never
gives a wrong value. The str read back are equal to those written, and exact str.
"""

from __future__ import annotations

import struct
from itertools import accumulate

__all__ = ["TAG", "decode", "decode_py", "encode", "is_str_columns"]

TAG = b"S"
_COUNT = struct.Struct("<I")
_HEAD = len(TAG) + _COUNT.size


def is_str_columns(block: bytes) -> bool:
    """True for a block of this layout (else: a pickle)."""
    return block[:1] == TAG


def decode_py(block: bytes) -> tuple[list[str], list[str]]:
    """The ``(keys, values)`` columns of a block of this layout.

    Raises:
        ValueError: a block of another layout, lengths that do not add up to its size, or
            text that is not UTF-8 (a damaged block).
    """
    if len(block) < _HEAD or not is_str_columns(block):
        raise ValueError("not a block of str columns")
    (n,) = _COUNT.unpack_from(block, 1)
    text_start = _HEAD + 8 * n
    if text_start > len(block):
        raise ValueError(f"a block of str columns of {n} rows cannot fit in {len(block)} bytes")
    lengths = struct.unpack_from(f"<{2 * n}I", block, _HEAD)
    if sum(lengths) != len(block) - text_start:
        raise ValueError(f"a block of str columns whose lengths add up to {sum(lengths)} bytes,"
                         f" not the {len(block) - text_start} it holds")
    ends = list(accumulate(lengths, initial=text_start))
    try:
        texts = list(map(bytes.decode, map(block.__getitem__, map(slice, ends, ends[1:]))))
    except UnicodeDecodeError as exc:
        raise ValueError(f"a block of str columns holds text that is not UTF-8 ({exc.reason})"
                         ) from None
    return texts[:n], texts[n:]


decode = decode_py
#: the compiled writer (None: blocks of str columns are pickled like any other)
encode = None
try:
    from minimr.dataflow.format._strcolumns import (  # type: ignore[import-not-found,no-redef]
        decode,
        encode,
    )
except ImportError:  # no compiler where minimr was installed: pickled, read by decode_py
    pass
