"""Input formats: how a job's input files become ``(key, value)`` records.

A job names its format with the class option ``input_format`` (a name or an object), which
``--input-format`` on the command line (or ``minimr.run(input_format=...)``) overrides:

=================  ===========================================================================
``"text"``         ``Text()``: UTF-8 lines; key ``(path, byte offset)``, value the line
``"whole_file"``   ``WholeFile()``: one record a file, ``(path, contents)``; never split
``"jsonl"``        ``JSONLines()``: a JSON value a line, parsed; key as for text lines
``"csv"``          ``CSV(...)``: rows as lists, or as dicts with ``header=True``
``"tsv"``          ``TSV(...)``: tab-separated rows, no quoting (``csvformat.py``)
=================  ===========================================================================

A format of the job's own subclasses ``InputFormat``: override ``parse`` to turn each line
into a value (a ``BadRecordError`` for a line it cannot read), or ``read`` to cut records of
any shape from a byte range, following the rule that a record belongs to the split where it
starts (docs/formats.md has both).

The engine reads a split with ``split_records``: it opens the file (decompressing by suffix),
calls ``read`` with the split's byte range, and ``parse_many`` over chunks of what it
yields. A ``BadRecordError`` from ``parse_many`` makes it parse that chunk one record at a
time, so that each bad record is named (``file:line``) or, in skip mode, handed on marked.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache, partial
from itertools import chain, compress, islice, repeat
from operator import itemgetter
from typing import Any, BinaryIO

from minimr.dataflow.inputs import records
from minimr.dataflow.inputs.records import OnBad, bad_record, line_blocks, raise_bad
from minimr.dataflow.inputs.splits import Split
from minimr.errors import BadRecordError, JobDefinitionError

#: records parsed at a time: enough for ``parse_many`` to run in C, few enough that a bad
#: record costs little to find again one by one
PARSE_CHUNK = 2048
#: bytes of lines read, and parsed, at a time. Small, unlike text's 1 MiB: the parsed
#: values of a block stay in the CPU's caches while they are made and handed on (a 16 MiB
#: JSON-lines file parsed with its keys: 0.24 s of CPU in 32 KiB blocks, 0.41 s in 1 MiB)
PARSE_BLOCK = 32 * 1024
_first, _second = itemgetter(0), itemgetter(1)
#: the scanner ``json.loads`` uses (a default decoder's): ``(value, end)`` of the JSON value
#: starting at an index, StopIteration when none does
_SCAN = json.JSONDecoder().scan_once


class InputFormat:
    """How input files become records: subclass it for a format of your own.

    The engine opens each split's file (decompressed when its name ends in ``.gz``,
    ``.bz2``, ``.xz`` or ``.zst``), calls ``read`` for the split's byte range, and gives
    what ``read`` yields to ``parse``. By default ``read`` yields text lines (keyed
    ``(path, byte offset)``, Hadoop's line rule) and ``parse`` keeps them: that is ``Text``.

    Attributes:
        splittable: whether a file may be cut into byte ranges that different map tasks
            read. False makes every file one split (read from 0 to its end).
        name: how messages and ``--input-format`` call the format.
    """

    splittable: bool = True
    name: str = "custom"

    def read(self, path: str, file: BinaryIO, start: int, end: float
             ) -> Iterable[tuple[Any, Any]]:
        """Yield the ``(key, raw)`` records of ``file`` that start in ``[start, end)``.

        A split owns the records that *start* inside it: skip the partial record at
        ``start`` (unless ``start`` is 0) and read the last record past ``end``, so that
        every record is read by exactly one split whatever the split size. ``self.lines``
        does so for lines.

        Args:
            path: the file's path or URL (for keys and messages).
            file: the file, binary, positioned at 0; seekable unless compressed.
            start, end: the split's byte range; ``end`` is ``math.inf`` for a compressed
                file, read whole (its offsets count decompressed bytes).
        """
        return LineRecords(path, file, start, end)

    def parse(self, raw: Any) -> Any:
        """The value of a record from the raw value ``read`` yielded (by default, itself).

        Raises:
            BadRecordError: a record the format cannot read; its message says why (the
                engine adds the file, line and offset).
        """
        return raw

    def parse_many(self, raws: list) -> list:
        """``parse`` of each of ``raws``, in order: override it to parse a list at C speed.

        Raises:
            BadRecordError: some record cannot be read (then each is parsed by ``parse``).
        """
        return list(map(self.parse, raws))

    def lines(self, file: BinaryIO, start: int, end: float = float("inf")
              ) -> Iterator[tuple[int, str]]:
        """``(byte offset, line)`` of each line of ``file`` that starts in ``[start, end)``:
        the first that starts at or after ``start`` (the file's first when ``start`` is 0),
        the last one read past ``end``. Lines are UTF-8 (invalid bytes read as U+FFFD),
        without ``\\n`` or ``\\r\\n``. With the default ``end``, the lines go on to the end
        of the file: stop reading when your record is done."""
        return chain.from_iterable(zip(offsets, lines, strict=True)
                                   for offsets, lines in line_blocks(file, start, end))

    def split_records(self, split: Split, on_bad: OnBad = raise_bad
                      ) -> Iterator[tuple[Any, Any]]:
        """The engine's entry point: every record of ``split``, parsed.

        Args:
            on_bad: what becomes of a record ``parse`` refuses (``records.raise_bad``...).
        """
        return chain.from_iterable(self._parsed_chunks(split, on_bad))

    def _parsed_chunks(self, split: Split, on_bad: OnBad) -> Iterator[Iterable[tuple]]:
        """The split's records, parsed a chunk at a time (flattened by the caller, in C):
        lines a block at a time, other records ``PARSE_CHUNK`` at a time."""
        with records.open_input(split.path) as file:
            raw = self.read(split.path, file, split.start, records.split_end(split))
            if type(raw) is LineRecords:
                chunks = raw.blocks()
            else:
                rest = iter(raw)
                chunks = ((list(map(_first, chunk)), list(map(_second, chunk)))
                          for chunk in iter(lambda: list(islice(rest, PARSE_CHUNK)), []))
            parse_many = _list_parser(self)
            for keys, raws in chunks:
                try:
                    values = parse_many(raws)
                except BadRecordError:
                    yield list(self._one_by_one(split.path, zip(keys, raws, strict=True), on_bad))
                else:
                    yield zip(keys, values, strict=True)

    def _one_by_one(self, path: str, chunk: Iterable[tuple[Any, Any]], on_bad: OnBad
                    ) -> Iterator[tuple[Any, Any]]:
        """The records of ``chunk`` parsed one at a time, a bad one given to ``on_bad``."""
        for key, raw in chunk:
            try:
                value = self.parse(raw)
            except BadRecordError as exc:
                kept = on_bad(key, raw, bad_record(path, key, str(exc)))
                if kept is not None:
                    yield kept
            else:
                yield key, value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _list_parser(fmt: InputFormat) -> Callable[[list], list]:
    """``fmt.parse_many``, unless ``parse`` is overridden below the class that defines it.

    A job's subclass of a built-in format that overrides ``parse`` alone must see every
    record (the built-in's ``parse_many`` parses a list without calling ``parse``): its
    lists are parsed one ``parse`` call a record.
    """
    mro = type(fmt).__mro__
    many = next(c for c in mro if "parse_many" in vars(c))
    one = next(c for c in mro if "parse" in vars(c))
    return fmt.parse_many if issubclass(many, one) else partial(InputFormat.parse_many, fmt)


class LineRecords:
    """The lines of a split as ``((path, offset), line)`` records, read a block at a time.

    What ``InputFormat.read`` gives by default. Iterating it yields the records; the engine
    takes its ``blocks`` instead, parsing a block's lines with one ``parse_many`` call.

    Args:
        skip_blank: leave out lines that are empty or only whitespace.
    """

    def __init__(self, path: str, file: BinaryIO, start: int, end: float,
                 skip_blank: bool = False) -> None:
        self.path, self.file, self.start, self.end = path, file, start, end
        self.skip_blank = skip_blank

    def blocks(self) -> Iterator[tuple[list[tuple[str, int]], list[str]]]:
        """``(keys, lines)`` a block of lines at a time, with no Python code per line."""
        for offsets, lines in line_blocks(self.file, self.start, self.end, PARSE_BLOCK):
            if self.skip_blank:
                kept = list(map(str.strip, lines))  # the same str when nothing is stripped
                if not all(kept):  # a blank line stripped is empty, so false
                    offsets, lines = list(compress(offsets, kept)), list(compress(lines, kept))
                    if not lines:
                        continue
            yield list(zip(repeat(self.path), offsets)), lines

    def __iter__(self) -> Iterator[tuple[tuple[str, int], str]]:
        return chain.from_iterable(zip(keys, lines, strict=True)
                                   for keys, lines in self.blocks())


class Text(InputFormat):
    """UTF-8 lines: key ``(path, byte offset)``, value the line without its line ending.

    Invalid UTF-8 is read as U+FFFD and counted (``invalid utf-8 records``), never fatal.
    """

    name = "text"

    def split_records(self, split: Split, on_bad: OnBad = raise_bad
                      ) -> Iterator[tuple[Any, Any]]:
        return records.read_text(split)  # nothing to parse: the lines as read, in C


class WholeFile(InputFormat):
    """One record a file: ``(path, contents)``, decoded as text lines are; never split."""

    name = "whole_file"
    splittable = False

    def read(self, path: str, file: BinaryIO, start: int, end: float
             ) -> Iterator[tuple[str, str]]:
        if start == 0:
            yield path, records.decode(file.read())


class JSONLines(InputFormat):
    """One JSON value a line (JSON lines, NDJSON), parsed to what ``json.loads`` gives.

    Key: ``(path, byte offset)`` as for text lines; value: the parsed value (a dict for an
    object). Blank lines are left out; a line that is not JSON is a bad record.
    """

    name = "jsonl"

    def read(self, path: str, file: BinaryIO, start: int, end: float) -> LineRecords:
        return LineRecords(path, file, start, end, skip_blank=True)

    def parse(self, raw: str) -> Any:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:  # nested too deep: not for us either
            raise BadRecordError(f"not JSON ({_json_reason(exc)}): {raw[:80]!r}") from None

    def parse_many(self, raws: list) -> list:
        try:
            return list(map(_fast_json(), raws))
        except (ValueError, RecursionError):  # a line to read, or refuse, as json.loads does
            pass
        scanned = _scanned(raws)
        if scanned is not None:
            return scanned
        try:
            return list(map(json.loads, raws))
        except (ValueError, RecursionError):
            raise BadRecordError("a line is not JSON") from None


@cache
def _fast_json() -> Callable[[str], Any]:
    """msgspec's JSON reader (imported when first needed: 13 ms that only JSON jobs pay).

    It gives the values ``json.loads`` gives, types, ints past 64 bits and key order
    included, four times as fast (0.8 against 3.1 us for a 150-byte event read in a block;
    the scanner below 1.7 us), and a ``ValueError`` for what ``json.loads`` reads otherwise
    or not at all: NaN, Infinity, numbers past a float's range, lone surrogates, errors. A
    generator of JSON texts in the tests holds it to that.
    """
    from msgspec.json import Decoder

    return Decoder().decode


def _scanned(lines: list) -> list | None:
    """``json.loads`` of each line, when every line is one JSON value from its first
    character to its last (no whitespace around it, no BOM: the common case); else None.

    ``json.loads`` calls the same C scanner (``JSONDecoder.scan_once``) from Python code a
    line: type checks, a decode call and two regular-expression matches for the whitespace
    around the value (about a sixth of parsing a 150-byte event). A value that ends before
    its line does (whitespace, extra data) or does not start at its first character
    (the scanner stops: ``map`` ends early) gives None, and ``json.loads`` parses the lines
    again, or names what is wrong with them.
    """
    try:
        results = list(map(_SCAN, lines, repeat(0)))
    except (ValueError, RecursionError):
        return None
    if list(map(_second, results)) != list(map(len, lines)):  # also when map ended early
        return None
    return list(map(_first, results))


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return str(exc)


def builtin_formats() -> dict[str, type[InputFormat]]:
    """The formats ``input_format`` and ``--input-format`` may name, by name."""
    from minimr.dataflow.inputs.csvformat import CSV, TSV

    return {cls.name: cls for cls in (Text, WholeFile, JSONLines, CSV, TSV)}


def _by_class_name() -> dict[str, type[InputFormat]]:
    """The built-in formats by class name, as ``--input-format CSV(header=True)`` calls them."""
    return {cls.__name__: cls for cls in builtin_formats().values()}


def resolve_input_format(value: Any, where: str = "input_format") -> InputFormat:
    """The ``InputFormat`` that ``value`` names: an instance, an ``InputFormat`` subclass
    (made with no arguments), a format's name (``"jsonl"``), or a call of a built-in
    format's class with literal arguments, as ``--input-format`` takes it
    (``"CSV(header=True, delimiter=';')"``).

    Raises:
        JobDefinitionError: anything else, naming ``where`` and the accepted values.
    """
    if isinstance(value, InputFormat):
        return value
    if isinstance(value, type) and issubclass(value, InputFormat):
        return value()
    if isinstance(value, str):
        known = builtin_formats()
        if value in known:
            return known[value]()
        if "(" in value or value in _by_class_name():
            return _from_call(value, where)
    raise JobDefinitionError(
        f"{where} must be one of {', '.join(map(repr, builtin_formats()))}, a call such as"
        f" 'CSV(header=True)', or a minimr.InputFormat (got {value!r})")


def _from_call(text: str, where: str) -> InputFormat:
    """``CSV(header=True, delimiter=';')``: a built-in format's class called with literal
    keyword arguments (no code runs: each argument is read by ``ast.literal_eval``)."""
    classes = _by_class_name()
    try:
        tree = ast.parse(text.strip(), mode="eval").body
        if isinstance(tree, ast.Name):
            tree = ast.Call(func=tree, args=[], keywords=[])
        if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
                and tree.func.id in classes and not tree.args
                and all(k.arg is not None for k in tree.keywords)):
            raise ValueError("not a call with keyword arguments")
        arguments = {k.arg: ast.literal_eval(k.value) for k in tree.keywords}
    except (SyntaxError, ValueError) as exc:
        raise JobDefinitionError(
            f"{where} {text!r} is not a built-in format's class called with literal keyword"
            f" arguments, such as \"CSV(header=True, delimiter=';')\" (classes:"
            f" {', '.join(classes)}): {exc}") from None
    try:
        return classes[tree.func.id](**arguments)
    except TypeError as exc:
        raise JobDefinitionError(f"{where} {text!r}: {exc}") from None
