"""A block of two columns of ints, floats, ASCII str or tuples of them, stored unpickled.

A block of columns (``blocks.py``) whose keys, and whose values, are each all of one *shape*
(an exact int that fits in 64 bits, an exact float, an exact str of ASCII characters, or an
exact tuple of such fields, one type a position) is written, where the compiled
``_typedcolumns`` is built, as::

    b"T"  <u32 n>  <u8 length of the signature>  <the signature>  <each field's column>

(little-endian). The signature spells the two columns' shapes, the key's first: ``i`` an int,
``f`` a float, ``s`` a str, a tuple its fields' letters in parentheses; a float average's
``(user, (total, count))`` is ``s(fi)``, a join's ``(user_id, (0, name, country))`` is
``s(iss)``. Then comes every field of the signature in order, each a column of ``n``:

    ``i``  n signed 64-bit integers
    ``f``  n IEEE 754 doubles, their bits as they are (``-0.0`` and a NaN's payload kept)
    ``s``  n u32 byte lengths, then the texts one after the other

Pickle writes each value with an opcode and reads it back through its dispatch loop; here a
field is copied out and made back in one pass. A ``bool`` (an int subclass), an int past 64
bits, a subclass of any of these, a str of other characters, a list or an empty tuple keeps
the block pickled, so every value comes back with its type. ``is_typed_columns`` tells the
layout from a pickle (which starts with ``b"\\x80"``) and from ``strcolumns``' ``b"S"``.

Read from disk, a block is hostile input: ``decode`` (compiled, or ``decode_py`` here for a
minimr built without a compiler) checks the signature, the count and every length against the
block's size, and that the text is ASCII, so a damaged block raises ``ValueError``, never
gives a wrong value.
"""

from __future__ import annotations

import struct
import sys
from itertools import accumulate

__all__ = ["TAG", "decode", "decode_py", "encode", "is_typed_columns"]

TAG = b"T"
_COUNT = struct.Struct("<I")
_HEAD = len(TAG) + _COUNT.size + 1  # the tag, the count, the signature's length
_FIELDS = frozenset(b"ifs")
_FIXED = {ord("i"): "q", ord("f"): "d"}


def is_typed_columns(block: bytes) -> bool:
    """True for a block of this layout."""
    return block[:1] == TAG


def parse_signature(signature: bytes) -> list[tuple[bool, bytes]]:
    """The two columns of ``signature``: ``(is a tuple, its field letters)`` each.

    Raises:
        ValueError: not two columns of known letters, or an empty or unclosed tuple.
    """
    columns: list[tuple[bool, bytes]] = []
    at = 0
    while at < len(signature):
        if signature[at] in _FIELDS:
            columns.append((False, signature[at : at + 1]))
            at += 1
            continue
        end = signature.find(b")", at)
        fields = signature[at + 1 : end] if signature[at : at + 1] == b"(" and end > 0 else b""
        if not fields or not set(fields) <= _FIELDS:
            raise ValueError(f"a block of typed columns of signature {signature!r}")
        columns.append((True, fields))
        at = end + 1
    if len(columns) != 2:
        raise ValueError(f"a block of typed columns of signature {signature!r}")
    return columns


def decode_py(block: bytes) -> tuple[list, list]:
    """The ``(keys, values)`` columns of a block of this layout.

    Raises:
        ValueError: a block of another layout or signature, lengths that do not add up to
            its size, or text that is not ASCII (a damaged block).
    """
    if len(block) < _HEAD or not is_typed_columns(block):
        raise ValueError("not a block of typed columns")
    (n,) = _COUNT.unpack_from(block, 1)
    at = _HEAD + block[_HEAD - 1]
    if at > len(block):
        raise ValueError(f"a block of typed columns of {len(block)} bytes cut in its signature")
    columns = parse_signature(block[_HEAD : at])
    made = []
    for is_tuple, letters in columns:
        fields = []
        for letter in letters:
            if letter in _FIXED:
                if at + 8 * n > len(block):
                    raise ValueError(f"a block of typed columns of {n} rows cannot fit in"
                                     f" {len(block)} bytes")
                fields.append(list(struct.unpack_from(f"<{n}{_FIXED[letter]}", block, at)))
                at += 8 * n
                continue
            if at + 4 * n > len(block):
                raise ValueError(f"a block of typed columns of {n} rows cannot fit in"
                                 f" {len(block)} bytes")
            ends = list(accumulate(struct.unpack_from(f"<{n}I", block, at), initial=at + 4 * n))
            if ends[-1] > len(block):
                raise ValueError("a block of typed columns whose lengths overrun it")
            try:
                fields.append(list(map(bytes.decode, map(block.__getitem__,
                                                         map(slice, ends, ends[1:])),
                                       ["ascii"] * n)))
            except UnicodeDecodeError:
                raise ValueError("a block of typed columns holds text that is not ASCII"
                                 ) from None
            at = ends[-1]
        made.append(list(zip(*fields, strict=True)) if is_tuple else fields[0])
    if at != len(block):
        raise ValueError(f"a block of typed columns of {len(block)} bytes whose columns end"
                         f" at {at}")
    return made[0], made[1]


decode = decode_py
#: the compiled writer (None: such blocks are pickled like any other)
encode = None
if sys.byteorder == "little":  # the compiled module copies numbers in the machine's order
    try:
        from minimr.dataflow.format._typedcolumns import (  # type: ignore[import-not-found,no-redef]
            decode,
            encode,
        )
    except ImportError:  # no compiler where minimr was installed: pickled, read by decode_py
        pass
