"""The listed pairs' sort into key and value columns: the compiled twin gives what a stable
``list.sort`` by key gives, or None for what it does not take."""

from __future__ import annotations

import os
from operator import itemgetter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.mapside import keysort

IMPLEMENTATIONS = [keysort.sorted_columns_py] + (
    [keysort.sorted_columns] if keysort.COMPILED else [])


def stable_sorted(pairs: list) -> tuple[list, list]:
    ordered = sorted(pairs, key=itemgetter(0))
    return [k for k, _ in ordered], [v for _, v in ordered]


# keys that share their first 8 bytes, are prefixes of others, end in NUL or in bytes above
# 0x7f (compared unsigned), and repeat (ties kept in input order: values tell them apart)
EDGES = ["", "\x00", "a", "a\x00", "a\x00\x00", "abcdefgh", "abcdefgh\x00", "abcdefghi",
         "abcdefgha", "abcdefg", "\xff", "\x7f", "\x80", "\xe9t\xe9", "zz", "a", "abcdefghi"]


@pytest.mark.parametrize("sort", IMPLEMENTATIONS)
def test_edge_keys_sort_as_a_stable_sort_by_key(sort):
    """Keys that differ only past 8 bytes, in length, or in bytes above 0x7f, and keys that
    repeat, come out as a stable sort by key puts them, each with its own value."""
    pairs = [(key, i) for i, key in enumerate(EDGES * 3)]
    assert sort(list(pairs)) == stable_sorted(pairs)


@pytest.mark.parametrize("sort", IMPLEMENTATIONS)
@given(st.lists(st.tuples(st.text(st.sampled_from("ab\x00\xe9\xff"), max_size=11),
                          st.integers()), max_size=60))
def test_latin1_keys_sort_as_a_stable_sort_by_key(sort, pairs):
    """Any str keys of code points below 256 sort as a stable ``list.sort`` by key does."""
    assert sort(list(pairs)) == stable_sorted(pairs)


@pytest.mark.parametrize("pairs", [
    [("a", 1), ["b", 2]], [("a", 1), ("b", 2, 3)], [("a", 1), (b"b", 2)],
    [("a", 1), (type("S", (str,), {})("b"), 2)]], ids=["list", "triple", "bytes", "subclass"])
def test_pairs_it_does_not_take_give_none(pairs):
    """A pair that is not an exact tuple of two, or a key not an exact str, gives None."""
    for sort in IMPLEMENTATIONS:
        assert sort(pairs) is None


def test_the_compiled_sort_leaves_wider_keys_to_list_sort():
    """A key beyond one byte a character: the compiled sort gives None (the caller sorts)."""
    if keysort.COMPILED:
        assert keysort.sorted_columns([("a", 1), ("\u20ac", 2)]) is None


def test_the_compiled_sort_is_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled helper was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert keysort.COMPILED
