"""The listed pairs' sort into key and value columns: the compiled twin gives what a stable
``list.sort`` by key gives, or None for what it does not take."""

from __future__ import annotations

import os
from operator import itemgetter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.mapside import keysort
from minimr.dataflow.partition import native_order

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


def test_keys_of_any_width_and_bytes_keys_are_sorted():
    """str keys beyond one byte a character, and bytes keys, are sorted (not None)."""
    for sort in IMPLEMENTATIONS:
        assert sort([("\u20ac", 1), ("a", 2), ("\U0001f600", 3), ("\uffff", 4)]) == (
            ["a", "\u20ac", "\uffff", "\U0001f600"], [2, 1, 4, 3])
        assert sort([(b"\xff", 1), (b"", 2), (b"\x00", 3)]) == ([b"", b"\x00", b"\xff"],
                                                                 [2, 3, 1])


def test_the_compiled_sort_is_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled helper was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert keysort.COMPILED


def by_partition(pairs: list, numbers: list) -> tuple[list, list]:
    places = sorted(range(len(pairs)), key=lambda i: (numbers[i], pairs[i][0]))
    return [pairs[i][0] for i in places], [pairs[i][1] for i in places]


@pytest.mark.parametrize("sort", IMPLEMENTATIONS)
@given(st.lists(st.tuples(st.text(st.sampled_from("ab\x00\xe9"), max_size=9),
                          st.integers(0, 3), st.integers()), max_size=60))
def test_partition_numbers_come_first(sort, rows):
    """Given each pair's partition number, pairs sort stably by number, then by key."""
    pairs = [(key, value) for key, _, value in rows]
    numbers = [number for _, number, _ in rows]
    assert sort(list(pairs), numbers) == by_partition(pairs, numbers)


# -- a secondary sort's pairs: by key, then value -------------------------------------------

COMPOSITE_IMPLEMENTATIONS = [keysort.sorted_composite_columns_py] + (
    [keysort.sorted_composite_columns] if keysort.COMPILED else [])

KEYS = st.text(st.sampled_from("ab\x00\xe9\xff"), max_size=9)
BIG = st.integers(-2**70, 2**70)  # past a C long long both ways
# values of one shape each, as native_order takes them: str (any code point), bytes, int,
# and tuples of such, nested
SHAPES = [
    st.text(st.sampled_from("ab\x00\xe9\u20ac\U0001f600"), max_size=4),
    st.binary(max_size=4),
    st.one_of(st.integers(-3, 3), BIG),
    st.tuples(st.integers(0, 1), st.text(st.sampled_from("xy\u20ac"), max_size=3),
              st.sampled_from(["US", "DE"])),
    st.tuples(st.integers(-2, 2), st.tuples(st.binary(max_size=2), BIG)),
    st.tuples(),
]


def stable_composite(pairs: list, numbers: list | None) -> tuple[list, list]:
    places = sorted(range(len(pairs)), key=lambda i: (
        0 if numbers is None else numbers[i], pairs[i]))
    return [pairs[i][0] for i in places], [pairs[i][1] for i in places]


@pytest.mark.parametrize("sort", COMPOSITE_IMPLEMENTATIONS)
@given(st.sampled_from(SHAPES).flatmap(
    lambda shape: st.lists(st.tuples(KEYS, shape, st.integers(0, 2)), min_size=1,
                           max_size=60)),
       st.booleans())
def test_composite_pairs_sort_as_a_stable_sort_by_key_and_value(sort, rows, numbered):
    """Pairs of str keys and values of one shape come out as a stable sort by (partition
    number, key, value) puts them, with ``native_order``'s signature."""
    pairs = [(key, value) for key, value, _ in rows]
    numbers = [number for *_, number in rows] if numbered else None
    keys, values, signature = sort(list(pairs), numbers)
    assert (keys, values) == stable_composite(pairs, numbers)
    assert signature == native_order(pairs)
    # each value is the object the pair held, not an equal one
    assert sorted(map(id, values)) == sorted(id(v) for _, v in pairs)


def test_composite_edge_values_sort_as_python_compares_them():
    """Equal keys whose values tie on a prefix, differ past a C long long, in bytes above
    0x7f, or in a code point beyond one byte, sort as Python orders the values."""
    values = [(1, "b", b"\xff"), (1, "b", b"\x7f"), (1, "\u20ac", b""), (1, "b", b"\xff\x00"),
              (-2**64, "", b""), (2**64, "", b""), (2**64 + 1, "", b""), (0, "a", b"")]
    pairs = [("k", v) for v in values] + [("j", v) for v in values]
    for sort in COMPOSITE_IMPLEMENTATIONS:
        keys, ordered, _ = sort(list(pairs))
        assert list(zip(keys, ordered, strict=True)) == sorted(pairs)


@pytest.mark.parametrize("pairs", [
    [], [("a", 1), ("b", "x")], [("a", (1, "x")), ("b", (1, "x", "y"))], [("a", True)],
    [("a", 1.5)], [("a", [1])], [("a", 1), (b"b", 2)], [("a", 1), ["b", 2]],
    [("a", (1, None))], [("a", 1), ("b", type("I", (int,), {})(2))]],
    ids=["empty", "mixed", "lengths", "bool", "float", "list", "bytes key", "list pair",
         "none", "int subclass"])
def test_composite_pairs_without_a_signature_give_none(pairs):
    """Pairs without a ``native_order`` signature of str keys give None (sorted as before)."""
    for sort in COMPOSITE_IMPLEMENTATIONS:
        assert sort(list(pairs)) is None


def test_the_compiled_composite_sort_leaves_long_signatures():
    """A signature past what a segment's kind holds (255 bytes) gives None from the compiled
    sort."""
    if not keysort.COMPILED:
        return
    deep = 1
    for _ in range(130):
        deep = (deep,)
    assert len(native_order([("a", deep)])) > 255
    assert keysort.sorted_composite_columns([("a", deep)]) is None


def test_numbers_of_another_length_are_refused():
    """Partition numbers must be one a pair."""
    for sort in IMPLEMENTATIONS + COMPOSITE_IMPLEMENTATIONS:
        with pytest.raises(ValueError, match="2 partition numbers for 1 pairs"):
            sort([("a", 1)], [0, 1])


# -- a counting store's distinct keys ---------------------------------------------------------

KEY_IMPLEMENTATIONS = [keysort.sorted_keys_py] + (
    [keysort.sorted_keys] if keysort.COMPILED else [])


@pytest.mark.parametrize("sort", KEY_IMPLEMENTATIONS)
@given(st.sets(st.text(st.sampled_from("ab\x00\xe9\xff"), max_size=11), max_size=60),
       st.booleans(), st.data())
def test_distinct_keys_sort_by_partition_and_key(sort, keys, numbered, data):
    """Distinct str keys come out sorted by (partition number, key)."""
    keys = list(keys)
    numbers = (data.draw(st.lists(st.integers(0, 3), min_size=len(keys), max_size=len(keys)))
               if numbered else None)
    want = sorted(range(len(keys)), key=lambda i: (0 if numbers is None else numbers[i],
                                                   keys[i]))
    assert sort(list(keys), numbers) == [keys[i] for i in want]


def test_keys_it_does_not_take_give_none():
    """Keys of mixed types, or of a subclass of str or bytes, give None."""
    bytes_subclass = type("B", (bytes,), {})
    for sort in KEY_IMPLEMENTATIONS:
        assert sort(["a", b"b"]) is None
        assert sort([b"a", "b"]) is None
        assert sort(["a", type("S", (str,), {})("b")]) is None
        assert sort([b"a", bytes_subclass(b"b")]) is None
        assert sort([bytes_subclass(b"b")]) is None
        assert sort([1, 2]) is None
        with pytest.raises(ValueError, match="2 partition numbers for 1 keys"):
            sort(["a"], [0, 1])


RUN_IMPLEMENTATIONS = [keysort.sorted_key_runs_py, keysort.sorted_key_runs]


@pytest.mark.parametrize("sort", RUN_IMPLEMENTATIONS)
@given(st.lists(st.tuples(st.sampled_from(EDGES), st.integers(0, 3), st.integers()),
                max_size=60), st.booleans())
def test_runs_of_equal_keys_are_marked_where_they_start(sort, rows, numbered):
    """The columns are ``sorted_columns``' (by partition number first when given), and each
    key is marked True exactly where it or its partition number differs from the one before
    it (the first too)."""
    pairs = [(key, value) for key, _, value in rows]
    numbers = [number for _, number, _ in rows] if numbered else None
    keys, values, firsts = sort(list(pairs), numbers)
    assert (keys, values) == keysort.sorted_columns_py(list(pairs), numbers)
    parts = sorted(numbers) if numbered else [0] * len(keys)
    assert firsts == [i == 0 or keys[i] != keys[i - 1] or parts[i] != parts[i - 1]
                      for i in range(len(keys))]
    assert all(type(flag) is bool for flag in firsts)


def test_runs_of_pairs_it_does_not_take_give_none():
    """What ``sorted_columns`` refuses, ``sorted_key_runs`` refuses."""
    for sort in RUN_IMPLEMENTATIONS:
        assert sort([("a", 1), (b"b", 2)]) is None
        assert sort([("a", 1), ["b", 2]]) is None


FIRSTS = [keysort.run_firsts_py] + ([keysort.run_firsts] if keysort.COMPILED else [])
# keys of every str width (equal texts among them: few letters) or bytes, and look-alikes of
# another width (latin-1 beside UCS-2 and UCS-4 of the same length)
RUN_KEYS = (st.lists(st.text(alphabet="ab\xe9\u20ac\U0001f600", max_size=3), max_size=40)
            | st.lists(st.binary(max_size=2), max_size=40))


@pytest.mark.parametrize("firsts_of", FIRSTS)
@given(RUN_KEYS, st.booleans(), st.data())
def test_run_starts_are_where_the_text_or_the_partition_changes(firsts_of, keys, numbered,
                                                                data):
    """Sorted keys (by partition number first when given) are marked where the key's text
    differs from the one before it or a partition starts, as ``!=`` of neighbours says."""
    numbers = data.draw(st.lists(st.integers(0, 3), min_size=len(keys), max_size=len(keys)))
    order = sorted(range(len(keys)), key=lambda i: (numbers[i], keys[i]) if numbered
                   else keys[i])
    ordered = [keys[i] for i in order]
    parts = [numbers[i] for i in order] if numbered else [0] * len(keys)
    firsts = firsts_of(ordered, numbers if numbered else None)
    assert firsts == [i == 0 or ordered[i] != ordered[i - 1] or parts[i] != parts[i - 1]
                      for i in range(len(ordered))]
    assert all(type(flag) is bool for flag in firsts)


@pytest.mark.skipif(not keysort.COMPILED, reason="the compiled sort is not built")
def test_the_compiled_run_starts_leave_other_keys_to_python():
    """Keys not all exact str or all exact bytes give None (``_with_runs`` then compares
    them in Python); equal texts in separate objects are one run."""
    text = type("Text", (str,), {})
    assert keysort.run_firsts(["a", b"a"]) is None
    assert keysort.run_firsts(["a", text("b")]) is None
    assert keysort.run_firsts([1, 2]) is None
    assert keysort.run_firsts(["ab", "".join(["a", "b"]), "b"]) == [True, False, True]
    with pytest.raises(ValueError, match="2 partition numbers for 1 keys"):
        keysort.run_firsts(["a"], [0, 1])


GATHERS = [keysort.gather_py] + ([keysort.gather] if keysort.COMPILED else [])


@pytest.mark.parametrize("gather", GATHERS)
@given(st.lists(st.text(max_size=3) | st.integers() | st.none(), max_size=30), st.data())
def test_gather_takes_the_items_at_the_places(gather, column, data):
    """The items of ``column`` at ``places``, in the places' order, repeats allowed; a place
    out of the column (negative or past its end) is an IndexError, as for no list index."""
    places = data.draw(st.lists(st.integers(0, max(len(column) - 1, 0)), max_size=40)
                       if column else st.just([]))
    assert gather(column, places) == [column[i] for i in places]
    for wrong in (len(column), -1):
        with pytest.raises(IndexError):
            gather(column, [*places, wrong])
