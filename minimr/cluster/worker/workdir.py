"""A worker's folder on local disk: its map outputs, and those a dead worker left behind.

Each worker keeps its map outputs in a folder of its own, ``BASE/minimr-worker-PID-XXXX/``
(one subfolder per job), holding an exclusive ``flock`` on its ``.lock`` file for as long as
it lives. The kernel drops the lock when the process ends, however it ends (SIGKILL too), so
a folder whose lock can be taken belongs to a dead worker. The folder is made under a hidden
name and renamed once locked, so a worker that is only starting never looks dead.

A worker that starts (or registers again) on the same BASE *adopts* the folders of dead
workers, as Hadoop's work-preserving NodeManager restart keeps shuffle data: it moves their
finished map outputs (those with an ``.index`` file beside them, written last by
``dataflow/mapside/spill.py``) into its own folder, rewrites their index (and the binary
one the shuffle reads, ``partindex.py``), and deletes the rest. It then registers those
outputs and the dead worker's last coordinator identity (kept in ``.identity``), so the
coordinator drops the dead worker at once instead of after its heartbeat timeout, and need
not run those maps again. After a coordinator restart the same
listing re-registers what a live worker holds.

Adoption trusts nothing it did not write. A folder under BASE could have been planted by
anyone who can write there, with an index naming files elsewhere or symlinks out of it, and
the adopter would move, serve and finally delete those files. So:

- BASE is this user's: by default ``$TMPDIR/minimr-<uid>/``, made 0700; any BASE (the default
  or ``--work-dir``) is refused unless it is a real folder (not a symlink) owned by this uid
  and not writable by group or others (``private_base``).
- A folder is adopted only if it has the name a worker gives its folder, is a real folder
  owned by this uid with mode 0700 (what ``mkdtemp`` makes), and its ``.lock`` is a regular
  file of ours, opened without following links.
- Of such a folder, only regular files of ours with a single link (``os.lstat``), with the
  names a worker writes (``JOB/map-sS-mNNNNN-ATTEMPT.out`` and its ``.index``), are moved.
  The index's ``path`` is never followed: the output must be the file beside the index.
- A folder that fails these checks is left alone, never deleted: it is not ours to judge.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator

from minimr.cluster.worker import partindex
from minimr.errors import WorkDirError

log = logging.getLogger("minimr.worker")

PREFIX = "minimr-worker-"
LOCK = ".lock"
IDENTITY = ".identity"
#: a worker's folder: ``PREFIX`` + pid + ``mkdtemp``'s random suffix
_WORKER_FOLDER = re.compile(re.escape(PREFIX) + r"\d+-[a-z0-9_]+")
#: a job's folder inside it (``planning.build_plan`` makes job ids of these characters)
_JOB_FOLDER = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
#: a map output file's name (``run_map_task``): ``map-s{step}-m{index:05d}-{attempt}.out``
_MAP_OUTPUT = re.compile(r"map-s\d+-m\d+-(?P<attempt>[A-Za-z0-9_-][A-Za-z0-9_.-]*)\.out")
_INDEX_BYTES = 2**20  # an index is a few bytes per partition: refuse anything absurd
_IDENTITY_BYTES = 256


def default_base() -> str:
    """This user's base of worker folders: ``$TMPDIR/minimr-<uid>``."""
    return os.path.join(tempfile.gettempdir(), f"minimr-{os.getuid()}")


def private_base(base: str) -> str:
    """Make ``base`` (mode 0700) if missing, and check that only this user can write it.

    Returns:
        ``base``, absolute.

    Raises:
        WorkDirError: ``base`` is a symlink or not a folder, is owned by another user, or
            is writable by its group or by others (where anyone could plant a folder).
    """
    base = os.path.abspath(base)
    os.makedirs(base, mode=0o700, exist_ok=True)
    info = os.lstat(base)
    fix = "choose a folder only you can write (--work-dir), or remove it"
    if not stat.S_ISDIR(info.st_mode):
        raise WorkDirError(f"work folder base {base} is not a folder (a symlink?): {fix}")
    if info.st_uid != os.getuid():
        raise WorkDirError(
            f"work folder base {base} belongs to uid {info.st_uid}, not to this user"
            f" (uid {os.getuid()}): {fix}"
        )
    if info.st_mode & 0o022:
        raise WorkDirError(
            f"work folder base {base} is writable by others (mode"
            f" {stat.S_IMODE(info.st_mode):o}), who could plant folders a worker would adopt:"
            f" {fix}, or chmod go-w it"
        )
    return base


class WorkDir:
    """A worker's own locked folder under ``base`` (default: ``default_base()``).

    Attributes:
        path: the folder (map outputs go to ``path/JOB/``).
    """

    def __init__(self, base: str | None = None) -> None:
        base = private_base(base or default_base())
        self.base = base
        hidden = tempfile.mkdtemp(prefix=f".{PREFIX}{os.getpid()}-", dir=base)
        self._lock = open(os.path.join(hidden, LOCK), "w")  # noqa: SIM115 - held for life
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = os.path.join(base, os.path.basename(hidden)[1:])
        os.rename(hidden, self.path)  # the lock is on the file, not its name: still held

    def record_identity(self, identity: bytes) -> None:
        """Remember the identity this worker registered with (for whoever adopts the folder)."""
        temp = os.path.join(self.path, IDENTITY + ".new")
        with open(temp, "wb") as file:
            file.write(identity)
        os.replace(temp, os.path.join(self.path, IDENTITY))

    def adopt_orphans(self) -> list[str]:
        """Take over the map outputs of dead workers' folders under the same base.

        Only folders that pass ``_ours`` are looked at (see the module docstring).

        Returns:
            The coordinator identities those workers last registered with.
        """
        identities = []
        for name in sorted(os.listdir(self.base)):
            folder = os.path.join(self.base, name)
            if folder == self.path or not _WORKER_FOLDER.fullmatch(name) or not _ours(folder):
                continue
            with _dead_owner(folder) as dead:
                if not dead:
                    continue
                moved = self._adopt(folder)
                identity = _read_small(os.path.join(folder, IDENTITY), _IDENTITY_BYTES)
                if identity:
                    identities.append(identity.decode("latin-1"))
                shutil.rmtree(folder, ignore_errors=True)  # never follows a link out
                log.info("adopted %d map output(s) of a dead worker from %s", moved, folder)
        return identities

    def _adopt(self, folder: str) -> int:
        moved = 0
        for job, name, output in _finished_outputs(folder):
            job_dir = os.path.join(self.path, job)
            target = os.path.join(job_dir, name)
            try:
                os.makedirs(job_dir, mode=0o700, exist_ok=True)
                os.rename(output["path"], target)
            except OSError:
                continue
            with open(target + ".index", "w") as file:
                json.dump({**output, "path": target}, file)
            partindex.write_ranges(target, output["partitions"])  # the shuffle reads it
            moved += 1
        return moved

    def map_outputs(self) -> list[list]:
        """The finished map outputs in this folder that its shuffle can serve (their
        partition index is there): ``[[job_id, attempt, {"partitions", "size"}], ...]``."""
        return [[job, _MAP_OUTPUT.fullmatch(name)["attempt"],
                 {"partitions": len(output["partitions"]),
                  "size": sum(length for _, length in output["partitions"])}]
                for job, name, output in _finished_outputs(self.path)
                if os.path.exists(output["path"] + partindex.RANGES)]

    def close(self) -> None:
        """Delete the folder and release the lock (the worker is leaving)."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


def _ours(path: str, mode: int | None = 0o700) -> bool:
    """True when ``path`` itself (not a link's target) is a folder of this uid with ``mode``."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and (mode is None or stat.S_IMODE(info.st_mode) == mode))


def _our_file(path: str) -> bool:
    """True when ``path`` itself is a regular file of this uid with no other name."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_nlink == 1


def _finished_outputs(folder: str) -> Iterator[tuple[str, str, dict]]:
    """``(job, file name, index)`` of each finished map output in a worker's folder.

    Only names a worker writes, regular files of ours, and an index whose ``path`` is the
    file beside it (any other ``path`` is a planted one: skipped).
    """
    for job in sorted(os.listdir(folder)):
        job_dir = os.path.join(folder, job)
        if not _JOB_FOLDER.fullmatch(job) or not _ours(job_dir, mode=None):
            continue
        for name in sorted(os.listdir(job_dir)):
            path = os.path.join(job_dir, name)
            if not _MAP_OUTPUT.fullmatch(name) or not _our_file(path):
                continue
            output = _load_index(path + ".index")
            if output is not None and output["path"] == path:
                yield job, name, output


def _load_index(index: str) -> dict | None:
    """A map output's index (``{"path", "partitions"}``), if it is a whole one of ours."""
    if not _our_file(index):
        return None
    try:
        output = json.loads(_read_small(index, _INDEX_BYTES))
    except ValueError:
        return None
    if not isinstance(output, dict) or not isinstance(output.get("path"), str):
        return None
    partitions = output.get("partitions")
    if not isinstance(partitions, list) or not all(
        isinstance(p, list) and len(p) == 2
        and all(type(n) is int and n >= 0 for n in p) for p in partitions
    ):
        return None
    return output


@contextlib.contextmanager
def _dead_owner(folder: str):
    """Yields whether ``folder``'s owner is dead, holding its lock meanwhile if so."""
    try:  # never through a link, and only a regular file of ours
        fd = os.open(os.path.join(folder, LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        yield False  # no lock file: not ours to judge (another version), or being deleted
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # its worker holds it: alive
            return
        yield True
    finally:
        os.close(fd)


def _read_small(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes of a file, not through a link; empty when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, limit)
    except OSError:
        return b""
    finally:
        os.close(fd)
