"""Framed pickle blocks: what goes in comes back, sharing and cycles included."""

from __future__ import annotations

import io

import pytest

from minimr.dataflow.format.blocks import read_blocks, write_block


def _round_trip(entries):
    out = io.BytesIO()
    length = write_block(out, entries)
    assert length == len(out.getvalue())
    out.seek(0)
    (back,) = read_blocks(out, length)
    return back


@pytest.mark.parametrize("entries", [
    (["a", "b", "b"], [1, 2.5, None]),  # columns
    [("a", [1, 2]), ("b", (True,)), ("c", [b"x", 10**30, "\0"])],  # entries
    [("k", "v"), (1, 2.0)],  # records
    [],
    ([], []),
])
def test_atomic_blocks_round_trip(entries):
    assert _round_trip(entries) == entries


def test_one_object_twice_comes_back_once():
    shared = ["big", "list"]
    back = _round_trip((["a", "b"], [shared, shared]))  # columns
    assert back == (["a", "b"], [shared, shared])
    assert back[1][0] is back[1][1]  # shared, not copied
    back = _round_trip([("a", [shared]), ("b", [shared])])  # entries
    assert back[0][1][0] is back[1][1][0]


def test_a_cycle_comes_back():
    loop: list = ["x"]
    loop.append(loop)
    for block, inner in [((["a"], [loop]), lambda b: b[1][0]),
                         ([("a", [loop])], lambda b: b[0][1][0])]:
        value = inner(_round_trip(block))
        assert value[0] == "x" and value[1] is value


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


def test_objects_round_trip():
    p = Point(3)
    back = _round_trip(([p, p], [Point(4), "v"]))
    assert back == ([p, p], [Point(4), "v"])
    assert back[0][0] is back[0][1]
