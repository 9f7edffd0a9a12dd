"""Commits are atomic and idempotent, outputs are prepared safely, and read_output reads
what was written (the part formats themselves: test_partformats.py)."""

from __future__ import annotations

import json
import os
import threading

import pytest

from minimr.dataflow.format.blocks import read_blocks
from minimr.dataflow.format.encodings import OUTPUT_FORMATS, format_record
from minimr.dataflow.format.output import (
    RecordPartWriter,
    TextPartWriter,
    commit,
    prepare_output,
    read_output,
    write_success,
)
from minimr.dataflow.format.partformats import PartFormat
from minimr.dataflow.format.unpicklable import UnpicklableRecord
from minimr.errors import (
    InputError,
    OutputExistsError,
    UnsafeOutputError,
    UntrustedOutputError,
)
from tests.dataflow.format.test_partformats import ODD_PAIRS, VALUES, Pair, batched, one_by_one


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


class _Plant:
    """Unpickling it makes the folder ``path``: code run by the reader."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_read_output_refuses_pickled_values_unless_trusted(tmp_path):
    """A planted !pickle: value runs no code by default: the error names the file and the
    opt-in; trusted=True unpickles it (and so would run the planted code)."""
    planted = tmp_path / "planted"
    out = tmp_path / "out"
    out.mkdir()
    line = format_record("key", _Plant(str(planted)))
    assert "!pickle:" in line
    (out / "part-00000").write_text("'fine'\t1\n" + line)
    with pytest.raises(UntrustedOutputError, match=r"part-00000 line 2.*trusted=True"):
        list(read_output(out))
    assert not planted.exists()
    records = list(read_output(out, trusted=True))
    assert records[0] == ("fine", 1) and planted.exists()


def test_read_output_reads_literals_without_trust(tmp_path):
    """Every value that is a Python literal reads back with the default (untrusted) reader."""
    literals = [v for v in VALUES if "!pickle:" not in format_record(v, v)]
    with TextPartWriter(str(tmp_path / "part-00000")) as w:
        for value in literals:
            w.write(value, value)
    assert list(read_output(tmp_path)) == [(v, v) for v in literals]


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


def test_a_failed_runs_task_logs_do_not_stand_in_the_way_of_the_next_run(tmp_path):
    """A folder holding only the _logs/ a failed run left is taken as it is, its old logs
    removed; beside anything else, _logs marks a minimr output for --overwrite."""
    out = tmp_path / "out"
    (out / "_logs").mkdir(parents=True)
    (out / "_logs" / "s0-m00000-a1.log").write_text("old")
    prepare_output(str(out), False, [])
    assert sorted(os.listdir(out)) == ["_temporary"]
    (out / "_logs").mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="already exists"):
        prepare_output(str(out), False, [])
    prepare_output(str(out), True, [])
    assert sorted(os.listdir(out)) == ["_temporary"]


def test_prepare_output_refuses_to_swallow_inputs(tmp_path):
    """An output folder that contains an input file is refused (overwrite would delete it)."""
    with pytest.raises(UnsafeOutputError, match="holds the input"):
        prepare_output(str(tmp_path), True, [str(tmp_path / "in.txt")])


@pytest.mark.parametrize("bad, error", [
    (("a", 1, 2), ValueError), (("a",), ValueError), (5, TypeError), (None, TypeError),
])
def test_write_many_rejects_what_is_not_a_pair(tmp_path, bad, error):
    """An item that does not unpack into a key and a value fails as unpacking it fails."""
    with TextPartWriter(str(tmp_path / "part")) as w, pytest.raises(error):
        w.write_many([("ok", 1), bad])
    with RecordPartWriter(str(tmp_path / "records")) as w, pytest.raises(error):
        w.write_many([("ok", 1), bad])


def record_blocks(tmp_path, name: str, fill) -> tuple[bytes, list, int]:
    """The bytes, blocks and record count of a record part that ``fill(writer)`` wrote."""
    path = tmp_path / name
    with RecordPartWriter(str(path), per_block=5) as w:
        fill(w)
        size = w.close()
    with open(path, "rb") as f:
        return path.read_bytes(), list(read_blocks(f, size)), w.records


@pytest.mark.parametrize("size", [1, 4, 5, 12])
def test_record_write_many_equals_write(tmp_path, size):
    """Batches give the same blocks, cut at the same places, as one write a record."""
    pairs = [(f"k{i}", i) for i in range(23)] + ODD_PAIRS + [["list", 1], Pair("named", 2)]
    many = record_blocks(tmp_path, "many", batched(pairs, size))
    assert many[0] == record_blocks(tmp_path, "one", one_by_one(pairs))[0]
    assert [len(block) for block in many[1]] == [5] * 8 + [1] and many[2] == len(pairs)
    assert all(type(pair) is tuple for block in many[1] for pair in block)


@pytest.mark.parametrize("writer", [TextPartWriter, RecordPartWriter])
@pytest.mark.parametrize("how", ["write", "write_many", "write_columns"])
def test_a_value_that_cannot_be_pickled_is_named_with_its_key(tmp_path, writer, how):
    """Part writers of either format report an unpicklable value (in a text part, one with
    no literal form goes through pickle) as UnpicklableRecord naming its key, never as a
    bare pickling error: the record a user's value came in is one they can find."""
    lock = threading.Lock()
    pairs = [("fine", 1), (("the", "key"), lock), ("after", 2)]
    with pytest.raises(UnpicklableRecord) as info, writer(str(tmp_path / "part")) as w:
        if how == "write":
            for key, value in pairs:
                w.write(key, value)
        elif how == "write_many":
            w.write_many(pairs)
        else:
            w.write_columns([k for k, _ in pairs], [v for _, v in pairs])
        w.close()
    assert info.value.key == ("the", "key") and info.value.culprit is lock
    assert info.value.type_name == "_thread.lock" and not info.value.in_key
    assert "value of key ('the', 'key')" in str(info.value)


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("codec", [None, "gzip", "zstd"])
def test_read_output_reads_every_format_and_compression_from_success(tmp_path, fmt, codec):
    """The job commit writes the parts' format into _SUCCESS; read_output reads a folder or
    one of its parts by it (compression by the part's name): repr typed, jsonl as JSON
    values, tsv as strings, lines as (line, None)."""
    part_format = PartFormat.of(fmt, codec)
    parts = [[("a", (1, 2)), ("c", 3)], [("b", None)]]
    if fmt == "lines":  # records (line, None)
        parts = [[("a\t(1, 2)", None), (b"c\t3", None)], [("b", None)]]
    for p, records in enumerate(parts):
        with TextPartWriter(str(tmp_path / part_format.file_name(p)), part_format) as w:
            w.write_many(records)
    (tmp_path / "_temporary").mkdir()
    write_success(str(tmp_path), part_format)
    assert json.loads((tmp_path / "_SUCCESS").read_text()) == {"format": fmt,
                                                               "compression": codec}
    expected = {"repr": [("a", (1, 2)), ("c", 3), ("b", None)],
                "jsonl": [("a", [1, 2]), ("c", 3), ("b", None)],
                "tsv": [("a", "(1, 2)"), ("c", "3"), ("b", "None")],
                "lines": [("a\t(1, 2)", None), ("c\t3", None), ("b", None)]}[fmt]
    assert list(read_output(tmp_path)) == expected
    assert list(read_output(tmp_path / part_format.file_name(1))) == expected[2:]


def test_an_output_without_a_format_in_success_reads_as_repr_unless_told(tmp_path):
    """An empty _SUCCESS (older minimr), or none, means repr; output_format overrides it."""
    with TextPartWriter(str(tmp_path / "part-00000"), PartFormat("tsv")) as w:
        w.write("k", 1)
    with pytest.raises(InputError, match="not a repr record"):
        list(read_output(tmp_path))
    assert list(read_output(tmp_path, output_format="tsv")) == [("k", "1")]
    (tmp_path / "_SUCCESS").write_text("")
    with TextPartWriter(str(tmp_path / "part-00000")) as w:
        w.write("k", 1)
    assert list(read_output(tmp_path)) == [("k", 1)]
