"""What a field on the wire may hold, and the one checker that enforces it.

``protocol.py`` declares every message and every nested record as a frozen dataclass whose
fields carry type hints; this module turns a hint into a *converter*: a function that takes
the value ``json.loads`` produced and returns the typed value (a record, a tuple, an int in
range) or raises :class:`Invalid` saying what was expected, what was received and where::

    TaskDone.output.partitions[3][0] must be an int in [0, 9007199254740992] (got -1)

The vocabulary (``Annotated`` hints, so a reader sees the rule beside the field)::

    Count        an int in [0, 2**31 - 1]          indexes, slots, attempts, pids
    ByteOffset   an int in [0, 2**53]               file offsets and lengths
    Seconds      a finite float in [0, 10**9]
    Amount       an int in [-2**63, 2**63 - 1]      counters
    JobId        a folder-safe name                 (no path, no dot first, <= 200 chars)
    AttemptId    ``s{step}-{p|m|r|c}{index}-a{n}``
    FilePath     a str without NUL, <= 4096 chars
    Name         a str of <= 256 chars
    Plain        a JSON object of plain data, forwarded as it is (a task's spec, a snapshot)

Bare ``int`` fields are int64, bare ``float`` fields finite, ``str`` fields valid Unicode (a
lone surrogate from ``"\\ud800"`` is refused: it would fail later, when written or printed),
``bool`` only ``true``/``false``; ``tuple[X, ...]`` arrives as a JSON list, a record as a
JSON object with exactly its fields (the ones with defaults may be left out). Nothing on the
wire nests deeper than ``MAX_DEPTH``. Non-finite numbers (``Infinity``, ``NaN``, ``1e400``)
and integers past int64 are refused while the JSON is parsed (:func:`loads`), so no number
that could overflow a conversion later ever reaches the coordinator's tables or its journal.

Converters are built once per hint and cached: the coordinator decodes every heartbeat and
every result with them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

#: how deep any JSON value on the wire may nest (a task spec is 3 levels, a status 4)
MAX_DEPTH = 16
INT64 = (-(2**63), 2**63 - 1)


class Invalid(ValueError):
    """A value does not fit its field; ``where`` grows as the error unwinds to the field."""

    def __init__(self, problem: str, where: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = where

    def at(self, step: str) -> Invalid:
        """The same error one level further out (``step`` is ``.name`` or ``[3]``)."""
        return Invalid(self.problem, step + self.where)

    def __str__(self) -> str:
        return f"{self.where.lstrip('.')} {self.problem}" if self.where else self.problem


@dataclass(frozen=True)
class Bounds:
    """An ``Annotated`` int or float field's inclusive range."""

    low: float
    high: float


@dataclass(frozen=True)
class Chars:
    """An ``Annotated`` str field's rule: at most ``longest`` characters, no NUL unless
    ``nul``, and matching ``pattern`` (whole) when one is given."""

    longest: int
    pattern: str | None = None
    nul: bool = True


class PlainData:
    """The ``Annotated`` marker of a JSON object forwarded as it is (bounded depth only)."""


Count = Annotated[int, Bounds(0, 2**31 - 1)]
ByteOffset = Annotated[int, Bounds(0, 2**53)]
Seconds = Annotated[float, Bounds(0, 10**9)]
Amount = Annotated[int, Bounds(*INT64)]
JobId = Annotated[str, Chars(200, r"[A-Za-z0-9_][A-Za-z0-9_.-]*", nul=False)]
AttemptId = Annotated[str, Chars(64, r"s\d{1,9}-[pmrc]\d{1,12}-a\d{1,12}", nul=False)]
FilePath = Annotated[str, Chars(4096, nul=False)]
Name = Annotated[str, Chars(256)]
Plain = Annotated[dict, PlainData]

Converter = Callable[[Any], Any]


# --- parsing JSON ----------------------------------------------------------------------


def _refuse_constant(name: str) -> float:
    raise Invalid(f"holds {name}, not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(f"holds {text[:40]}, past a float's range")
    return value


def _int64(text: str) -> int:
    if len(text) > 20:  # before int(): a 4,000-digit number costs time to convert
        raise Invalid(f"holds an integer of {len(text)} digits, past int64")
    value = int(text)
    if not INT64[0] <= value <= INT64[1]:
        raise Invalid(f"holds {value}, past int64")
    return value


def loads(data: bytes) -> Any:
    """``json.loads`` that refuses non-finite numbers and integers past int64.

    Raises:
        ValueError: not JSON, or a number out of range (:class:`Invalid`).
        RecursionError: nested past the interpreter's limit.
    """
    if isinstance(data, (bytes, bytearray)):  # as json.loads takes bytes
        # an object or a list whose second byte is not NUL is UTF-8 to detect_encoding too
        # (no BOM starts with "{" or "["): skip its call, a few per cent of a result's decode
        utf8 = data[:1] in (b"{", b"[") and data[1:2] != b"\0"
        data = data.decode("utf-8" if utf8 else json.detect_encoding(data), "surrogatepass")
    # the decoder's scanner at once: a document with nothing around it (what our encoders
    # write) is done in one C call; anything else (whitespace around it, not JSON, more
    # after it) goes through the decoder's own two Python layers, which skip the whitespace
    # or say what is wrong. Half of a result's JSON decode, measured
    try:
        value, end = _SCAN(data, 0)
    except StopIteration:
        return _DECODER.decode(data)
    return value if end == len(data) else _DECODER.decode(data)


#: the decoder :func:`loads` uses, made once (``json.loads`` with hooks makes one a call)
_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_int64
)
_SCAN = _DECODER.scan_once


def dumps(value: Any) -> bytes:
    """Compact JSON of plain data and records; a non-finite float is a ValueError here (and
    a container inside itself a RecursionError: plain data holds none)."""
    return "".join(_ENCODE(value, 0)).encode()


#: a record class's field names, looked up once: ``dataclasses.fields`` costs more than the
#: encoding of a small record (a reduce's assignment holds one per map output)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """A record as the JSON object of its fields (``json.dumps``'s ``default``)."""
    cls = type(value)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} is not plain data")
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return {name: getattr(value, name) for name in names}


#: the C encoder :func:`dumps` uses, made once: ``JSONEncoder.encode`` makes one a call (and
#: a dict to watch for cycles, and two Python layers), half of a small message's encode.
#: Compact separators, non-finite floats refused, records through :func:`_plain`, no
#: cycle check (the interpreter's recursion limit ends a cycle)
_ENCODE = (
    json.encoder.c_make_encoder(
        None, _plain, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    if json.encoder.c_make_encoder is not None  # (an interpreter without json's C part)
    else json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_plain,
                          check_circular=False).iterencode
)


def plain(value: Any) -> Any:
    """Records and tuples inside ``value`` as dicts and lists (JSON's shapes)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH, strings: bool = False) -> None:
    """Raise :class:`Invalid` if ``value`` nests deeper than ``limit`` lists/objects (or,
    with ``strings``, holds a string that is not valid Unicode, key or value)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
            if strings:
                stack.extend((key, depth) for key in item)
        elif isinstance(item, list):
            children = item
        else:
            if strings and type(item) is str:
                _str(item)
            continue
        if depth >= limit:
            raise Invalid(f"nests deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


# --- converters ------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _got(value: Any) -> str:
    return f"(got {_shown(value)} that is a {type(value).__name__})"


def _int(value: Any) -> int:
    if type(value) is not int:
        raise Invalid(f"must be an int {_got(value)}")
    return value


def _float(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise Invalid(f"must be a number {_got(value)}")


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise Invalid(f"must be true or false {_got(value)}")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise Invalid(f"must be a string {_got(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(f"holds a lone surrogate {_got(value)}") from None
    return value


def _none(value: Any) -> None:
    if value is not None:
        raise Invalid(f"must be null {_got(value)}")


#: the types of a flat object's values that need no check (JSON has made them; a str's is
#: an ASCII one's: it cannot hold a lone surrogate)
_SCALARS = frozenset({int, float, bool, type(None)})


def _plain_object(value: Any) -> dict:
    if type(value) is not dict:
        raise Invalid(f"must be an object {_got(value)}")
    if not _flat_ascii(value):  # (a task spec is: a prepare lists 100,000 of them)
        check_depth(value, MAX_DEPTH - 1, strings=True)
    return value


def _flat_ascii(value: dict) -> bool:
    """Whether an object nests nothing and holds only ASCII strings: nothing for
    :func:`check_depth` to refuse."""
    for key, item in value.items():
        if type(key) is not str or not key.isascii():
            return False
        kind = type(item)
        if kind not in _SCALARS and not (kind is str and item.isascii()):
            return False
    return True


def ascii_fit(hint: Any) -> Callable[[Any], bool]:
    """A quick test for a str field of ``hint`` (``Annotated[str, Chars(...)]``): True only
    for an ASCII string its converter takes as it is; False means ask the converter (which
    takes it or says why not). For the decoders of the messages that arrive by the
    thousand (``wirecodec.py``)."""
    base, *rules = typing.get_args(hint)
    (rule,) = [r for r in rules if isinstance(r, Chars)]
    if base is not str:
        raise TypeError(f"not a str field: {hint!r}")
    pattern = re.compile(rule.pattern).fullmatch if rule.pattern is not None else None
    longest, nul = rule.longest, rule.nul

    def fits(value: Any) -> bool:
        return (
            type(value) is str
            and value.isascii()
            and len(value) <= longest
            and (nul or "\0" not in value)
            and (pattern is None or pattern(value) is not None)
        )

    return fits


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _bounded(inner: Converter, bounds: Bounds) -> Converter:
    def convert(value: Any) -> Any:
        value = inner(value)
        if not bounds.low <= value <= bounds.high:
            raise Invalid(f"must be in [{_num(bounds.low)}, {_num(bounds.high)}] (got {value!r})")
        return value

    return convert


def _chars(inner: Converter, rule: Chars) -> Converter:
    pattern = re.compile(rule.pattern) if rule.pattern is not None else None

    def convert(value: Any) -> Any:
        value = inner(value)
        if len(value) > rule.longest:
            raise Invalid(f"must be at most {rule.longest} characters (got {len(value)})")
        if not rule.nul and "\0" in value:
            raise Invalid(f"must not hold a NUL character {_got(value)}")
        if pattern is not None and not pattern.fullmatch(value):
            raise Invalid(f"must match {rule.pattern} {_got(value)}")
        return value

    return convert


def _union(options: list[Converter], hint: Any) -> Converter:
    args = typing.get_args(hint)
    if len(args) == 2 and type(None) in args:  # an optional field: its one type's error
        inner = options[1 - args.index(type(None))]

        def optional(value: Any) -> Any:
            return None if value is None else inner(value)

        return optional

    takes_none = type(None) in args

    def convert(value: Any) -> Any:
        if value is None and takes_none:  # (a result without output: the usual one)
            return None
        problems = []
        for option in options:
            try:
                return option(value)
            except Invalid as exc:
                problems.append(str(exc))
        raise Invalid(f"fits none of {_hint_name(hint)}: {'; '.join(problems)}")

    return convert


def _sequence(item: Converter) -> Converter:
    def convert(value: Any) -> tuple:
        if type(value) is not list:
            raise Invalid(f"must be a list {_got(value)}")
        out = []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except Invalid as exc:
                raise exc.at(f"[{index}]") from None
        return tuple(out)

    return convert


def _fixed(items: list[Converter]) -> Converter:
    def convert(value: Any) -> tuple:
        if type(value) is not list or len(value) != len(items):
            raise Invalid(f"must be a list of {len(items)} {_got(value)}")
        out = []
        for index, (item, element) in enumerate(zip(items, value, strict=True)):
            try:
                out.append(item(element))
            except Invalid as exc:
                raise exc.at(f"[{index}]") from None
        return tuple(out)

    return convert


def _mapping(key: Converter, item: Converter) -> Converter:
    def convert(value: Any) -> dict:
        if type(value) is not dict:
            raise Invalid(f"must be an object {_got(value)}")
        out = {}
        for name, element in value.items():
            try:
                out[key(name)] = item(element)
            except Invalid as exc:
                raise exc.at(f"[{name!r:.40}]") from None
        return out

    return convert


def record_converter(cls: type, skip: tuple[str, ...] = (), build: bool = True) -> Converter:
    """The converter of a frozen dataclass from a JSON object of its fields.

    Unknown fields, missing fields without a default, and any field that does not fit its
    hint raise :class:`Invalid`. ``skip`` names fields that do not travel in the object
    (a message's blobs); with ``build=False`` the converter returns the checked fields as a
    dict, for the caller to add those and build the instance.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {
        f.name: converter(hints[f.name]) for f in dataclasses.fields(cls) if f.name not in skip
    }
    required = frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in skip
    )

    def convert(value: Any) -> Any:
        if type(value) is not dict:
            raise Invalid(f"must be a {cls.__name__} object {_got(value)}")
        unknown = value.keys() - fields.keys()
        if unknown:
            raise Invalid(f"{cls.__name__} has no field(s) {sorted(unknown)[:5]}")
        missing = required - value.keys()
        if missing:
            raise Invalid(f"{cls.__name__} lacks field(s) {sorted(missing)}")
        out = {}
        for name, element in value.items():
            try:
                out[name] = fields[name](element)
            except Invalid as exc:
                raise exc.at(f".{name}") from None
        return cls(**out) if build else out

    return convert


_CACHE: dict[Any, Converter] = {}


def converter(hint: Any) -> Converter:
    """The converter for a type hint (built once, then cached)."""
    try:
        return _CACHE[hint]
    except KeyError:
        pass
    except TypeError:  # an unhashable hint: build it every time (none in protocol.py)
        return _build(hint)
    built = _CACHE[hint] = _build(hint)
    return built


def _build(hint: Any) -> Converter:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        base, *rules = args
        convert = converter(base)
        for rule in rules:
            if isinstance(rule, Bounds):
                convert = _bounded(convert, rule)
            elif isinstance(rule, Chars):
                convert = _chars(convert, rule)
            elif rule is PlainData:
                convert = _plain_object
        return convert
    if origin in (types.UnionType, typing.Union):
        return _union([converter(a) for a in args], hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(converter(args[0]))
        return _fixed([converter(a) for a in args])
    if origin is dict:
        return _mapping(converter(args[0]), converter(args[1]))
    simple = {
        int: _int, float: _float, bool: _bool, str: _str, type(None): _none, dict: _plain_object
    }
    if hint in simple:
        return simple[hint]
    if dataclasses.is_dataclass(hint):
        return record_converter(hint)
    raise TypeError(f"no wire converter for {hint!r}")


def _hint_name(hint: Any) -> str:
    def name(arg: Any) -> str:
        if arg is type(None):
            return "null"
        if typing.get_origin(arg) is Annotated:
            arg = typing.get_args(arg)[0]
        return getattr(arg, "__name__", str(arg))

    return " | ".join(name(a) for a in typing.get_args(hint))


def parse(hint: Any, value: Any) -> Any:
    """``value`` (plain data, e.g. from a journal or an index file) as the typed ``hint``.

    Raises:
        Invalid: it does not fit.
    """
    check_depth(value)
    return converter(hint)(value)
