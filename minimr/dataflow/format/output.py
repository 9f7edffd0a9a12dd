"""Writing results and reading them back: the text part format, intermediate files, commits.

Text format: one record a line, ``repr(key) TAB repr(value)``, e.g. ``'whale'\\t1234``. People
can read it and ``read_output`` turns it back into the same typed values with
``ast.literal_eval``. A value whose repr is not a Python literal (a custom object, a NaN) is
written as ``!pickle:`` and base64 bytes, so every picklable value round-trips exactly.
Unpickling runs code the bytes choose, so those values are read back only when the reader
says it trusts whoever can write the output (``trusted=True``); by default they are refused.

Commit protocol: a part is written under ``OUTPUT/_temporary/<attempt>/`` and moved into place
(``commit``) by the one attempt the coordinator grants the commit: an atomic rename on a local or
shared POSIX filesystem, a copy to the final key then a delete on an object store
(``storage.commit``). ``_SUCCESS`` is written last, by the job commit, and only then is the
output complete: on an object store a failed job may leave some whole parts but never
``_SUCCESS``, so a reader must treat an output without ``_SUCCESS`` as incomplete.
OUTPUT may be a local folder or a URL (``s3://bucket/out``): every file operation goes through
``storage``.
"""

from __future__ import annotations

import ast
import base64
import io
import math
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from minimr.dataflow import storage
from minimr.dataflow.format.blocks import write_block
from minimr.dataflow.format.overwrite import (
    PART_PREFIX,
    check_old_output,
    clear,
    overwrite_mode,
    refuse_unsafe,
)
from minimr.dataflow.format.unpicklable import raise_culprit
from minimr.errors import InputError, OutputExistsError, UntrustedOutputError

SUCCESS = "_SUCCESS"
TEMPORARY = "_temporary"
SKIPPED = "_skipped"  # skip mode's report (``dataflow/skips.py``)
PICKLED = "!pickle:"
_LITERAL_SCALARS = (str, int, bytes, bool, type(None))
_TUPLE, _STR, _STR_OR_INT = {tuple}, {str}, {str, int}
_first, _second = itemgetter(0), itemgetter(1)


def part_name(partition: int) -> str:
    """The file name of a reduce partition's output."""
    return f"{PART_PREFIX}{partition:05d}"


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


def decode_value(text: str, *, trusted: bool = False) -> Any:
    """Inverse of ``encode_value``.

    Args:
        trusted: unpickle ``!pickle:`` values. Unpickling runs whatever code the bytes name,
            so only text from a writer the caller trusts may be read with it.

    Raises:
        UntrustedOutputError: a ``!pickle:`` value, and ``trusted`` is false.
    """
    if text.startswith(PICKLED):
        if not trusted:
            raise UntrustedOutputError("a pickled value (!pickle:), and trusted is false")
        return pickle.loads(base64.b64decode(text[len(PICKLED) :]))
    return ast.literal_eval(text)


def format_record(key: Any, value: Any) -> str:
    """A part file line for one record."""
    return f"{encode_value(key)}\t{encode_value(value)}\n"


def _all_pairs(pairs: list) -> bool:
    """True when every item of ``pairs`` is a tuple of two (checked in C, not per record)."""
    return set(map(type, pairs)) == _TUPLE and set(map(len, pairs)) == {2}


def parse_record(line: str, *, trusted: bool = False) -> tuple[Any, Any]:
    """Inverse of ``format_record`` (``trusted`` as in ``decode_value``).

    Raises:
        ValueError: for a line that is not ``key TAB value``.
        UntrustedOutputError: a ``!pickle:`` key or value, and ``trusted`` is false.
    """
    key, sep, value = line.rstrip("\n").partition("\t")
    if not sep:
        raise ValueError(f"not a minimr record line: {line[:80]!r}")
    return decode_value(key, trusted=trusted), decode_value(value, trusted=trusted)


class TextPartWriter:
    """Writes text records to a part file; a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = io.TextIOWrapper(storage.open_write(path), encoding="utf-8", newline="\n")
        self.records = 0

    def write(self, key: Any, value: Any) -> None:
        """Write one record.

        Raises:
            UnpicklableRecord: the key or value has no literal form and cannot be pickled.
        """
        try:
            line = f"{encode_value(key)}\t{encode_value(value)}\n"
        except Exception as exc:
            raise_culprit([(key, value)], exc)
            raise
        self._file.write(line)
        self.records += 1

    def write_many(self, pairs: list) -> None:
        """Write a list of ``(key, value)`` records: the same bytes as ``write`` on each."""
        if not _all_pairs(pairs):  # lists, named tuples, or not pairs: unpack them as write does
            for key, value in pairs:
                self.write(key, value)
            return
        self.write_columns(list(map(_first, pairs)), list(map(_second, pairs)))

    def write_columns(self, keys: list, values: list) -> None:
        """Write the records ``(keys[i], values[i])``: the same bytes as ``write`` on each.

        A batch of str keys and str or int values (exact types: a bool or a str subclass has
        another repr) is formatted in one C pass, with no Python code per record.
        """
        if not keys:
            return
        if set(map(type, keys)) == _STR and set(map(type, values)) <= _STR_OR_INT:
            # encode_value of a str or an int is its repr
            lines = map("\t".join, zip(map(repr, keys), map(repr, values), strict=True))
            self._file.write("\n".join(lines) + "\n")
        else:
            try:
                text = "".join(map(format_record, keys, values))
            except Exception as exc:  # a value with no literal form did not pickle: which?
                raise_culprit(zip(keys, values, strict=True), exc)
                raise
            self._file.write(text)
        self.records += len(keys)

    def close(self) -> int:
        """Close the file; returns its size in bytes."""
        self._file.close()
        return storage.size(self.path)

    def __enter__(self) -> TextPartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:
            self._file.close()


class RecordPartWriter:
    """Writes ``(key, value)`` pairs as framed pickle blocks: a step's output for the next step."""

    def __init__(self, path: str, per_block: int = 4096) -> None:
        self.path = path
        self._file = storage.open_write(path)
        self._block: list = []
        self._per_block = per_block
        self.records = 0

    def write(self, key: Any, value: Any) -> None:
        """Write one record."""
        self._block.append((key, value))
        self.records += 1
        if len(self._block) >= self._per_block:
            write_block(self._file, self._block, records=True)
            self._block = []

    def write_many(self, pairs: list) -> None:
        """Write a list of ``(key, value)`` records, in the blocks ``write`` on each would make."""
        if not _all_pairs(pairs):  # lists, named tuples, or not pairs: unpack them as write does
            for key, value in pairs:
                self.write(key, value)
            return
        # new tuples, as write makes: the user's own may repeat one object, which pickle would
        # write as a back-reference, and the block bytes would differ from write's
        self._extend(zip(map(_first, pairs), map(_second, pairs), strict=True), len(pairs))

    def write_columns(self, keys: list, values: list) -> None:
        """Write the records ``(keys[i], values[i])`` in the blocks ``write`` on each makes."""
        self._extend(zip(keys, values, strict=True), len(keys))

    def _extend(self, pairs: Iterator[tuple[Any, Any]], n: int) -> None:
        self._block.extend(pairs)
        self.records += n
        while len(self._block) >= self._per_block:
            write_block(self._file, self._block[: self._per_block], records=True)
            del self._block[: self._per_block]

    def close(self) -> int:
        """Flush and close; returns the file's size in bytes."""
        if self._block:
            write_block(self._file, self._block, records=True)
            self._block = []
        self._file.close()
        return storage.size(self.path)

    def __enter__(self) -> RecordPartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._file.closed:
            self._file.close()


def commit(temp_path: str, final_path: str) -> str:
    """Move a finished part into place, all or nothing (``storage.commit``). Idempotent: a
    repeated commit is a no-op."""
    return storage.commit(temp_path, final_path)


@dataclass(frozen=True)
class PreparedOutput:
    """An output folder made ready for a run, and what the run may remove if it fails.

    Attributes:
        path: the output folder (normalized).
        created: the folders this run made (the output and any missing parents), deepest
            first; a failed run removes those it leaves empty.
    """

    path: str
    created: tuple[str, ...] = ()


def prepare_output(output: str, overwrite: bool | str, inputs: Sequence[str], *,
                   job_file: str | None = None) -> PreparedOutput:
    """Check the output folder before a job starts, and empty an old output if asked.

    An output that is, or holds, something no run may delete is refused first, whatever
    ``overwrite`` says (``overwrite.refuse_unsafe``). A missing folder is made; an empty one
    is used as it is; a non-empty one needs ``overwrite`` (and ``"force"`` unless it looks
    like a minimr output), and then its entries are deleted, the folder itself kept.

    Args:
        overwrite: False, True (replace an old output) or ``"force"`` (any folder).
        inputs: the inputs as given and as expanded, which the output must not hold.
        job_file: the job's file, which the output must not hold.

    Raises:
        UnsafeOutputError: the output is ``/``, a home or the current folder, an ancestor of
            one, or holds an input or the job file (links resolved).
        OutputExistsError: a non-empty folder without ``overwrite``, or one that is no minimr
            output without ``"force"``, or a file.
    """
    mode = overwrite_mode(overwrite)
    refuse_unsafe(output, inputs, job_file)
    out = storage.normalize(output)
    found = storage.kind(out)
    if found == "file":
        raise OutputExistsError(f"output {output!r} exists and is not a folder")
    created: list[str] = []
    if found == "dir":
        names = storage.listdir(out)
        if names:
            check_old_output(output, names, mode)
            clear(out, names)
    else:
        created = storage.missing_folders(out)
    storage.makedirs(storage.join(out, TEMPORARY))
    return PreparedOutput(out, tuple(created))


def discard(prepared: PreparedOutput) -> None:
    """Remove what a failed or cancelled run wrote, so that the same command can run again.

    Deletes the parts, ``_temporary`` and ``_skipped``, then the folders the run made (the
    output and its missing parents) if they are empty. A folder that existed before stays,
    empty: an ``--overwrite`` emptied it before the run started, so the old output is gone
    either way. An output with ``_SUCCESS`` is complete (the job ended before it was
    stopped) and stays whole. Nothing else in the folder is touched.
    """
    out = prepared.path
    if storage.kind(out) == "dir" and not storage.exists(storage.join(out, SUCCESS)):
        for name in storage.listdir(out):
            if name in (TEMPORARY, SKIPPED) or name.startswith(PART_PREFIX):
                storage.remove_entry(storage.join(out, name))
    for folder in prepared.created:
        storage.remove_empty_folder(folder)


def write_success(output: str) -> None:
    """The job commit: remove temporary files, then write ``_SUCCESS`` last."""
    storage.remove_tree(storage.join(output, TEMPORARY))
    storage.touch(storage.join(output, SUCCESS))


def abort(output: str) -> None:
    """Remove a failed job's temporary files (committed parts stay whole; no _SUCCESS)."""
    storage.remove_tree(storage.join(output, TEMPORARY))


def part_files(path: str) -> list[str]:
    """The part files of an output folder, in partition order."""
    names = sorted(n for n in storage.listdir(path) if n.startswith(PART_PREFIX))
    return [storage.join(path, n) for n in names]


def read_output(path: str | os.PathLike, trusted: bool = False) -> Iterator[tuple[Any, Any]]:
    """Yield the typed ``(key, value)`` records of an output folder or of one part file.

    ``path`` may be a URL (``s3://bucket/out``). It reads whatever parts are there: check for
    ``_SUCCESS`` first when the job may have failed.

    Security: a value whose repr is not a Python literal is stored pickled (``!pickle:``), and
    unpickling runs code of the writer's choosing. Anyone who can write into the folder (or
    the bucket) could plant such a value, so by default they are refused and only literal
    values are read (``ast.literal_eval``, which runs no code). Pass ``trusted=True`` only
    when you trust everyone who can write there: your own job's fresh output in a folder only
    you can write, for instance (``Result.records()`` does so).

    Raises:
        InputError: when the path does not exist, or a folder has no part files.
        UntrustedOutputError: a record holds a pickled value and ``trusted`` is false (the
            message names the file and line).
    """
    path = os.fspath(path)
    if storage.protocol(path) == "file":
        path = storage.normalize(path)
    found = storage.kind(path)
    if found == "dir":
        files = part_files(path)
        if not files:
            raise InputError(f"{path!r} holds no part files")
    elif found == "file":
        files = [path]
    else:
        raise InputError(f"output path {path!r} does not exist")
    for name in files:
        with io.TextIOWrapper(storage.open_read(name), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = parse_record(line, trusted=trusted)
                except UntrustedOutputError:
                    raise UntrustedOutputError(
                        f"{name} line {number} holds a pickled value (!pickle:), and unpickling"
                        " runs code chosen by whoever wrote the file; if you trust everyone who"
                        f" can write {path}, read it with minimr.read_output(path, trusted=True)"
                    ) from None
                yield record
