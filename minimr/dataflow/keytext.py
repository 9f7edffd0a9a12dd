"""Keys as plain text and back, running no code: how range boundaries travel between peers.

A range partitioner's boundaries are keys chosen by a sample task, which on a cluster runs
on one worker; every map task then needs them. Pickling them would let that worker run
code in every other worker that unpickles them, so they travel as text instead: Python
source for the value (:func:`key_text`), read back by walking its syntax tree
(:func:`text_key`), never by ``eval`` or ``pickle``. Literals are read as
``ast.literal_eval`` reads them; beyond literals, the text may name exactly these calls,
so that the key types a job commonly yields survive the trip with their type::

    frozenset({...}) / frozenset()    set()    Decimal('1.5')    Fraction('1/3')
    float('nan'), float('inf')

Any other value (an instance of the job's own class, a datetime...) has no text:
:func:`key_text` raises :class:`NoKeyText`, and a caller says what to do instead.
"""

from __future__ import annotations

import ast
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

#: the longest text read back (a boundary is one key: it should be small)
MAX_TEXT = 1 << 20
_SCALARS = (str, bytes, int, bool, type(None))
_FLOAT_WORDS = {"nan", "inf", "-inf"}


class NoKeyText(ValueError):
    """A value of a type that has no plain text here."""


def key_text(key: Any) -> str:
    """Python source that :func:`text_key` reads back as an equal key of the same type.

    Raises:
        NoKeyText: the key is (or holds) a value of another type, or an int too long for
            its decimal text.
    """
    kind = type(key)
    if kind in _SCALARS:
        try:
            return repr(key)
        except ValueError as exc:  # an int past sys.get_int_max_str_digits()
            raise NoKeyText(f"an int of more digits than Python writes out ({exc})") from None
    if kind is float:
        return repr(key) if math.isfinite(key) else f"float({str(key)!r})"
    if kind is complex and math.isfinite(key.real) and math.isfinite(key.imag):
        return repr(key)
    if kind is Decimal:
        return f"Decimal({str(key)!r})"
    if kind is Fraction:
        return f"Fraction({str(key)!r})"
    if kind is tuple:
        items = [key_text(item) for item in key]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if kind is list:
        return f"[{', '.join(key_text(item) for item in key)}]"
    if kind is set or kind is frozenset:
        inner = f"{{{', '.join(sorted(key_text(item) for item in key))}}}" if key else ""
        if kind is frozenset:
            return f"frozenset({inner})"
        return inner or "set()"
    if kind is dict:
        return "{" + ", ".join(f"{key_text(k)}: {key_text(v)}" for k, v in key.items()) + "}"
    raise NoKeyText(f"a value of type {kind.__name__} has no plain text")


def text_key(text: str) -> Any:
    """The key ``text`` (from :func:`key_text`, or from a peer) stands for; no code runs.

    Raises:
        ValueError: not a str, longer than ``MAX_TEXT``, or not the text of a key.
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValueError(f"a key's text must be a str of at most {MAX_TEXT} characters")
    try:
        return _value(ast.parse(text, mode="eval").body)
    except (SyntaxError, TypeError, MemoryError, RecursionError, ArithmeticError) as exc:
        raise ValueError(f"not the text of a key ({type(exc).__name__})") from None


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_value(item) for item in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Set):
        return {_value(item) for item in node.elts}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # {**other}
            raise ValueError("not the text of a key (a dict unpacking)")
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True)}
    return ast.literal_eval(node)  # constants, signed numbers, complex: and nothing else


def _call(node: ast.Call) -> Any:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) or len(node.args) > 1:
        raise ValueError(f"not the text of a key (a call of {name!r} with those arguments)")
    argument = _value(node.args[0]) if node.args else None
    if name == "frozenset" and (argument is None or isinstance(argument, set)):
        return frozenset(argument or ())
    if name == "set" and argument is None:
        return set()
    if name == "Decimal" and isinstance(argument, str):
        return Decimal(argument)
    if name == "Fraction" and isinstance(argument, str):
        return Fraction(argument)
    if name == "float" and argument in _FLOAT_WORDS:
        return float(argument)
    raise ValueError(f"not the text of a key (a call of {name!r})")
