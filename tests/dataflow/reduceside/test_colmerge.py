"""The identity reduce's merge of str or bytes keys: the compiled column merge hands on what
the merge of pairs in Python does (the same pairs in the same order, each group under its
first key object, the same group count), and a damaged segment is refused, not misread."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.format.blocks import write_block
from minimr.dataflow.format.segments import (
    KIND_BYTES,
    KIND_STR,
    Segment,
    concatenate_segments,
    write_segment,
    write_single_values,
)
from minimr.dataflow.reduceside import columns
from minimr.dataflow.reduceside.merge import MergedPairs

MERGES = ["python"] + (["compiled"] if columns.ColumnMerge is not None else [])


def merged(segments: list[Segment], scratch: str, size: int, how: str, monkeypatch,
           memory_limit: int = 0) -> tuple[list, int, int]:
    """Every ``(key, value)`` handed on, whether each key is the object of the one before
    it, the groups and the values read, merged ``how``."""
    if how == "python":
        monkeypatch.setattr(columns, "ColumnMerge", None)
    pairs, same = [], []
    with MergedPairs(segments, scratch, memory_limit) as pairs_of:
        previous = object()
        for keys, values in pairs_of.columns(size):
            assert len(keys) == len(values) <= size
            for key, value in zip(keys, values, strict=True):
                pairs.append((key, value))
                same.append(key is previous)
                previous = key
    monkeypatch.undo()
    return [pairs, same], pairs_of.groups, pairs_of.values_read


def write_runs(tmp_path, runs: list[list[tuple]], kind: bytes, together: int) -> list[Segment]:
    """One segment a sorted run of ``(key, values)`` entries (as columns when each has one
    value), then every ``together`` segments copied side by side as one of several runs."""
    made = []
    for i, entries in enumerate(runs):
        path = tmp_path / f"run{i}"
        with open(path, "wb") as out:
            if all(len(values) == 1 for _, values in entries):
                length, _ = write_single_values(out, [k for k, _ in entries],
                                                [v[0] for _, v in entries], kind)
            else:
                length, _ = write_segment(out, entries, kind)
        made.append(Segment(str(path), 0, length))
    if together < 2:
        return made
    joined = []
    for at in range(0, len(made), together):
        path = tmp_path / f"joined{at}"
        with open(path, "wb") as out:
            length = concatenate_segments(out, made[at : at + together])
        joined.append(Segment(str(path), 0, length))
    return joined


KEYS = st.text(st.sampled_from("ab'\x00\xe9\u20ac"), max_size=10)


@st.composite
def runs_of(draw, keys=KEYS):
    """Sorted runs of entries, some keys repeating within and across runs, values that tell
    every pair apart (their run and place), some entries of several values."""
    runs = []
    for r in range(draw(st.integers(1, 6))):
        run_keys = sorted(draw(st.lists(keys, max_size=30)))
        entries = []
        for i, key in enumerate(run_keys):
            many = draw(st.integers(1, 3)) if draw(st.booleans()) else 1
            entries.append((key, [(r, i, j) for j in range(many)]))
        runs.append(entries)
    return runs


@pytest.mark.parametrize("how", MERGES)
@settings(max_examples=60, deadline=None)
@given(runs=runs_of(), size=st.integers(1, 7), together=st.integers(1, 3))
def test_str_keys_merge_as_a_stable_merge_of_the_pairs(tmp_path_factory, how, runs, size,
                                                       together):
    """Pairs come out sorted by key, equal keys in run order, each group under one key
    object, the groups counted, whichever merge and batch size."""
    tmp_path = tmp_path_factory.mktemp("colmerge")
    segments = write_runs(tmp_path, runs, KIND_STR, together)
    with pytest.MonkeyPatch.context() as monkeypatch:
        got = merged(segments, str(tmp_path), size, how, monkeypatch)
    everything = [(k, v) for entries in runs for k, values in entries for v in values]
    expected = sorted(everything, key=lambda pair: pair[0])
    (pairs, same), groups, values_read = got
    assert pairs == expected
    assert [type(k) for k, _ in pairs] == [str] * len(pairs)
    assert same == [i > 0 and pairs[i - 1][0] == pairs[i][0] for i in range(len(pairs))]
    assert groups == len({k for k, _ in everything})
    assert values_read == len(everything)


@pytest.mark.parametrize("how", MERGES)
@settings(max_examples=30, deadline=None)
@given(runs=runs_of(st.binary(max_size=10)), size=st.integers(1, 7))
def test_bytes_keys_merge_as_a_stable_merge_of_the_pairs(tmp_path_factory, how, runs, size):
    """Bytes keys (bytes above 0x7f, NULs, prefixes of others) merge as sorted pairs do."""
    tmp_path = tmp_path_factory.mktemp("colmerge")
    segments = write_runs(tmp_path, runs, KIND_BYTES, 1)
    with pytest.MonkeyPatch.context() as monkeypatch:
        (pairs, _), groups, _ = merged(segments, str(tmp_path), size, how, monkeypatch)
    everything = [(k, v) for entries in runs for k, values in entries for v in values]
    assert pairs == sorted(everything, key=lambda pair: pair[0])
    assert groups == len({k for k, _ in everything})


def test_both_merges_agree_on_long_runs_in_memory_and_streamed(tmp_path, monkeypatch):
    """Runs of thousands of keys sharing 8-byte prefixes (many blocks each, a hot key over
    several blocks): the compiled merge, the streamed and the in-memory merges agree."""
    runs = []
    for r in range(5):
        keys = sorted([f"prefix{(i * 7919 + r) % 3001:05d}" for i in range(6000)]
                      + ["hot"] * 5000 * (r % 2))
        runs.append([(key, [(r, i)]) for i, key in enumerate(keys)])
    segments = write_runs(tmp_path, runs, KIND_STR, 2)
    results = [merged(segments, str(tmp_path), 256, how, monkeypatch, limit)
               for how in MERGES for limit in (0, 1 << 30)]
    assert all(result == results[0] for result in results)
    assert results[0][1] == 3001 + 1


def damaged(tmp_path, kind: bytes, block) -> Segment:
    path = tmp_path / "damaged"
    with open(path, "wb") as out:
        written = out.write(kind) + write_block(out, block)
    return Segment(str(path), 0, written)


@pytest.mark.parametrize("kind, block", [
    (KIND_STR, (["a", 1], ["x", "y"])),
    (KIND_STR, (["a", b"b"], ["x", "y"])),
    (KIND_BYTES, ([b"a", "b"], ["x", "y"])),
    (KIND_STR, (["a", "b"], ["x"])),
    (KIND_STR, ("ab", "xy")),
    (KIND_STR, (["a"], ["x"], ["z"])),
    (KIND_STR, [("a", "x")]),
    (KIND_STR, {"a": "x"}),
], ids=["int-key", "bytes-in-str", "str-in-bytes", "unequal", "not-lists", "three",
        "entry-value-not-a-list", "dict"])
@pytest.mark.skipif(columns.ColumnMerge is None, reason="the compiled merge is not built")
def test_a_damaged_segment_is_refused(tmp_path, kind, block):
    """A block that its segment's kind does not describe fails the compiled merge with an
    error, never hands on a wrong pair (``column_runs`` checks every block)."""
    segments = [damaged(tmp_path, kind, block)]
    other = tmp_path / "other"
    with open(other, "wb") as out:
        length, _ = write_single_values(out, ["b"], ["z"], kind)
    if kind == KIND_BYTES:
        with open(other, "wb") as out:
            length, _ = write_single_values(out, [b"b"], ["z"], kind)
    segments.append(Segment(str(other), 0, length))
    with pytest.raises((ValueError, TypeError)), MergedPairs(segments, str(tmp_path)) as pairs:
        list(pairs.columns(4))


@pytest.mark.skipif(columns.ColumnMerge is None, reason="the compiled merge is not built")
@pytest.mark.parametrize("runs, error", [
    ([[["a", 1]]], ValueError),
    ([[("a", [1])]], ValueError),
    ([[(["a", "b"], [1])]], ValueError),
    ([[([1], [1])]], TypeError),
    ([[(["a"], [1])], [([b"b"], [2])]], TypeError),
    ([[(["a"], [1]), ("ab",)]], ValueError),
], ids=["list-block", "str-column", "unequal", "int-key", "str-and-bytes", "short-tuple"])
def test_the_compiled_merge_refuses_what_it_does_not_take(runs, error):
    """Blocks not two lists of one length, keys not exact str or bytes, or str and bytes
    together: an error, whatever the caller checked before."""
    with pytest.raises(error):
        list(columns.ColumnMerge(runs, 4))


def test_the_compiled_merge_is_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled merge was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert columns.ColumnMerge is not None

