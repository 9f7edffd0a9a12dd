"""Writing results and reading them back: commits, intermediate files, ``read_output``.

The final part files are written in a ``PartFormat`` (``partformats.py``: an encoding of
``encodings.py``, ``repr`` by default, ``jsonl``, ``tsv`` or ``lines``, compressed or not);
``_SUCCESS`` says which, so that ``read_output`` reads any output back. The earlier steps of
a multi-step job write framed pickle blocks (``RecordPartWriter``) whatever the output
format: only the next step reads them.

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

import os
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
from minimr.dataflow.format.partformats import PartFormat, TextPartWriter, all_pairs, part_name
from minimr.errors import InputError, OutputExistsError

SUCCESS = "_SUCCESS"
TEMPORARY = "_temporary"
SKIPPED = "_skipped"  # skip mode's report (``dataflow/skips.py``)
LOGS = "_logs"  # an embedded cluster's task logs, one file an attempt (``worker/tasklogs.py``)
_first, _second = itemgetter(0), itemgetter(1)

__all__ = [
    "SUCCESS", "TEMPORARY", "SKIPPED", "PartFormat", "TextPartWriter", "RecordPartWriter",
    "part_name", "commit", "PreparedOutput", "prepare_output", "discard", "write_success",
    "abort", "part_files", "output_format_of", "read_output",
]


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

    def write_many(self, pairs: list, pair_types: set[type] | None = None) -> None:
        """Write a list of ``(key, value)`` records, in the blocks ``write`` on each would make
        (``pair_types``: what ``check_pairs`` returned for them, if it ran)."""
        if not all_pairs(pairs, pair_types):  # lists, named tuples, not pairs: as write does
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
    is used as it is, and so is one holding only ``_logs/`` (what a failed or cancelled
    embedded run leaves: its task logs, which this run's replace); a non-empty one needs
    ``overwrite`` (and ``"force"`` unless it looks like a minimr output), and then its
    entries are deleted, the folder itself kept.

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
        if names == [LOGS]:  # a failed run's task logs, left for its user: this run's replace
            clear(out, names)
        elif names:
            check_old_output(output, names, mode)
            clear(out, names)
    else:
        created = storage.missing_folders(out)
    storage.makedirs(storage.join(out, TEMPORARY))
    return PreparedOutput(out, tuple(created))


def discard(prepared: PreparedOutput) -> None:
    """Remove what a failed or cancelled run wrote, so that the same command can run again.

    Deletes the parts, ``_temporary`` and ``_skipped``, then the folders the run made (the
    output and its missing parents) if they are empty. The task logs an embedded cluster
    left in ``_logs/`` stay: they are what the user needs to see why the job failed (the
    next run in the same folder replaces them). A folder that existed before stays,
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


def write_success(output: str, part_format: PartFormat | None = None) -> None:
    """The job commit: remove temporary files, then write ``_SUCCESS`` last, holding the
    parts' format (``{"format": "jsonl", "compression": "gzip"}``)."""
    storage.remove_tree(storage.join(output, TEMPORARY))
    with storage.open_write(storage.join(output, SUCCESS)) as f:
        f.write((part_format or PartFormat()).describe().encode("utf-8"))


def abort(output: str) -> None:
    """Remove a failed job's temporary files (committed parts stay whole; no _SUCCESS)."""
    storage.remove_tree(storage.join(output, TEMPORARY))


def part_files(path: str) -> list[str]:
    """The part files of an output folder, in partition order."""
    names = sorted(n for n in storage.listdir(path) if n.startswith(PART_PREFIX))
    return [storage.join(path, n) for n in names]


def output_format_of(folder: str) -> PartFormat | None:
    """The part format an output folder's ``_SUCCESS`` names (an empty one: repr), or None
    when it has no ``_SUCCESS``.

    Raises:
        InputError: a ``_SUCCESS`` that names no format this minimr reads.
    """
    success = storage.join(folder, SUCCESS)
    if storage.kind(success) != "file":
        return None
    with storage.open_read(success) as f:
        text = f.read(4096).decode("utf-8", "replace")
    return PartFormat.described(text, success)


def read_output(path: str | os.PathLike, trusted: bool = False, *,
                output_format: str | None = None) -> Iterator[tuple[Any, Any]]:
    """Yield the ``(key, value)`` records of an output folder or of one part file.

    ``path`` may be a URL (``s3://bucket/out``). The format comes from the folder's
    ``_SUCCESS`` (the part file's folder, for one file), the compression from each part's
    name (``.gz``, ``.zst``): ``repr`` parts give typed values, ``jsonl`` parts JSON values
    (lists, dicts, str, int, float, bool, None), ``tsv`` parts strings. It reads whatever
    parts are there: check for ``_SUCCESS`` first when the job may have failed (without it,
    parts are read as ``repr`` unless ``output_format`` says otherwise).

    Security: a repr value whose repr is not a Python literal is stored pickled
    (``!pickle:``), and unpickling runs code of the writer's choosing. Anyone who can write
    into the folder (or the bucket) could plant such a value, so by default they are refused
    and only literal values are read (``ast.literal_eval``, which runs no code). Pass
    ``trusted=True`` only when you trust everyone who can write there: your own job's fresh
    output in a folder only you can write, for instance (``Result.records()`` does so).

    Args:
        output_format: ``"repr"``, ``"jsonl"``, ``"tsv"`` or ``"lines"``: read the parts so,
            whatever ``_SUCCESS`` says (or when there is none).

    Raises:
        InputError: the path does not exist, a folder has no part files, or a line is not a
            record of the format.
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
        folder = path
    elif found == "file":
        files = [path]
        folder = storage.parent(path)
    else:
        raise InputError(f"output path {path!r} does not exist")
    if output_format is not None:
        part_format = PartFormat.of(output_format, None)
    else:
        part_format = output_format_of(folder) or PartFormat()
    for name in files:
        yield from part_format.read_part(name, trusted)
