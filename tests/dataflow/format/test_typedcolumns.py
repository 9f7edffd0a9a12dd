"""Blocks of typed columns (ints, floats, ASCII str, tuples of them) stored unpickled: every
edge value read back equal and of its type by both readers, anything else left to pickle,
and a damaged block refused by both readers alike."""

from __future__ import annotations

import io
import math
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.format import typedcolumns
from minimr.dataflow.format.blocks import read_blocks, write_block

COMPILED = typedcolumns.encode is not None
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the compiled writer is not built")
DECODERS = [typedcolumns.decode_py] + ([typedcolumns.decode] if COMPILED else [])

INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1),
                  st.sampled_from([0, -1, 1, 2**63 - 1, -(2**63), 2**31, -(2**31) - 1]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -1.5]))
ASCII = st.text(st.characters(max_codepoint=127), max_size=10)
FIELDS = {"i": INT64, "f": FLOATS, "s": ASCII}


def same(a, b) -> bool:
    """Equal with the same types all the way down, a NaN equal to a NaN of the same bits and
    -0.0 told from 0.0."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(map(same, a, b))
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


@st.composite
def column(draw, n):
    """A column of ``n`` items of one drawn shape: a field, or a tuple of fields."""
    letters = draw(st.lists(st.sampled_from("ifs"), min_size=1, max_size=4))
    if draw(st.booleans()):
        return [draw(FIELDS[letters[0]]) for _ in range(n)]
    return [tuple(draw(FIELDS[c]) for c in letters) for _ in range(n)]


@st.composite
def columns(draw):
    n = draw(st.integers(1, 12))
    return draw(column(n)), draw(column(n))


@needs_compiled
@given(columns())
def test_every_edge_value_comes_back_with_its_type(block):
    """Ints at the 64-bit bounds, -0.0, NaN, infinities, empty and ASCII str, tuples of
    them: both readers give back what was written, each value of its type."""
    keys, values = block
    data = typedcolumns.encode(keys, values)
    assert data is not None and typedcolumns.is_typed_columns(data)
    for decode in DECODERS:
        got_keys, got_values = decode(data)
        assert type(got_keys) is list and type(got_values) is list
        assert len(got_keys) == len(keys) and all(map(same, got_keys, keys))
        assert len(got_values) == len(values) and all(map(same, got_values, values))


@needs_compiled
def test_the_layout_is_as_documented():
    """``s(fi)``: the tag, the count, the signature, then each field's column in order."""
    data = typedcolumns.encode(["ab", "c"], [(1.5, 2), (-0.0, -3)])
    assert data == (b"T" + struct.pack("<I", 2) + bytes([5]) + b"s(fi)"
                    + struct.pack("<2I", 2, 1) + b"abc"
                    + struct.pack("<2d", 1.5, -0.0) + struct.pack("<2q", 2, -3))


class Str(str):
    pass


class Int(int):
    pass


class Float(float):
    pass


@needs_compiled
@pytest.mark.parametrize("keys, values", [
    (["a"], [True]), (["a"], [(1, False)]), (["a"], [2**63]), (["a"], [-(2**63) - 1]),
    (["\xe9"], [1]), (["a"], ["\u20ac"]), (["a"], [()]), (["a"], [[1, 2]]), (["a"], [None]),
    (["a"], [b"x"]), ([Str("a")], [1]), (["a"], [Int(1)]), (["a"], [Float(1.0)]),
    (["a"], [(Str("x"),)]), (["a", "b"], [1, 2.0]), (["a", "b"], [(1, 2), (1, 2, 3)]),
    (["a", "b"], [(1, 2), [1, 2]]), (["a", 1], [1, 1]), (["a", "b"], [1]), ([], []),
    (["a"], [tuple(range(33))]), (["a"], [((1, 2),)])],
    ids=["bool", "bool-field", "int-past-64", "int-below-64", "latin-1-key", "euro",
         "empty-tuple", "list", "none", "bytes", "str-subclass", "int-subclass",
         "float-subclass", "field-subclass", "int-then-float", "widths", "tuple-then-list",
         "str-then-int-keys", "unequal", "empty", "too-wide", "nested"])
def test_anything_else_is_left_to_pickle(keys, values):
    """A bool, an int past 64 bits, a subclass, other text, other containers, mixed shapes
    or columns of unequal lengths: None (the block is pickled, its types kept)."""
    assert typedcolumns.encode(keys, values) is None


@pytest.mark.parametrize("block", [
    (["a", "b"], [(1.5, 2), (-0.0, 3)]), ([1, 2], [1.0, math.nan]),
    (["a"], [(0, "Ken", "US")]), (["a"], [True]), (["x"], [2**70]), [("k", [1, 2.5])]],
    ids=["average", "numbers", "join", "bool", "big-int", "entries"])
def test_a_block_round_trips_through_the_framing(block):
    """Written by ``write_block`` and read by ``read_blocks``: the same columns, of the same
    types, whether they were stored as typed columns or pickled."""
    out = io.BytesIO()
    write_block(out, block)
    [got] = read_blocks(io.BytesIO(out.getvalue()), len(out.getvalue()))
    assert type(got) is type(block)
    if type(block) is tuple:
        for got_column, column in zip(got, block, strict=True):
            assert len(got_column) == len(column) and all(map(same, got_column, column))
    else:
        assert got == block


GOOD = b"T" + struct.pack("<I", 1) + bytes([4]) + b"s(i)" + struct.pack("<I", 2) + b"ab" \
    + struct.pack("<q", 7)

DAMAGED = [
    b"", b"T", b"T\x01\x00\x00\x00", GOOD[:-1], GOOD + b"z",
    GOOD.replace(b"s(i)", b"s(x)"), GOOD.replace(b"s(i)", b"s()i"),
    GOOD.replace(b"s(i)", b"s(i("), GOOD.replace(b"s(i)", b"si)i"),
    GOOD.replace(b"\x04s(i)", b"\x05s(i)"), GOOD.replace(b"\x04s(i)", b"\xffs(i)"),
    GOOD.replace(b"s(i)", b"sss(")[:-1],
    b"T\xff\xff\xff\xff" + GOOD[5:], GOOD.replace(b"ab", b"a\xff"),
    GOOD.replace(struct.pack("<I", 2), struct.pack("<I", 0xFFFFFFFF)),
    GOOD.replace(struct.pack("<I", 2), struct.pack("<I", 3)),
    b"T\x01\x00\x00\x00\x03iii" + struct.pack("<3q", 1, 2, 3),
]


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize("block", DAMAGED, ids=[
    "empty", "tag-only", "no-signature", "torn", "extra-byte", "unknown-letter",
    "empty-tuple", "unclosed", "stray-close", "signature-overrun", "signature-past-end",
    "one-column", "huge-count", "not-ascii", "overflowing-length", "length-past-text",
    "three-columns"])
def test_a_damaged_block_is_refused(decode, block):
    """Cut short, a signature that is not two columns of known fields, lengths that do not
    add up, or text that is not ASCII: ValueError."""
    with pytest.raises(ValueError):
        decode(block)


@given(st.binary(max_size=60))
def test_both_readers_agree_on_any_bytes(tail):
    """Whatever follows the tag, the readers give the same columns or both refuse it."""
    assert len({outcome(decode, b"T" + tail) for decode in DECODERS}) == 1


def outcome(decode, block: bytes) -> str:
    """What ``decode`` makes of ``block``: the repr of its columns, or "refused"."""
    try:
        return repr(decode(block))
    except ValueError:
        return "refused"


def test_the_compiled_writer_is_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled writer was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert COMPILED
