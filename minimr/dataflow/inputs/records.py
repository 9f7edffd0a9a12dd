"""Reading the records of one split: lines by the line rule, bad records, a previous step's.

An input format (``inputformats.py``: text lines, whole files, JSON lines, CSV, or a job's
own) turns a split into records through the functions here:

Lines
    UTF-8 lines (invalid bytes read as U+FFFD, never fatal: each such line counts in the
    ``invalid utf-8 records`` counter). Key: ``(path, byte offset of the line)``; value: the
    line without ``\\n`` or ``\\r\\n``. A split owns the lines that *start* inside it: a split
    that begins mid-line skips to the next line start, and the last line is read past the
    split's end (Hadoop's LineRecordReader rule). Lines are read in large blocks and split in
    bulk: reading line by line in text mode costs about a quarter of a word count's time.
Bad records
    A record its format cannot read (a line that is not JSON) is a ``BadRecordError`` naming
    the file, line and byte offset, which fails the job at once (no new attempt reads other
    data). In skip mode (``--skip-bad-records``) the reader hands it on as a ``BadInput``
    value instead, and skip mode's tracker (``skips.py``) treats it as a record that made
    its task fail: it is skipped from its second failure on, counted and reported.
Intermediate records
    The binary output of a previous step (framed pickle blocks of ``(key, value)`` pairs).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, repeat
from operator import add, contains
from typing import Any, BinaryIO

from minimr.dataflow import storage
from minimr.dataflow.counters import INVALID_UTF8_RECORDS, increment_builtin
from minimr.dataflow.format.blocks import iter_entries
from minimr.dataflow.inputs import compression
from minimr.dataflow.inputs.splits import Split
from minimr.errors import BadRecordError

READ_BLOCK = 1 << 20
REPLACEMENT = "\ufffd"  # what invalid UTF-8 is read as


def open_input(path: str) -> BinaryIO:
    """Open an input file (local or a URL) for reading bytes, decompressed by its suffix
    (``.gz``, ``.bz2``, ``.xz``, ``.zst``)."""
    return compression.open_decompressed(storage.open_read(path), compression.codec_of(path))


# --- lines ------------------------------------------------------------------------------------


def _decode_lines(body: bytes) -> tuple[list[str], list[int], list[int]]:
    """Split complete lines, returning their text (no line ending), their byte lengths and
    the indexes of the lines that held invalid UTF-8 (usually none).

    Invalid UTF-8 becomes U+FFFD; decoding the whole body at once gives the same lines as
    decoding each line, because a newline byte is never part of a multi-byte sequence. The
    body is decoded strictly first, which costs what a lenient decode costs: only a body
    that fails is decoded again, leniently, and its lines checked one by one.
    """
    invalid: list[int] = []
    raw = None
    if body.isascii():  # one byte a character: the lines' lengths are their byte lengths
        lines = body.decode("ascii").split("\n")
        lengths = list(map(add, map(len, lines), repeat(1)))
    else:
        try:
            lines = body.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            lines = body.decode("utf-8", "replace").split("\n")
            raw = body.split(b"\n")
            # a line with a U+FFFD may have had bad bytes (or a U+FFFD of its own): check those
            marked = compress(count(), map(contains, lines, repeat(REPLACEMENT)))
            invalid = [i for i in marked if not _valid(raw[i])]
        lengths = list(map(add, map(len, raw or body.split(b"\n")), repeat(1)))
    if b"\r" in body:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines, lengths, invalid


def _valid(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes) -> str:
    """``data`` as text, invalid UTF-8 read as U+FFFD and counted as one record."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        increment_builtin(INVALID_UTF8_RECORDS)
        return data.decode("utf-8", "replace")


def line_blocks(file: BinaryIO, start: int, end: float, block_size: int = READ_BLOCK
                ) -> Iterator[tuple[list[int], list[str]]]:
    """``(offsets, lines)`` of the lines of ``file`` that start in ``[start, end)``, a pair
    of lists per ``block_size`` bytes read: no Python code per line.

    The first line is the first to start at or after ``start`` (the whole file's first when
    ``start`` is 0); the last is read past ``end``. ``file`` is seeked when ``start`` > 0;
    an unseekable (decompressed) file is read from its start with ``start`` 0.
    """
    pos = 0
    if start > 0:
        file.seek(start - 1)
        pos = start - 1 + len(file.readline())  # the byte before may itself be '\n'
    carry: list[bytes] = []  # the pieces of a line whose end is not read yet
    while pos < end:
        chunk = file.read(block_size)
        if not chunk:
            if carry:  # a last line with no final newline
                line = decode(b"".join(carry))
                yield [pos], [line[:-1] if line.endswith("\r") else line]
            return
        cut = chunk.rfind(b"\n")
        if cut < 0:  # a line longer than a block: joined once, when it ends
            carry.append(chunk)
            continue
        body = b"".join([*carry, chunk[:cut]]) if carry else chunk[:cut]
        carry = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
        lines, lengths, invalid = _decode_lines(body)
        offsets = list(accumulate(lengths, initial=pos))
        inside = bisect_left(offsets, end, 0, len(lines))  # lines starting before the end
        if invalid:  # of this split's lines only: the others are the next split's
            increment_builtin(INVALID_UTF8_RECORDS, bisect_left(invalid, inside))
        pos = offsets[inside]
        del offsets[inside:]  # the starts of the lines inside
        if inside:
            yield offsets, lines if inside == len(lines) else lines[:inside]


def split_end(split: Split) -> float:
    """Where reading ``split`` stops: its end, or never before the end of the file for a
    compressed one (its offsets count decompressed bytes, whose total nobody knows)."""
    return float("inf") if split.compressed else split.end


def read_text_blocks(split: Split, block_size: int = READ_BLOCK) -> Iterator[list]:
    """The text lines of ``split`` as records, a list per ``block_size`` bytes read.

    The records are the same whatever the block size; a small one suits a reader that wants
    only the first few lines (the range partitioner's sampling).
    """
    path = split.path
    with open_input(path) as f:
        for offsets, lines in line_blocks(f, split.start, split_end(split), block_size):
            where = zip(repeat(path), offsets)
            yield list(zip(where, lines, strict=True))


def read_text(split: Split) -> Iterator[tuple[tuple[str, int], str]]:
    """Yield ``((path, offset), line)`` for every line that starts inside ``split``."""
    return chain.from_iterable(read_text_blocks(split))


def line_number(path: str, offset: int) -> int | None:
    """The 1-based number of the line of ``path`` that starts at byte ``offset`` (of the
    decompressed data), for messages; None if the file cannot be read again."""
    try:
        with open_input(path) as f:
            newlines, left = 0, offset
            while left > 0:
                chunk = f.read(min(left, READ_BLOCK))
                if not chunk:
                    break
                newlines += chunk.count(b"\n")
                left -= len(chunk)
    except OSError:
        return None
    return newlines + 1


# --- bad records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """Skip mode's stand-in for the value of a record its format could not read.

    Skip mode's tracker raises ``error`` when it meets one, as if user code had failed on
    the record, unless the record is already to be skipped.
    """

    raw: Any
    error: BadRecordError


#: what a reader does with a bad record: ``(key, raw, error) -> a record to yield, or None``
OnBad = Callable[[Any, Any, BadRecordError], "tuple[Any, Any] | None"]


def raise_bad(key: Any, raw: Any, error: BadRecordError) -> None:
    """A bad record fails the task (and the job: no other attempt reads other data)."""
    raise error


def mark_bad(key: Any, raw: Any, error: BadRecordError) -> tuple[Any, BadInput]:
    """Skip mode: the bad record goes on, marked, for the tracker to fail on or skip."""
    return key, BadInput(raw, error)


def drop_bad(key: Any, raw: Any, error: BadRecordError) -> None:
    """Sampling in skip mode: a bad record is left out of the sample."""
    return None


def bad_record(path: str, key: Any, reason: str) -> BadRecordError:
    """The error for the record at ``key`` of ``path``: ``file:line (byte N): reason`` for
    a record keyed ``(path, offset)``, as lines are, else the key."""
    if type(key) is tuple and len(key) == 2 and type(key[1]) is int:
        line = line_number(path, key[1])
        where = f"{path}:{line} (byte {key[1]:,})" if line is not None else (
            f"{path} byte {key[1]:,}")
    else:
        where = f"{path}, record {key!r:.200}"
    return BadRecordError(
        f"bad input record at {where}: {reason}. Fix the input, or run with"
        " --skip-bad-records to skip such records (counted, and listed in OUTPUT/_skipped/)")


# --- a split's records ------------------------------------------------------------------------


def read_intermediate(split: Split) -> Iterator[tuple]:
    """Yield the ``(key, value)`` pairs a previous step wrote to ``split.path``.

    They are unpickled without asking for trust, unlike ``read_output``'s ``!pickle:``
    values: this run's own tasks wrote them, in the ``_temporary`` folder this run made, and
    only this run's tasks, which run the job's code anyway, read them (docs/output.md).
    """
    with storage.open_read(split.path) as f:
        yield from iter_entries(f, storage.size(split.path))


def reader_for(input_format: Any, on_bad: OnBad = raise_bad
               ) -> Callable[[Split], Iterator[tuple[Any, Any]]]:
    """The function that reads a split's records in ``input_format``: an ``InputFormat``
    (``inputformats.py``), or ``"records"`` for a previous step's output.

    Args:
        on_bad: what to do with a record the format cannot read (``raise_bad``,
            ``mark_bad`` in skip mode, ``drop_bad``).
    """
    if input_format == "records":
        return read_intermediate

    def read(split: Split) -> Iterator[tuple[Any, Any]]:
        return input_format.split_records(split, on_bad)

    return read
