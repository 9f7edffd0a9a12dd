"""Mistakes in a job's code, reported as ``JobCodeError`` at the user's own line.

The engine meets what user code produced far from the call that produced it: a record that
cannot be pickled is found when its block is written (``format/unpicklable.py``), maybe
thousands of records later. A task knows which of its step's functions the records it writes
came from, and names them here by ``file:line`` (``function_location``), so the message
points at code the user can open. No retry can fix such a mistake: a cluster fails the job at
its first attempt (``errors.FINAL``).

Where the engine takes what a ``map``, ``combine`` or ``reduce`` produced, it checks it here:
``(key, value)`` pairs (tuples or lists of two), from calls that returned something to iterate
(``check_results``, ``check_pairs``; a ``map_keys``' result, ``keys_of``). One that returns
instead of yielding (a number, a str, a dict, a ``(key, value)`` tuple) or yields anything
else is named with what it produced. The checks run a batch at a time with C calls
(``set(map(type, ...))``), so well-formed output costs a pass, not Python code per pair; the
stores take the types found to choose how to hold the pairs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import types
from collections.abc import Callable, Iterator, Mapping
from operator import countOf
from typing import Any

from minimr.dataflow.folds import Fold
from minimr.dataflow.format.unpicklable import UnpicklableRecord, shown
from minimr.errors import HINT, JobCodeError


def function_location(fn: Callable) -> str:
    """``Name.qualname (file:line)`` of a user function, a method, a partial or a callable
    object; a builtin (no source) and a declared fold (``minimr.fold(sum)``) are their repr."""
    if type(fn) is Fold:
        return repr(fn)
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


# What Python says when an iterator is used as a list: len(), [i], reversed(), list methods.
# any attribute: the type named must be one of the iterators given (``values.sum()`` too)
_AS_A_LIST = re.compile(r"object of type '([\w.]+)' has no len\(\)|'([\w.]+)' object is not "
                        r"(?:subscriptable|reversible)|'([\w.]+)' object has no attribute ")


@contextlib.contextmanager
def values_as_a_list(fn: Callable, values: list) -> Iterator[None]:
    """Add a hint to the ``TypeError`` (or ``AttributeError``) raised inside when ``fn``, a
    reduce or a combine, used one of the ``values`` iterators it was given as a list
    (``len(values)``, ``values[0]``, ``values.sort()``, ``values.sum()``): Python's message
    names an iterator type the user never wrote. An error about an object of the user's own
    is left alone."""
    try:
        yield
    except (TypeError, AttributeError) as error:
        found = _AS_A_LIST.search(str(error))
        named = found and next(name for name in found.groups() if name)
        if named and hasattr(error, "add_note") and named in {_type_name(type(v))
                                                               for v in values}:
            error.add_note(
                f"{HINT}{function_location(fn)} gets each key's values as an iterator, read "
                f"once and never a list in memory: add them with `sum(values)`, count them "
                f"with `sum(1 for _ in values)`, "
                f"take the first with `next(values)`, or write `values = list(values)` when "
                f"one key's values fit in memory")
        raise


def _type_name(kind: type) -> str:
    """A type's name as Python's messages show it (``itertools.chain``, ``generator``)."""
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


PAIR_TYPES = frozenset({tuple, list})
# What a call of a function that yields (or returns a list) gives: iterated without a look.
PLAIN_RESULTS = frozenset({types.GeneratorType, list, tuple})


def _a(kind: type) -> str:
    name = kind.__name__
    return f"an {name}" if name[:1] in "aeiouAEIOU" else f"a {name}"


def check_results(results: list, fn: Callable, *, mappings: bool = False) -> None:
    """Check what each call of ``fn`` returned (None already left out): something to iterate
    for pairs, not a str, bytes or a number; a mapping only where ``mappings`` allows it.

    Raises:
        JobCodeError: naming ``fn`` and showing the first result that is none of those.
    """
    kinds = set(map(type, results))
    if tuple in kinds:  # `return key, value`: a tuple of two whose items are not both pairs
        _check_returned_pairs(results, fn)
    if kinds <= PLAIN_RESULTS:
        return
    for kind in kinds - PLAIN_RESULTS:
        result = next(r for r in results if type(r) is kind)
        if issubclass(kind, Mapping):
            if mappings:
                continue
            problem = "a mapping"
        elif issubclass(kind, (str, bytes)) or not _iterable(kind):
            problem = "not pairs"
        else:
            continue
        raise JobCodeError(
            f"{function_location(fn)} returned {shown(result)} ({_a(kind)}), {problem}: it must "
            f"yield (key, value) pairs, as in `yield key, value` (a `return` in place of "
            f"`yield` is the usual cause)")


def _check_returned_pairs(results: list, fn: Callable) -> None:
    """Refuse a tuple result that is one ``(key, value)`` pair rather than pairs: iterated, it
    would hand on the key and the value as two records (a str key then reads as its letters).
    A tuple of pairs (``((a, 1), (b, 1))``) is fine."""
    for result in results:
        if type(result) is tuple and len(result) == 2 and not all(
                isinstance(item, (tuple, list)) and len(item) == 2 for item in result):
            raise JobCodeError(
                f"{function_location(fn)} returned {shown(result)} (a tuple), one (key, value)"
                f" pair instead of yielding it: write `yield key, value` (a `return` in place"
                f" of `yield` is the usual cause)")


def keys_of(fn: Callable, result: Any) -> Any:
    """What one call of a ``map_keys`` returned, if it is an iterable of keys (a None gives
    none); called once a record, as the keys are taken from it.

    Raises:
        JobCodeError: for a str, bytes, a mapping or something not iterable, whose items
            would not be the keys meant.
    """
    kind = type(result)
    if kind in PLAIN_RESULTS:
        return result
    if result is None:
        return ()
    if issubclass(kind, (str, bytes, Mapping)) or not _iterable(kind):
        raise JobCodeError(
            f"{function_location(fn)} returned {shown(result)} ({_a(kind)}): map_keys must "
            f"return an iterable of keys, each counted once as (key, 1), such as a list of "
            f"words")
    return result


def check_pairs(items: list, fn: Callable) -> set[type]:
    """Check that every item is a ``(key, value)`` pair: a tuple or list of two (or of a
    subclass of those: a named tuple).

    Returns:
        The types of the items, for the stores (which count exact tuples alone).

    Raises:
        JobCodeError: naming ``fn`` and showing the first item that is not a pair.
    """
    n = len(items)
    # counted against tuple first, the usual case: a third of the steps of building a set
    kinds = {tuple} if n and countOf(map(type, items), tuple) == n else set(map(type, items))
    if kinds <= PAIR_TYPES and countOf(map(len, items), 2) == n:
        return kinds
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise JobCodeError(
                f"{function_location(fn)} yielded {shown(item)} ({_a(type(item))}), not a "
                f"(key, value) pair: yield a tuple of two, as in `yield word, 1`")
    return kinds


def _iterable(kind: type) -> bool:
    return getattr(kind, "__iter__", None) is not None or hasattr(kind, "__getitem__")
