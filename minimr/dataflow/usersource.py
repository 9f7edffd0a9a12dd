"""A user function's own ``def``, read from its source and checked against the code that runs.

``mapshape`` and ``foldshape`` run a user's function in another form when its source says it
is of a known shape. They may only trust a source that is the function: ``definition_of`` parses
it again and compiles it, and hands it on only when that gives the very code that runs (a
file changed since it was imported, a name mangled inside a class, a source that cannot be
found: None).
"""

from __future__ import annotations
import __future__

import ast
import inspect
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Definition", "body_of", "compile_like", "definition_of", "pair_parameters"]

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


@dataclass(frozen=True)
class Definition:
    """A user function, the instance it is bound to (or None) and its checked ``def``."""

    func: types.FunctionType
    instance: Any
    node: ast.FunctionDef


def definition_of(fn: Callable | None) -> Definition | None:
    """The ``def`` of a plain Python generator function or a method of one, with no closure
    and no ``__wrapped__`` (nothing around it that its source does not show), parsed from its
    source (with the file's line numbers) if that source compiles to its code; else None."""
    func, instance = fn, None
    if type(fn) is types.MethodType:
        func, instance = fn.__func__, fn.__self__
    if (type(func) is not types.FunctionType or not inspect.isgeneratorfunction(func)
            or func.__closure__ is not None or hasattr(func, "__wrapped__")):
        return None
    node = _parsed(func)
    return Definition(func, instance, node) if node is not None else None


def _parsed(func: types.FunctionType) -> ast.FunctionDef | None:
    """The function's undecorated ``def``, if its source compiles to its code."""
    try:
        lines, first = inspect.getsourcelines(func)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return None
    if len(tree.body) != 1 or type(tree.body[0]) is not ast.FunctionDef:
        return None
    node = tree.body[0]
    if node.decorator_list or node.name != func.__code__.co_name:
        return None
    ast.increment_lineno(tree, first - 1)
    try:
        same = _same_code(compile_like(node, func.__code__), func.__code__)
    except (SyntaxError, ValueError):  # a def that only compiles in its class or module
        return None
    return node if same else None


def body_of(node: ast.FunctionDef) -> list[ast.stmt]:
    """The statements of a ``def`` after its docstring."""
    body = node.body
    if (body and type(body[0]) is ast.Expr and type(body[0].value) is ast.Constant
            and type(body[0].value.value) is str):
        return body[1:]
    return body


def pair_parameters(args: ast.arguments, method: bool) -> tuple[ast.arg, ...] | None:
    """The parameters of a ``(key, value)`` function (after ``self`` for a ``method``), or
    None when it takes any other parameters, or defaults."""
    plain = [*args.posonlyargs, *args.args]
    if (len(plain) != 2 + method or args.vararg or args.kwarg or args.kwonlyargs
            or args.defaults):
        return None
    return tuple(plain)


def compile_like(node: ast.FunctionDef, like: types.CodeType) -> types.CodeType:
    """The code object of a ``def`` compiled on its own, as the module of ``like`` would."""
    module = ast.fix_missing_locations(ast.Module(body=[node], type_ignores=[]))
    compiled = compile(module, like.co_filename, "exec",
                       flags=like.co_flags & _FUTURE_FLAGS, dont_inherit=True)
    return next(c for c in compiled.co_consts if isinstance(c, types.CodeType))


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """Whether two code objects run the same instructions on the same names and constants
    (their positions may differ: the source was dedented)."""
    fields = ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars",
              "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_flags")
    if any(getattr(a, f) != getattr(b, f) for f in fields):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or repr(x) != repr(y):
            return False
    return True
