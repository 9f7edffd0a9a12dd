"""A repr part file's lines of literal records (str, int, float, bool, None, bytes, and tuples
and lists of them): the compiled pass writes the bytes the Python encoding writes (``repr`` of
each, tab, newline, UTF-8), and leaves other records to it."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.format import encodings
from minimr.dataflow.format.encodings import ReprEncoding

COMPILED = encodings.repr_lines is not None
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the compiled lines are not built")


def by_repr(keys: list, values: list) -> bytes:
    return "".join(f"{k!r}\t{v!r}\n" for k, v in zip(keys, values, strict=True)).encode()


def in_python(keys: list, values: list) -> bytes:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(encodings, "repr_lines", None)
        return ReprEncoding().encode(keys, values)


class Text(str):
    """A str subclass: its repr may differ from a str's."""


class Number(int):
    """An int subclass."""


ASCII = [chr(c) for c in range(128)]
# every ASCII character alone, beside each quote, and with both quotes (which repr escapes
# by another rule), and strs beyond ASCII (written through repr)
EDGES = (ASCII + [c + "'" for c in ASCII] + [c + '"' for c in ASCII]
         + [f"'{c}\"" for c in ASCII] + ["", "'", '"', "'\"", "\\'", "a\\b", "\xe9t\xe9",
                                         "\u20ac'", "\ud800", "\U0001f600\n", "\x85", "\xa0"])


@needs_compiled
def test_every_ascii_character_is_written_as_repr_writes_it():
    """Each ASCII character, alone or beside quotes of either kind, as key and as value."""
    lines = encodings.repr_lines(EDGES, EDGES[::-1])
    assert lines == by_repr(EDGES, EDGES[::-1])


@given(st.lists(st.tuples(st.text() | st.integers(), st.text() | st.integers()), max_size=20))
def test_str_and_int_records_are_written_as_in_python(records):
    """Any str and int records: the encoding's bytes are the Python path's and repr's."""
    keys, values = [k for k, _ in records], [v for _, v in records]
    assert ReprEncoding().encode(keys, values) == in_python(keys, values)
    assert ReprEncoding().encode(keys, values) == by_repr(keys, values)


SCALARS = (st.text() | st.integers() | st.floats() | st.booleans() | st.none() | st.binary()
           | st.builds(Text, st.text()) | st.builds(Number, st.integers()))
# literals and near-literals, nested: what a map or reduce yields as keys and values
VALUES = st.recursive(SCALARS, lambda inner: (
    st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    | st.sets(st.integers(), max_size=3)), max_leaves=12)


@given(st.lists(st.tuples(VALUES, VALUES), max_size=12))
def test_nested_records_are_written_as_in_python(records):
    """Any records of nested tuples, lists and scalars (floats with NaN and infinities,
    subclasses, dicts and sets among them): the bytes are the Python path's."""
    keys, values = [k for k, _ in records], [v for _, v in records]
    assert ReprEncoding().encode(keys, values) == in_python(keys, values)


@needs_compiled
@given(st.lists(st.tuples(VALUES, VALUES), max_size=12))
def test_the_compiled_lines_are_repr_or_none(records):
    """The compiled pass writes ``repr`` of each or gives None, never other bytes."""
    keys, values = [k for k, _ in records], [v for _, v in records]
    lines = encodings.repr_lines(keys, values)
    assert lines is None or lines == by_repr(keys, values)


@needs_compiled
def test_a_join_row_an_index_list_and_an_average_are_compiled():
    """The zoo's values are written by the compiled pass: tuples of str, lists of str,
    floats, and the edges of their reprs (a tuple of one, empty ones, -0.0, 1e300)."""
    values = [("Ken", "US", "100001", "85.66"), ["a.txt", "b.txt"], 12.25, ("x",), (), [],
              -0.0, 1e300, (True, None, b"\x00"), [[["deep"]]], ("it's", 'q"')]
    keys = [str(i) for i in range(len(values))]
    assert encodings.repr_lines(keys, values) == by_repr(keys, values)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@needs_compiled
@pytest.mark.parametrize("other", [Text("s"), Number(3), float("nan"), float("-inf"), {1: 2},
                                   {1}, frozenset(), _nested(9)],
                         ids=["str-subclass", "int-subclass", "nan", "infinity", "dict",
                              "set", "frozenset", "nested-deep"])
def test_other_records_are_left_to_python(other):
    """A batch with anything but a literal of the compiled kinds gives None to the caller,
    which writes it as before (a NaN pickled, a dict as its repr)."""
    assert encodings.repr_lines(["a", "b"], ["x", other]) is None
    assert encodings.repr_lines([other, "b"], ["x", "y"]) is None
    assert encodings.repr_lines(["a"], [("x", [other])]) is None
    assert ReprEncoding().encode(["a"], [other]) == in_python(["a"], [other])


@needs_compiled
def test_a_list_holding_itself_is_left_to_python():
    """A list that holds itself has no literal (its repr says ``[...]``): the compiled pass
    gives up at its depth limit rather than recursing."""
    loop: list = []
    loop.append(loop)
    assert encodings.repr_lines(["a"], [loop]) is None


@needs_compiled
def test_unequal_columns_and_unwritable_ints_raise():
    """Columns of different lengths, and an int past Python's digit limit (as repr does)."""
    with pytest.raises(ValueError):
        encodings.repr_lines(["a", "b"], ["x"])
    with pytest.raises(ValueError):
        encodings.repr_lines(["a"], [10 ** (sys.get_int_max_str_digits() + 1)])


def test_the_compiled_lines_are_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled lines were not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert COMPILED
