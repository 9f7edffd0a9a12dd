"""Reading the commonest shape of combiner and reducer for what it is: one builtin of the values.

A word count's combiner and reducer, ``yield word, sum(counts)``, are called once a key: a
generator made and resumed, a pair built and taken apart, about 190,000 times in a 64 MiB map
task's last spill. When a combiner or reducer is exactly that shape, its body the one
statement ``yield key, F(values)`` where ``F`` is one of Python's own folds (``sum``,
``min``, ``max``, ``any``, ``all``) or collections (``list``, ``tuple``, ``sorted``,
``set``, ``frozenset``), ``fold_of`` returns ``F`` itself, and the engine applies it to a
whole batch of keys' values with ``map``, in C: the same calls on the same values, with no
frame of Python between them.

It is made only where it cannot change what the function produces:
- the function is a plain generator function, or a method of one, with no decorator, no
  closure and no ``__wrapped__``, whose source compiles to the very code that runs
  (``usersource``);
- it takes exactly ``(key, values)`` (after ``self``); it yields the key parameter itself and
  ``F`` called on the values parameter alone;
- the name ``F`` means Python's builtin when the task starts: no parameter has that name, the
  module has no global of that name, and the function's builtins hold the real one.

Where ``F`` raises (``sum`` of strings), the engine calls the function as written instead,
which raises the same error from the user's own line (see ``spill`` and ``tasks``).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any

from minimr.dataflow.usersource import body_of, definition_of, pair_parameters

__all__ = ["FOLDS", "fold_of"]

FOLDS = {name: getattr(builtins, name) for name in (
    "sum", "min", "max", "any", "all", "list", "tuple", "sorted", "set", "frozenset")}


def fold_of(fn: Callable | None) -> Callable[[Any], Any] | None:
    """The builtin ``F`` of a combiner or reducer whose body is ``yield key, F(values)``, or
    None when it is of any other shape."""
    found = definition_of(fn)
    if found is None:
        return None
    params = pair_parameters(found.node.args, found.instance is not None)
    if params is None:
        return None
    func = found.func
    name = _folded_name(body_of(found.node), params[-2].arg, params[-1].arg)
    if (name not in FOLDS or any(p.arg == name for p in params) or name in func.__globals__
            or func.__builtins__.get(name) is not FOLDS[name]):
        return None
    return FOLDS[name]


def _folded_name(body: list[ast.stmt], key: str, values: str) -> str | None:
    """``F`` when ``body`` is the one statement ``yield key, F(values)``."""
    if len(body) != 1 or type(body[0]) is not ast.Expr or type(body[0].value) is not ast.Yield:
        return None
    pair = body[0].value.value
    if type(pair) is not ast.Tuple or len(pair.elts) != 2:
        return None
    out_key, call = pair.elts
    if type(out_key) is not ast.Name or out_key.id != key:
        return None
    if (type(call) is not ast.Call or type(call.func) is not ast.Name or call.keywords
            or len(call.args) != 1 or type(call.args[0]) is not ast.Name
            or call.args[0].id != values):
        return None
    return call.func.id
