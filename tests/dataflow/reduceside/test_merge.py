"""The merge keeps the key rule: of equal keys from several runs, the least is the one handed
to reduce and written, streamed or in memory, for a key in one block or running over many."""

from __future__ import annotations

from decimal import Decimal

import pytest

from minimr.dataflow.exact import key_choice
from minimr.dataflow.format.segments import (
    KIND_ANY,
    Segment,
    composite_kind,
    concatenate_segments,
    write_segment,
    write_single_values,
)
from minimr.dataflow.partition import sort_key
from minimr.dataflow.reduceside.merge import MergedGroups, MergedPairs
from minimr.dataflow.sortvalues import composite_pairs


def segments(tmp_path, runs):
    """One segment a run of sorted ``(key, values)`` entries (keys of several types)."""
    made = []
    for i, entries in enumerate(runs):
        path = tmp_path / f"run{i}"
        with open(path, "wb") as out:
            length, _ = write_segment(out, entries, KIND_ANY)
        made.append(Segment(str(path), 0, length))
    return made


RUNS = [
    [(0, ["a"]), (1.0, ["b"]), (2, ["c"])],
    [(1, ["d"]), (Decimal("2.0"), ["e"]), (3.5, ["f"])],
    [(True, ["g"]), (2.0, ["h"]), (3.5, ["i"])],
]


@pytest.mark.parametrize("memory_limit", [0, 1 << 30], ids=["streaming", "in-memory"])
def test_groups_carry_the_least_of_their_equal_keys(tmp_path, memory_limit):
    """1.0, 1 and True are one group handed on as True; 2, Decimal('2.0') and 2.0 as
    Decimal('2.0'); the values come in run order."""
    with MergedGroups(segments(tmp_path, RUNS), str(tmp_path), memory_limit) as merged:
        got = [(key_choice(k), list(vs)) for k, vs in merged]
    assert got == [(("int", "0"), ["a"]), (("bool", "True"), ["b", "d", "g"]),
                   (("Decimal", "Decimal('2.0')"), ["c", "e", "h"]),
                   (("float", "3.5"), ["f", "i"])]


@pytest.mark.parametrize("memory_limit", [0, 1 << 30], ids=["streaming", "in-memory"])
def test_pairs_are_written_under_the_least_key(tmp_path, memory_limit):
    """Read as pairs (an identity reduce), every value of a group is under its least key."""
    with MergedPairs(segments(tmp_path, RUNS), str(tmp_path), memory_limit) as merged:
        got = [(key_choice(k), v) for keys, values in merged.columns(2)
               for k, v in zip(keys, values, strict=True)]
    assert [k for k, v in got if v in "bdg"] == [("bool", "True")] * 3
    assert [k for k, v in got if v in "ceh"] == [("Decimal", "Decimal('2.0')")] * 3


def test_a_key_running_over_many_blocks_carries_the_least_of_every_run(tmp_path):
    """A hot key spread over many blocks of each run, its least form in the last run only:
    the streaming merge hands it on under that key, every value in run order."""
    size = 150_000  # values of the key in each run: several entries, each a block of its own
    hot = [[(1.0, list(range(i * size, (i + 1) * size)))] for i in range(3)]
    hot[2] = [(True, hot[2][0][1])]
    runs = [[(0, ["z"]), *entries, (5, ["y"])] for entries in hot]
    with MergedGroups(segments(tmp_path, runs), str(tmp_path), memory_limit=0) as merged:
        got = [(key_choice(k), list(vs)) for k, vs in merged]
    assert [k for k, _ in got] == [("int", "0"), ("bool", "True"), ("int", "5")]
    assert got[1][1] == list(range(3 * size))


def _composite_segment(tmp_path, name, pairs):
    """A sort_values segment of ``(key, value)`` pairs, written as the map side writes it."""
    kind = composite_kind(composite_pairs(pairs))
    path = tmp_path / name
    with open(path, "wb") as out:
        keys = [k for k, _ in pairs] if kind != KIND_ANY else pairs  # as the map side writes
        length, _ = write_single_values(out, keys, [v for _, v in pairs], kind)
    return Segment(str(path), 0, length), kind


def test_composite_runs_of_one_signature_merge_plainly_and_others_through_sort_key(tmp_path):
    """Tagged rows merge into each key's values in order whether the runs share a native
    kind (plain comparisons) or not (an int beside a float tag: sort_key); concatenated
    runs keep their kind."""
    users = [("7", (0, "Ada", "US")), ("3", (0, "Tim", "DE"))]
    orders = [("7", (1, "o2", "9.50")), ("3", (1, "o1", "1.00")), ("7", (1, "o1", "2.00"))]
    floats = [("7", (0.5, "late", "x"))]
    a, kind = _composite_segment(tmp_path, "a", users)
    b, same = _composite_segment(tmp_path, "b", orders)
    c, other = _composite_segment(tmp_path, "c", floats)
    assert kind == same == b"c\x08(s(iss))" and other == KIND_ANY
    with open(tmp_path / "ab", "wb") as out:
        length = concatenate_segments(out, [a, b])
    both = Segment(str(tmp_path / "ab"), 0, length)
    for group, expected_kind in (([a, b], kind), ([both], kind), ([a, b, c], KIND_ANY)):
        with MergedGroups(group, str(tmp_path), sort_values=True) as merged:
            got = [(k, list(vs)) for k, vs in merged]
            assert merged.kind == expected_kind
        rows = users + orders + (floats if c in group else [])
        assert got == [(k, sorted((v for key, v in rows if key == k), key=sort_key))
                       for k in ("3", "7")]
