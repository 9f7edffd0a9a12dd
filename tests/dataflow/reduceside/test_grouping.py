"""Grouping merged batches: the same groups as itertools.groupby, whatever the batch cuts, and
the identity reduce's columns: every value under its group's key."""

from __future__ import annotations

import math
from itertools import chain, groupby, islice
from operator import itemgetter

from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.reduceside.grouping import group_batches, pair_columns

entries_lists = st.lists(
    st.tuples(st.sampled_from("aabbbcdz"), st.lists(st.integers(0, 9), min_size=1, max_size=3)),
    max_size=40,
)


def cut(entries: list, sizes: list[int]) -> list[list]:
    """``entries`` cut into consecutive batches (some empty) of the given sizes, cycled."""
    batches, i, k = [], 0, 0
    while i < len(entries):
        size = sizes[k % len(sizes)]
        batches.append(entries[i : i + size])
        i, k = i + size, k + 1
    return batches


def reference(entries: list, take: list[int]) -> list:
    """``(key, values taken)`` per group of ``groupby``, taking ``take[i]`` values of group i."""
    out = []
    for i, (key, group) in enumerate(groupby(entries, key=itemgetter(0))):
        values = chain.from_iterable(v for _, v in group)
        out.append((key, list(islice(values, take[i % len(take)]))))
    return out


def grouped(batches: list[list], take: list[int]) -> list:
    out = []
    i = 0
    for keys, values in group_batches(iter(batches)):
        for key, vals in zip(keys, values, strict=True):
            assert not isinstance(vals, list)  # an iterator, as the reducer's contract says
            out.append((key, list(islice(vals, take[i % len(take)]))))
            i += 1
    return out


@given(entries_lists, st.lists(st.integers(0, 5), min_size=1, max_size=5),
       st.lists(st.sampled_from([0, 1, 2, 100]), min_size=1, max_size=4))
def test_groups_equal_groupby_whatever_the_batches(raw, sizes, take):
    """Any cut into batches (a key running on across several, empty batches) gives groupby's
    groups; values a reader leaves unread are skipped, never handed to the next key."""
    entries = sorted(raw, key=itemgetter(0))
    sizes = [s for s in sizes if s] or [1]
    batches = cut(entries, sizes)
    batches[len(batches) // 2 : len(batches) // 2] = [[]]  # an empty batch in the middle
    assert grouped(batches, take) == reference(entries, take)


def test_a_key_running_on_is_read_lazily():
    """A key filling many batches: its values are read a batch at a time as they are taken."""
    read = []

    def batches():
        yield [("a", [0]), ("hot", [1])]
        for n in range(1000):
            read.append(n)
            yield [("hot", [n, n])]
        yield [("hot", [-1]), ("z", [2])]

    chunks = group_batches(batches())
    keys, values = next(chunks)
    assert keys == ["a", "hot"] and list(values[0]) == [0]
    hot = values[1]
    assert next(hot) == 1 and len(read) <= 1
    assert [next(hot) for _ in range(4)] == [0, 0, 1, 1] and len(read) <= 3
    keys, values = next(chunks)  # the rest of "hot" is skipped
    assert keys == ["z"] and list(values[0]) == [2]
    assert next(chunks, None) is None


def test_keys_that_are_not_equal_to_themselves_stay_apart():
    """NaN keys are separate groups, as groupby makes them."""
    nan = math.nan
    batches = [[(nan, [1])], [(nan, [2])]]
    assert [v for keys, values in group_batches(batches) for v in map(list, values)] == [[1], [2]]


def key_objects(entries: list) -> list:
    """Keys as new, equal objects: merged entries of one key come from different runs."""
    return [(key * 3, values) for key, values in entries]


def merged_pairs(entries: list) -> list:
    """The ``(key, value)`` pairs a merge of pairs gives for ``entries``: one a value, the
    values of an entry under its one key object."""
    return [(key, value) for key, values in entries for value in values]


@given(entries_lists, st.lists(st.integers(0, 5), min_size=1, max_size=5), st.integers(1, 4))
def test_pair_columns_write_every_value_under_its_groups_key(raw, sizes, size):
    """The columns are groupby's pairs in order, each group's values under its first entry's
    key object, the groups counted once however batches and columns cut them."""
    entries = key_objects(sorted(raw, key=itemgetter(0)))
    batches = cut(merged_pairs(entries), [s for s in sizes if s] or [1])
    batches[len(batches) // 2 : len(batches) // 2] = [[]]
    columns = list(pair_columns(iter(batches), size))
    assert all(len(keys) == len(values) for keys, values, _ in columns)
    keys = [key for k, _, _ in columns for key in k]
    values = [value for _, v, _ in columns for value in v]
    groups = [(key, list(group)) for key, group in groupby(entries, key=itemgetter(0))]
    assert values == [v for _, group in groups for _, vs in group for v in vs]
    expected_keys = [group[0][0] for _, group in groups for _, vs in group for _ in vs]
    assert list(map(id, keys)) == list(map(id, expected_keys))
    assert sum(n for _, _, n in columns) == len(groups)


def test_pair_columns_cut_a_batch_into_columns_of_at_most_size_entries():
    """A long batch is handed on in pieces: a piece's values fit in the CPU's cache."""
    batch = [(f"k{i:03d}", i) for i in range(10)]
    columns = list(pair_columns([batch], 4))
    assert [keys for keys, _, _ in columns] == [
        ["k000", "k001", "k002", "k003"], ["k004", "k005", "k006", "k007"], ["k008", "k009"]]
    assert [n for _, _, n in columns] == [4, 4, 2]


def test_pair_columns_count_keys_not_equal_to_themselves_apart():
    """NaN keys of different entries are separate groups, as groupby makes them; the values of
    one entry, under its one NaN object, stay one group (groupby's identity check)."""
    first, second = float("nan"), float("nan")
    batches = [merged_pairs([(first, [1])]), merged_pairs([(second, [2, 3])])]
    assert [n for _, _, n in pair_columns(batches, 8)] == [1, 1]
