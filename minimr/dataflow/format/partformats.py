"""The final part files' formats: a ``PartFormat`` (an encoding and a compression), and the
writer of one part file.

A record becomes one line in one of four encodings (``encodings.py``: ``repr``, the default,
``jsonl``, ``tsv``, ``lines``), compressed or not. A ``PartFormat`` names the part files
(``part-00000.gz``), makes their writers, and is written into ``_SUCCESS`` so that
``read_output`` knows how to read them. The intermediate output of a multi-step job's
earlier steps never comes here: it is the engine's own framed pickle blocks
(``output.RecordPartWriter``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from minimr.dataflow import storage
from minimr.dataflow.format.encodings import ENCODINGS, JsonEncoding, ReprEncoding, TsvEncoding
from minimr.dataflow.format.overwrite import PART_PREFIX
from minimr.dataflow.inputs import compression
from minimr.errors import InputError, UntrustedOutputError, UsageError

_TUPLE = {tuple}
_first, _second = itemgetter(0), itemgetter(1)


def part_name(partition: int, map_only: bool = False) -> str:
    """The file name of a reduce partition's output (``part-00003``), or of a map-only step's
    map task's (``part-m-00003``, as Hadoop names them), before any compression suffix."""
    return f"{PART_PREFIX}{'m-' * map_only}{partition:05d}"


# --- a part format ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartFormat:
    """How the final part files are written: an encoding and a compression.

    Attributes:
        format: ``"repr"``, ``"jsonl"``, ``"tsv"`` or ``"lines"``.
        compression: None, ``"gzip"`` or ``"zstd"``.
    """

    format: str = "repr"
    compression: str | None = None

    @classmethod
    def of(cls, format: str | None, compression_: str | None) -> PartFormat:
        """A checked part format (None: ``repr``).

        Raises:
            UsageError: an unknown format or compression; StorageUnavailable: zstd without
                the zstandard package.
        """
        format = format if format is not None else "repr"
        if format not in ENCODINGS:
            raise UsageError(f"output format must be one of {', '.join(map(repr, ENCODINGS))}"
                             f" (got {format!r})")
        return cls(format, compression.check_write_codec(compression_))

    @property
    def encoding(self) -> ReprEncoding | JsonEncoding | TsvEncoding:
        """What turns records into lines and back."""
        return ENCODINGS[self.format]

    def file_name(self, partition: int, map_only: bool = False) -> str:
        """The part file of a partition: ``part-00003``, ``part-00003.gz``... (of a map-only
        step's map task: ``part-m-00003``...)."""
        return (part_name(partition, map_only)
                + compression.WRITE_SUFFIXES.get(self.compression or "", ""))

    def describe(self) -> str:
        """What ``_SUCCESS`` holds: one JSON object, the format and the compression."""
        return json.dumps({"format": self.format, "compression": self.compression}) + "\n"

    @classmethod
    def described(cls, text: str, where: str) -> PartFormat:
        """The part format ``_SUCCESS`` holds; an empty one (older minimr, Hadoop) is repr.

        Raises:
            InputError: text that is not a part format this minimr reads.
        """
        if not text.strip():
            return cls()
        try:
            data = json.loads(text)
            found = cls(data.get("format", "repr"), data.get("compression"))
        except (ValueError, AttributeError, TypeError):
            raise InputError(f"{where} is not a part format minimr reads: {text[:200]!r}"
                             ) from None
        if found.format not in ENCODINGS or found.compression not in (
                None, *compression.WRITE_SUFFIXES):
            raise InputError(f"{where} names a format this minimr does not read: {text[:200]!r}")
        return found

    def read_part(self, path: str, trusted: bool) -> Iterator[tuple[Any, Any]]:
        """The records of one part file (decompressed by its name's suffix).

        Raises:
            UntrustedOutputError: a repr part holds a pickled value, ``trusted`` is false.
            InputError: a line that is not a record of this format.
        """
        decode = self.encoding.decode
        raw = compression.open_decompressed(storage.open_read(path), compression.codec_of(path))
        with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as f:
            for number, line in enumerate(f, 1):
                try:
                    yield decode(line, trusted)
                except UntrustedOutputError:
                    raise UntrustedOutputError(
                        f"{path} line {number} holds a pickled value (!pickle:), and unpickling"
                        " runs code chosen by whoever wrote the file; if you trust everyone"
                        " who can write there, read it with minimr.read_output(path,"
                        " trusted=True)") from None
                except (ValueError, SyntaxError) as exc:
                    raise InputError(f"{path} line {number} is not a {self.format} record"
                                     f" ({exc}): {line[:80]!r}") from None


# --- writing ----------------------------------------------------------------------------------


def all_pairs(pairs: list, pair_types: set[type] | None = None) -> bool:
    """True when every item of ``pairs`` is a tuple of two: told by ``pair_types``, the
    types ``mistakes.check_pairs`` returned for them (it has seen that each is a pair), else
    checked in C, not per record."""
    if pair_types is not None:
        return pair_types == _TUPLE
    return set(map(type, pairs)) == _TUPLE and set(map(len, pairs)) == {2}


class TextPartWriter:
    """Writes records to a final part file in a ``PartFormat``; a context manager."""

    def __init__(self, path: str, part_format: PartFormat | None = None) -> None:
        part_format = part_format or PartFormat()
        self.path = path
        self._encode = part_format.encoding.encode
        self._file = compression.open_compressing(storage.open_write(path),
                                                  part_format.compression)
        self.records = 0

    def write(self, key: Any, value: Any) -> None:
        """Write one record.

        Raises:
            UnpicklableRecord: (repr) the key or value has no literal form and cannot be
                pickled; JobCodeError: (jsonl, tsv) the format cannot hold it.
        """
        self._file.write(self._encode([key], [value]))
        self.records += 1

    def write_many(self, pairs: list, pair_types: set[type] | None = None) -> None:
        """Write a list of ``(key, value)`` records: the same bytes as ``write`` on each
        (``pair_types``: what ``check_pairs`` returned for them, if it ran)."""
        if not all_pairs(pairs, pair_types):  # lists, named tuples, not pairs: as write does
            for key, value in pairs:
                self.write(key, value)
            return
        self.write_columns(list(map(_first, pairs)), list(map(_second, pairs)))

    def write_columns(self, keys: list, values: list) -> None:
        """Write the records ``(keys[i], values[i])``: the same bytes as ``write`` on each."""
        if not keys:
            return
        self._file.write(self._encode(keys, values))
        self.records += len(keys)

    def close(self) -> int:
        """Close the file (ending its compressed data); returns its size in bytes."""
        self._file.close()
        return storage.size(self.path)

    def __enter__(self) -> TextPartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:
            self._file.close()
