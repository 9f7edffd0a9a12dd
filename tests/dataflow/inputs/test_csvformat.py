"""CSV and TSV input: rows as dicts under a header or as lists, any dialect, each row read once
whether files are split (one row a line) or whole (quoted newlines), bad rows named."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.inputs.csvformat import CSV, TSV
from minimr.dataflow.inputs.records import drop_bad
from minimr.dataflow.inputs.splits import plan_splits
from minimr.errors import BadRecordError, JobDefinitionError
from tests.dataflow.inputs.test_inputformats import read

fields = st.text(alphabet='ab ,;"\'é', max_size=5)


def written(rows: list[list[str]], **dialect) -> str:
    """The CSV text of ``rows`` as the csv module writes it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", **dialect).writerows(rows)
    return buffer.getvalue()


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(fields, min_size=2, max_size=2), max_size=15),
       split_size=st.integers(min_value=1, max_value=50), delimiter=st.sampled_from(",;"))
def test_one_row_a_line_files_split_anywhere_read_each_row_once(tmp_path_factory, rows,
                                                                split_size, delimiter):
    """With multiline=False and a header, a file cut at any split size gives every row once,
    as a dict, keyed by its byte offset; later splits read the header from the file."""
    rows = [r for r in rows if r != ["", ""]]  # an empty row is a blank line: left out
    text = written([["name", "city"], *rows], delimiter=delimiter)
    path = tmp_path_factory.mktemp("c") / "people.csv"
    path.write_text(text)
    fmt = CSV(header=True, delimiter=delimiter, multiline=False)
    got = read(fmt, path, split_size)
    assert [value for _, value in got] == [{"name": n, "city": c} for n, c in rows]
    data = path.read_bytes()
    assert all(key[1] == 0 or data[key[1] - 1 : key[1]] == b"\n" for key, _ in got)


def test_quoted_newlines_keep_a_file_whole_and_rows_intact(tmp_path):
    """By default a row may span lines: the file is one split, rows are read with their
    newlines, each keyed by the offset of its first line."""
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"two\nlines"\n2,plain\n\n3,"a ""quote"""\n')
    assert len(plan_splits([str(path)], 5, CSV().splittable)) == 1
    got = read(CSV(), path, split_size=5)
    assert got == [((str(path), 0), ["id", "note"]), ((str(path), 8), ["1", "two\nlines"]),
                   ((str(path), 22), ["2", "plain"]), ((str(path), 31), ["3", 'a "quote"'])]


def test_headers_make_dicts_and_fieldnames_name_columns(tmp_path):
    """header=True turns rows into dicts, skipping the header row; fieldnames name the
    columns of a file without one (or replace the file's own); a BOM is dropped."""
    path = tmp_path / "t.csv"
    path.write_text("\ufeffa,b\n1,2\n3,4\n", encoding="utf-8")
    assert [v for _, v in read(CSV(header=True), path)] == [{"a": "1", "b": "2"},
                                                            {"a": "3", "b": "4"}]
    assert [v for _, v in read(CSV(), path)] == [["a", "b"], ["1", "2"], ["3", "4"]]
    assert [v for _, v in read(CSV(fieldnames=["x", "y"], header=True), path)] == [
        {"x": "1", "y": "2"}, {"x": "3", "y": "4"}]
    assert [v for _, v in read(CSV(fieldnames=("x", "y"), multiline=False), path)][0] == {
        "x": "a", "y": "b"}


def test_a_dialect_of_its_own(tmp_path):
    """Delimiter, quote character and skipinitialspace are the csv module's."""
    path = tmp_path / "t.txt"
    path.write_text("a; 'b;c'\n")
    assert [v for _, v in read(CSV(delimiter=";", quotechar="'", skipinitialspace=True),
                               path)] == [["a", "b;c"]]


def test_tsv_has_no_quoting_and_always_splits(tmp_path):
    """TSV reads tab-separated fields with quote characters as plain text, split anywhere."""
    path = tmp_path / "t.tsv"
    path.write_text('a\t"b\nc"\td\n' * 20)
    assert TSV().splittable and len(plan_splits([str(path)], 9, TSV().splittable)) > 1
    assert [v for _, v in read(TSV(), path, split_size=9)] == [["a", '"b'], ['c"', "d"]] * 20


def test_a_quote_left_open_on_its_line_is_a_bad_record_and_the_next_lines_read(tmp_path):
    """With multiline=False, a line whose quote does not close is a bad record naming its
    line; the lines after it are rows of their own."""
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,"open\n2,x\n')
    with pytest.raises(BadRecordError, match=r"t.csv:2 \(byte 4\).*not closed on its line"):
        read(CSV(header=True, multiline=False), path)
    assert [v for _, v in read(CSV(header=True, multiline=False), path, on_bad=drop_bad)] == [
        {"a": "2", "b": "x"}]


def test_a_row_of_another_width_than_its_header_is_bad(tmp_path):
    """A row with more or fewer fields than the header is a bad record, in either mode."""
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2,3\n4,5\n")
    for multiline in (True, False):
        fmt = CSV(header=True, multiline=multiline)
        with pytest.raises(BadRecordError, match=r"t.csv:2 .*3 fields where the header has 2"):
            read(fmt, path)
        assert [v for _, v in read(fmt, path, on_bad=drop_bad)] == [{"a": "4", "b": "5"}]


def test_an_unterminated_quote_at_the_end_of_a_whole_file_is_bad(tmp_path):
    """In a whole file, a quote never closed is a bad record, not a row holding the rest."""
    path = tmp_path / "t.csv"
    path.write_text('1,2\n3,"four\n5,6\n')
    with pytest.raises(BadRecordError, match=r"t.csv:2 .*not CSV"):
        read(CSV(), path)


@pytest.mark.parametrize("kwargs", [
    {"delimiter": ",,"}, {"header": "yes"}, {"fieldnames": "ab"}, {"quotechar": 3},
    {"multiline": None},
])
def test_a_dialect_the_csv_module_cannot_read_is_refused(kwargs):
    """Bad dialect values fail when the format is made, naming what is wrong."""
    with pytest.raises(JobDefinitionError):
        CSV(**kwargs)
