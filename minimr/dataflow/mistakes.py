"""Mistakes in a job's code, reported as ``JobCodeError`` at the user's own line.

The engine meets what user code produced far from the call that produced it: a record that
cannot be pickled is found when its block is written (``format/unpicklable.py``), maybe
thousands of records later. A task knows which of its step's functions the records it writes
came from, and names them here by ``file:line`` (``function_location``), so the message
points at code the user can open. No retry can fix such a mistake: a cluster fails the job at
its first attempt (``errors.FINAL``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from minimr.dataflow.format.unpicklable import UnpicklableRecord, shown
from minimr.errors import JobCodeError


def function_location(fn: Callable) -> str:
    """``Name.qualname (file:line)`` of a user function, a method, a partial or a callable
    object; a builtin (no source) is its repr."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)  # a bound method: its function
    try:
        fn = inspect.unwrap(fn)
    except ValueError:  # a cycle of __wrapped__: keep what we have
        pass
    target = fn
    if getattr(target, "__code__", None) is None and callable(fn):
        target = type(fn).__call__  # an object with __call__: that method
    code = getattr(target, "__code__", None)
    if code is None:  # a builtin: no source to point at
        return repr(fn)
    name = getattr(target, "__qualname__", code.co_name)
    return f"{name} ({code.co_filename}:{code.co_firstlineno})"


def unpicklable_error(found: UnpicklableRecord, functions: list[Callable]) -> JobCodeError:
    """The ``JobCodeError`` for a record one of ``functions`` yielded that cannot be pickled:
    its type, the functions (``file:line``), the key and the pickling error."""
    who = " or ".join(map(function_location, functions)) or "the job"
    error = found.__cause__
    why = f" ({type(error).__name__}: {_first_line(error)})" if error is not None else ""
    if found.in_key:
        what = f"a key that cannot be pickled, a {found.type_name}: {shown(found.key)}{why}"
    else:
        what = (f"a value that cannot be pickled, a {found.type_name}, for key"
                f" {shown(found.key)}{why}")
    return JobCodeError(
        f"{who} yielded {what}. Keys and values are pickled on their way to disk and to"
        " other processes: yield plain data (numbers, strings, tuples...) or objects that"
        " pickle, and make locks, files and connections in setup() instead of yielding them."
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else ""


@contextlib.contextmanager
def naming_unpicklable(functions: list[Callable[..., Any] | None]) -> Iterator[None]:
    """Turn an :class:`UnpicklableRecord` raised inside into the ``JobCodeError`` naming the
    ``functions`` (the step's, None left out) that may have yielded the record."""
    try:
        yield
    except UnpicklableRecord as found:
        raise unpicklable_error(found, [f for f in functions if f is not None]) from (
            found.__cause__)
