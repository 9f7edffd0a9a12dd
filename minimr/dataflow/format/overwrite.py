"""What ``--overwrite`` may delete: an old output, never a folder that holds the user's files.

A run with ``overwrite`` empties its output folder before it starts. ``refuse_unsafe`` runs
first, on every path both as spelled (made absolute, so ``..`` and trailing slashes are gone)
and with its symlinks resolved (``os.path.realpath``), so that no link, in either direction,
hides what a folder holds. It refuses, whether or not ``overwrite`` is asked:

- ``/``, the home folder (``$HOME`` and the account's own), the current folder, and any
  ancestor of them;
- a folder that is or holds an input (an input file; a folder given as input, even one whose
  files all start with ``_`` or ``.``; the fixed part of a glob) or the job file;
- for a URL: a file system's root or a bucket's (``s3://bucket``).

Then ``check_old_output`` allows emptying a non-empty folder only when it looks like a minimr
output (``_SUCCESS``, ``_temporary`` or a ``part-*`` file in it), unless ``overwrite`` is
``FORCE`` (``--overwrite --overwrite``). ``clear`` deletes the folder's entries without ever
following a link: a link inside the old output is removed, not what it points to.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable, Sequence
from typing import Any

from minimr.dataflow import storage
from minimr.errors import OutputExistsError, UnsafeOutputError, UsageError

#: ``overwrite="force"`` (``--overwrite`` twice): also empty a folder that is no minimr output
FORCE = "force"
#: the names that make a folder look like a minimr output
OUTPUT_MARKERS = ("_SUCCESS", "_temporary", "_logs")
PART_PREFIX = "part-"
#: URL schemes whose first path segment is a bucket, not a folder
BUCKET_PROTOCOLS = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss")


def overwrite_mode(value: Any) -> bool | str:
    """``value`` checked: False, True (replace an old output) or ``FORCE``.

    Raises:
        UsageError: anything else.
    """
    if value is False or value is True or value == FORCE:
        return value
    raise UsageError(f"overwrite must be False, True or {FORCE!r} (got {value!r})")


def refuse_unsafe(output: str, inputs: Sequence[str], job_file: str | None = None) -> None:
    """Refuse an output that is, or holds, something no run may delete (module docstring).

    Args:
        output: the output path or URL, as the user gave it.
        inputs: the inputs as given (files, folders, globs) and as expanded (files).
        job_file: the file the job was loaded from, if any.

    Raises:
        UnsafeOutputError: naming what the output is or holds, and what to do instead.
    """
    if storage.is_url(output):
        _refuse_unsafe_url(storage.normalize(output), inputs)
        return
    output = storage.normalize(output) if storage.protocol(output) == "file" else output
    guarded = [("the root folder /", "/"), ("the current folder", os.getcwd())]
    guarded += [("your home folder", home) for home in _homes()]
    guarded += [(f"the input {path!r}", _fixed_part(path))
                for path in inputs if not storage.is_url(path)]
    if job_file:
        guarded.append((f"the job file {job_file!r}", job_file))
    outputs = _spellings(output)
    for what, path in guarded:
        for spelling in _spellings(path):
            for folder in outputs:
                if _holds(folder, spelling):
                    _refuse(output, folder, what, is_it=folder == spelling)


def check_old_output(output: str, names: Iterable[str], overwrite: bool | str) -> None:
    """Allow emptying the existing folder ``output`` holding ``names`` (not empty), or raise.

    Raises:
        OutputExistsError: without ``overwrite``; or with ``overwrite=True`` when the
            folder does not look like a minimr output (the message says how to force it).
    """
    if not overwrite:
        raise OutputExistsError(
            f"output folder {output!r} already exists and is not empty; choose another, or"
            " pass --overwrite to replace an old output (overwrite=True in minimr.run)"
        )
    if overwrite != FORCE and not any(
        name in OUTPUT_MARKERS or name.startswith(PART_PREFIX) for name in names
    ):
        raise OutputExistsError(
            f"output folder {output!r} is not empty and does not look like a minimr output"
            " (no _SUCCESS, _temporary, _logs or part-* in it), so --overwrite leaves it"
            " alone. To delete everything in it anyway, pass --overwrite twice"
            " (overwrite='force' in minimr.run)"
        )


def clear(output: str, names: Iterable[str]) -> None:
    """Delete the entries ``names`` of the folder ``output``, never following a link."""
    for name in names:
        storage.remove_entry(storage.join(output, name))


# --- helpers ------------------------------------------------------------------------------


def _refuse_unsafe_url(output: str, inputs: Sequence[str]) -> None:
    scheme = storage.protocol(output) or ""
    rest = [part for part in output.split("://", 1)[1].split("/") if part]
    if not rest or (scheme in BUCKET_PROTOCOLS and len(rest) == 1):
        where = "a bucket's root" if rest else "a file system's root"
        raise UnsafeOutputError(
            f"refusing output {output!r}: it is {where}, and --overwrite would delete"
            " everything in it; give a folder of its own, such as"
            f" {output.rstrip('/')}/{'out' if rest else 'bucket/out'}"
        )
    for path in inputs:
        if storage.is_url(path):
            fixed = _fixed_part(path).rstrip("/")
            if _holds(output, fixed, sep="/"):
                _refuse(output, output, f"the input {path!r}", is_it=output == fixed)


def _refuse(output: str, folder: str, what: str, *, is_it: bool) -> None:
    shown = repr(output) if folder == output.rstrip("/") else f"{output!r} ({folder})"
    raise UnsafeOutputError(
        f"refusing output {shown}: it {'is' if is_it else 'holds'} {what}, which a run must"
        " never write into or delete (--overwrite empties the output folder). Give the"
        " output a folder of its own, such as out/JOBNAME"
    )


def _homes() -> list[str]:
    homes = [os.path.expanduser("~")]
    try:
        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:  # an account with no passwd entry (a container's arbitrary uid)
        pass
    return [home for home in homes if home and home != "~"]


def _fixed_part(path: str) -> str:
    """The part of a glob before its first wildcard: the folder that holds its matches."""
    while storage.has_magic(path):
        path = storage.parent(path) if storage.is_url(path) else os.path.dirname(path) or "."
    return path


def _spellings(path: str) -> set[str]:
    """A local path made absolute, as given and with its links resolved."""
    return {os.path.abspath(path), os.path.realpath(path)}


def _holds(folder: str, path: str, sep: str = os.sep) -> bool:
    """True when ``path`` is ``folder`` or lies under it (both absolute and normalized)."""
    return path == folder or path.startswith(folder.rstrip(sep) + sep)
