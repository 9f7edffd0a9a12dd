"""Splits and the text reader: every line is read exactly once whatever the split size."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import time
from itertools import chain

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.counters import BUILTIN, INVALID_UTF8_RECORDS, Counters, activate
from minimr.dataflow.inputs.inputformats import WholeFile
from minimr.dataflow.inputs.records import line_blocks, read_text, read_text_blocks
from minimr.dataflow.inputs.splits import (
    PACK_TASKS,
    Split,
    default_pack_size,
    expand_inputs,
    pack_splits,
    parse_size,
    plan_splits,
)
from minimr.errors import InputError, UsageError

read_whole_file = WholeFile().split_records


def zstd_open(path: str, mode: str):
    """zstandard's file opener, as gzip.open (the package is in the test extra)."""
    import zstandard

    return zstandard.open(path, mode)


def reference_lines(data: bytes) -> list[tuple[int, str]]:
    """(offset, line) pairs computed the slow, obvious way."""
    lines, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        stop = len(data) if end < 0 else end
        line = data[start:stop].decode("utf-8", "replace")
        lines.append((start, line[:-1] if line.endswith("\r") else line))
        start = stop + 1
    return lines


def read_all(path: str, split_size: int, block_size: int | None = None
             ) -> list[tuple[int, str]]:
    got = []
    for split in plan_splits([path], split_size):
        records = (read_text(split) if block_size is None
                   else chain.from_iterable(read_text_blocks(split, block_size)))
        got.extend((offset, line) for (_, offset), line in records)
    return got


line_text = st.text(alphabet=st.sampled_from("ab \t\r€x"), max_size=30)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(line_text, max_size=25), final_newline=st.booleans(),
       crlf=st.booleans(), split_size=st.integers(min_value=1, max_value=80),
       block_size=st.one_of(st.none(), st.integers(min_value=1, max_value=40)))
def test_every_line_read_exactly_once(tmp_path_factory, lines, final_newline, crlf, split_size,
                                      block_size):
    """Any file cut at any split size, read in blocks of any size, yields each line once, at
    its byte offset."""
    sep = "\r\n" if crlf else "\n"
    text = sep.join(lines) + (sep if final_newline and lines else "")
    data = text.encode("utf-8")
    path = tmp_path_factory.mktemp("s") / "f.txt"
    path.write_bytes(data)
    assert read_all(str(path), split_size, block_size) == reference_lines(data)


def test_line_longer_than_split(tmp_path):
    """A line spanning many splits is read once, by the split it starts in."""
    data = b"short\n" + b"x" * 1000 + b"\nend"
    path = tmp_path / "long.txt"
    path.write_bytes(data)
    assert read_all(str(path), 7) == [(0, "short"), (6, "x" * 1000), (1007, "end")]


def test_empty_file_has_one_empty_split(tmp_path):
    """An empty file becomes one empty split that reads no lines."""
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    splits = plan_splits([str(path)], 10)
    assert splits == [Split(str(path), 0, 0)]
    assert list(read_text(splits[0])) == []


def test_invalid_utf8_is_replaced(tmp_path):
    """Invalid bytes become U+FFFD instead of failing the task."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\n\xff\xfe bad\n")
    assert [line for _, line in read_text(Split(str(path), 0, 10))] == ["ok", "\ufffd\ufffd bad"]


def invalid_counted(read, split: Split) -> int:
    """The invalid utf-8 records counter after reading all of ``split`` with ``read``."""
    counters = Counters()
    with activate(counters):
        list(read(split))
    return counters.get(BUILTIN, INVALID_UTF8_RECORDS)


@pytest.mark.parametrize("split_size", [1, 7, 30, 1000])
def test_lines_with_invalid_utf8_are_counted_once_by_their_split(tmp_path, split_size):
    """Each line that held invalid bytes counts once in 'invalid utf-8 records', by the split
    that owns it, whatever the split size; valid UTF-8, U+FFFD itself included, counts
    nothing; a last line without a newline counts too."""
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"ok\n\xff bad\nfine \xe2\x82\xac\nliteral \xef\xbf\xbd\ncut \xe2\x82\n"
                     b"two \xc3\x28 \xa0\ntail \xfe")
    counts = [invalid_counted(read_text, split)
              for split in plan_splits([str(path)], split_size)]
    assert sum(counts) == 4


def test_valid_utf8_counts_nothing_and_whole_files_count_as_one_record(tmp_path):
    """Valid text leaves the counter at 0; a whole file with bad bytes is one record."""
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_bytes("é€ ok\n".encode() * 10)
    bad.write_bytes(b"\xff\n\xfe\n")
    assert invalid_counted(read_text, Split(str(good), 0, 70)) == 0
    assert invalid_counted(read_whole_file, Split(str(bad), 0, 4)) == 1
    assert invalid_counted(read_whole_file, Split(str(good), 0, 70)) == 0


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2"),
                                           (lzma.open, ".xz"), (zstd_open, ".zst")])
def test_compressed_files_are_one_split_read_whole(tmp_path, opener, suffix):
    """A .gz/.bz2/.xz/.zst file is one split, decompressed transparently."""
    path = str(tmp_path / ("f.txt" + suffix))
    with opener(path, "wb") as f:
        f.write(b"one\ntwo\nthree\n" * 100)
    splits = plan_splits([path], 10)
    assert len(splits) == 1
    lines = [line for _, line in read_text(splits[0])]
    assert lines == ["one", "two", "three"] * 100


def test_whole_file_format_gives_path_and_contents(tmp_path):
    """The whole-file reader gives one (path, contents) record."""
    path = tmp_path / "doc.txt"
    path.write_text("a\nb\n")
    assert list(read_whole_file(Split(str(path), 0, 4))) == [(str(path), "a\nb\n")]


@pytest.mark.parametrize("text,expected", [
    ("64MB", 64 * 2**20), ("256KB", 256 * 1024), ("1048576", 2**20), ("1.5GiB", 3 * 2**29),
    ("10b", 10), (4096, 4096),
])
def test_parse_size_accepts_units(text, expected):
    """Sizes accept KB/MB/GB suffixes (binary) and byte counts."""
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-5", "0", "12 parsecs", "5XB"])
def test_parse_size_rejects_nonsense(text):
    """A size that is not positive or not understood is a usage error naming the text."""
    with pytest.raises(UsageError, match="size"):
        parse_size(text)


def test_expand_inputs_skips_hidden_and_underscore(tmp_path):
    """A folder's files are used, except names starting with _ or . (and their folders)."""
    for name in ["a.txt", "_SUCCESS", ".hidden", "sub/b.txt", "_logs/c.txt"]:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x\n")
    files = [os.path.relpath(f, tmp_path) for f in expand_inputs([str(tmp_path)])]
    assert files == ["a.txt", os.path.join("sub", "b.txt")]


def test_expand_inputs_globs_and_duplicates(tmp_path):
    """Globs expand, and a file named twice is read once."""
    for name in ["x1.log", "x2.log", "y.txt"]:
        (tmp_path / name).write_text("x\n")
    files = expand_inputs([str(tmp_path / "*.log"), str(tmp_path / "x1.log")])
    assert [os.path.basename(f) for f in files] == ["x1.log", "x2.log"]


def test_missing_input_and_empty_glob_are_errors(tmp_path):
    """A missing path or a glob matching nothing is an InputError naming it."""
    with pytest.raises(InputError, match="does not exist"):
        expand_inputs([str(tmp_path / "nope.txt")])
    with pytest.raises(InputError, match="matches no file"):
        expand_inputs([str(tmp_path / "*.csv")])
    with pytest.raises(InputError, match="no input"):
        expand_inputs([])


def test_pack_splits_groups_small_neighbours_up_to_the_target():
    """Small splits share a task up to the target; a big one stays alone; order is kept."""
    splits = [Split("a", 0, 10), Split("b", 0, 30), Split("c", 0, 100), Split("d", 0, 5),
              Split("d", 5, 25), Split("e", 0, 0)]
    groups = pack_splits(splits, 40)
    assert [[s.path for s in g] for g in groups] == [["a", "b"], ["c"], ["d", "d", "e"]]
    assert [s for g in groups for s in g] == splits
    assert pack_splits([], 40) == []


def test_default_pack_size_leaves_pack_tasks_tasks_and_never_passes_the_split_size():
    """Without --combine-files a pack holds the input's size over PACK_TASKS (rounded up),
    at most the split size, so 10,000 small files make about PACK_TASKS tasks."""
    small = [Split(f"f{i:05d}", 0, 2400) for i in range(10_000)]
    target = default_pack_size(small, 64 << 20)
    assert target == -(-2400 * 10_000 // PACK_TASKS)
    groups = pack_splits(small, target)
    assert PACK_TASKS <= len(groups) <= PACK_TASKS + 2
    assert [s for g in groups for s in g] == small
    many = [Split(f"f{i:05d}", 0, 10 << 20) for i in range(1000)]
    assert default_pack_size(many, 64 << 20) == 64 << 20
    assert default_pack_size([Split("e", 0, 0)], 64 << 20) == 1
    assert default_pack_size([], 100) == 1


def test_default_packing_leaves_files_bigger_than_the_pack_alone():
    """A huge file among small ones keeps its split-size splits, each a task, and the small
    files around it pack together; inputs of big files run a task per split as before."""
    mixed = ([Split(f"a{i:03d}", 0, 10) for i in range(100)]
             + [Split("big", i, i + 3200) for i in (0, 3200)]
             + [Split(f"z{i:03d}", 0, 10) for i in range(100)])
    target = default_pack_size(mixed, 3200)
    assert target == 8400 // PACK_TASKS + 1  # 263 bytes: 26 files
    groups = pack_splits(mixed, target)
    assert (Split("big", 0, 3200),) in groups and (Split("big", 3200, 6400),) in groups
    assert [len(g) for g in groups] == [26] * 3 + [22, 1, 1] + [26] * 3 + [22]
    big = [Split(f"b{i}", 0, 16 << 20) for i in range(16)]
    assert pack_splits(big, default_pack_size(big, 64 << 20)) == [(s,) for s in big]


def test_a_small_tail_joins_the_last_split(tmp_path):
    """A file a little over a multiple of the split size does not end in a tiny split.

    Hadoop's rule: the last split may be up to 10% over the size (a 64 MiB file of 100-byte
    records is a few bytes over 64 MiB, and its tail would be a task of its own, holding no
    line at all).
    """
    def bounds(size: int) -> list[tuple[int, int]]:
        path = tmp_path / f"{size}.txt"
        path.write_bytes(b"x" * size)
        return [(s.start, s.end) for s in plan_splits([str(path)], 100)]

    assert bounds(1010) == [(i, i + 100) for i in range(0, 900, 100)] + [(900, 1010)]
    assert bounds(1036)[-2:] == [(900, 1000), (1000, 1036)]
    assert bounds(110) == [(0, 110)]
    assert bounds(111) == [(0, 100), (100, 111)]
    assert bounds(100) == [(0, 100)]


def test_a_line_far_longer_than_a_block_is_joined_once(tmp_path):
    """A 16 MiB line read 4 KiB at a time comes out whole, in well under a second: its
    pieces are joined once, not copied again with each block (4,096 blocks would copy
    32 GB)."""
    path = tmp_path / "long.txt"
    path.write_bytes(b"x" * (16 << 20) + b"\nshort\n")
    started = time.monotonic()
    with open(path, "rb") as f:
        blocks = list(line_blocks(f, 0, float("inf"), 4096))
    assert time.monotonic() - started < 5
    assert [len(line) for _, lines in blocks for line in lines] == [16 << 20, 5]
