"""Blocks of str columns stored as their text: written as the layout says, read back equal
and exact by both readers, and a damaged block refused by both alike."""

from __future__ import annotations

import io
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.format import strcolumns
from minimr.dataflow.format.blocks import read_blocks, write_block

COMPILED = strcolumns.encode is not None
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the compiled writer is not built")
DECODERS = [strcolumns.decode_py] + ([strcolumns.decode] if COMPILED else [])
ASCII = st.text(st.characters(max_codepoint=127), max_size=12)


def layout(keys: list[str], values: list[str]) -> bytes:
    """The block the module docstring describes, built by hand."""
    texts = keys + values
    return (b"S" + struct.pack("<I", len(keys))
            + struct.pack(f"<{len(texts)}I", *map(len, texts)) + "".join(texts).encode())


@needs_compiled
@given(st.lists(st.tuples(ASCII, ASCII), max_size=30))
def test_ascii_columns_are_written_as_the_layout_says_and_read_back(rows):
    """The compiled writer gives the documented layout; both readers give the columns back,
    exact str."""
    keys, values = [k for k, _ in rows], [v for _, v in rows]
    block = strcolumns.encode(keys, values)
    assert block == layout(keys, values)
    for decode in DECODERS:
        got = decode(block)
        assert got == (keys, values)
        assert {type(t) for column in got for t in column} <= {str}


@needs_compiled
@pytest.mark.parametrize("keys, values", [
    (["a", "\xe9"], ["x", "y"]), (["a"], ["\u20ac"]), (["a"], [b"x"]), ([1], ["x"]),
    (["a", type("S", (str,), {})("b")], ["x", "y"]), (["a", "b"], ["x"])],
    ids=["latin-1", "euro", "bytes", "int", "subclass", "unequal"])
def test_other_columns_are_left_to_pickle(keys, values):
    """Anything but exact ASCII str in columns of one length: None (the block is pickled)."""
    assert strcolumns.encode(keys, values) is None


def test_a_segment_block_round_trips_through_the_framing():
    """Written by ``write_block`` and read by ``read_blocks``: the same columns, and other
    blocks (pickled) beside them."""
    out = io.BytesIO()
    blocks = [(["b", "a'"], ["x\\", ""]), (["\xe9"], ["y"]), [("k", [1, 2])]]
    for block in blocks:
        write_block(out, block)
    assert list(read_blocks(io.BytesIO(out.getvalue()), len(out.getvalue()))) == blocks
    if COMPILED:  # the first is stored as text, the second (not ASCII) pickled
        assert out.getvalue()[4:5] == b"S"


DAMAGED = [
    b"", b"S", b"S\x01\x00\x00", b"X" + layout(["a"], ["b"])[1:],
    layout(["a"], ["b"])[:-1], layout(["a"], ["b"]) + b"z",
    b"S\xff\xff\xff\xff" + layout(["a"], ["b"])[5:],
    layout(["a"], ["b"]).replace(b"ab", b"a\xff"),
    b"S\x01\x00\x00\x00\xff\xff\xff\xff\x01\x00\x00\x00ab",
]


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize("block", DAMAGED, ids=[
    "empty", "tag-only", "short-count", "another-tag", "torn", "extra-byte", "huge-count",
    "not-utf-8", "overflowing-length"])
def test_a_damaged_block_is_refused(decode, block):
    """Cut short, lengths that do not add up, or text that is not UTF-8: ValueError."""
    with pytest.raises(ValueError):
        decode(block)


@given(st.binary(max_size=40))
def test_both_readers_agree_on_any_bytes(tail):
    """Whatever follows the tag, the readers give the same columns or both refuse it."""
    block = b"S" + tail
    results = []
    for decode in DECODERS:
        try:
            results.append(decode(block))
        except ValueError:
            results.append("refused")
    assert all(result == results[0] for result in results)


def test_the_compiled_writer_is_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled writer was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert COMPILED
