"""Input formats: JSON lines, whole files and a job's own formats read every record of a file
exactly once whatever the split size, and name (or, in skip mode, mark) what they cannot read."""

from __future__ import annotations

import gzip
import json
import lzma
from collections.abc import Iterator
from itertools import chain
from typing import Any, BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minimr
from minimr.dataflow.inputs.inputformats import (
    InputFormat,
    JSONLines,
    Text,
    WholeFile,
    resolve_input_format,
)
from minimr.dataflow.inputs.records import BadInput, drop_bad, mark_bad, reader_for
from minimr.dataflow.inputs.splits import plan_splits
from minimr.errors import BadRecordError, JobDefinitionError


def read(fmt: InputFormat, path, split_size: int = 1 << 20, on_bad=None) -> list:
    """Every record of the file at ``path``, split by ``split_size`` as the planner cuts it."""
    read_split = reader_for(fmt) if on_bad is None else reader_for(fmt, on_bad)
    splits = plan_splits([str(path)], split_size, fmt.splittable)
    return list(chain.from_iterable(map(read_split, splits)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="ab\"\\\n\té€ "),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=6)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(json_values, max_size=20), blank=st.booleans(), crlf=st.booleans(),
       split_size=st.integers(min_value=1, max_value=60))
def test_json_lines_are_each_read_once_parsed(tmp_path_factory, values, blank, crlf,
                                              split_size):
    """Each JSON line becomes its parsed value, keyed (path, byte offset), once, at any split
    size; blank lines are left out."""
    sep = "\r\n" if crlf else "\n"
    lines = [json.dumps(v, ensure_ascii=False) for v in values]
    if blank:
        lines = [x for line in lines for x in (line, "  ")]
    data = (sep.join(lines) + sep).encode()
    path = tmp_path_factory.mktemp("j") / "events.jsonl"
    path.write_bytes(data)
    got = read(JSONLines(), path, split_size)
    assert [value for _, value in got] == values
    for (where, offset), value in got:
        assert where == str(path)
        assert json.loads(data[offset:].split(b"\n", 1)[0]) == value


def test_a_line_that_is_not_json_names_file_line_and_byte(tmp_path):
    """A bad line fails with file:line (counted from the start of the file, even in a later
    split) and its byte offset, and what was wrong with it."""
    path = tmp_path / "events.jsonl"
    good = '{"user": "ada", "n": 1}\n'
    path.write_text(good * 30 + '{"user": "bob", oops}\n' + good * 5)
    offset = len(good) * 30
    with pytest.raises(BadRecordError) as info:
        read(JSONLines(), path, split_size=100)
    message = str(info.value)
    assert f"{path}:31 (byte {offset:,})" in message
    assert "not JSON" in message and "oops" in message and "--skip-bad-records" in message


def test_bad_lines_are_marked_or_dropped_and_the_rest_read(tmp_path):
    """With mark_bad, a bad line (broken, or nested deeper than Python recurses) goes on as
    a BadInput holding its error; with drop_bad it is left out; the good lines around it are
    read either way."""
    path = tmp_path / "e.jsonl"
    path.write_text('1\n[2\n3\nnot json\n4\n' + "[" * 100_000 + "\n")
    marked = read(JSONLines(), path, on_bad=mark_bad)
    assert [v for _, v in marked if type(v) is not BadInput] == [1, 3, 4]
    bad = [(key, v) for key, v in marked if type(v) is BadInput]
    assert [key[1] for key, _ in bad] == [2, 7, 18]
    assert "nested too deep" in str(bad[2][1].error)
    assert bad[0][1].raw == "[2" and ":2 (byte 2)" in str(bad[0][1].error)
    assert [v for _, v in read(JSONLines(), path, on_bad=drop_bad)] == [1, 3, 4]


# lines json.loads reads whatever is around the value (whitespace), that it refuses (extra
# data, a BOM, nothing), whose value stops early, or that are plain values of every kind
JSON_LINES = ['{"a": 1}', ' {"a": 1}', '{"a": 1} ', '\t[1, 2]\t', '1 2', '{"a": 1}x', '"s"',
              '\ufeff{"a": 1}', '{"a": }', "", "   ", "-0", "1e400", "NaN", "-Infinity",
              '"\\ud800"', "[" * 2000 + "]" * 2000, "[" * 100_000, 'true', 'null', '{"a": 1}{}']


@pytest.mark.parametrize("odd", JSON_LINES, ids=lambda line: repr(line[:20]))
def test_json_lines_parse_as_json_loads_parses_each(odd):
    """A chunk of lines, among them one with whitespace around its value, extra data, a BOM,
    no value or a deep one, parses to what ``json.loads`` gives each line (type included),
    or fails as a chunk that ``json.loads`` refuses a line of."""
    assert_parsed_as_json_loads_parses(['{"user": "ada", "n": 1}', "[1.5, -0.0]", odd, "7"])


def assert_parsed_as_json_loads_parses(lines: list[str]) -> None:
    """``parse_many(lines)`` is what ``json.loads`` gives each line, repr for repr (types,
    -0.0, key order), or a ``BadRecordError`` where ``json.loads`` refuses a line."""
    try:
        expected = list(map(json.loads, lines))
    except (ValueError, RecursionError):
        with pytest.raises(BadRecordError):
            JSONLines().parse_many(lines)
        return
    assert repr(JSONLines().parse_many(lines)) == repr(expected)


# JSON texts as files hold them, not only as json.dumps writes them: numbers of any digits
# and exponent (past a float's range, past 64 bits), NaN and Infinity, strings with escaped
# or raw lone surrogates and control characters, repeated keys, whitespace anywhere
_number_text = st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?",
                             fullmatch=True)
_odd_text = st.text(st.characters(codec=None, categories=None), max_size=6)
_json_leaf = st.one_of(
    _number_text, st.integers().map(str), st.floats().map(json.dumps),
    st.sampled_from(["true", "false", "null", "NaN", "-Infinity", '"\\ud800"', '"\\u00e9"']),
    st.builds(json.dumps, _odd_text, ensure_ascii=st.booleans()))
_space = st.sampled_from(["", " ", "\t", "\r", "  \n"])


def _json_text(leaf: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    key = st.builds(json.dumps, st.text("ab\u00e9", max_size=2))
    member = st.tuples(_space, key, _space, leaf).map(lambda p: f"{p[0]}{p[1]}{p[2]}:{p[3]}")
    return st.one_of(st.lists(leaf, max_size=4).map(lambda xs: f"[{','.join(xs)}]"),
                     st.lists(member, max_size=4).map(lambda ms: "{" + ",".join(ms) + "}"))


json_texts = st.tuples(_space, st.recursive(_json_leaf, _json_text, max_leaves=12), _space
                       ).map("".join)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(json_texts, min_size=1, max_size=8))
def test_json_lines_parse_to_json_loads_values_whatever_the_text(lines):
    """Any JSON text (a generator of them) parses to exactly what ``json.loads`` gives, type,
    sign of zero and key order included, or, where ``json.loads`` refuses a line, the chunk
    is refused: reading faster never changes a value."""
    assert_parsed_as_json_loads_parses(lines)


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (lzma.open, ".xz")])
def test_compressed_json_lines_read_whole_with_line_numbers(tmp_path, opener, suffix):
    """A compressed JSON lines file is one split; a bad line's number and offset count the
    decompressed bytes."""
    path = tmp_path / f"e.jsonl{suffix}"
    with opener(path, "wt") as f:
        f.write("[1]\n" * 1000 + "]\n")
    assert len(plan_splits([str(path)], 10)) == 1
    with pytest.raises(BadRecordError, match=r":1001 \(byte 4,000\)"):
        read(JSONLines(), path, split_size=10)


class Upper(InputFormat):
    """A line format of a job's own: ``parse`` alone, lines ending in '!' refused."""

    def parse(self, line: str) -> str:
        if line.endswith("!"):
            raise BadRecordError("shouting")
        return line.upper()


class Fasta(InputFormat):
    """Records of several lines: a '>' header and the sequence lines after it."""

    def read(self, path: str, file: BinaryIO, start: int, end: float
             ) -> Iterator[tuple[Any, Any]]:
        name, at, seq = None, 0, []
        for offset, line in self.lines(file, start):
            if line.startswith(">"):
                if name is not None:
                    yield (path, at), (name, "".join(seq))
                if offset >= end:  # the next record is the next split's
                    return
                name, at, seq = line[1:], offset, []
            elif name is not None:
                seq.append(line)
        if name is not None:
            yield (path, at), (name, "".join(seq))


def test_a_format_of_the_jobs_own_parses_lines(tmp_path):
    """Overriding parse alone gives a line format with bad records named by file:line."""
    path = tmp_path / "x.txt"
    path.write_text("a\nb\nc!\nd\n")
    assert [v for _, v in read(Upper(), path, on_bad=drop_bad)] == ["A", "B", "D"]
    with pytest.raises(BadRecordError, match=r"x.txt:3 \(byte 4\): shouting"):
        read(Upper(), path, split_size=3)


class Users(JSONLines):
    """A built-in format with ``parse`` overridden: each record's user, parsed by the base."""

    def parse(self, raw: str) -> str:
        return super().parse(raw)["user"]


class Tupled(minimr.TSV):
    """TSV rows as tuples, and rows of one field refused."""

    def parse(self, raw):
        row = super().parse(raw)
        if len(row) < 2:
            raise BadRecordError("one field")
        return tuple(row)


class UsersAtOnce(Users):
    """``Users`` with a ``parse_many`` of its own, which the engine calls."""

    def parse_many(self, raws: list) -> list:
        return [value["user"].upper() for value in super().parse_many(raws)]


def test_a_built_in_format_whose_parse_a_job_overrides_calls_it_on_every_record(tmp_path):
    """A subclass of a built-in format that overrides ``parse`` gets every record through
    it, though the built-in parses lists at once; one that overrides ``parse_many`` too gets
    that called."""
    events = tmp_path / "e.jsonl"
    events.write_text('{"user": "ada"}\n{"user": "bob"}\n')
    assert [v for _, v in read(Users(), events)] == ["ada", "bob"]
    assert [v for _, v in read(UsersAtOnce(), events)] == ["ADA", "BOB"]
    rows = tmp_path / "r.tsv"
    rows.write_text("a\t1\nb\nc\t3\n")
    assert [v for _, v in read(Tupled(), rows, on_bad=drop_bad)] == [("a", "1"), ("c", "3")]


@settings(max_examples=60, deadline=None)
@given(records=st.lists(st.tuples(st.text("xyz", min_size=1, max_size=4),
                                  st.lists(st.text("ACGT", min_size=1, max_size=7),
                                           max_size=3)), max_size=8),
       split_size=st.integers(min_value=1, max_value=40))
def test_a_format_reading_records_of_several_lines_reads_each_once(tmp_path_factory, records,
                                                                   split_size):
    """A read() that follows the rule (a record belongs to the split where it starts) reads
    every multi-line record exactly once, whatever the split size."""
    text = "".join(f">{name}\n" + "".join(f"{s}\n" for s in seq) for name, seq in records)
    path = tmp_path_factory.mktemp("f") / "seqs.fa"
    path.write_text(text)
    got = [value for _, value in read(Fasta(), path, split_size)]
    assert got == [(name, "".join(seq)) for name, seq in records]


def test_whole_file_is_one_record_of_one_split(tmp_path):
    """WholeFile reads (path, contents) once per file, never split."""
    path = tmp_path / "doc.txt"
    path.write_text("a\nb\n" * 50)
    assert read(WholeFile(), path, split_size=3) == [(str(path), "a\nb\n" * 50)]


@pytest.mark.parametrize("value, expected", [
    ("text", Text()), ("jsonl", JSONLines()), ("whole_file", WholeFile()),
    ("csv", minimr.CSV()), ("tsv", minimr.TSV()), (JSONLines, JSONLines()),
    ("CSV(header=True, delimiter=';')", minimr.CSV(header=True, delimiter=";")),
    ("TSV", minimr.TSV()), ("JSONLines()", JSONLines()),
])
def test_formats_are_named_by_name_class_or_literal_call(value, expected):
    """input_format takes a name, a class, an instance or a built-in class called with
    literal keyword arguments (what --input-format takes)."""
    assert repr(resolve_input_format(value)) == repr(expected)


@pytest.mark.parametrize("value", [
    "yaml", "CSV(1)", "CSV(header=True, **x)", "os.system('true')", "CSV(x=1)",
    "CSV(delimiter=print)", 3, None, dict,
])
def test_anything_else_is_refused_naming_the_choices(value):
    """An unknown name, a call with positional or non-literal arguments or a wrong keyword,
    and objects that are no format, are JobDefinitionErrors that list the names."""
    with pytest.raises(JobDefinitionError, match="input_format"):
        resolve_input_format(value)
