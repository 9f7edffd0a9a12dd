"""Framed pickle blocks: what goes in comes back, sharing and cycles included."""

from __future__ import annotations

import io
import pickle
import threading

import pytest

from minimr.dataflow.format.blocks import read_blocks, write_block
from minimr.dataflow.format.unpicklable import UnpicklableRecord


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


def test_columns_of_flat_tuples_are_pickled_without_the_memo(monkeypatch):
    """A column of tuples of atomic values (a join's rows) takes the memo-less pickler and
    comes back equal, types kept; a tuple holding a list, or a column mixing tuples with
    other values, keeps the memo."""
    from minimr.dataflow.format import blocks

    fast = []
    monkeypatch.setattr(blocks, "_dumps", lambda block: fast.append(block) or pickle.dumps(block))
    rows = (["7", "7"], [(0, "Ada", b"US"), (1, 2.5, None)])
    assert _round_trip(rows) == rows and len(fast) == 1
    assert [type(v) for v in _round_trip(rows)[1][1]] == [int, float, type(None)]
    _round_trip((["7"], [(0, ["list"])]))
    _round_trip((["7", "8"], [(0, "a"), "b"]))
    assert len(fast) == 2  # the second round trip of rows only


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


def _local_function():
    def inner():
        pass
    return inner


def _nested(depth):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


class _RefusesPickling:
    def __reduce__(self):
        raise pickle.PicklingError("not this one")


UNPICKLABLE = {  # every way pickling fails, each with the type the report names
    "TypeError": (threading.Lock(), "_thread.lock"),
    "AttributeError": (_local_function(), "function"),
    "PicklingError": (_RefusesPickling(), "_RefusesPickling"),
    "RecursionError": (_nested(100_000), "list"),
}


@pytest.mark.parametrize("kind", UNPICKLABLE)
@pytest.mark.parametrize("shape", ["columns", "entries", "records"])
def test_a_block_that_cannot_be_pickled_names_its_key_and_culprit(kind, shape):
    """Whatever the pickling error and the block's shape, writing it raises
    UnpicklableRecord with the offending pair's key, the culprit and the error."""
    bad, type_name = UNPICKLABLE[kind]
    if shape == "columns":
        block = (["a", "b", "c"], [1, bad, 3])
    elif shape == "entries":
        block = [("a", [1]), ("b", [2, bad]), ("c", [3])]
    else:
        block = [("a", 1), ("b", bad), ("c", 3)]
    with pytest.raises(UnpicklableRecord) as info:
        write_block(io.BytesIO(), block, records=shape == "records")
    found = info.value
    assert found.key == "b" and found.culprit is bad and not found.in_key
    assert type(found.__cause__).__name__ == kind
    assert found.type_name == type_name or found.type_name.endswith("." + type_name)


def test_an_unpicklable_key_is_reported_as_the_key():
    """A key that cannot be pickled is the culprit itself, reported as a key."""
    lock = threading.Lock()
    with pytest.raises(UnpicklableRecord) as info:
        write_block(io.BytesIO(), [("a", [1]), (lock, [2])])
    assert info.value.in_key and info.value.culprit is lock and info.value.key is lock
