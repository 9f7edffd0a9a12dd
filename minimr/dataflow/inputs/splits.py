"""Turning ``--input`` arguments into files, files into byte-range splits, splits into tasks.

A split is a byte range ``[start, end)`` of one file. For line-oriented text it owns exactly the
lines whose first byte lies in that range (the reader skips a partial first line and reads the
last line past ``end``: Hadoop's LineRecordReader rule), so every line is read once whatever the
split size. Compressed files cannot be entered in the middle, so each is one split, and so is
every file of a format that cannot find a record's start (whole files, CSV whose quoted
fields may span lines). Files may be
local or remote (``s3://...``): ``storage`` answers what exists and how big it is, and a remote
file is split by byte range just the same (its reader seeks).

A map task reads one split or several: consecutive small splits are packed into one task
(Hadoop's CombineFileInputFormat), so ten thousand small files are a few dozen tasks, not ten
thousand, each paying a task's fixed costs and writing a segment for every reducer. By default
a pack holds at most ``default_pack_size`` bytes: the split size, but little enough that the
input still makes ``PACK_TASKS`` tasks, so every worker gets work; ``--combine-files`` packs
up to the split size, the fewest tasks. Either size depends on the input alone, so the same
command names the same tasks on any runner and any cluster (``minimr replay --task``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from minimr.dataflow import storage
from minimr.dataflow.inputs import compression
from minimr.errors import InputError, UsageError

DEFAULT_SPLIT_SIZE = 64 * 2**20
# The last split of a file may be this much larger than the split size (Hadoop's SPLIT_SLOP),
# so that a file a few bytes over the size is one task, not one and a task with no record.
SPLIT_SLOP = 1.1

# Packing by default leaves at least this many map tasks when the input has as many splits:
# four a slot for 8 slots, so pull scheduling balances the load of a small cluster. Fewer
# would be cheaper: a task's combined output holds a task's worth of distinct keys, which it
# sorts and writes and the reducers merge again, so that cost grows with the number of tasks
# (a word count of 10,000 files of 2.4 KiB on 2 workers: 4.4 CPU seconds as 64 tasks, 3.7 as
# 16, 3.4 as 8). A floor in bytes (Spark's openCostInBytes) would cut it further, but would
# run a few small files whose lines are slow to map in one task, on one worker.
PACK_TASKS = 32

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


@dataclass(frozen=True)
class Split:
    """A byte range ``[start, end)`` of the file at ``path``."""

    path: str
    start: int
    end: int

    @property
    def compressed(self) -> bool:
        """True for .gz, .bz2, .xz and .zst files, which are read whole."""
        return compression.is_compressed(self.path)

    def to_dict(self) -> dict:
        """Plain data for the wire."""
        return {"path": self.path, "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, data: dict) -> Split:
        """Inverse of ``to_dict``."""
        return cls(str(data["path"]), int(data["start"]), int(data["end"]))

    def describe(self) -> str:
        """``path [start, end)`` for messages."""
        return f"{self.path} bytes [{self.start:,}, {self.end:,})"


def parse_size(text: str | int) -> int:
    """Parse a size such as ``64MB``, ``256KB``, ``1.5GiB`` or ``1048576`` into bytes.

    Units are binary (KB = 1024 bytes), as in Hadoop's configuration.

    Raises:
        UsageError: when the text is not a positive size.
    """
    if isinstance(text, int):
        value = text
    else:
        match = _SIZE.match(text)
        if not match:
            raise UsageError(f"size must look like 64MB, 256KB or a byte count (got {text!r})")
        number, unit = match.groups()
        value = int(float(number) * _UNITS[(unit or "")[:1].lower()])
    if value <= 0:
        raise UsageError(f"size must be positive (got {text!r})")
    return value


def _files_of(item: str) -> list[str]:
    """The files one input names: itself, the visible files under a folder, a glob's matches."""
    if storage.has_magic(item):
        matches = storage.glob(item)
        if not matches:
            raise InputError(f"input glob {item!r} matches no file")
        return [file for match in matches
                for file in (storage.files_under(match) if storage.kind(match) == "dir"
                             else [match])]
    found = storage.kind(item)
    if found == "dir":
        return storage.files_under(item)
    if found == "file":
        return [item]
    raise InputError(f"input path {item!r} does not exist")


def expand_inputs(inputs: list[str] | tuple[str, ...] | str) -> list[str]:
    """Resolve files, folders and globs into a sorted, duplicate-free list of files.

    Local paths come back absolute; URLs (``s3://bucket/logs/*.gz``) stay URLs.

    Raises:
        InputError: an input that does not exist, a glob that matches nothing, or no input.
        StorageUnavailable: a URL whose protocol package is not installed.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise InputError("no input given: pass at least one --input PATH (file, folder or glob)")
    files: list[str] = []
    for raw in inputs:
        item = os.fspath(raw)
        if storage.protocol(item) == "file":
            item = storage.normalize(item)
        try:
            files.extend(_files_of(item))
        except OSError as exc:  # remote storage refused: credentials, permissions, network
            raise InputError(f"cannot read input {item!r}: {exc}") from exc
    unique = sorted({storage.normalize(f) for f in files})
    for path in unique:
        if not storage.readable(path):
            raise InputError(f"input file {path!r} is not readable")
    return unique


def plan_splits(files: list[str], split_size: int = DEFAULT_SPLIT_SIZE,
                splittable: bool = True) -> list[Split]:
    """Cut each file into splits of ``split_size`` bytes (compressed files whole, and every
    file whole unless ``splittable``: an input format whose records a split cannot find).

    A file's last split takes the rest when that is at most ``SPLIT_SLOP`` times the size.
    An empty file yields one empty split, so it is still seen (a whole-file job gets it).
    """
    if split_size <= 0:
        raise UsageError(f"split size must be positive (got {split_size})")
    splits = []
    for path in files:
        size = storage.size(path)
        if size == 0 or not splittable or compression.is_compressed(path):
            splits.append(Split(path, 0, size))
            continue
        start = 0
        while size - start > split_size * SPLIT_SLOP:
            splits.append(Split(path, start, start + split_size))
            start += split_size
        splits.append(Split(path, start, size))
    return splits


def pack_splits(splits: list[Split], target: int) -> list[tuple[Split, ...]]:
    """Group consecutive splits into tasks of at most ``target`` bytes each.

    A split of ``target`` bytes or more is a task of its own; the order is kept, so the
    packing (and so every task's number) is the same for the same inputs and size.
    """
    groups: list[tuple[Split, ...]] = []
    current: list[Split] = []
    size = 0
    for split in splits:
        length = split.end - split.start
        if current and size + length > target:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(split)
        size += length
    if current:
        groups.append(tuple(current))
    return groups


def default_pack_size(splits: list[Split], split_size: int) -> int:
    """The most bytes a task of packed small splits reads when the run did not ask for
    ``--combine-files``: ``split_size``, or less when that would leave fewer than
    ``PACK_TASKS`` tasks (the total input divided by ``PACK_TASKS``, rounded up).

    A split bigger than the result stays a task of its own (``pack_splits``), so inputs of
    files at least that big run exactly as they would unpacked.
    """
    total = sum(s.end - s.start for s in splits)
    return max(1, min(split_size, -(-total // PACK_TASKS)))
