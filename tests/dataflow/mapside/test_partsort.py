"""A spill's keys cut into partitions: each part holds exactly its keys, in minimr's order.

``PartitionSorter`` splits first (few hash partitions), sorts then cuts (many, or a range
partitioner), cuts at a range partitioner's boundaries, and sorts wrapped (unhashable) keys by
the key they hold; whichever way, the parts must equal a plain per-key model.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.mapside import keysort, partsort
from minimr.dataflow.mapside.pairstore import Groups, unwrap
from minimr.dataflow.mapside.partsort import SPLIT_FIRST_PARTITIONS, PartitionSorter
from minimr.dataflow.partition import (
    HashPartitioner,
    RangePartitioner,
    natively_sortable,
    sort_key,
)

mixed_keys = st.one_of(st.text(max_size=4), st.integers(-5, 5), st.binary(max_size=3),
                       st.tuples(st.integers(0, 2), st.text(max_size=2)))


def model(keys, partitioner, partitions):
    """Each partition's keys, sorted by ``sort_key``: one key at a time."""
    parts: list[list] = [[] for _ in range(partitions)]
    for key in keys:
        parts[partitioner(key)].append(key)
    return [sorted(part, key=sort_key) for part in parts]


@settings(max_examples=150, deadline=None)
@given(keys=st.one_of(st.sets(st.text(max_size=5), max_size=80),
                      st.sets(mixed_keys, max_size=80)),
       partitions=st.sampled_from([1, 2, 3, SPLIT_FIRST_PARTITIONS,
                                   SPLIT_FIRST_PARTITIONS + 1, 40]))
def test_hash_partitions_hold_their_keys_sorted(keys, partitions):
    """Split first or sorted then cut, each hash partition is its keys in minimr's order."""
    keys = list(keys)
    partitioner = HashPartitioner(partitions)
    sorter = PartitionSorter(partitioner, partitions)
    got = sorter.partition_keys(list(keys), wrapped=False, native=natively_sortable(keys))
    assert got == model(keys, partitioner, partitions)


@settings(max_examples=100, deadline=None)
@given(keys=st.sets(st.text(alphabet="abcdef", max_size=3), max_size=60),
       boundaries=st.lists(st.text(alphabet="abcdef", max_size=2), max_size=3, unique=True),
       partitions=st.integers(1, 5))
def test_range_partitions_are_cut_at_their_boundaries(keys, boundaries, partitions):
    """A range partitioner's parts, cut where boundaries fall in the sorted keys; fewer
    boundaries than partitions leave the last parts empty, not missing."""
    keys = list(keys)
    boundaries = sorted(boundaries)[:partitions - 1]
    partitioner = RangePartitioner(boundaries)
    sorter = PartitionSorter(partitioner, partitions)
    got = sorter.partition_keys(list(keys), wrapped=False, native=True)
    assert len(got) == partitions
    assert got == model(keys, partitioner, partitions)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(mixed_keys, st.integers()), max_size=60),
       partitions=st.sampled_from([1, 3, 40]))
def test_columns_follow_their_keys_through_the_cut(pairs, partitions):
    """Lists parallel to the sorted keys are sliced with them: every value stays beside its
    key, and the keys of each slice are that partition's, still in order."""
    pairs.sort(key=lambda pair: sort_key(pair[0]))
    keys = [k for k, _ in pairs]
    values = [v for _, v in pairs]
    partitioner = HashPartitioner(partitions)
    sorter = PartitionSorter(partitioner, partitions)
    parts = list(sorter.cut(keys, values, native=natively_sortable(keys)))
    assert len(parts) == partitions
    for p, (part_keys, part_values) in enumerate(parts):
        assert list(zip(part_keys, part_values, strict=True)) == [
            (k, v) for k, v in pairs if partitioner(k) == p]


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.one_of(st.lists(st.integers(0, 3), max_size=2), st.text(max_size=2)),
                     max_size=40),
       partitions=st.sampled_from([1, 2, 40]))
def test_wrapped_keys_are_partitioned_and_sorted_by_the_key_they_hold(keys, partitions):
    """Unhashable keys, wrapped to be grouped, go to the partition of the key they hold and
    sort by it."""
    groups = Groups()
    groups.append([(k, 0) for k in keys])
    taken = groups.take()
    stored = list(taken.sources)
    partitioner = HashPartitioner(partitions)
    sorter = PartitionSorter(partitioner, partitions)
    want = model(list(map(unwrap, stored)), partitioner, partitions)
    got = sorter.partition_keys(stored, wrapped=taken.wrapped, native=False)  # takes stored
    assert [list(map(unwrap, part)) for part in got] == want


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.text(max_size=4), st.integers()), max_size=60),
       partitions=st.sampled_from([1, 2, 3, 40]),
       ranged=st.booleans())
def test_keys_grouped_by_their_numbers_are_cut_by_the_counts(pairs, partitions, ranged):
    """Keys sorted by the partition numbers ``numbers_to_group`` gives, then by key, are cut
    into each partition's pairs, in order; a range partitioner (or one partition) asks for no
    numbers, its sorted keys cut where the boundaries fall."""
    partitioner = (RangePartitioner(["b", "m"][:partitions - 1]) if ranged
                   else HashPartitioner(partitions))
    if ranged:
        partitions = partitioner.partitions
    sorter = PartitionSorter(partitioner, partitions)
    numbers = sorter.numbers_to_group([k for k, _ in pairs])
    assert (numbers is None) == (ranged or partitions == 1)
    places = sorted(range(len(pairs)), key=lambda i: (
        0 if numbers is None else numbers[i], pairs[i][0]))
    keys = [pairs[i][0] for i in places]
    values = [pairs[i][1] for i in places]
    parts = list(sorter.cut(keys, values, native=True, numbers=numbers))
    assert len(parts) == partitions
    for p, (part_keys, part_values) in enumerate(parts):
        assert list(zip(part_keys, part_values, strict=True)) == sorted(
            [(k, v) for k, v in pairs if partitioner(k) == p], key=lambda pair: pair[0])


@given(keys=st.lists(st.binary(max_size=10), max_size=60))
def test_minimrs_order_of_bytes_is_their_byte_order(keys):
    """``sort_key`` orders bytes keys as plain comparisons do (unsigned bytes, a prefix
    first): what lets ``keysort`` sort them by their bytes."""
    assert sorted(keys, key=sort_key) == sorted(keys)
    assert natively_sortable(keys) or not keys


@pytest.mark.parametrize("twin", ["sorted_keys", "sorted_keys_py"])
@settings(max_examples=100, deadline=None)
@given(keys=st.sets(st.one_of(st.binary(max_size=10), st.sampled_from(
           [b"", b"\x00", b"\xff", b"\x00" * 9, b"\xff" * 9, b"abcdefgh", b"abcdefgh\x00"])),
           max_size=80),
       partitions=st.sampled_from([1, 3, 40]))
def test_bytes_keys_take_the_one_pass_sort(twin, keys, partitions):
    """A counting store's bytes keys are sorted by ``keysort`` (compiled or its twin) in one
    pass, and each partition holds its keys in minimr's order."""
    called = []

    def spy(batch, numbers=None):
        called.append(len(batch))
        return getattr(keysort, twin)(batch, numbers)

    keys = list(keys)
    partitioner = HashPartitioner(partitions)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(partsort, "sorted_keys", spy)
        got = PartitionSorter(partitioner, partitions).partition_keys(
            list(keys), wrapped=False, native=natively_sortable(keys))
    assert got == model(keys, partitioner, partitions)
    assert called == ([len(keys)] if keys else [])
