"""The map buffer against a plain-Python grouping: every path gives the same partitions.

The buffer has several internal paths (identical pairs counted in C, values grouped per key,
unhashable keys wrapped, batch results added whole, spills merged back), chosen by what the map
emits; whichever one runs, each partition must hold exactly its keys, sorted, with the same
values (or, with a combiner, the same sums).
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimr.dataflow.counters import BUILTIN, COMBINE_INPUT_RECORDS, Counters
from minimr.dataflow.mapside.pairstore import KeyCounts, PairList
from minimr.dataflow.mapside.spill import MapOutputBuffer, RestartTask
from minimr.dataflow.partition import HashPartitioner, RangePartitioner, sort_key
from minimr.dataflow.reduceside.merge import MergedGroups
from minimr.errors import JobDefinitionError

hashable_keys = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.binary(max_size=3),
                          st.tuples(st.integers(0, 2), st.text(max_size=2)))
keys = st.one_of(hashable_keys, st.lists(st.integers(0, 2), max_size=2))
values = st.one_of(st.integers(0, 3), st.just(1), st.text(max_size=2))
pair_lists = st.lists(st.tuples(keys, values), max_size=300)


def sum_combine(key, values):
    yield key, sum(values)


def run(tmp_path, pairs, partitions, combine, limit, batch: bool, name: str):
    """The buffer's partitions as ``[[(key, values), ...], ...]``, as a reducer would see them."""
    counters = Counters()

    def fill(**options) -> MapOutputBuffer:
        buf = MapOutputBuffer(HashPartitioner(partitions), partitions, combine, limit,
                              str(tmp_path / name), counters, **options)
        if batch:  # like a map_batch: the pairs arrive a list (or a dict) at a time
            for i in range(0, len(pairs), 37):
                chunk = pairs[i : i + 37]
                try:
                    buf.add_all(dict(chunk) if len(dict(chunk)) == len(chunk) else chunk)
                except TypeError:  # an unhashable key: no dict of this chunk
                    buf.add_all(chunk)
        else:
            buf.consume(((None, p) for p in pairs), lambda _k, p: [p])
        return buf

    options = {"fast": not batch}
    while True:  # restarts on a more general path, as run_map_task does
        try:
            buf = fill(**options)
            break
        except RestartTask as restart:
            options = restart.options
    output = buf.finish()
    result = []
    for p in range(partitions):
        with MergedGroups([output.segment(p)], str(tmp_path)) as merged:
            result.append([(k, list(vs)) for k, vs in merged])
    return result, counters


def expected(pairs, partitions, combine):
    partitioner = HashPartitioner(partitions)
    groups: dict = defaultdict(list)
    first_key: dict = {}
    for k, v in pairs:
        canon = repr(sort_key(k))
        first_key.setdefault(canon, k)
        groups[canon].append(v)
    parts: list[list] = [[] for _ in range(partitions)]
    for canon, vs in groups.items():
        k = first_key[canon]
        parts[partitioner(k)].append((k, vs))
    return [sorted(part, key=lambda kv: sort_key(kv[0])) for part in parts]


def canonical(parts, combine):
    """Values as a sorted multiset (no combiner) or their sum (a summing combiner)."""
    def values(vs):
        if combine is None:
            return sorted(vs, key=repr)
        return sum(vs)
    return [[(repr(sort_key(k)), values(vs)) for k, vs in part] for part in parts]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=pair_lists, partitions=st.integers(1, 4), limit=st.sampled_from([300, 1 << 20]),
       batch=st.booleans(), combine=st.booleans())
def test_every_path_matches_a_plain_grouping(tmp_path, pairs, partitions, limit, batch, combine):
    combiner = sum_combine if combine else None
    if combine:  # summing needs numbers
        pairs = [(k, v if isinstance(v, int) else len(v)) for k, v in pairs]
    got, _ = run(tmp_path, pairs, partitions, combiner, limit, batch, "out")
    assert canonical(got, combiner) == canonical(expected(pairs, partitions, combiner), combiner)
    for part in got:  # keys are sorted and each appears once per partition
        order = [sort_key(k) for k, _ in part]
        assert order == sorted(order) and len({repr(o) for o in order}) == len(order)


def test_counted_pairs_combine_every_key_with_several_values(tmp_path):
    """Identical pairs are counted, and every key seen more than once is combined (so a word
    count's output has one value per key: column blocks); a key seen once is not."""
    pairs = ([("hot", 1)] * 100 + [("twice", 1)] * 2 + [("once", 1)]
             + [("mixed", 1), ("mixed", 2)] * 5)
    got, counters = run(tmp_path, pairs, 1, sum_combine, 1 << 20, False, "out")
    assert got == [[("hot", [100]), ("mixed", [15]), ("once", [1]), ("twice", [2])]]
    assert counters.get(BUILTIN, COMBINE_INPUT_RECORDS) == 113  # "once" passes through


def test_batch_results_group_values_of_every_batch(tmp_path):
    """Mappings added batch by batch keep every batch's value of a key."""
    counters = Counters()
    buf = MapOutputBuffer(HashPartitioner(2), 2, None, 1 << 20, str(tmp_path / "b"), counters,
                          fast=False)
    first = {"a": 1, "b": 2}
    buf.add_all(first)
    first["a"] = 0  # the map's own dict, used again: the buffer kept what it was given
    buf.add_all({"b": 3, "c": [4]})
    buf.add_all([("a", 5), ("a", 6)])
    output = buf.finish()
    got = {}
    for p in range(2):
        with MergedGroups([output.segment(p)], str(tmp_path)) as merged:
            got.update((k, list(vs)) for k, vs in merged)
    assert got == {"a": [1, 5, 6], "b": [2, 3], "c": [[4]]}
    assert buf.map_output_records == 6


def test_map_output_that_is_not_pairs_fails_clearly(tmp_path):
    """A map yielding bare words (not (word, 1)) fails naming the item, on either path."""
    for fast in (True, False):
        buf = MapOutputBuffer(HashPartitioner(2), 2, None, 1 << 20, str(tmp_path / f"w{fast}"),
                              Counters(), fast=fast)
        with pytest.raises(JobDefinitionError, match=r"\(key, value\) pairs \(got 'ab'"):
            buf.consume([(None, "ab cd")], lambda _k, line: line.split())
            buf.finish()


def test_distinct_pairs_without_combiner_keep_map_order_for_equal_keys(tmp_path):
    """Sort-like output (nearly all pairs distinct, no combiner) takes the list path, which
    sorts stably: the values of a repeated key stay in the order the map emitted them."""
    pairs = [(f"k{i % 997:04d}", i) for i in range(5000)]
    buf = MapOutputBuffer(HashPartitioner(3), 3, None, 1 << 30, str(tmp_path / "s"), Counters())
    buf.consume(((None, p) for p in pairs), lambda _k, p: [p])
    assert type(buf._store) is PairList  # the list path, not a dict of 5,000 distinct pairs
    output = buf.finish()
    got = {}
    for p in range(3):
        with MergedGroups([output.segment(p)], str(tmp_path)) as merged:
            got.update((k, list(vs)) for k, vs in merged)
    assert got == {k: [v for kk, v in pairs if kk == k] for k in {k for k, _ in pairs}}


def test_one_value_counts_keys_alone_and_a_second_value_restarts(tmp_path):
    """When the first batch's pairs all carry one value, keys alone are counted; a pair with
    another value later restarts on pair counting, and either way the output is the same."""
    constant = [(f"w{i % 37}", 1) for i in range(3000)]
    buf = MapOutputBuffer(HashPartitioner(2), 2, sum_combine, 1 << 20, str(tmp_path / "a"),
                          Counters())
    buf.consume(((None, p) for p in constant), lambda _k, p: [p])
    assert type(buf._store) is KeyCounts and buf._store.value == 1
    late = constant + [("w1", 2)]
    with pytest.raises(RestartTask) as restart:
        MapOutputBuffer(HashPartitioner(2), 2, sum_combine, 1 << 20, str(tmp_path / "b"),
                        Counters()).consume(((None, p) for p in late), lambda _k, p: [p])
    assert restart.value.options == {"fast": True, "single_value": False}
    got, _ = run(tmp_path, late, 2, sum_combine, 1 << 20, False, "c")
    assert canonical(got, sum_combine) == canonical(expected(late, 2, sum_combine), sum_combine)


@pytest.mark.parametrize("combine", [None, sum_combine], ids=["listed", "counted"])
@pytest.mark.parametrize("boundaries", [["k0300", "k0600"], ["k0500"], []],
                         ids=["every-part", "fewer-boundaries", "none"])
def test_range_partitions_hold_the_keys_the_partitioner_sends_them(tmp_path, combine,
                                                                    boundaries):
    """Cut at the boundaries of sorted keys: each of the task's partitions holds exactly its
    keys, spills or not, and a partitioner with fewer boundaries than partitions (a sample
    with few distinct keys) leaves the last partitions empty, not missing."""
    pairs = [(f"k{i * 7919 % 1000:04d}", i) for i in range(3000)]
    partitioner = RangePartitioner(boundaries)
    for limit in (1 << 20, 20_000):
        buf = MapOutputBuffer(partitioner, 3, combine, limit, str(tmp_path / f"o{limit}"),
                              Counters())
        buf.consume(((None, p) for p in pairs), lambda _k, p: [p])
        output = buf.finish()
        assert len(output.partitions) == 3
        for p in range(3):
            with MergedGroups([output.segment(p)], str(tmp_path)) as merged:
                got = [(k, sorted(vs)) for k, vs in merged]
            want = sorted({k for k, _ in pairs if partitioner(k) == p})
            assert [k for k, _ in got] == want
            if combine is None:
                assert got == [(k, sorted(v for kk, v in pairs if kk == k)) for k in want]
