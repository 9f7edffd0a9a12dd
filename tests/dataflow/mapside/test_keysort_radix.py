"""The compiled radix sort of keys against its pure-Python twin: for any batch of keys and
partition numbers, both give the same keys and values, the very objects, in the same order
(or both None)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.mapside import keysort

needs_compiled = pytest.mark.skipif(not keysort.COMPILED, reason="the compiled sort is not built")

# code points at the edges of UTF-8's lengths, lone surrogates (surrogateescape's), astral ones
EDGE_CHARS = ["a", "b", "\x00", "\x7f", "\x80", "\xe9", "\xff", "\u0100", "\u07ff", "\u0800",
              "\u20ac", "\ud800", "\udc80", "\udfff", "\ue000", "\uffff", "\U00010000",
              "\U0001f600", "\U0010ffff"]
# prefixes of 8 bytes or more shared by many keys (the radix sort's ties)
SHARED = ["", "abcdefgh", "abcdefg\xe9", "\u20ac\u20ac\u20ac", "user_0000", "\U0001f600" * 2]

TEXT = st.one_of(
    st.text(max_size=20),  # any code point but surrogates
    st.text(st.sampled_from(EDGE_CHARS), max_size=12),
    st.builds(str.__add__, st.sampled_from(SHARED),
              st.text(st.sampled_from(["a", "\x00", "\xff", "\u20ac", "\udc80"]), max_size=4)),
)
BYTE = st.sampled_from([0, 1, 0x61, 0x7f, 0x80, 0xc3, 0xfe, 0xff])
BINARY = st.one_of(
    st.binary(max_size=20),
    st.lists(BYTE, max_size=12).map(bytes),
    st.builds(bytes.__add__, st.sampled_from([b"", b"\x00" * 8, b"\xff" * 9, b"abcdefgh"]),
              st.lists(BYTE, max_size=4).map(bytes)),
)


# prefixes past 16 bytes shared by a whole batch: the radix sort takes the next 8 bytes of
# each tie, again and again, a character's UTF-8 straddling their edges
LONG_TEXT = ["https://example.com/items/", "ab\u20ac" * 6, "x" * 7 + "\xe9" * 5,
             "\x00" * 20, "\U0001f600" * 5 + "a", "\udc80" * 6]
LONG_BINARY = [b"https://example.com/items/", b"\x00" * 20, b"\xff" * 17]


def long_shared(prefixes: list, suffixes: st.SearchStrategy) -> st.SearchStrategy:
    """33 to 150 keys, all one long prefix and a short suffix (or none)."""
    return st.builds(lambda prefix, ends: [prefix + end for end in ends],
                     st.sampled_from(prefixes), st.lists(suffixes, min_size=33, max_size=150))


def near_the_threshold(keys: st.SearchStrategy) -> st.SearchStrategy:
    """Buckets of 28 to 36 keys sharing a first byte: either side of the radix sort's 32."""
    return st.integers(28, 36).flatmap(lambda size: st.lists(
        st.tuples(st.sampled_from(["x", "y"]), keys), min_size=size, max_size=2 * size))


def batches(keys: st.SearchStrategy) -> st.SearchStrategy:
    """Lists of keys: empty, one, all equal, random, and bucket sizes about the threshold."""
    return st.one_of(
        st.lists(keys, max_size=1),
        st.builds(lambda key, times: [key] * times, keys, st.integers(2, 80)),
        st.lists(keys, max_size=200),
        st.lists(keys, min_size=30, max_size=400),
    )


def text_batches() -> st.SearchStrategy:
    return st.one_of(batches(TEXT), near_the_threshold(TEXT).map(
        lambda rows: [first + key for first, key in rows]), long_shared(LONG_TEXT, st.text(
            st.sampled_from(["a", "\x00", "\xff", "\u20ac", "\U0001f600", "\udc80"]),
            max_size=10)))


def binary_batches() -> st.SearchStrategy:
    return st.one_of(batches(BINARY), near_the_threshold(BINARY).map(
        lambda rows: [first.encode() + key for first, key in rows]), long_shared(
            LONG_BINARY, st.lists(BYTE, max_size=10).map(bytes)))


@st.composite
def numbered(draw, keys: list) -> list[int] | None:
    """No partition numbers, a few partitions, or many (some empty)."""
    top = draw(st.sampled_from([None, 0, 3, 300]))
    if top is None:
        return None
    return draw(st.lists(st.integers(0, top), min_size=len(keys), max_size=len(keys)))


def same_objects(got, want) -> None:
    assert (got is None) == (want is None)
    if want is not None:
        assert got == want
        for got_column, want_column in zip(got, want, strict=True):
            assert list(map(id, got_column)) == list(map(id, want_column))


@needs_compiled
@settings(max_examples=300)
@given(st.one_of(text_batches(), binary_batches()), st.data())
def test_columns_as_the_twin_sorts_them(keys, data):
    """Pairs of str or bytes keys come out in the twin's order, each value with its key."""
    pairs = [(key, object()) for key in keys]
    numbers = data.draw(numbered(keys))
    want = keysort.sorted_columns_py(list(pairs), numbers)
    same_objects(keysort.sorted_columns(list(pairs), numbers), want)


@needs_compiled
@settings(max_examples=300)
@given(st.one_of(text_batches(), binary_batches()), st.data())
def test_keys_as_the_twin_sorts_them(keys, data):
    """Distinct str or bytes keys come out in the twin's order."""
    keys = list(dict.fromkeys(keys))
    numbers = data.draw(numbered(keys))
    want = keysort.sorted_keys_py(list(keys), numbers)
    same_objects([keysort.sorted_keys(list(keys), numbers)], [want])


@needs_compiled
@settings(max_examples=200)
@given(text_batches(), st.data())
def test_composite_columns_as_the_twin_sorts_them(keys, data):
    """A secondary sort's pairs (str keys, values of one signature) in the twin's order."""
    values = data.draw(st.lists(st.tuples(st.integers(-2, 2), st.text(max_size=3)),
                                min_size=len(keys), max_size=len(keys)))
    pairs = list(zip(keys, values, strict=True))
    numbers = data.draw(numbered(keys))
    want = keysort.sorted_composite_columns_py(list(pairs), numbers)
    got = keysort.sorted_composite_columns(list(pairs), numbers)
    same_objects(got and got[:2], want and want[:2])
    assert (got and got[2]) == (want and want[2])


@needs_compiled
@pytest.mark.parametrize("keys", [
    ["a", b"b"], [b"a", "b"], ["a", type("S", (str,), {})("b")],
    [b"a", type("B", (bytes,), {})(b"b")], [type("S", (str,), {})("b")], [1, 2], [None]],
    ids=["str bytes", "bytes str", "str subclass", "bytes subclass", "subclass alone", "int",
         "none"])
def test_mixed_types_and_subclasses_are_left_to_the_caller(keys):
    """Keys of mixed types or of subclasses of str or bytes: None from both, so the caller's
    general path keeps their exact type and order."""
    pairs = [(key, i) for i, key in enumerate(keys)]
    for sort in (keysort.sorted_columns, keysort.sorted_columns_py):
        assert sort(list(pairs)) is None
    for sort in (keysort.sorted_keys, keysort.sorted_keys_py):
        assert sort(list(keys)) is None


@needs_compiled
def test_partition_numbers_out_of_range_are_left_to_the_caller():
    """A negative partition number, or one past the compiled sort's cap, gives None."""
    for numbers in ([0, -1], [0, 1 << 16]):
        assert keysort.sorted_keys(["a", "b"], numbers) is None
        assert keysort.sorted_columns([("a", 1), ("b", 2)], numbers) is None


@needs_compiled
def test_a_large_batch_sorts_as_the_twin():
    """Batches large enough for several radix levels (60,000 keys; URLs that tie on their
    first 20 bytes and more) in the twin's order."""
    import random
    rng = random.Random(5)
    keys = ["".join(rng.choices("abcdefghij\xe9\u20ac", k=rng.randint(0, 12)))
            for _ in range(60_000)]
    numbers = [rng.randrange(7) for _ in keys]
    pairs = [(key, i) for i, key in enumerate(keys)]
    assert keysort.sorted_columns(list(pairs), numbers) == keysort.sorted_columns_py(
        list(pairs), numbers)
    assert keysort.sorted_columns(list(pairs)) == keysort.sorted_columns_py(list(pairs))
    unique = list(dict.fromkeys(key.encode() for key in keys))
    assert keysort.sorted_keys(unique) == sorted(unique)
    paths = ["a", "\xe9", "\u20ac"]
    urls = [f"https://example.com/{rng.choice(paths)}/{rng.randrange(10**6)}"
            for _ in range(60_000)]
    pairs = [(url, i) for i, url in enumerate(urls)]
    assert keysort.sorted_columns(list(pairs), numbers) == keysort.sorted_columns_py(
        list(pairs), numbers)


# -- the cut per partition ---------------------------------------------------------------------

SLICERS = [keysort.take_slices_py] + ([keysort.take_slices] if keysort.COMPILED else [])
COUNTERS = [keysort.partition_sizes_py] + (
    [keysort.partition_sizes] if keysort.COMPILED else [])


@pytest.mark.parametrize("take", SLICERS)
@given(st.lists(st.integers(0, 5), max_size=8), st.data())
def test_slices_take_the_items_and_empty_the_column(take, sizes, data):
    """The slices are the column's consecutive runs of each size, the very objects (their
    reference counts as before), and the column is left empty."""
    import sys
    column = [object() for _ in range(sum(sizes))]
    want = [column[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(len(sizes))]
    counts = [sys.getrefcount(item) for item in column]
    parts = take(column, sizes)
    assert column == []
    assert [list(map(id, part)) for part in parts] == [list(map(id, part)) for part in want]
    del want
    assert [sys.getrefcount(item) for part in parts for item in part] == [
        count - 1 for count in counts]  # the column's now the part's; less ``want``'s


@pytest.mark.parametrize("take", SLICERS)
@pytest.mark.parametrize("sizes", [[1], [3, -1], [2, 2]], ids=["short", "negative", "long"])
def test_slices_that_do_not_add_up_are_refused(take, sizes):
    """Sizes that do not add up to the column's length (or a negative one): ValueError, and
    the column is kept whole."""
    column = ["a", "b"]
    with pytest.raises(ValueError, match="slices of sizes"):
        take(column, sizes)
    assert column == ["a", "b"]


@pytest.mark.parametrize("count", COUNTERS)
@given(st.sampled_from([1, 3, 16, 17, 40]).flatmap(lambda partitions: st.tuples(
    st.just(partitions), st.lists(st.integers(0, partitions - 1), max_size=100))))
def test_partition_sizes_count_each_partitions_numbers(count, case):
    """Each partition's size is how many numbers are its own."""
    partitions, numbers = case
    assert count(numbers, partitions) == [numbers.count(p) for p in range(partitions)]


@pytest.mark.parametrize("count", COUNTERS)
def test_partition_numbers_outside_are_refused(count):
    """A number below 0 or from ``partitions`` on: ValueError."""
    for numbers in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match="partition number"):
            count(numbers, 3)


@needs_compiled
@pytest.mark.parametrize("kind", [str, bytes])
def test_keys_that_split_one_off_at_every_byte_sort_as_the_twin(kind):
    """Keys built so that each byte splits one key off the rest (a radix sort as deep as the
    keys are long, here 400 levels) sort as the twin sorts them: the recursion stops at a
    bounded depth and the comparisons finish."""
    keys = ["a" * i + "b" for i in range(400)] + ["a" * 400]
    if kind is bytes:
        keys = [key.encode() for key in keys]
    pairs = [(key, i) for i, key in enumerate(reversed(keys))]
    assert keysort.sorted_columns(list(pairs)) == keysort.sorted_columns_py(list(pairs))
    assert keysort.sorted_keys(list(keys), [0] * len(keys)) == sorted(keys)
