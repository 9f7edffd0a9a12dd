"""Input formats: reading the records of one split.

``text``
    UTF-8 lines (invalid bytes read as U+FFFD, never fatal: each such line counts in the
    ``invalid utf-8 records`` counter). Key: ``(path, byte offset of the line)``;
    value: the line without ``\\n`` or ``\\r\\n``. A split owns the lines that *start* inside
    it: a split that begins mid-line skips to the next line start, and the last line is read
    past the split's end (Hadoop's LineRecordReader rule).
``whole_file``
    One record per file: ``(path, contents)``, decoded as text lines are.
``records``
    The binary output of a previous step (framed pickle blocks of ``(key, value)`` pairs).

Lines are read in large blocks and split in bulk: reading line by line in text mode costs
about a quarter of a word count's time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate, chain, compress, count, repeat
from operator import add, contains
from typing import BinaryIO

from minimr.dataflow import storage
from minimr.dataflow.counters import INVALID_UTF8_RECORDS, increment_builtin
from minimr.dataflow.format.blocks import iter_entries
from minimr.dataflow.splits import Split
from minimr.errors import JobDefinitionError

INPUT_FORMATS = ("text", "whole_file")
READ_BLOCK = 1 << 20
REPLACEMENT = "\ufffd"  # what invalid UTF-8 is read as


def open_binary(path: str) -> BinaryIO:
    """Open an input file (local or a URL) for reading bytes, decompressing .gz and .bz2."""
    compression = "gzip" if path.endswith(".gz") else "bz2" if path.endswith(".bz2") else None
    return storage.open_read(path, compression)


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


def _decode(data: bytes) -> str:
    """``data`` as text, invalid UTF-8 read as U+FFFD and counted as one record."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        increment_builtin(INVALID_UTF8_RECORDS)
        return data.decode("utf-8", "replace")


def read_text(split: Split) -> Iterator[tuple[tuple[str, int], str]]:
    """Yield ``((path, offset), line)`` for every line that starts inside ``split``."""
    return chain.from_iterable(read_text_blocks(split))


def read_text_lines(split: Split) -> Iterator[str]:
    """``read_text``'s lines alone, for a map that never looks at a line's key: no key tuple
    and no record tuple made per line."""
    return chain.from_iterable(read_text_blocks(split, keys=False))


def read_text_blocks(split: Split, block_size: int = READ_BLOCK, keys: bool = True
                     ) -> Iterator[list]:
    """``read_text``'s records, a list per ``block_size`` bytes read: no Python code per line.

    The records are the same whatever the block size; a small one suits a reader that wants
    only the first few lines (the range partitioner's sampling). Without ``keys``, the lists
    hold the lines alone.
    """
    path = split.path
    with open_binary(path) as f:
        pos = 0
        end = split.end
        if split.compressed:
            end = float("inf")  # one split per compressed file: read it all
        elif split.start > 0:
            f.seek(split.start - 1)
            pos = split.start - 1 + len(f.readline())  # the byte before may itself be '\n'
        carry = b""
        while pos < end:
            chunk = f.read(block_size)
            if not chunk:
                if carry:  # a last line with no final newline
                    line = _decode(carry)
                    line = line[:-1] if line.endswith("\r") else line
                    yield [((path, pos), line)] if keys else [line]
                return
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            lines, lengths, invalid = _decode_lines(data[:cut])
            offsets = list(accumulate(lengths, initial=pos))
            inside = bisect_left(offsets, end, 0, len(lines))  # lines starting before the end
            if invalid:  # of this split's lines only: the others are the next split's
                increment_builtin(INVALID_UTF8_RECORDS, bisect_left(invalid, inside))
            if keys:
                where = zip(repeat(path), offsets[:inside], strict=False)  # repeat() never ends
                yield list(zip(where, lines[:inside], strict=True))
            else:
                yield lines if inside == len(lines) else lines[:inside]
            pos = offsets[inside]


def read_whole_file(split: Split) -> Iterator[tuple[str, str]]:
    """Yield one ``(path, contents)`` record for the whole file of ``split``."""
    if split.start > 0:
        return
    with open_binary(split.path) as f:
        yield split.path, _decode(f.read())


def read_intermediate(split: Split) -> Iterator[tuple]:
    """Yield the ``(key, value)`` pairs a previous step wrote to ``split.path``.

    They are unpickled without asking for trust, unlike ``read_output``'s ``!pickle:``
    values: this run's own tasks wrote them, in the ``_temporary`` folder this run made, and
    only this run's tasks, which run the job's code anyway, read them (docs/output.md).
    """
    with storage.open_read(split.path) as f:
        yield from iter_entries(f, storage.size(split.path))


def reader_for(input_format: str):
    """The record reader function of an input format name.

    Raises:
        JobDefinitionError: for an unknown format.
    """
    readers = {"text": read_text, "whole_file": read_whole_file, "records": read_intermediate}
    try:
        return readers[input_format]
    except KeyError:
        raise JobDefinitionError(
            f"input_format must be one of {', '.join(map(repr, INPUT_FORMATS))}"
            f" (got {input_format!r})"
        ) from None
