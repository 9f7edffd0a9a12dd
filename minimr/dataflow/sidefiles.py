"""Side files: files shipped with a job, that every task opens by name.

A job names them (``files`` on the job, ``--file PATH``, ``minimr.run(files=[...])``). At
submit each is read once and hashed (SHA-256), and becomes a record in the job plan, of one
of two types:

- ``InlineFile``: a small file (``INLINE_LIMIT`` bytes at most, ``INLINE_TOTAL`` in all)
  travels inside the plan, which each worker already fetches once per job.
- ``StoredFile``: a larger one is read by each worker from where it can reach it: the
  user's own path (the inline runner and the embedded cluster run on the submitting
  machine), the URL the user gave (``s3://...``), or, for a running cluster, a copy that
  ``stage`` leaves under the job's output (``OUTPUT/_temporary/files/``), which every worker
  reaches by contract and which goes away with ``_temporary`` when the job ends.

Each worker keeps the files it fetched in a cache folder by content hash (``FileCache``):
a file is fetched once per worker, whichever of its executors needs it first, and jobs that
ship the same file share it; a copy whose hash is not the one taken at submit is an error
(the file changed meanwhile). ``materialize`` links a job's files under their base names
into a folder of the job, where its tasks run (``minimr/dataflow/taskenv.py``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass

from minimr.dataflow import storage
from minimr.errors import InputError, UsageError

#: a file up to this size travels inside the job plan
INLINE_LIMIT = 1 << 20
#: at most this many bytes of files travel inside one plan; the rest are stored files
INLINE_TOTAL = 4 << 20
#: bytes read at a time while hashing or copying
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InlineFile:
    """A small side file whose bytes travel in the plan."""

    name: str
    digest: str  # SHA-256 of ``data``, hex
    data: bytes

    def fetch(self, target: str) -> None:
        """Write the file's bytes to the new file ``target``."""
        with open(target, "wb") as file:
            file.write(self.data)


@dataclass(frozen=True)
class StoredFile:
    """A side file that each worker reads from ``path`` (a local path or a URL)."""

    name: str
    digest: str  # SHA-256 of the contents at submit, hex
    path: str

    def fetch(self, target: str) -> None:
        """Copy the file to the new file ``target``, checking it is what was submitted.

        Raises:
            InputError: the file is gone, or its contents changed since the job was submitted.
        """
        try:
            with storage.open_read(self.path) as source, open(target, "wb") as file:
                digest = _copy(source, file)
        except FileNotFoundError:
            raise InputError(f"side file {self.name!r} is gone from {self.path}") from None
        if digest != self.digest:
            raise InputError(
                f"side file {self.name!r} ({self.path}) changed after the job was submitted"
                f" (SHA-256 {digest[:12]}..., was {self.digest[:12]}...): submit the job again")


SideFile = InlineFile | StoredFile


def _copy(source, target=None) -> str:
    """Read ``source`` to its end (writing it to ``target``); returns its SHA-256, hex."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        digest.update(chunk)
        if target is not None:
            target.write(chunk)
    return digest.hexdigest()


def collect(paths: list[str]) -> tuple[SideFile, ...]:
    """The side-file records of ``paths`` (local paths or URLs), in order.

    The same path named twice ships once. A folder ships every file under it (as the inputs
    do, without names that start with ``_`` or ``.``: a table written as part files, the
    output of another job), each named by the folder's base name and its path inside it
    (``users/part-00000``), so a task finds them in a folder of that name. Files travel
    inline up to ``INLINE_LIMIT`` bytes each and ``INLINE_TOTAL`` in all, in the order given.

    Raises:
        InputError: a path that does not exist, a folder of no files, or a file that cannot
            be read.
        UsageError: two different files or folders with one base name (tasks open them by
            it).
    """
    found: list[SideFile] = []
    by_name: dict[str, str] = {}
    inlined = 0
    for given in paths:
        path = storage.normalize(given)
        name = os.path.basename(path.rstrip("/"))
        if by_name.get(name) == path:
            continue
        if name in by_name:
            raise UsageError(f"side files {by_name[name]} and {path} have the same name"
                             f" {name!r}, by which tasks open them: rename one")
        found_kind = storage.kind(path)
        if found_kind is None:
            raise InputError(f"side file {given!r} does not exist")
        if found_kind == "dir":
            members = _folder_members(path, name)
            if not members:
                raise InputError(f"side folder {given!r} holds no files (names that start"
                                 " with _ or . are not shipped)")
        elif found_kind != "file":
            raise InputError(f"side file {given!r} is not a readable file")
        else:
            members = [(path, name)]
        by_name[name] = path
        for member, member_name in members:
            if not storage.readable(member):
                raise InputError(f"side file {member!r} is not a readable file")
            side = _record(member, member_name, inline=INLINE_TOTAL - inlined)
            if isinstance(side, InlineFile):
                inlined += len(side.data)
            found.append(side)
    return tuple(found)


def _folder_members(folder: str, name: str) -> list[tuple[str, str]]:
    """The files under ``folder`` with their side-file names (``name/relative/path``)."""
    base = folder.rstrip("/")
    members = []
    for member in storage.files_under(folder):
        relative = member[len(base):].lstrip("/") if member.startswith(base) else (
            os.path.basename(member))
        members.append((member, f"{name}/{relative}"))
    return members


def _record(path: str, name: str, inline: int) -> SideFile:
    """The record of the file ``path`` shipped as ``name``: inline if it is at most
    ``INLINE_LIMIT`` bytes and ``inline`` bytes, stored otherwise."""
    size = storage.size(path)
    with storage.open_read(path) as file:
        if size <= INLINE_LIMIT and size <= inline:
            data = file.read()
            return InlineFile(name, hashlib.sha256(data).hexdigest(), data)
        return StoredFile(name, _copy(file), path)


def stage(files: tuple[SideFile, ...], folder: str) -> tuple[SideFile, ...]:
    """The files, with each local ``StoredFile`` copied into ``folder`` (the job's output
    storage, which every worker of a cluster reaches) and read from there."""
    staged: list[SideFile] = []
    for side in files:
        if isinstance(side, StoredFile) and not storage.is_url(side.path):
            target = storage.join(folder, side.digest, side.name)
            storage.makedirs(storage.parent(target))
            with open(side.path, "rb") as source, storage.open_write(target) as copy:
                _copy(source, copy)
            side = StoredFile(side.name, side.digest, target)
        staged.append(side)
    return tuple(staged)


class FileCache:
    """A folder of side files by content hash, shared by the processes of one worker.

    Args:
        root: the folder (made when a file is first fetched).

    Attributes:
        fetched: how many files this object fetched (not found already in the cache).
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.fetched = 0

    def get(self, side: SideFile) -> str:
        """The local path of ``side``, fetched first if the cache does not hold it.

        Two processes asking at once: one fetches while the other waits on a lock, then
        finds the file. A fetched file is read-only, so a task cannot change it for the
        tasks and jobs after it.
        """
        path = os.path.join(self.root, side.digest)
        if os.path.exists(path):
            return path
        os.makedirs(self.root, exist_ok=True)
        with open(path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.path.exists(path):
                return path
            temp = f"{path}.{os.getpid()}.part"
            try:
                side.fetch(temp)
                os.chmod(temp, stat.S_IRUSR | stat.S_IRGRP)
                os.replace(temp, path)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        self.fetched += 1
        return path


def materialize(files: tuple[SideFile, ...], cache: FileCache, folder: str) -> None:
    """Put every file in ``folder`` under its name (links to the cache's copies): a side
    folder's files in a folder of its name."""
    os.makedirs(folder, exist_ok=True)
    for side in files:
        target = os.path.join(folder, side.name)
        if os.path.exists(target):
            continue  # another task of the job, in this worker, put it there
        if "/" in side.name:  # a file of a side folder
            os.makedirs(os.path.dirname(target), exist_ok=True)
        cached = cache.get(side)
        temp = f"{target}.{os.getpid()}.part"
        try:
            os.link(cached, temp)
        except OSError:  # another file system: a copy
            shutil.copyfile(cached, temp)
        os.replace(temp, target)
