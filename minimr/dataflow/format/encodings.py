"""How a record becomes one line of a final part file, and back: four encodings.

``repr`` (the default)
    ``repr(key) TAB repr(value)``, e.g. ``'whale'\\t1234``. People can read it and
    ``read_output`` turns it back into the same typed values with ``ast.literal_eval``. A
    value whose repr is not a Python literal (a custom object, a NaN) is written as
    ``!pickle:`` and base64 bytes, so every picklable value round-trips exactly.
    Unpickling runs code the bytes choose, so those values are read back only when the
    reader says it trusts whoever can write the output (``trusted=True``).
``jsonl``
    One JSON array ``[key, value]`` a line, for any tool that reads JSON. Only what JSON can
    hold: a key or value it cannot (a set, bytes, a custom object, NaN or an infinity, a
    dict with tuple keys) fails the job with a ``JobCodeError`` naming the key, never a
    silent pickle. It is lossy for what JSON has no type of its own for: tuples read back as
    lists, a dict's int, float, bool or None keys as strings.
``tsv``
    ``str(key) TAB str(value)``: Hadoop's text output, for shell tools. Read back as
    strings. A key holding a tab, or a key or value holding a line break, is refused (it
    would cut or merge lines).
``lines``
    Lines the job made itself: a record ``(line, None)`` is written as its line, a str as
    UTF-8 and bytes as they are (Hadoop's ``TextOutputFormat`` writes a key alone when its
    value is null). Read back as ``(line, None)``, the line a str. It is how an mrjob job's
    ``OUTPUT_PROTOCOL`` lines reach its part files (``minimr/compat/mrjob.py``).

Each is an object with ``name``, ``encode(keys, values)`` (a batch of records as the bytes
of their lines, checked) and ``decode(line, trusted) -> (key, value)``; ``PartFormat``
(``partformats.py``) picks one by name and adds the compression and the file's name.
"""

from __future__ import annotations

import ast
import base64
import json
import math
import pickle
from collections.abc import Iterable, Iterator
from itertools import chain, compress
from operator import countOf
from typing import Any

from minimr.dataflow.format.unpicklable import raise_culprit, shown
from minimr.errors import JobCodeError, UntrustedOutputError

try:  # built by pip install where a compiler is; else the C calls of ``ReprEncoding.encode``
    from minimr.dataflow.format._reprlines import repr_lines
except ImportError:
    repr_lines = None

PICKLED = "!pickle:"
_LITERAL_SCALARS = (str, int, bytes, bool, type(None))
_SCALARS = frozenset(_LITERAL_SCALARS)
_SEQUENCES = frozenset({list, tuple})
_FLAT_LITERALS = _SCALARS | _SEQUENCES | {float}
#: how deep ``_all_literal`` looks into lists and tuples before leaving a batch to the
#: per-record check
_FLAT_DEPTH = 3
#: the ASCII characters a str's repr writes as they are (its quote and backslash escaped)
_QUOTABLE_ASCII = bytes(c for c in range(0x20, 0x7F) if c not in b"'\\")


# --- repr -------------------------------------------------------------------------------------


def _is_literal(value: Any) -> bool:
    """True when ``ast.literal_eval(repr(value)) == value`` with the same types."""
    kind = type(value)
    if kind in _LITERAL_SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        if kind is frozenset or (kind is set and not value):
            return False  # frozenset(...) and set() are calls, not literals
        return all(_is_literal(item) for item in value)
    if kind is dict:
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    return False


def _all_literal(items: list, depth: int = _FLAT_DEPTH) -> bool:
    """True when every item is ``_is_literal`` as far as C calls over the whole list tell:
    exact str, int, bytes, bool or None, finite floats, and lists and tuples of those (to
    ``depth`` levels). False means "look at each": it may still be literal (a dict)."""
    kinds = set(map(type, items))
    if kinds <= _SCALARS:
        return True
    if depth == 0 or not kinds <= _FLAT_LITERALS:
        return False
    if float in kinds and not all(map(math.isfinite, _of_kinds(items, {float}))):
        return False
    return not (kinds & _SEQUENCES) or _all_literal(
        list(chain.from_iterable(_of_kinds(items, _SEQUENCES))), depth - 1)


def _repr_column(items: list) -> tuple[list, str, str]:
    """The reprs of a column of literals, as ``(texts, open, close)``: each repr is
    ``open + text + close`` (``_quoted_column``'s, else each item's ``repr``)."""
    return _quoted_column(items) or (list(map(repr, items)), "", "")


def _quoted_column(items: list) -> tuple[list, str, str] | None:
    """The reprs of a column of exact str, or of exact tuples of one width, two or more, of
    exact str (a join's rows), that repr writes as they are between single quotes
    (``_quotable``), as ``(texts, open, close)`` made by C calls over the column, with no
    repr per item; else None.

    Such a str is its own text, quoted by the separators the lines are joined with (repr
    scans each str twice: a sort's 89-character values, 60% of a part file's formatting);
    such a tuple is its str joined by ``', '`` between ``('`` and ``')``, as repr writes it.
    """
    n = len(items)
    first = type(items[0]) if items else None
    if first is str:
        return (items, "'", "'") if countOf(map(type, items), str) == n and _quotable(
            items) else None
    if first is not tuple or countOf(map(type, items), tuple) != n:
        return None
    width = len(items[0])  # tuples of one width (a join's rows): counted, not summed
    if width < 2 or countOf(map(len, items), width) != n:
        return None
    if countOf(map(type, chain.from_iterable(items)), str) != n * width or not _quotable(
            chain.from_iterable(items)):
        return None
    return list(map("', '".join, items)), "('", "')"


def _quotable(strs: Iterable[str]) -> bool:
    """True when ``repr(s) == "'" + s + "'"`` for every str of ``strs``: none holds a
    single quote, a backslash or a character repr escapes (one that ``str.isprintable``
    says is not printable), checked on the column joined, in C."""
    joined = "".join(strs)
    if joined.isascii():  # printable ASCII, quotes and backslashes deleted: nothing left
        return not joined.encode("ascii").translate(None, _QUOTABLE_ASCII)
    return joined.isprintable() and "'" not in joined and "\\" not in joined


def _of_kinds(items: list, kinds: set | frozenset) -> Iterator:
    """The items whose exact type is one of ``kinds``."""
    return compress(items, map(kinds.__contains__, map(type, items)))


def encode_value(value: Any) -> str:
    """One key or value as repr text for a part file (no tab, no newline)."""
    kind = type(value)
    if kind is str or kind is int or _is_literal(value):
        return repr(value)
    return PICKLED + base64.b64encode(pickle.dumps(value, protocol=4)).decode("ascii")


def decode_value(text: str, *, trusted: bool = False) -> Any:
    """Inverse of ``encode_value``.

    Args:
        trusted: unpickle ``!pickle:`` values. Unpickling runs whatever code the bytes name,
            so only text from a writer the caller trusts may be read with it.

    Raises:
        UntrustedOutputError: a ``!pickle:`` value, and ``trusted`` is false.
    """
    if text.startswith(PICKLED):
        if not trusted:
            raise UntrustedOutputError("a pickled value (!pickle:), and trusted is false")
        return pickle.loads(base64.b64decode(text[len(PICKLED) :]))
    return ast.literal_eval(text)


def format_record(key: Any, value: Any) -> str:
    """A repr part file line for one record."""
    return f"{encode_value(key)}\t{encode_value(value)}\n"


def parse_record(line: str, *, trusted: bool = False) -> tuple[Any, Any]:
    """Inverse of ``format_record`` (``trusted`` as in ``decode_value``).

    Raises:
        ValueError: for a line that is not ``key TAB value``.
        UntrustedOutputError: a ``!pickle:`` key or value, and ``trusted`` is false.
    """
    key, sep, value = line.rstrip("\n").partition("\t")
    if not sep:
        raise ValueError(f"not a minimr record line: {line[:80]!r}")
    return decode_value(key, trusted=trusted), decode_value(value, trusted=trusted)


class ReprEncoding:
    """``repr(key) TAB repr(value)``, non-literals pickled: every picklable value, exactly."""

    name = "repr"

    def encode(self, keys: list, values: list) -> bytes:
        """The lines of the records ``(keys[i], values[i])``.

        Where the compiled ``_reprlines`` is built, a batch whose keys and values are all
        literals of the common kinds (exact str, int, bytes, bool, None, finite floats, and
        lists and tuples of them: a subclass has another repr) is written in one pass that
        writes an ASCII str's repr itself (a join's rows 560-740 -> 250-310 ns a row). Else
        such a batch is checked and formatted by C calls over the whole batch, with no
        Python code per record.

        Raises:
            UnpicklableRecord: a key or value has no literal form and cannot be pickled.
        """
        if not keys:
            return b""
        if repr_lines is not None:  # compiled: literal records (a sort's, a count's, a join's)
            lines = repr_lines(keys, values)
            if lines is not None:
                return lines
        key_column, value_column = _quoted_column(keys), _quoted_column(values)
        if ((key_column or _all_literal(keys)) and (value_column or _all_literal(values))):
            # encode_value of each is its repr
            key_texts, key_open, key_close = key_column or _repr_column(keys)
            value_texts, value_open, value_close = value_column or _repr_column(values)
            # each line: key_open key_text key_close TAB value_open value_text value_close,
            # the quotes and brackets in the separators
            lines = map((key_close + "\t" + value_open).join,
                        zip(key_texts, value_texts, strict=True))
            return (key_open + (value_close + "\n" + key_open).join(lines) + value_close
                    + "\n").encode("utf-8")
        try:
            return "".join(map(format_record, keys, values)).encode("utf-8")
        except Exception as exc:  # a value with no literal form did not pickle: which?
            raise_culprit(zip(keys, values, strict=True), exc)
            raise

    def decode(self, line: str, trusted: bool) -> tuple[Any, Any]:
        """The typed record of a line."""
        return parse_record(line, trusted=trusted)


# --- JSON lines -------------------------------------------------------------------------------

_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_JSON_ASCII = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


class JsonEncoding:
    """``[key, value]`` as a JSON array a line; what JSON cannot hold is refused."""

    name = "jsonl"

    def encode(self, keys: list, values: list) -> bytes:
        """The lines of the records ``(keys[i], values[i])``.

        Raises:
            JobCodeError: a key or value JSON cannot hold, naming the record's key.
        """
        try:
            text = "\n".join(map(_JSON.encode, zip(keys, values, strict=True))) + "\n"
        except (TypeError, ValueError, RecursionError):
            _refuse_json(keys, values)
            raise
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON's \\ud800 escape keeps it
            return ("\n".join(map(_JSON_ASCII.encode, zip(keys, values, strict=True)))
                    + "\n").encode("ascii")

    def decode(self, line: str, trusted: bool) -> tuple[Any, Any]:
        """The ``(key, value)`` of a line, as JSON values."""
        pair = json.loads(line)
        if type(pair) is not list or len(pair) != 2:
            raise ValueError(f"not a [key, value] JSON array: {line[:80]!r}")
        return pair[0], pair[1]


def _refuse_json(keys: list, values: list) -> None:
    """Raise the ``JobCodeError`` for the first record whose key or value JSON cannot hold."""
    for key, value in zip(keys, values, strict=True):
        for what, item in (("key", key), ("value", value)):
            try:
                _JSON.encode(item)
            except (TypeError, ValueError, RecursionError) as exc:
                why = ("NaN and infinities are not JSON" if "Out of range" in str(exc)
                       else str(exc).splitlines()[0])
                owner = "" if what == "key" else f" for key {shown(key)}"
                raise JobCodeError(
                    f"output format jsonl: a {what} JSON cannot hold{owner}: a"
                    f" {type(item).__name__} ({why}): {shown(item)}. JSON holds str, int,"
                    " float, bool, None, lists and dicts with str keys: convert it in the"
                    " job (a set to a sorted list, bytes to str), or write repr output"
                    " (--output-format repr), which keeps every picklable value") from None


# --- TSV --------------------------------------------------------------------------------------


class TsvEncoding:
    """``str(key) TAB str(value)``, as Hadoop's text output; read back as strings."""

    name = "tsv"

    def encode(self, keys: list, values: list) -> bytes:
        """The lines of the records ``(keys[i], values[i])``.

        Raises:
            JobCodeError: a key holding a tab or a line break, or a value holding a line
                break, naming the record's key.
        """
        texts = list(map(str, keys))
        text = "\n".join(map("\t".join, zip(texts, map(str, values), strict=True))) + "\n"
        if text.count("\n") != len(texts) or "\r" in text or "\t" in "".join(texts):
            _refuse_tsv(keys, values)
        return text.encode("utf-8", "backslashreplace")  # a lone surrogate as \\ud800

    def decode(self, line: str, trusted: bool) -> tuple[Any, Any]:
        """The ``(key, value)`` of a line, as strings."""
        key, sep, value = line.rstrip("\n").partition("\t")
        if not sep:
            raise ValueError(f"not a key TAB value line: {line[:80]!r}")
        return key, value


def _refuse_tsv(keys: list, values: list) -> None:
    """Raise the ``JobCodeError`` for the first record a TSV line cannot hold."""
    for key, value in zip(keys, values, strict=True):
        text, other = str(key), str(value)
        if "\t" in text:
            what = f"a key whose str() holds a tab: {shown(key)}"
        elif "\n" in text or "\r" in text:
            what = f"a key whose str() holds a line break: {shown(key)}"
        elif "\n" in other or "\r" in other:
            what = f"a value whose str() holds a line break, for key {shown(key)}: {shown(value)}"
        else:
            continue
        raise JobCodeError(
            f"output format tsv: {what}. A TSV line is str(key) TAB str(value) with no"
            " escaping: replace tabs and line breaks in the job, or write jsonl or repr output"
            " (--output-format jsonl), which escape them")


# --- lines ------------------------------------------------------------------------------------

_STR_TYPES, _BYTES_TYPES = {str}, {bytes}


class LinesEncoding:
    """A record ``(line, None)`` written as its line: str as UTF-8, bytes as they are."""

    name = "lines"

    def encode(self, keys: list, values: list) -> bytes:
        """The lines ``keys``, each ended by a newline.

        Raises:
            JobCodeError: a value that is not None, or a key that is not a str or bytes,
                naming the record's key.
        """
        if values.count(None) != len(values):
            _refuse_lines(keys, values)
        kinds = set(map(type, keys))
        if kinds == _BYTES_TYPES:
            return b"\n".join(keys) + b"\n"
        if kinds == _STR_TYPES:
            return ("\n".join(keys) + "\n").encode("utf-8", "backslashreplace")
        if not kinds <= {str, bytes}:
            _refuse_lines(keys, values)
        return b"".join((key if type(key) is bytes else key.encode("utf-8", "backslashreplace"))
                        + b"\n" for key in keys)

    def decode(self, line: str, trusted: bool) -> tuple[Any, Any]:
        """The ``(line, None)`` of a line, without its newline."""
        return (line[:-1] if line.endswith("\n") else line), None


def _refuse_lines(keys: list, values: list) -> None:
    """Raise the ``JobCodeError`` for the first record a ``lines`` part cannot hold."""
    for key, value in zip(keys, values, strict=True):
        if value is not None:
            what = f"a value that is not None, for key {shown(key)}: {shown(value)}"
        elif type(key) not in (str, bytes):
            what = f"a key that is a {type(key).__name__}, not a str or bytes: {shown(key)}"
        else:
            continue
        raise JobCodeError(
            f"output format lines: {what}. A lines part holds records (line, None), the line"
            " a str or bytes: yield (line, None), or write repr, jsonl or tsv output")


ENCODINGS = {e.name: e for e in (ReprEncoding(), JsonEncoding(), TsvEncoding(),
                                 LinesEncoding())}
#: the names ``--output-format`` and a job's ``output_format`` take
OUTPUT_FORMATS = tuple(ENCODINGS)
