"""Every error minimr raises on purpose, in one place.

The hierarchy::

    MinimrError (click.ClickException)        anything minimr reports to the user itself
    ├── UsageError                            the run was asked for wrongly: bad option values
    │   ├── InputError                        an --input is missing, matches nothing, unreadable
    │   ├── OutputExistsError                 the output folder exists, no --overwrite
    │   ├── UnsafeOutputError                 the output is or holds what no run may delete
    │   ├── UntrustedOutputError              read_output met a pickled value, trusted=False
    │   ├── StorageUnavailable                a URL's protocol is unknown or its package missing
    │   ├── KeysError                         a --keys folder lacks a file or holds a bad key
    │   ├── UnknownOptionError (TypeError)    a keyword argument minimr does not take (a typo)
    │   └── WorkDirError                      a worker's --work-dir is not private to its user
    ├── JobLoadError                          a job file cannot be imported or holds no single job
    ├── JobDefinitionError                    a job is malformed (no map, bad option value...)
    ├── JobCodeError                          the job's code did something no retry can fix
    ├── BadRecordError                        an input record its format cannot read (bad JSON)
    └── JobFailed                             a task failed for good; carries the user's traceback

Errors raised by the user's own code are never wrapped by the inline runner: they propagate
with their real traceback, which is what makes it the debugger. The distributed runners turn
them into ``JobFailed``, whose message carries the remote traceback text.

All of them subclass ``click.ClickException`` so the CLI prints the message (no minimr
traceback) and exits non-zero; library users catch ``MinimrError``.

``FINAL`` lists the errors that no new attempt of a task can fix (``JobCodeError``, a
``BadRecordError`` outside skip mode, and a ``JobLoadError`` of a plan a worker cannot
load): a cluster fails the job at the first attempt that raises one, where any other
exception is retried up to ``max_attempts``.
"""

from __future__ import annotations

import difflib
import os
import traceback
from collections.abc import Iterable
from typing import Any

import click


class MinimrError(click.ClickException):
    """Base class of the errors minimr reports itself; the CLI shows ``message`` and exits 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class UsageError(MinimrError):
    """An option or argument has a value minimr cannot use."""

    exit_code = 2


class InputError(UsageError):
    """An input path does not exist, matches no file, or cannot be read."""


class OutputExistsError(UsageError):
    """The output folder already exists and overwriting was not asked for."""


class UnsafeOutputError(UsageError):
    """The output is ``/``, a home or the current folder, an ancestor of one, or holds an
    input or the job file: no run may write into it or (``--overwrite``) delete it."""


class UntrustedOutputError(InputError):
    """``read_output`` met a pickled (``!pickle:``) value without ``trusted=True``: unpickling
    would run code chosen by whoever wrote the file."""


class StorageUnavailable(UsageError):
    """A URL names storage minimr cannot reach: unknown protocol, or fsspec or the protocol's
    package (s3fs, gcsfs, pyarrow) is not installed; the message names the pip extra."""


class KeysError(UsageError):
    """A keys folder (``--keys DIR``) lacks a file the command needs, or a key file is bad."""


class UnknownOptionError(UsageError, TypeError):
    """A keyword argument minimr does not take, such as ``reducer=2`` for ``reducers=2``.

    Also a ``TypeError``, which Python raises for an unexpected keyword argument. Make one
    with ``unknown_options``.
    """


def unknown_options(where: str, given: dict[str, Any], known: Iterable[str]
                    ) -> UnknownOptionError:
    """The error for the keyword arguments ``given`` that ``where`` (``"minimr.run()"``)
    does not take: each with its value and the closest of the ``known`` names, if any."""
    known = sorted(known)
    shown = []
    for name, value in given.items():
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}=?)" if close else ""
        shown.append(f"{name}={value!r:.40}{hint}")
    return UnknownOptionError(
        f"{where} got unknown keyword argument{'s' * (len(shown) > 1)}: {', '.join(shown)}."
        f" It takes: {', '.join(known)}."
    )


class WorkDirError(UsageError):
    """A worker's base folder (``--work-dir`` or ``$TMPDIR/minimr-<uid>``) is a symlink, is
    owned by another user, or others may write it: they could plant folders to adopt."""


class JobLoadError(MinimrError):
    """A job file cannot be loaded: syntax error, import error, no job or several jobs in it."""


class JobDefinitionError(MinimrError):
    """A job object is malformed: no map function, an unknown option value, a bad steps() list."""


class JobCodeError(MinimrError):
    """A mistake in the job's own code that running the attempt again cannot fix.

    Raised where the engine meets what user code produced: a ``map``/``combine``/``reduce``
    that returns instead of yielding, yields something that is not a ``(key, value)`` pair,
    or yields a key or value that cannot be pickled. The message names the function
    (``file:line``) and shows what it produced. A cluster fails the job at the first such
    attempt instead of retrying it up to ``--max-attempts``.
    """


class BadRecordError(MinimrError):
    """An input record its input format cannot read: a line that is not JSON, a CSV row with
    an unterminated quote or the wrong number of fields.

    The message names the file, the line and the byte offset. The input is the user's data,
    not their code: no retry reads anything else, so it fails the job at once, unless
    ``--skip-bad-records`` skips such records. A job's own ``InputFormat.parse`` raises it
    (with the reason alone) for a record it cannot read.
    """


#: raised in a task, these fail the job at once: running the attempt again cannot help
FINAL = (JobCodeError, JobLoadError, BadRecordError)


class JobFailed(MinimrError):
    """A task failed for good, so the job did not commit any output.

    Attributes:
        task: a human description of the task (step, kind, number, input).
        remote_traceback: the user's traceback as text, when there was one.
        failure: the coordinator's plain-data report of the failed task (``task``,
            ``kind``, ``step``, ``input``...), when a task failed (for ``minimr replay``).
    """

    def __init__(self, message: str, *, task: str = "", remote_traceback: str = "",
                 failure: dict | None = None) -> None:
        super().__init__(message)
        self.task = task
        self.remote_traceback = remote_traceback
        self.failure = failure


#: how a note minimr adds to a user's exception begins (``mistakes.values_as_a_list``); a
#: failure's one-line summary (``notices.error_line``) passes over it
HINT = "hint: "

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def format_user_traceback(exc: BaseException) -> str:
    """The traceback of an exception raised by user code, without minimr's own frames.

    The user's frames (their job file, their libraries) are what they can act on; the engine's
    frames between them are noise.
    """
    if isinstance(exc, MinimrError):  # its message says it all; minimr's frames would hide it
        return f"{type(exc).__name__}: {exc}\n"
    tb = traceback.TracebackException.from_exception(exc)
    user = [f for f in tb.stack if not os.path.abspath(f.filename).startswith(_PACKAGE)]
    if not user:  # the error is minimr's own: show it whole
        return "".join(tb.format())
    seen = tb
    while seen is not None:
        seen.stack = traceback.StackSummary.from_list(
            [f for f in seen.stack if not os.path.abspath(f.filename).startswith(_PACKAGE)]
        )
        seen = seen.__cause__ or seen.__context__
    return "".join(tb.format())
