"""This user's private folders on this machine: where local keys and local sockets live.

Other local accounts must not reach a user's embedded cluster, nor a loopback coordinator
started without keys (workers run whatever code a job ships, as the user who started
them). Loopback TCP does not tell users apart; a folder does: a Unix socket (``ipc://``) in
a folder of mode 0700 can be opened by its owner (and root) only, and so can key files
kept there.

:func:`state_dir` keeps what outlives a process (this user's local keys):
``$XDG_STATE_HOME/minimr``, by default ``~/.local/state/minimr``, or :func:`runtime_dir`
when there is no usable home. :func:`runtime_dir` is ``$XDG_RUNTIME_DIR/minimr`` when the
session has a runtime folder (a per-user tmpfs on systemd systems), else
``TMP/minimr-UID``. A folder found in the way that is not this user's, not a real folder
or open to others is never used: a world-writable temporary folder lets anyone create
``/tmp/minimr-1000`` first, with keys of their own choosing inside.
"""

from __future__ import annotations

import os
import stat
import tempfile

from minimr.errors import UsageError


class NotPrivate(UsageError):
    """A folder that should be this user's alone is not."""


def runtime_dir() -> str:
    """This user's private folder (made with mode 0700 if missing).

    Raises:
        NotPrivate: the folder exists but is a link, not a folder, owned by another user
            or open to the group or others.
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and _owned_folder(base):
        folder = os.path.join(base, "minimr")
    else:
        folder = os.path.join(tempfile.gettempdir(), f"minimr-{os.getuid()}")
    return ensure_private(folder)


def state_dir() -> str:
    """This user's private folder for state that outlives a process (made if missing).

    Raises:
        NotPrivate: the folder exists but is not this user's alone.
    """
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        return ensure_private(os.path.join(base, "minimr"))
    except OSError:  # no usable home (a service account's, a read-only one)
        return runtime_dir()


def ensure_private(folder: str) -> str:
    """Make ``folder`` with mode 0700, or check that the existing one is private.

    Returns:
        ``folder``.

    Raises:
        NotPrivate: it is a link, not a folder, another user's, or open to others.
    """
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    problem = None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        problem = "it is not a folder (a link or a file)"
    elif info.st_uid != os.getuid():
        problem = f"it belongs to user id {info.st_uid}, not to this user ({os.getuid()})"
    elif info.st_mode & 0o077:
        problem = f"its mode is {stat.S_IMODE(info.st_mode):o}: others may enter it"
    if problem:
        raise NotPrivate(
            f"{folder} must be this user's private folder, but {problem}. Remove it (or, "
            "for the mode, `chmod 700` it if it is yours) and run again."
        )
    return folder


def socket_address(folder: str, name: str) -> str:
    """The ``ipc://`` address of socket ``name`` in ``folder``."""
    return f"ipc://{os.path.join(folder, name)}"


def socket_folder(address: str) -> str | None:
    """The folder of an ``ipc://`` address (``None`` for other transports)."""
    if not address.startswith("ipc://"):
        return None
    return os.path.dirname(address[len("ipc://") :])


def _owned_folder(path: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
