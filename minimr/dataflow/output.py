"""Writing results and reading them back: the text part format, intermediate files, commits.

Text format: one record a line, ``repr(key) TAB repr(value)``, e.g. ``'whale'\\t1234``. People
can read it and ``read_output`` turns it back into the same typed values with
``ast.literal_eval``. A value whose repr is not a Python literal (a custom object, a NaN) is
written as ``!pickle:`` and base64 bytes, so every picklable value round-trips exactly.

Commit protocol: a part is written under ``OUTPUT/_temporary/<attempt>/`` and renamed into
place (``commit``), which is atomic on a local or shared POSIX filesystem; ``_SUCCESS`` is
written last, by the job commit, and only then is the output complete.
"""

from __future__ import annotations

import ast
import base64
import math
import os
import pickle
import shutil
from collections.abc import Iterator
from typing import Any

from minimr.dataflow.blocks import write_block
from minimr.errors import InputError, OutputExistsError

SUCCESS = "_SUCCESS"
TEMPORARY = "_temporary"
PICKLED = "!pickle:"
_LITERAL_SCALARS = (str, int, bytes, bool, type(None))


def part_name(partition: int) -> str:
    """The file name of a reduce partition's output."""
    return f"part-{partition:05d}"


def _is_literal(value: Any) -> bool:
    """True when ``ast.literal_eval(repr(value)) == value`` with the same types."""
    kind = type(value)
    if kind in _LITERAL_SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        if kind is frozenset or (kind is set and not value):
            return False  # frozenset(...) and set() are calls, not literals
        return all(_is_literal(item) for item in value)
    if kind is dict:
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    return False


def encode_value(value: Any) -> str:
    """One key or value as text for a part file (no tab, no newline)."""
    kind = type(value)
    if kind is str or kind is int or _is_literal(value):
        return repr(value)
    return PICKLED + base64.b64encode(pickle.dumps(value, protocol=4)).decode("ascii")


def decode_value(text: str) -> Any:
    """Inverse of ``encode_value``."""
    if text.startswith(PICKLED):
        return pickle.loads(base64.b64decode(text[len(PICKLED) :]))
    return ast.literal_eval(text)


def format_record(key: Any, value: Any) -> str:
    """A part file line for one record."""
    return f"{encode_value(key)}\t{encode_value(value)}\n"


def parse_record(line: str) -> tuple[Any, Any]:
    """Inverse of ``format_record``.

    Raises:
        ValueError: for a line that is not ``key TAB value``.
    """
    key, sep, value = line.rstrip("\n").partition("\t")
    if not sep:
        raise ValueError(f"not a minimr record line: {line[:80]!r}")
    return decode_value(key), decode_value(value)


class TextPartWriter:
    """Writes text records to a part file; a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "w", encoding="utf-8", newline="\n")
        self.records = 0

    def write(self, key: Any, value: Any) -> None:
        """Write one record."""
        self._file.write(f"{encode_value(key)}\t{encode_value(value)}\n")
        self.records += 1

    def close(self) -> int:
        """Close the file; returns its size in bytes."""
        self._file.close()
        return os.path.getsize(self.path)

    def __enter__(self) -> TextPartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:
            self._file.close()


class RecordPartWriter:
    """Writes ``(key, value)`` pairs as framed pickle blocks: a step's output for the next step."""

    def __init__(self, path: str, per_block: int = 4096) -> None:
        self.path = path
        self._file = open(path, "wb")
        self._block: list = []
        self._per_block = per_block
        self.records = 0

    def write(self, key: Any, value: Any) -> None:
        """Write one record."""
        self._block.append((key, value))
        self.records += 1
        if len(self._block) >= self._per_block:
            write_block(self._file, self._block)
            self._block = []

    def close(self) -> int:
        """Flush and close; returns the file's size in bytes."""
        if self._block:
            write_block(self._file, self._block)
            self._block = []
        self._file.close()
        return os.path.getsize(self.path)

    def __enter__(self) -> RecordPartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:
            self._file.close()


def commit(temp_path: str, final_path: str) -> str:
    """Move a finished part into place atomically. Idempotent: a repeated commit is a no-op."""
    if not os.path.exists(temp_path) and os.path.exists(final_path):
        return final_path
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    os.replace(temp_path, final_path)
    return final_path


def prepare_output(output: str, overwrite: bool, inputs: list[str]) -> None:
    """Check the output folder before a job starts, clearing it when ``overwrite``.

    Raises:
        OutputExistsError: the folder exists and ``overwrite`` is false.
        InputError: the output folder would hold (and so delete) an input file.
    """
    out = os.path.abspath(output)
    for path in inputs:
        if os.path.abspath(path).startswith(out + os.sep):
            raise InputError(f"input {path!r} lies inside the output folder {output!r}")
    if os.path.exists(out):
        if not overwrite:
            raise OutputExistsError(
                f"output folder {output!r} already exists; choose another or pass --overwrite"
            )
        if not os.path.isdir(out):
            raise OutputExistsError(f"output {output!r} exists and is not a folder")
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, TEMPORARY), exist_ok=True)


def write_success(output: str) -> None:
    """The job commit: remove temporary files, then write ``_SUCCESS`` last."""
    shutil.rmtree(os.path.join(output, TEMPORARY), ignore_errors=True)
    with open(os.path.join(output, SUCCESS), "w") as f:
        f.write("")


def abort(output: str) -> None:
    """Remove a failed job's temporary files (committed parts stay whole; no _SUCCESS)."""
    shutil.rmtree(os.path.join(output, TEMPORARY), ignore_errors=True)


def part_files(path: str) -> list[str]:
    """The part files of an output folder, in partition order."""
    names = sorted(n for n in os.listdir(path) if n.startswith("part-"))
    return [os.path.join(path, n) for n in names]


def read_output(path: str | os.PathLike) -> Iterator[tuple[Any, Any]]:
    """Yield the typed ``(key, value)`` records of an output folder or of one part file.

    Raises:
        InputError: when the path does not exist, or a folder has no part files.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        files = part_files(path)
        if not files:
            raise InputError(f"{path!r} holds no part files")
    elif os.path.isfile(path):
        files = [path]
    else:
        raise InputError(f"output path {path!r} does not exist")
    for name in files:
        with open(name, encoding="utf-8") as f:
            for line in f:
                yield parse_record(line)
