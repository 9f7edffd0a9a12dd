"""The text part format round-trips typed records exactly, and commits are atomic."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from minimr.dataflow.output import (
    TextPartWriter,
    commit,
    format_record,
    parse_record,
    prepare_output,
    read_output,
)
from minimr.errors import InputError, OutputExistsError

VALUES = [
    "plain", "tab\tand\nnewline", "quote ' \" \\", "", "ünï€", 0, -17, 10**40, 1.5, -0.0,
    b"\x00\xffbytes", None, True, False, (1, "a"), ("nested", (1, [2, 3])), [1, 2],
    {"k": [1, 2]}, {1, 2}, set(), frozenset({"a"}), Fraction(1, 3), float("inf"),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_records_round_trip_with_types(value):
    """A key or value of any of these types reads back equal and of the same type."""
    line = format_record(value, value)
    assert line.count("\n") == 1 and line.endswith("\n")
    key, back = parse_record(line)
    assert back == value and type(back) is type(value)
    assert key == value


def test_nan_round_trips():
    """NaN, which repr cannot give back, still round-trips."""
    _, back = parse_record(format_record("x", float("nan")))
    assert math.isnan(back)


def test_common_records_are_readable_text():
    """Str keys and int values are written as plain Python literals."""
    assert format_record("whale", 42) == "'whale'\t42\n"


def test_read_output_reads_folder_or_single_part(tmp_path):
    """read_output takes an output folder (parts in order) or one part file."""
    for p, records in enumerate([[("a", 1), ("c", 3)], [("b", 2)]]):
        with TextPartWriter(str(tmp_path / f"part-{p:05d}")) as w:
            for k, v in records:
                w.write(k, v)
    (tmp_path / "_SUCCESS").write_text("")
    assert list(read_output(tmp_path)) == [("a", 1), ("c", 3), ("b", 2)]
    assert list(read_output(tmp_path / "part-00001")) == [("b", 2)]
    with pytest.raises(InputError):
        list(read_output(tmp_path / "missing"))


def test_commit_is_idempotent(tmp_path):
    """Committing the same attempt twice leaves the part in place."""
    temp = tmp_path / "tmp" / "part"
    temp.parent.mkdir()
    temp.write_text("x")
    final = tmp_path / "out" / "part-00000"
    commit(str(temp), str(final))
    commit(str(temp), str(final))
    assert final.read_text() == "x" and not temp.exists()


def test_prepare_output_refuses_existing_unless_overwrite(tmp_path):
    """An existing output folder is refused without overwrite and cleared with it."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000").write_text("old")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        prepare_output(str(out), False, [])
    prepare_output(str(out), True, [])
    assert not (out / "part-00000").exists()


def test_prepare_output_refuses_to_swallow_inputs(tmp_path):
    """An output folder that contains an input file is refused (overwrite would delete it)."""
    with pytest.raises(InputError, match="inside the output"):
        prepare_output(str(tmp_path), True, [str(tmp_path / "in.txt")])
