"""CSV and TSV input: rows as lists, or as dicts keyed by a header.

``CSV(header=True)`` reads files whose first row names the columns: every other row is a
dict ``{column: field}`` (a row with another number of fields is a bad record). Without a
header (or ``fieldnames``), rows are lists of strings. Blank lines are left out. Keys are
``(path, byte offset of the row)``, as for text lines. The dialect is the ``csv`` module's:
``delimiter``, ``quotechar`` (None: no quoting), ``escapechar``, ``doublequote``,
``skipinitialspace``; a quote left open is an error, never a silently merged row.

Splits: a quoted field may hold a newline, so a row may span lines, and a split that starts
inside such a field cannot tell. By default (``multiline=True``) each file is therefore one
split, read by one map task with the ``csv`` module over the whole file. ``multiline=False``
declares that every row is one line: files are then cut into splits like text, each line
parsed alone, and a line that opens a quote it does not close is a bad record. A format
with no quoting (``quotechar=None``, as ``TSV``) cannot span lines and is always split.

The header is the first row of each file: a split that starts later reads it from the start
of the file. A UTF-8 byte order mark at the start of a file (as spreadsheets write) is
dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from typing import Any, BinaryIO

from minimr.dataflow.inputs.inputformats import PARSE_BLOCK, InputFormat
from minimr.dataflow.inputs.records import decode, line_blocks
from minimr.errors import BadRecordError, JobDefinitionError

_BOM = "\ufeff"


@dataclass(frozen=True)
class _Unreadable:
    """A row the csv module could not read (why), handed from ``read`` to ``parse``."""

    reason: str


@dataclass(frozen=True)
class CSV(InputFormat):
    """Comma-separated values (RFC 4180, and the ``csv`` module's dialects).

    Attributes:
        header: the first row of each file names the columns; rows become dicts.
        fieldnames: column names given here (rows become dicts); with ``header`` too, each
            file's header row is skipped and these names are used instead.
        delimiter, quotechar, escapechar, doublequote, skipinitialspace: the dialect, as
            for ``csv.reader``; ``quotechar=None`` turns quoting off.
        multiline: rows may span lines (quoted newlines), so each file is one split.
            False declares one row a line: large files are then split.
    """

    header: bool = False
    delimiter: str = ","
    quotechar: str | None = '"'
    escapechar: str | None = None
    doublequote: bool = True
    skipinitialspace: bool = False
    multiline: bool = True
    fieldnames: Sequence[str] | None = None

    name = "csv"  # a class attribute, not a field

    def __post_init__(self) -> None:
        where = type(self).__name__
        if self.fieldnames is not None:
            if isinstance(self.fieldnames, str) or not all(
                    isinstance(n, str) for n in self.fieldnames):
                raise JobDefinitionError(f"{where}: fieldnames must be a list of str"
                                         f" (got {self.fieldnames!r})")
            object.__setattr__(self, "fieldnames", tuple(self.fieldnames))
        for flag in ("header", "doublequote", "skipinitialspace", "multiline"):
            if type(getattr(self, flag)) is not bool:
                raise JobDefinitionError(f"{where}: {flag} must be True or False"
                                         f" (got {getattr(self, flag)!r})")
        try:
            csv.reader([], **self._dialect())
        except (TypeError, csv.Error) as exc:
            raise JobDefinitionError(f"{self!r} is not a dialect the csv module reads: {exc}"
                                     ) from None

    def _dialect(self) -> dict[str, Any]:
        quoting = csv.QUOTE_NONE if self.quotechar is None else csv.QUOTE_MINIMAL
        return {"delimiter": self.delimiter, "quotechar": self.quotechar,
                "escapechar": self.escapechar, "doublequote": self.doublequote,
                "skipinitialspace": self.skipinitialspace, "quoting": quoting,
                "strict": True}  # a quote left open is an error, never a silent row

    @property
    def splittable(self) -> bool:  # type: ignore[override]
        """Whether files may be cut into byte ranges: only when no row can span lines."""
        return self.quotechar is None or not self.multiline

    # -- reading ---------------------------------------------------------------------------
    def read(self, path: str, file: BinaryIO, start: int, end: float
             ) -> Iterable[tuple[Any, Any]]:
        """``(key, row)`` for every row that starts in the split: a list of str, a dict with
        a header, or (for ``parse`` to refuse) why the csv module could not read it."""
        names: Sequence[str] | None = self.fieldnames
        if self.header and start > 0:  # the header is in the file's first split
            header = self._first_row(file)
            names = names or header
        rows = (self._split_rows(path, file, start, end) if self.splittable
                else self._file_rows(path, file))
        if self.header and start == 0:
            rows = iter(rows)
            first = next(rows, None)
            if first is None:  # an empty file
                return rows
            if type(first[1]) is _Unreadable:
                raise BadRecordError(f"the header row of {path} is not CSV"
                                     f" ({first[1].reason})")
            names = names or first[1]
        return rows if names is None else _as_dicts(rows, names)

    def parse(self, raw: Any) -> Any:
        if type(raw) is _Unreadable:
            raise BadRecordError(raw.reason)
        return raw

    def parse_many(self, raws: list) -> list:
        if _Unreadable in set(map(type, raws)):
            raise BadRecordError("a row is not CSV")
        return raws

    def _first_row(self, file: BinaryIO) -> list[str] | None:
        """The first row of the file (its header), without a byte order mark."""
        file.seek(0)
        dialect = self._dialect()
        for line in file:
            text = decode(line).rstrip("\r\n")
            if text:
                row = _one_line(text.removeprefix(_BOM), dialect)
                if type(row) is _Unreadable:
                    raise BadRecordError(f"the header row is not CSV ({row.reason})")
                return row
        return None

    def _split_rows(self, path: str, file: BinaryIO, start: int, end: float
                    ) -> Iterator[tuple[tuple[str, int], Any]]:
        """The rows of the lines that start in ``[start, end)``, one row a line."""
        return chain.from_iterable(self._split_blocks(path, file, start, end))

    def _split_blocks(self, path: str, file: BinaryIO, start: int, end: float
                      ) -> Iterator[Iterable[tuple[tuple[str, int], Any]]]:
        """``_split_rows`` a block of lines at a time, each block parsed by one
        ``csv.reader`` in C unless a line in it is bad."""
        dialect = self._dialect()
        for offsets, lines in line_blocks(file, start, end, PARSE_BLOCK):
            if offsets[0] == 0:
                lines[0] = lines[0].removeprefix(_BOM)
            try:
                rows: list = list(csv.reader(lines, **dialect))
            except csv.Error:
                rows = []
            if len(rows) != len(lines):  # a quote left open took in the lines after it
                rows = [_one_line(line, dialect) for line in lines]
            keys = zip(repeat(path), offsets)
            yield compress(zip(keys, rows, strict=True), rows)  # blank rows ([]) left out

    def _file_rows(self, path: str, file: BinaryIO) -> Iterator[tuple[tuple[str, int], Any]]:
        """Every row of a whole file, rows that span lines included."""
        feed = _Lines(file)
        reader = csv.reader(feed, **self._dialect())
        while True:
            at = feed.next_offset
            try:
                row: Any = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row = _Unreadable(f"not CSV: {exc}")
            if at == 0 and type(row) is list and row:
                row[0] = row[0].removeprefix(_BOM)
            if row != []:
                yield (path, at), row


@dataclass(frozen=True)
class TSV(CSV):
    """Tab-separated values with no quoting, as Hadoop and most tools write them (a field
    holds no tab or newline): ``CSV(delimiter="\\t", quotechar=None)``, always split."""

    delimiter: str = "\t"
    quotechar: str | None = None

    name = "tsv"


def _as_dicts(rows: Iterable[tuple[Any, Any]], names: Sequence[str]
              ) -> Iterator[tuple[Any, Any]]:
    """Each row as ``{name: field}``; a row of another width, as unreadable."""
    names = tuple(names)
    width = len(names)
    for key, row in rows:
        if type(row) is list:
            if len(row) == width:
                row = dict(zip(names, row, strict=True))
            else:
                row = _Unreadable(f"{len(row)} fields where the header has {width}:"
                                  f" {row!r:.80}")
        yield key, row


def _one_line(line: str, dialect: dict[str, Any]) -> Any:
    """The row of one line alone, or why it is not one."""
    try:
        rows = list(csv.reader([line], **dialect))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return _Unreadable("a quoted field is not closed on its line (rows that span"
                               " lines need multiline=True)")
        return _Unreadable(f"not CSV: {exc}")
    return rows[0] if rows else []


class _Lines:
    """A file's lines as text, line endings kept, for ``csv.reader``; ``next_offset`` is
    the byte offset of the line it hands out next."""

    def __init__(self, file: BinaryIO) -> None:
        self._lines = iter(file)
        self.next_offset = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.next_offset += len(raw)
        return decode(raw)

