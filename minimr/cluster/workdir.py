"""A worker's folder on local disk: its map outputs, and those a dead worker left behind.

Each worker keeps its map outputs in a folder of its own, ``BASE/minimr-worker-PID-XXXX/``
(one subfolder per job), holding an exclusive ``flock`` on its ``.lock`` file for as long as
it lives. The kernel drops the lock when the process ends, however it ends (SIGKILL too), so
a folder whose lock can be taken belongs to a dead worker. The folder is made under a hidden
name and renamed once locked, so a worker that is only starting never looks dead.

A worker that starts (or registers again) on the same BASE *adopts* the folders of dead
workers, as Hadoop's work-preserving NodeManager restart keeps shuffle data: it moves their
finished map outputs (those with an ``.index`` file beside them, written last by
``dataflow/mapside/spill.py``) into its own folder, rewrites their index, and deletes the rest. It
then registers those outputs and the dead worker's last coordinator identity (kept in
``.identity``), so the coordinator drops the dead worker at once instead of after its
heartbeat timeout, and need not run those maps again. After a coordinator restart the same
listing re-registers what a live worker holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import logging
import os
import re
import shutil
import tempfile

log = logging.getLogger("minimr.worker")

PREFIX = "minimr-worker-"
LOCK = ".lock"
IDENTITY = ".identity"
#: a map output file's name (``run_map_task``): ``map-s{step}-m{index:05d}-{attempt}.out``
_MAP_OUTPUT = re.compile(r"map-s\d+-m\d+-(?P<attempt>.+)\.out")


class WorkDir:
    """A worker's own locked folder under ``base``.

    Attributes:
        path: the folder (map outputs go to ``path/JOB/``).
    """

    def __init__(self, base: str) -> None:
        os.makedirs(base, exist_ok=True)
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

        Returns:
            The coordinator identities those workers last registered with.
        """
        identities = []
        for folder in sorted(glob.glob(os.path.join(glob.escape(self.base), PREFIX + "*"))):
            if folder == self.path or not os.path.isdir(folder):
                continue
            with _dead_owner(folder) as dead:
                if not dead:
                    continue
                moved = self._adopt(folder)
                identity = _read(os.path.join(folder, IDENTITY))
                if identity:
                    identities.append(identity)
                shutil.rmtree(folder, ignore_errors=True)
                log.info("adopted %d map output(s) of a dead worker from %s", moved, folder)
        return identities

    def _adopt(self, folder: str) -> int:
        moved = 0
        for index in glob.glob(os.path.join(glob.escape(folder), "*", "map-*.out.index")):
            job_dir = os.path.join(self.path, os.path.basename(os.path.dirname(index)))
            output = _load(index)
            if output is None:
                continue
            target = os.path.join(job_dir, os.path.basename(index)[: -len(".index")])
            try:
                os.makedirs(job_dir, exist_ok=True)
                os.rename(output["path"], target)
            except OSError:
                continue
            with open(target + ".index", "w") as file:
                json.dump({**output, "path": target}, file)
            moved += 1
        return moved

    def map_outputs(self) -> list[list]:
        """The finished map outputs in this folder: ``[[job_id, attempt, output], ...]``."""
        found = []
        pattern = os.path.join(glob.escape(self.path), "*", "map-*.out.index")
        for index in sorted(glob.glob(pattern)):
            match = _MAP_OUTPUT.fullmatch(os.path.basename(index)[: -len(".index")])
            output = _load(index)
            if match and output is not None:
                found.append([os.path.basename(os.path.dirname(index)), match["attempt"], output])
        return found

    def close(self) -> None:
        """Delete the folder and release the lock (the worker is leaving)."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


@contextlib.contextmanager
def _dead_owner(folder: str):
    """Yields whether ``folder``'s owner is dead, holding its lock meanwhile if so."""
    try:
        lock = open(os.path.join(folder, LOCK))  # noqa: SIM115 - closed below
    except OSError:
        yield False  # no lock file: not ours to judge (another version), or being deleted
        return
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # its worker holds it: alive
            return
        yield True
    finally:
        lock.close()


def _load(index: str) -> dict | None:
    """A map output's index (``{"path", "partitions"}``), if it is whole and its file exists."""
    try:
        with open(index) as file:
            output = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(output, dict) or not os.path.exists(str(output.get("path"))):
        return None
    return output


def _read(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return file.read().decode("latin-1")
    except OSError:
        return ""
