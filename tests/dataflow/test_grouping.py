"""Grouping merged batches: the same groups as itertools.groupby, whatever the batch cuts."""

from __future__ import annotations

import math
from itertools import chain, groupby, islice
from operator import itemgetter

from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.grouping import group_batches

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
