"""Partitioning and key order: stable across processes, total over mixed types."""

from __future__ import annotations

import datetime
import itertools
import json
import os
import random
import subprocess
import sys
import zlib
from decimal import Decimal
from fractions import Fraction
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow import partition
from minimr.dataflow.partition import (
    HashPartitioner,
    RangePartitioner,
    choose_boundaries,
    native_order,
    sort_key,
    sort_keys,
    stable_hash,
)

KEYS = ["the", "whale", "", "ünïcode", 7, -3, 2.5, None, True, b"raw", ("a", 1), ("a", (2, "b")),
        frozenset({"x", "y", "z"}), [1, 2], {"k": 1, "j": 2}]

PROBE = """
import json, sys
from minimr.dataflow.partition import HashPartitioner
keys = %r
p = HashPartitioner(13)
print(json.dumps([p(k) for k in keys]))
"""


def test_partition_is_stable_across_hash_seeds():
    """The same keys land in the same partitions under different PYTHONHASHSEED values."""
    results = set()
    for seed in ("0", "1", "12345", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", PROBE % (KEYS,)], env=env,
                              capture_output=True, text=True, check=True)
        results.add(tuple(json.loads(done.stdout)))
    assert len(results) == 1


def test_equal_keys_hash_alike():
    """Keys that compare equal (1, 1.0, True) meet in the same partition."""
    assert stable_hash(1) == stable_hash(1.0) == stable_hash(True)
    assert stable_hash((1, "a")) == stable_hash((1.0, "a"))
    assert stable_hash(frozenset({"a", "b"})) == stable_hash(frozenset({"b", "a"}))


def test_equal_numbers_of_every_kind_hash_and_sort_together():
    """1, 1.0, True, Decimal('1.0') and Fraction(2, 2) (and 0.5, Decimal('0.5'), Fraction(1, 2))
    are equal, so they hash alike and sort next to each other, with other keys between none."""
    ones = [1, 1.0, True, Decimal("1.0"), Fraction(2, 2)]
    halves = [0.5, Decimal("0.5"), Fraction(1, 2)]
    assert len({stable_hash(k) for k in ones}) == 1 and len({stable_hash(k) for k in halves}) == 1
    mixed = [Decimal("2.5"), *ones, 3, *halves, Fraction(1, 3), -0.0, Decimal("NaN"), 0.75]
    ordered = sorted(mixed, key=sort_key)
    runs = [[k for k in ordered if k == group[0]] for group in (ones, halves)]
    for run, group in zip(runs, (ones, halves), strict=True):
        start = next(i for i, k in enumerate(ordered) if k == group[0])
        assert ordered[start : start + len(group)] == run and len(run) == len(group)
    assert sort_key(Decimal("sNaN")) == sort_key(float("nan"))


def test_sets_sort_by_their_canonical_bytes():
    """Sets order by their canonical encoding, a total order (``<`` is inclusion: {2} < {1, 2}
    beside bytes for the rest would make a cycle with {1, 5}), so equal sets are neighbours
    whatever order they are sorted from."""
    two, one_two, one_five = frozenset({2}), frozenset({1, 2}), frozenset({1, 5})
    for keys in itertools.permutations([two, one_two, one_five, frozenset({2.0})]):
        ordered = sorted(keys, key=sort_key)
        at = [i for i, k in enumerate(ordered) if k == two]
        assert at[1] - at[0] == 1, ordered


def test_hash_partitions_spread_keys():
    """Many distinct keys spread over all partitions roughly evenly."""
    p = HashPartitioner(8)
    counts = [0] * 8
    for i in range(8000):
        counts[p(f"key{i}")] += 1
    assert min(counts) > 700


def test_sort_key_matches_python_order_for_comparable_keys():
    """Among mutually comparable keys the order is Python's own."""
    words = ["b", "a", "ä", "B", "", "ab"]
    assert sort_keys(words) == sorted(words)
    numbers = [3, 1.5, -2, 0, 10**30, 2.0]
    assert sorted(numbers, key=sort_key) == sorted(numbers)
    tuples = [("b", 1), ("a", 2), ("a", 1)]
    assert sorted(tuples, key=sort_key) == sorted(tuples)
    dates = [datetime.date(2024, 1, 3), datetime.date(2023, 5, 1)]
    assert sorted(dates, key=sort_key) == sorted(dates)


def test_sort_key_orders_mixed_types_deterministically():
    """Keys Python cannot compare still sort, the same way whatever the input order."""
    first = sorted(KEYS, key=sort_key)
    second = sorted(reversed(KEYS), key=sort_key)
    assert [repr(k) for k in first] == [repr(k) for k in second]


def test_range_partitioner_gives_total_order():
    """Range partitions are contiguous: every key of part i sorts before every key of i+1."""
    keys = [f"{i:05d}" for i in range(0, 1000, 7)]
    p = RangePartitioner(choose_boundaries(keys, 4))
    parts = [p(k) for k in sorted(keys)]
    assert parts == sorted(parts)
    assert set(parts) == {0, 1, 2, 3}


def test_choose_boundaries_drops_duplicates():
    """A sample with few distinct keys gives fewer, strictly increasing boundaries."""
    assert choose_boundaries(["a"] * 50 + ["b"] * 50, 4) == ["a", "b"]
    assert choose_boundaries([], 4) == []


def test_partition_many_agrees_with_one_by_one():
    """The list form of both partitioners gives what calling them per key gives."""
    words = [f"w{i * 37 % 101}" for i in range(300)]
    mixed = words[:50] + [3, 1.5, ("t", 1), None, b"raw"]
    hashing = HashPartitioner(7)
    ranging = RangePartitioner(choose_boundaries(words, 5))
    for p in (hashing, ranging):
        for keys in (words, mixed):
            assert p.partition_many(keys) == [p(k) for k in keys]


STR_PATHS = ["python"] + (["compiled"] if partition._str_partitions is not None else [])


@pytest.mark.parametrize("path", STR_PATHS)
@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.one_of(
           st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
           st.text(alphabet="az\x00\x7f", max_size=20)), max_size=30),
       partitions=st.one_of(st.integers(1, 300), st.sampled_from([2**31, 2**32, 2**32 + 1, 2**40])),
       other=st.sampled_from([None, b"a", 1, True]))
def test_str_keys_partition_numbers_are_those_of_one_by_one(path, keys, partitions, other):
    """A hashed partitioner's numbers of str keys (ASCII, non-ASCII, lone surrogates, NUL,
    empty), from the compiled pass or from C calls, are each key's ``crc32(key_bytes(key))
    % partitions``, past 2**32 partitions too; one key of another type takes the general
    path, to the same numbers."""
    hashing = HashPartitioner(partitions)
    want = [zlib.crc32(partition.key_bytes(k)) % partitions for k in keys]
    with mock.patch.object(partition, "_str_partitions",
                           None if path == "python" else partition._str_partitions):
        assert hashing.partition_many(keys) == want
        assert hashing.partition_many([*keys, other]) == [*want, hashing(other)]


def test_the_compiled_partition_numbers_are_built_where_required():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when ``_partitions`` was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert partition._str_partitions is not None


@pytest.mark.skipif(partition._str_partitions is None, reason="_partitions not built")
def test_the_compiled_partition_numbers_refuse_other_keys_and_no_partitions():
    """The compiled pass gives None for a list with a key that is not an exact str (a str
    subclass included), and refuses fewer than one partition."""

    class Text(str):
        pass

    seed = zlib.crc32(b"s")
    assert partition._str_partitions([], 3, seed) == []
    assert partition._str_partitions(["a", Text("b")], 3, seed) is None
    assert partition._str_partitions(["a", b"b"], 3, seed) is None
    with pytest.raises(ValueError, match="0 partitions"):
        partition._str_partitions(["a"], 0, seed)


def test_starts_of_sorted_cut_where_partition_many_changes():
    """For sorted str keys, the range partitioner's cut points are where the partition
    numbers of its keys step up (keys equal to a boundary included); other keys, and hashed
    partitions, have none."""
    keys = sorted([f"{i % 300:04d}" for i in range(900)] + ["0100", "0200"])
    ranging = RangePartitioner(["0100", "0200", "0250"])
    numbers = ranging.partition_many(keys)
    starts = ranging.starts_of_sorted(keys)
    assert starts == [numbers.index(p) for p in range(4)]
    assert ranging.starts_of_sorted([]) is None
    assert ranging.starts_of_sorted([b"0001", b"0300"]) is None
    assert RangePartitioner([1, 5]).starts_of_sorted(["a"]) is None
    assert HashPartitioner(4).starts_of_sorted(keys) is None


@pytest.mark.parametrize(("items", "signature"), [
    (["b", "a"], b"s"), ([b"x"], b"b"), ([3, -1], b"i"),
    ([("k", (0, "ann", "US")), ("k", (1, "o7", "9.50"))], b"(s(iss))"), ([()], b"()"),
    ([1, True], None), ([1, 1.0], None), (["a", 1], None), ([("a",), ("a", "b")], None),
    ([(1, "a"), ("a", 1)], None), ([(1.5,)], None), ([], None),
])
def test_native_order_names_lists_that_compare_plainly_in_minimrs_order(items, signature):
    """str, bytes, int (never bool) and tuples of one length of such items, position by
    position, have a signature; mixed types, floats and ragged tuples do not."""
    assert native_order(items) == signature


def test_lists_of_a_native_signature_sort_plainly_as_sort_key_sorts_them():
    """For random tagged rows (str keys, (int, str, int) values) plain sorting is minimr's."""
    rng = random.Random(11)
    rows = [(rng.choice("abcé"), (rng.randrange(2), rng.choice(["", "x", "é", "xy"]),
                                   rng.randrange(-5, 5))) for _ in range(2000)]
    assert native_order(rows) == b"(s(isi))"
    assert sorted(rows) == sorted(rows, key=sort_key)
