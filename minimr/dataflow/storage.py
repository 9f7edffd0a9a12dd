"""The seam between minimr and file systems: local paths through ``os``, URLs through fsspec.

Every input, intermediate step output and final part goes through this module, so the rest of
the data path never asks what kind of storage it is on. A *path* is either

- a local path (``data/text``, ``/mnt/shared/out``; ``file:///x`` is the local path ``/x``),
  handled with ``os`` and ``open`` and never importing fsspec, which is optional; or
- a URL such as ``s3://bucket/key``, ``gs://``, ``hdfs://namenode:8020/path`` or ``memory://``,
  handled by ``fsspec.core.url_to_fs`` when fsspec and the protocol's package are installed
  (``pip install 'minimr[s3]'``, ``'minimr[gcs]'``, ``'minimr[hdfs]'``, ``'minimr[remote]'``).
  A URL whose package is missing raises ``StorageUnavailable`` naming the extra to install.

URLs stay URLs everywhere (in splits, record keys and the plan shipped to workers), so a worker
on another machine reaches the same object. Map outputs and spills never come here: they stay
on each worker's local disk.

Commit (``commit``): a reduce attempt writes ``OUTPUT/_temporary/attempts/<attempt>/...`` and,
once the coordinator grants it the task's single commit, moves that file to its final name.
Locally (and on HDFS) that is a rename, atomic. Object stores have no rename: the move is a
server-side copy to the final key followed by a delete, and since a PUT or COPY of an object
lands whole or not at all, a part is never seen half-written. Only the granted attempt copies,
so a losing attempt's part never becomes visible; it dies with ``_temporary``. ``_SUCCESS`` is
written last, so on an object store, where a failed job can leave some committed parts behind,
an output without ``_SUCCESS`` is incomplete and readers must treat it so.
"""

from __future__ import annotations

import glob as globbing
import os
import re
import shutil
import stat
from typing import Any, BinaryIO

from minimr.errors import StorageUnavailable

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://")
#: which pip extra of minimr brings the package of a protocol
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "hdfs": "hdfs"}
#: protocols whose files live in one process only (no other process can read them)
PROCESS_LOCAL = ("memory",)
#: bytes fetched or uploaded per request on remote storage: large enough to amortise a round
#: trip, small enough that reading a split's last line past its end fetches little extra
REMOTE_BLOCK = 8 * 2**20


def protocol(path: str) -> str | None:
    """The URL scheme of ``path`` (``"s3"``), or None for a local path."""
    match = _URL.match(path)
    return match.group(1).lower() if match else None


def is_url(path: str) -> bool:
    """True when ``path`` is a URL served through fsspec (``file://`` counts as local)."""
    return protocol(path) not in (None, "file")


def is_process_local(path: str) -> bool:
    """True for storage that only this process sees (``memory://``): inline runs only."""
    return protocol(path) in PROCESS_LOCAL


def normalize(path: str | os.PathLike) -> str:
    """A path in the form minimr keeps: local paths absolute, URLs without a trailing ``/``.

    Raises:
        StorageUnavailable: a URL whose protocol is unknown or whose package is missing.
    """
    path = os.fspath(path)
    if protocol(path) == "file":
        return os.path.abspath(path[len("file://"):])
    if is_url(path):
        _filesystem(path)  # fail now, before any task, when the package is missing
        return path.rstrip("/") if not path.endswith("://") else path
    return os.path.abspath(path)


def join(base: str, *names: str) -> str:
    """``base/name/...``: ``/`` for URLs whatever the local OS."""
    if is_url(base):
        return "/".join([base.rstrip("/"), *names])
    return os.path.join(base, *names)


def parent(path: str) -> str:
    """The folder holding ``path``."""
    if is_url(path):
        return path.rstrip("/").rsplit("/", 1)[0]
    return os.path.dirname(path)


def visible(name: str) -> bool:
    """Hadoop's rule: names starting with ``_`` or ``.`` are bookkeeping, not data."""
    return not name.startswith(("_", "."))


# --- remote file systems ------------------------------------------------------------------


def _filesystem(url: str) -> tuple[Any, str, str]:
    """``(fs, fs_path, prefix)`` of a URL; ``prefix + fs_path`` rebuilds URLs of its files.

    Raises:
        StorageUnavailable: fsspec or the protocol's package is missing, or the protocol is
            unknown.
    """
    scheme = protocol(url) or ""
    extra = EXTRAS.get(scheme, "remote")
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise StorageUnavailable(
            f"{url!r} is a remote storage URL, which needs fsspec:"
            f" pip install 'minimr[{extra}]'"
        ) from None
    try:
        # No listing cache: other processes write the same folders (workers commit parts
        # that the coordinator's side lists next), and a stale listing would hide them.
        fs, fs_path = url_to_fs(url, use_listings_cache=False)
    except ImportError as exc:
        raise StorageUnavailable(
            f"{scheme}:// URLs need a package that is not installed ({exc}):"
            f" pip install 'minimr[{extra}]' (got {url!r})"
        ) from None
    except ValueError as exc:
        if "protocol" not in str(exc).lower():
            raise
        raise StorageUnavailable(
            f"unknown storage protocol {scheme!r} in {url!r}: expected a local path or an"
            " fsspec URL such as s3://, gs://, hdfs://, memory:// or file://"
        ) from None
    # keep the URL's own spelling (an hdfs://host:port/ stays) for the files found under it
    bare, stem = fs_path.strip("/"), url.rstrip("/")
    if bare and stem.endswith(bare):
        prefix = stem[: len(stem) - len(bare)]
    else:  # a bucket root, a chained URL: let fsspec spell it
        full = fs.unstrip_protocol(fs_path)
        prefix = full[: len(full) - len(fs_path.lstrip("/"))]
    return fs, fs_path, prefix


def _to_url(prefix: str, fs_path: str) -> str:
    return prefix + fs_path.lstrip("/")


# --- looking ----------------------------------------------------------------------------


def kind(path: str) -> str | None:
    """``"file"``, ``"dir"``, or None when nothing is there."""
    if not is_url(path):
        if os.path.isdir(path):
            return "dir"
        return "file" if os.path.isfile(path) else None
    fs, fs_path, _ = _filesystem(path)
    try:
        info = fs.info(fs_path)
    except FileNotFoundError:
        return None
    return "dir" if info.get("type") == "directory" else "file"


def exists(path: str) -> bool:
    """True when a file or folder is at ``path``."""
    return kind(path) is not None


def size(path: str) -> int:
    """The size of a file in bytes."""
    if not is_url(path):
        return os.path.getsize(path)
    fs, fs_path, _ = _filesystem(path)
    return int(fs.size(fs_path))


def readable(path: str) -> bool:
    """Whether this process may read the file (remote files: assumed, checked on reading)."""
    return os.access(path, os.R_OK) if not is_url(path) else True


def has_magic(path: str) -> bool:
    """True when ``path`` is a glob pattern."""
    return globbing.has_magic(path)


def glob(pattern: str) -> list[str]:
    """The files and folders matching a glob pattern (``**`` recurses), sorted."""
    if not is_url(pattern):
        return sorted(globbing.glob(pattern, recursive=True))
    fs, fs_path, prefix = _filesystem(pattern)
    return sorted(_to_url(prefix, p) for p in fs.glob(fs_path))


def files_under(folder: str) -> list[str]:
    """Every file under ``folder``, recursively and sorted, skipping names that start with
    ``_`` or ``.`` (and everything inside folders so named)."""
    if not is_url(folder):
        found = []
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if visible(d))
            found.extend(os.path.join(root, f) for f in sorted(files) if visible(f))
        return found
    fs, fs_path, prefix = _filesystem(folder)
    base = fs_path.rstrip("/")
    found = []
    for p in fs.find(fs_path):
        relative = p[len(base):].lstrip("/").split("/")
        if all(visible(part) for part in relative):
            found.append(_to_url(prefix, p))
    return sorted(found)


def listdir(folder: str) -> list[str]:
    """The names (not paths) of the entries directly inside ``folder``."""
    if not is_url(folder):
        return os.listdir(folder)
    fs, fs_path, _ = _filesystem(folder)
    return [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(fs_path, detail=False)]


# --- reading and writing ------------------------------------------------------------------


def open_read(path: str) -> BinaryIO:
    """Open a file for reading bytes, seekable (``compression`` layers a codec over it).

    Remote files are read in ``REMOTE_BLOCK`` requests, so a byte-range split fetches about
    its own range, whatever the size of the file.
    """
    if not is_url(path):
        return open(path, "rb")
    fs, fs_path, _ = _filesystem(path)
    return fs.open(fs_path, "rb", block_size=REMOTE_BLOCK)


def open_write(path: str) -> BinaryIO:
    """Open a file for writing bytes (a remote object appears only when the file is closed)."""
    if not is_url(path):
        return open(path, "wb")
    fs, fs_path, _ = _filesystem(path)
    return fs.open(fs_path, "wb", block_size=REMOTE_BLOCK)


# --- changing -----------------------------------------------------------------------------


def makedirs(path: str) -> None:
    """Create a folder and its parents (object stores have no folders: nothing to do)."""
    if not is_url(path):
        os.makedirs(path, exist_ok=True)
        return
    fs, fs_path, _ = _filesystem(path)
    fs.makedirs(fs_path, exist_ok=True)


def remove(path: str) -> None:
    """Delete one file; one already gone is fine."""
    if not is_url(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    fs, fs_path, _ = _filesystem(path)
    try:
        fs.rm_file(fs_path)
    except FileNotFoundError:
        pass


def remove_tree(path: str) -> None:
    """Delete a folder and everything in it; one already gone is fine."""
    if not is_url(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    fs, fs_path, _ = _filesystem(path)
    try:
        fs.rm(fs_path, recursive=True)
    except FileNotFoundError:
        pass


def remove_entry(path: str) -> None:
    """Delete a file, a link or a folder with all in it, never following a link (a link is
    removed, not what it names); one already gone is fine.

    Raises:
        OSError: an entry that exists could not be deleted.
    """
    if is_url(path):  # object stores have no links; a recursive delete of a file is that file
        remove_tree(path)
        return
    try:
        is_folder = stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    if is_folder:
        shutil.rmtree(path)  # removes links inside it, never what they name
    else:
        os.unlink(path)


def remove_empty_folder(path: str) -> None:
    """Delete a folder if it is empty; otherwise, or if it is gone, do nothing."""
    if not is_url(path):
        try:
            os.rmdir(path)
        except OSError:
            pass
        return
    fs, fs_path, _ = _filesystem(path)
    try:
        if not fs.ls(fs_path, detail=False):
            fs.rmdir(fs_path)
    except (OSError, NotImplementedError):  # gone, not empty, or a store without folders
        pass


def missing_folders(path: str) -> list[str]:
    """``path`` and those of its parents that do not exist yet, deepest first: the folders
    ``makedirs(path)`` would create (a URL: ``[path]`` when nothing is there)."""
    if is_url(path):
        return [] if exists(path) else [path]
    missing = []
    while not os.path.lexists(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def commit(temp_path: str, final_path: str) -> str:
    """Move a finished file to its final name, all or nothing; returns ``final_path``.

    Local: ``os.replace``, an atomic rename. URLs: fsspec's move, a rename where the store has
    one and otherwise a copy to the final key (an object appears whole or not at all) then a
    delete. Idempotent: when the temporary file is gone and the final one is there, a repeated
    commit does nothing.
    """
    if not is_url(temp_path):
        if not os.path.exists(temp_path) and os.path.exists(final_path):
            return final_path
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        os.replace(temp_path, final_path)
        return final_path
    fs, temp, _ = _filesystem(temp_path)
    _, final, _ = _filesystem(final_path)
    if not fs.exists(temp) and fs.exists(final):
        return final_path
    fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
    fs.mv(temp, final)
    return final_path
