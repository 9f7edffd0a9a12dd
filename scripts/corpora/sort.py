"""The ``sort`` corpus: fixed-width 100-byte records for a total-order sort, built with
strided bytearray writes, never one Python call per record."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

RECORD = 100
_KEY_CHARS = 94                          # '!' (0x21) .. '~' (0x7e)
# Random bytes >= 188 are dropped and the rest mapped b -> '!' + b % 94, which keeps every key
# character equally likely (188 = 2 * 94) using only C-level bytes.translate.
_KEY_TABLE = bytes(0x21 + b % _KEY_CHARS for b in range(256))
_KEY_DROP = bytes(range(2 * _KEY_CHARS, 256))
_HEX = b"0123456789ABCDEF"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Records whose numbers differ by 26 look alike apart from key and number, so a 26-record
# template tiles every chunk.
_TEMPLATE = b"".join(
    b" " * 10 + b"  " + b"0" * 32 + b"  " + (_ALPHABET * 3)[m:m + 53] + b"\n" for m in range(26))
_HEX_COLUMN_END = 43                     # offset of the last hex digit in a record
_CYCLIC_DIGITS = 4                       # digits 0..3 repeat with a period of <= 64 KiB


def _random_keys(rng: random.Random, nbytes: int) -> bytes:
    keys = bytearray()
    while len(keys) < nbytes:
        keys += rng.randbytes((nbytes - len(keys)) * 4 // 3 + 64).translate(_KEY_TABLE, _KEY_DROP)
    return bytes(keys[:nbytes])


def _digit_column(first: int, count: int, digit: int) -> bytes:
    """Hex digit number ``digit`` (0 = least significant) of records first..first+count-1."""
    run = 16 ** digit                    # consecutive records sharing this digit's value
    if digit < _CYCLIC_DIGITS:
        period = b"".join(bytes([h]) * run for h in _HEX)
        start = first % len(period)
        reps = (start + count) // len(period) + 1
        return (period * reps)[start:start + count]
    runs, n, end = [], first, first + count
    while n < end:
        stop = min(end, (n // run + 1) * run)
        runs.append(bytes((_HEX[(n >> (4 * digit)) & 15],)) * (stop - n))
        n = stop
    return b"".join(runs)


def sort_chunks(seed: int, index: int, first: int, count: int,
                chunk: int = 65_536) -> Iterator[bytes]:
    """Yield the ``count`` records numbered from ``first`` of part ``index``, in chunks."""
    rng = random.Random(f"{seed}:sort-part:{index}")
    n, end = first, first + count
    while n < end:
        k = min(chunk, end - n)
        start = n % 26
        buf = bytearray((_TEMPLATE * ((start + k) // 26 + 1))[start * RECORD:(start + k) * RECORD])
        keys = _random_keys(rng, 10 * k)
        for c in range(10):
            buf[c::RECORD] = keys[c::10]
        digit = 0
        while (n + k - 1) >> (4 * digit):        # higher digits are all '0' already
            buf[_HEX_COLUMN_END - digit::RECORD] = _digit_column(n, k, digit)
            digit += 1
        yield bytes(buf)
        n += k


def write_part(path: str, seed: int, index: int, first: int, count: int) -> tuple[int, str]:
    """Write the ``count`` records numbered from ``first`` of part ``index`` to ``path``;
    return (bytes, sha256)."""
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as out:
        for data in sort_chunks(seed, index, first, count):
            out.write(data)
            digest.update(data)
            written += len(data)
    return written, digest.hexdigest()
