"""A secondary sort's composite segments merged as columns: the compiled merge and grouping
(``_colcolumns.ColumnGroups``, ``ColumnMerge(composite=True)``, ``grouping.group_lists``) hand
the reducer what the merge of composite entries in Python does (the same keys, of the same
types, the same values in the same order, the same counts), whatever the keys, values and
batch sizes, and fall back to it for segments they do not take."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import chain, islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.format.blocks import write_block
from minimr.dataflow.format.segments import (
    Segment,
    SegmentReader,
    composite_kind,
    concatenable,
    concatenate_segments,
    write_single_values,
)
from minimr.dataflow.reduceside import columns, merge, passes
from minimr.dataflow.reduceside.merge import MergedEntries, MergedGroups, MergedPairs
from minimr.dataflow.sortvalues import composite_pairs

COMPILED = columns.ColumnGroups is not None
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the compiled merge is not built")


class Name(str):
    """A str subclass: stays one, and keeps its segment off the compiled merge."""


def composite_segment(path, pairs: list) -> Segment:
    """A composite segment of ``(key, value)`` pairs, written as the map side writes it."""
    kind = composite_kind(composite_pairs(pairs))
    keys = [k for k, _ in pairs] if kind[:1] == b"c" else pairs  # as the map side writes
    with open(path, "wb") as out:
        length, _ = write_single_values(out, keys, [v for _, v in pairs], kind)
    return Segment(str(path), 0, length)


def segments_of(tmp_path, runs: list[list], together: int) -> list[Segment]:
    """One segment a run, then every ``together`` of them side by side as one, where they
    can be (one kind)."""
    made = [composite_segment(tmp_path / f"run{i}", list(run)) for i, run in enumerate(runs)]
    joined = []
    for at in range(0, len(made), max(together, 1)):
        group = made[at : at + max(together, 1)]
        if len(group) < 2 or not concatenable(group):
            joined += group
            continue
        path = tmp_path / f"joined{at}"
        with open(path, "wb") as out:
            joined.append(Segment(str(path), 0, concatenate_segments(out, group)))
    return joined


def typed(item):
    """An item with its type (and its items' types), so that 1 and True, a str and a str
    subclass, tell apart."""
    if type(item) is tuple:
        return ("tuple", tuple(map(typed, item)))
    return (type(item).__name__, item)


def groups_read(segments, scratch, how, monkeypatch, batch, take=None, factor=64):
    """Every key handed to reduce with the values read of it (the first ``take``), the
    groups and the values read, merged ``how`` with batches of ``batch`` values, in passes
    of ``factor`` runs."""
    monkeypatch.setattr(merge, "GROUP_BATCH", batch)
    monkeypatch.setattr(passes, "MERGE_FACTOR", factor)
    if how == "python":
        monkeypatch.setattr(columns, "ColumnMerge", None)
    with MergedGroups(segments, scratch, sort_values=True) as merged:
        got = [(typed(k), [typed(v) for v in islice(values, take)]) for k, values in merged]
    monkeypatch.undo()
    return got, merged.groups, merged.values_read


def pairs_read(segments, scratch, how, monkeypatch, size):
    """The identity reduce's ``(key, value)`` pairs, whether each key is the object of the
    one before it, and the groups, merged ``how``."""
    if how == "python":
        monkeypatch.setattr(columns, "ColumnMerge", None)
    pairs, same, previous = [], [], object()
    with MergedPairs(segments, scratch, sort_values=True) as merged:
        for keys, values in merged.columns(size):
            assert len(keys) == len(values) <= size
            for key, value in zip(keys, values, strict=True):
                pairs.append((typed(key), typed(value)))
                same.append(key is previous)
                previous = key
    monkeypatch.undo()
    return pairs, same, merged.groups, merged.values_read


WORDS = st.text(st.sampled_from("ab'\x00\xe9\u20ac"), max_size=4)
LONG = st.builds("prefix12{}".format, st.sampled_from(["", "a", "b", "\u20ac", "ab"]))
# Shapes of runs: (keys, values). Runs of one shape share a signature (merged in C when all
# of a merge's do); the last shapes have none (mixed types, bool, a str subclass): stored
# whole, merged in Python.
SHAPES = [
    (st.one_of(WORDS, LONG), st.tuples(st.integers(0, 1), WORDS, st.sampled_from(["x", "y"]))),
    (st.sampled_from(["1", "2", "10"]), st.tuples(st.integers(0, 1), st.sampled_from("ab"))),
    (st.integers(-3, 3) | st.sampled_from([2**63, -(2**70)]), WORDS),
    (st.binary(max_size=9), st.integers(-2, 2) | st.just(2**64)),
    (st.tuples(st.integers(0, 2), WORDS), st.tuples(st.tuples(WORDS, st.integers(0, 1)))),
    (st.sampled_from(["1", "2"]), st.sampled_from([1, 1.0, True, -0.0, 0, Decimal("1")])),
    (st.sampled_from([1, 1.0, True, 2, 0, -0.0]), st.sampled_from(["a", "b"])),
    (st.sampled_from([Name("1"), Name("2")]), st.tuples(st.integers(0, 1), WORDS)),
]


@st.composite
def merges(draw):
    """Runs of pairs, most of one shape (ties within and across runs: few keys and values),
    some merges with a run of another shape."""
    shape = draw(st.integers(0, len(SHAPES) - 1))
    runs = []
    for _ in range(draw(st.integers(1, 6))):
        other = draw(st.integers(0, len(SHAPES) - 1)) if draw(st.integers(0, 7)) == 0 else shape
        keys, values = SHAPES[other]
        runs.append(draw(st.lists(st.tuples(keys, values), max_size=25)))
    return runs


MERGES = ["python", "compiled"] if COMPILED else ["python"]


@settings(max_examples=150, deadline=None)
@given(runs=merges(), batch=st.integers(1, 7), together=st.integers(1, 3),
       take=st.sampled_from([None, 0, 1, 2]), factor=st.sampled_from([64, 2, 3]))
def test_the_compiled_groups_are_the_python_merges(tmp_path_factory, runs, batch, together,
                                                   take, factor):
    """Each key once, of its type, with its values in order (all of them, or the first
    ``take``: the rest skipped), the groups and values counted, as the Python merge gives,
    also after merge passes (``factor`` runs at a time, in C for composite runs)."""
    tmp_path = tmp_path_factory.mktemp("colgroups")
    segments = segments_of(tmp_path, runs, together)
    with pytest.MonkeyPatch.context() as monkeypatch:
        results = [groups_read(segments, str(tmp_path), how, monkeypatch, batch, take, factor)
                   for how in MERGES]
    assert all(result == results[0] for result in results)
    everything = [pair for run in runs for pair in run]
    assert results[0][1] == len(results[0][0])
    assert results[0][2] == len(everything)


@settings(max_examples=100, deadline=None)
@given(runs=merges(), size=st.integers(1, 7), together=st.integers(1, 3))
def test_the_compiled_pairs_are_the_python_merges(tmp_path_factory, runs, size, together):
    """The identity reduce of a secondary sort: the same pairs, each group under one key
    object, the same counts, either merge."""
    tmp_path = tmp_path_factory.mktemp("colpairs")
    segments = segments_of(tmp_path, runs, together)
    with pytest.MonkeyPatch.context() as monkeypatch:
        results = [pairs_read(segments, str(tmp_path), how, monkeypatch, size)
                   for how in MERGES]
    assert all(result == results[0] for result in results)


def test_a_hot_key_runs_on_over_many_batches_and_streams(tmp_path, monkeypatch):
    """A key of thousands of values in every run, among others: read over many batches,
    each value once, in order, both merges alike; a reducer that stops early skips the
    rest."""
    runs = []
    for r in range(4):
        rows = [("hot", (1, f"o{i:05d}", str(r))) for i in range(r, 3000, 4)]
        rows += [(f"k{i}", (0, "n", str(r))) for i in range(r, 40, 3)] + [("hot", (0, "u", ""))]
        runs.append(rows)
    segments = segments_of(tmp_path, runs, 2)
    for take in (None, 5):
        results = [groups_read(segments, str(tmp_path), how, monkeypatch, 64, take)
                   for how in MERGES]
        assert all(result == results[0] for result in results)
        hot = dict(results[0][0])[typed("hot")]
        assert len(hot) == (3000 + 4 if take is None else take)


@needs_compiled
@settings(max_examples=100, deadline=None)
@given(runs=st.lists(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from([0, 1, 2]),
                                        st.sampled_from("xy")), max_size=12), max_size=13),
       size=st.integers(1, 5))
def test_ties_come_out_in_run_order(runs, size):
    """Equal keys and equal values (distinct objects) come out in run order, then in their
    run's order (a stable merge), each group under its first key object."""
    records = []  # (key, value, run): each value an object of its own
    sources = []
    for r, rows in enumerate(runs):
        rows = sorted(rows)
        keys = [str(k) + "" for k, _, _ in rows]
        values = [(n, s + "") for _, n, s in rows]
        records += [(k, v, r) for k, v in zip(keys, values, strict=True)]
        sources.append([(keys, values)])
    expected = sorted(records, key=lambda rec: (rec[0], rec[1]))  # stable: run, then place
    got = [(k, v) for keys, values, _ in columns.ColumnMerge(sources, size, True)
           for k, v in zip(keys, values, strict=True)]
    assert [id(v) for _, v in got] == [id(v) for _, v, _ in expected]
    firsts = {}
    for k, _, _ in expected:
        firsts.setdefault(k, k)
    assert all(k is firsts[k] for k, _ in got)
    groups = list(columns.ColumnGroups(sources, size, True))
    values = [v for _, lists, _ in groups for values in lists for v in values]
    assert [id(v) for v in values] == [id(v) for _, v, _ in expected]


@needs_compiled
@pytest.mark.parametrize("composite", [False, True])
def test_any_number_of_runs_merges_as_a_stable_sort(composite):
    """0 to 40 runs, some empty, some ending early, keys of 0-12 characters (prefixes of
    one another, zero bytes, past 8 bytes, wide): the compiled merge is a stable sort by key
    (and value, composite), whatever the number of runs."""
    rng = random.Random(7)
    alphabet = ["a", "b", "\x00", "\u20ac"]
    for n in list(range(41)) * 3:
        sources, records = [], []
        for r in range(n):
            rows = sorted((("".join(rng.choices(alphabet, k=rng.randint(0, 12))),
                            (rng.randint(0, 2), rng.choice("xy"))) for _ in range(
                                rng.choice([0, 1, 3, 20]))), key=lambda row: (
                                    row[0], row[1]) if composite else row[0])
            blocks = [([k for k, _ in rows[at : at + 4]], [v for _, v in rows[at : at + 4]])
                      for at in range(0, len(rows), 4)]
            sources.append(blocks)
            records += [(k, v, r) for k, v in rows]
        order = (lambda rec: (rec[0], rec[1])) if composite else (lambda rec: rec[0])
        expected = [(k, v) for k, v, _ in sorted(records, key=order)]
        got = [(k, v) for keys, values, _ in columns.ColumnMerge(sources, 5, composite)
               for k, v in zip(keys, values, strict=True)]
        assert got == expected, n


@needs_compiled
@pytest.mark.parametrize("values", [[1.0], [True], [Name("a")], [None], [[1]]],
                         ids=["float", "bool", "str-subclass", "none", "list"])
def test_the_compiled_merge_refuses_values_a_signature_excludes(values):
    """A composite value of a type no signature holds fails with an error, never a
    comparison of the user's."""
    with pytest.raises(TypeError):
        list(columns.ColumnGroups([[(["a"], values)], [(["a"], [(0, "b")])]], 4, True))


@needs_compiled
@pytest.mark.parametrize("block", [([1, 2], ["x", "y"]), ([Name("a")], ["x"]),
                                   [("a", ["x"])]],
                         ids=["int-key", "str-subclass-key", "entry-list"])
def test_a_damaged_composite_segment_is_refused(tmp_path, block):
    """A block its composite kind does not describe (keys of another type, entries) fails
    the compiled merge with an error (``column_runs`` checks every block)."""
    path = tmp_path / "damaged"
    kind = composite_kind(b"(ss)")
    with open(path, "wb") as out:
        written = out.write(kind) + write_block(out, block)
    segments = [Segment(str(path), 0, written), composite_segment(tmp_path / "b", [("b", "z")])]
    with pytest.raises((ValueError, TypeError)), MergedGroups(
            segments, str(tmp_path), sort_values=True) as merged:
        [(k, list(v)) for k, v in merged]


def segment_written(segments, scratch, how, monkeypatch, path):
    """The kind, entries and counts of the segment ``MergedEntries.write`` writes (a map
    task's spills merged), merged ``how``."""
    if how == "python":
        monkeypatch.setattr(columns, "ColumnMerge", None)
    with open(path, "wb") as out, MergedEntries(segments, scratch, sort_values=True) as merged:
        length, values = merged.write(out)
    monkeypatch.undo()
    reader = SegmentReader(Segment(str(path), 0, length))
    try:
        entries = [(typed(k), [typed(v) for v in vs]) for run in reader.runs
                   for k, vs in chain.from_iterable(run)]
    finally:
        reader.close()
    return reader.kind, entries, values, len(reader.runs)


@settings(max_examples=60, deadline=None)
@given(runs=merges(), together=st.integers(1, 3))
def test_the_compiled_merge_writes_the_python_merges_segment(tmp_path_factory, runs, together):
    """Spills merged into one segment: the same kind, composite entries and counts, one
    run, either merge."""
    tmp_path = tmp_path_factory.mktemp("colwrite")
    segments = segments_of(tmp_path, runs, together)
    with pytest.MonkeyPatch.context() as monkeypatch:
        results = [segment_written(segments, str(tmp_path), how, monkeypatch,
                                   tmp_path / f"merged-{how}") for how in MERGES]
    assert all(result == results[0] for result in results)
    assert results[0][2] == sum(map(len, runs))
