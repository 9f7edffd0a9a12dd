"""The map buffer against a plain-Python grouping: every store gives the same partitions.

The buffer holds map output in one of several stores (keys counted, pairs counted, values
grouped per key, pairs listed), chosen and converted by the types of what the map emits;
whichever it uses, each partition must hold exactly its keys, sorted, each written as the
least of its equal keys, with exactly the values the map emitted (same type, same value, same
multiplicity) or, with a combiner, their exact sums.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimr.dataflow.counters import (
    BUILTIN,
    COMBINE_INPUT_RECORDS,
    COMBINE_OUTPUT_RECORDS,
    Counters,
)
from minimr.dataflow.exact import key_choice, least
from minimr.dataflow.folds import fold
from minimr.dataflow.mapside.combining import make_combiner
from minimr.dataflow.mapside.feed import Records, feed_keys, feed_map, feed_result
from minimr.dataflow.mapside.pairstore import Groups, KeyCounts, PairCounts, PairList
from minimr.dataflow.mapside.spill import MapOutputBuffer
from minimr.dataflow.partition import HashPartitioner, RangePartitioner, sort_key
from minimr.dataflow.reduceside.merge import MergedGroups
from minimr.errors import JobCodeError

hashable_keys = st.one_of(
    st.text(max_size=4), st.integers(-3, 3), st.booleans(), st.binary(max_size=3),
    st.sampled_from([1.0, 0.0, -0.0, 2.5, Decimal("1.0"), Decimal("2.50")]),
    st.tuples(st.integers(0, 2), st.text(max_size=2)), st.tuples(st.sampled_from([1, 1.0])))
keys = st.one_of(hashable_keys, st.lists(st.integers(0, 2), max_size=2))
values = st.one_of(st.integers(0, 3), st.just(1), st.text(max_size=2), st.booleans(),
                   st.sampled_from([1.0, -0.0, 0.0, Decimal("1"), Decimal("1.0"), (1,), (1.0,)]))
pair_lists = st.lists(st.tuples(keys, values), max_size=300)


def sum_combine(key, values):
    yield key, sum(values)


def yield_pair(_key, pair):
    yield pair


def records(pairs):
    return Records((None, p) for p in pairs)


def buffer(tmp_path, partitions, combine, limit, name, counters=None,
           partitioner=None) -> MapOutputBuffer:
    counters = counters if counters is not None else Counters()
    return MapOutputBuffer(partitioner or HashPartitioner(partitions), partitions,
                           make_combiner(combine, counters), limit, str(tmp_path / name),
                           counters)


def read(tmp_path, output, partitions):
    """The partitions as ``[[(key, values), ...], ...]``, as a reducer would see them."""
    result = []
    for p in range(partitions):
        with MergedGroups([output.segment(p)], str(tmp_path)) as merged:
            result.append([(k, list(vs)) for k, vs in merged])
    return result


def run(tmp_path, pairs, partitions, combine, limit, how: str, name: str):
    """Fill a buffer with ``pairs`` as a map (``how``: "map", "batch" or "keys") would."""
    counters = Counters()
    buf = buffer(tmp_path, partitions, combine, limit, name, counters)
    if how == "batch":  # like a map_batch: the pairs arrive a list (or a dict) at a time
        for i in range(0, len(pairs), 37):
            chunk = pairs[i : i + 37]
            exact_keys = all(type(k) in (str, int) for k, _ in chunk)
            distinct = exact_keys and len({(type(k), k) for k, _ in chunk}) == len(chunk)
            feed_result(buf, dict(chunk) if distinct and len(dict(chunk)) == len(chunk)
                        else chunk, yield_pair)
    elif how == "keys":
        feed_keys(buf, Records((None, k) for k, _ in pairs), lambda _k, key: [key], yield_pair)
    else:
        feed_map(buf, records(pairs), yield_pair, yield_pair)
    return read(tmp_path, buf.finish(), partitions), counters


def model(pairs, partitions):
    """Each partition's keys in order, each the least of its equal keys, with its values."""
    groups: list[tuple[list, list]] = []  # (equal keys seen, values), by first appearance
    for k, v in pairs:
        for seen, vs in groups:
            if seen[0] == k:
                seen.append(k)
                vs.append(v)
                break
        else:
            groups.append(([k], [v]))
    partitioner = HashPartitioner(partitions)
    parts: list[list] = [[] for _ in range(partitions)]
    for seen, vs in groups:
        parts[partitioner(seen[0])].append((least(seen), vs))
    return [sorted(part, key=lambda kv: sort_key(kv[0])) for part in parts]


def exactly(parts, combine):
    """Keys and values as (type, repr): the same only when the same type and value."""
    def values(vs):
        if combine is None:
            return sorted(map(key_choice, vs))
        return key_choice(sum(vs))
    return [[(key_choice(k), values(vs)) for k, vs in part] for part in parts]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
# 17 and 40: more partitions than a spill splits its keys by before sorting them
@given(pairs=pair_lists, partitions=st.sampled_from([1, 2, 3, 4, 17, 40]),
       limit=st.sampled_from([300, 1 << 20]), how=st.sampled_from(["map", "batch", "keys"]),
       combine=st.booleans())
def test_every_store_matches_a_plain_grouping(tmp_path, pairs, partitions, limit, how,
                                              combine):
    """Whatever store the pairs end in, and whatever spills, each key comes out once, the
    least of its equal keys, with exactly its values (or their exact sum)."""
    combiner = sum_combine if combine else None
    if how == "keys":
        pairs = [(k, 1) for k, _ in pairs]
    if combine:  # sums that are exact in any order: ints and bools
        pairs = [(k, v if type(v) in (int, bool) else len(repr(v))) for k, v in pairs]
    got, _ = run(tmp_path, pairs, partitions, combiner, limit, how, "out")
    assert exactly(got, combiner) == exactly(model(pairs, partitions), combiner)


def test_values_equal_but_of_other_types_stay_distinct(tmp_path):
    """1, 1.0, True, Decimal("1"), Decimal("1.0"), -0.0 and 0.0 reach the reducer as they
    were yielded, each as often, whatever store held them (issue 16's first example)."""
    mixed = [1, 1.0, True, Decimal("1"), Decimal("1.0"), -0.0, 0.0, 1, True]
    for how in ("map", "batch"):
        for limit in (300, 1 << 20):
            pairs = [("w", v) for v in mixed] + [("x", 1)] * 50 + [("x", 1.0)]
            (part,), _ = run(tmp_path, pairs, 1, None, limit, how, f"{how}{limit}")
            got = dict(part)
            assert sorted(map(key_choice, got["w"])) == sorted(map(key_choice, mixed))
            assert Counter(map(key_choice, got["x"])) == {("int", "1"): 50, ("float", "1.0"): 1}


def test_nan_values_come_out_as_nan_floats_each_one(tmp_path):
    """Every NaN value comes out as a NaN float, as many as went in, counted store or not."""
    nan = float("nan")
    pairs = [("w", nan), ("w", nan), ("w", float("nan")), ("w", 1)]
    (part,), _ = run(tmp_path, pairs, 1, None, 1 << 20, "map", "nan")
    values = dict(part)["w"]
    assert len(values) == 4 and sum(type(v) is float and math.isnan(v) for v in values) == 3


def test_counted_pairs_combine_every_key_with_several_values(tmp_path):
    """Identical pairs are counted, and every key seen more than once is combined (so a word
    count's output has one value per key: column blocks); a key seen once is not."""
    pairs = ([("hot", 1)] * 100 + [("twice", 1)] * 2 + [("once", 1)]
             + [("mixed", 1), ("mixed", 2)] * 5)
    got, counters = run(tmp_path, pairs, 1, sum_combine, 1 << 20, "map", "out")
    assert got == [[("hot", [100]), ("mixed", [15]), ("once", [1]), ("twice", [2])]]
    assert counters.get(BUILTIN, COMBINE_INPUT_RECORDS) == 113  # "once" passes through


def varied_combine(key, values):
    """Nothing for "gone", every value for "each", True for "flag", else the sum."""
    values = list(values)
    if key == "gone":
        return None
    if key == "each":
        return [(key, v) for v in values]
    return [(key, True if key == "flag" else sum(values))]


@pytest.mark.parametrize("chunk", [1024, 2])
@pytest.mark.parametrize("value", [1, 2])
def test_a_combiner_of_counted_runs_may_yield_any_number_of_pairs(tmp_path, monkeypatch,
                                                                   value, chunk):
    """Counted pairs (one value: keys counted; another too: pairs counted) reach the user's
    combine as their runs, and what it yields for each key is kept exactly: no pair, several,
    a bool; counted in and out; the same when the calls are made a few keys at a time."""
    monkeypatch.setattr("minimr.dataflow.mapside.combining.CALL_CHUNK", chunk)
    pairs = ([("gone", value)] * 3 + [("each", value)] * 3 + [("flag", value)] * 2
             + [("sum", value)] * 4 + [("once", value)] + [("other", 3)] * (value - 1))
    got, counters = run(tmp_path, pairs, 1, varied_combine, 1 << 20, "map", "v")
    expected = [("each", [value] * 3), ("flag", [True]), ("once", [value]),
                ("sum", [4 * value])] + ([("other", [3])] if value == 2 else [])
    assert exactly(got, None) == exactly([sorted(expected)], None)
    assert counters.get(BUILTIN, COMBINE_INPUT_RECORDS) == len(pairs)
    assert counters.get(BUILTIN, COMBINE_OUTPUT_RECORDS) == 6 + (value == 2)


def test_a_combiner_yielding_one_pair_a_key_writes_its_values_as_they_came(tmp_path):
    """When every call yields one pair, the values written are the ones it yielded: a bool
    stays a bool, a float a float, -0.0 is -0.0."""
    def typed(key, values):
        n = len(list(values))
        yield key, {"b": True, "f": float(n), "z": -0.0}.get(key, n)

    pairs = [(k, 1) for k in "bbffzzn" "n"]
    got, _ = run(tmp_path, pairs, 1, typed, 1 << 20, "map", "t")
    assert [(k, key_choice(vs[0])) for k, vs in got[0]] == [
        ("b", ("bool", "True")), ("f", ("float", "2.0")), ("n", ("int", "2")),
        ("z", ("float", "-0.0"))]


def test_a_declared_fold_combines_counted_keys_exactly(tmp_path):
    """A fold as the combiner gives each key of counted keys its exact sum, an int."""
    words = ["a"] * 7 + ["b"] + ["c"] * 3
    got, counters = run(tmp_path, [(w, 1) for w in words], 1, fold(sum), 1 << 20, "keys", "k")
    assert got == [[("a", [7]), ("b", [1]), ("c", [3])]]
    assert counters.get(BUILTIN, COMBINE_INPUT_RECORDS) == 11  # every value, "b" too


def test_batch_results_group_values_of_every_batch(tmp_path):
    """Mappings added batch by batch keep every batch's value of a key."""
    buf = buffer(tmp_path, 2, None, 1 << 20, "b")
    first = {"a": 1, "b": 2}
    feed_result(buf, first, yield_pair)
    first["a"] = 0  # the map's own dict, used again: the buffer kept what it was given
    feed_result(buf, {"b": 3, "c": [4]}, yield_pair)
    feed_result(buf, [("a", 5), ("a", 6)], yield_pair)
    got = {k: vs for part in read(tmp_path, buf.finish(), 2) for k, vs in part}
    assert got == {"a": [1, 5, 6], "b": [2, 3], "c": [[4]]}
    assert buf.map_output_records == 6


def test_map_output_that_is_not_pairs_fails_naming_the_function(tmp_path):
    """A map yielding bare words (not (word, 1)) fails with JobCodeError at its file:line."""
    def words(_key, line):
        yield from line.split()

    buf = buffer(tmp_path, 2, None, 1 << 20, "w")
    line = words.__code__.co_firstlineno
    with pytest.raises(JobCodeError, match=rf"words \(.*test_map_buffer.py:{line}\) yielded "
                                           r"'ab' \(a str\), not a \(key, value\) pair"):
        feed_map(buf, Records([(None, "ab cd")]), words, words)


def test_distinct_pairs_without_combiner_keep_map_order_for_equal_keys(tmp_path):
    """Sort-like output (nearly all pairs distinct, no combiner) takes the list path, which
    sorts stably: the values of a repeated key stay in the order the map emitted them."""
    pairs = [(f"k{i % 997:04d}", i) for i in range(5000)]
    buf = buffer(tmp_path, 3, None, 1 << 30, "s")
    feed_map(buf, records(pairs), yield_pair, yield_pair)
    assert type(buf._store) is PairList  # the list path, not a dict of 5,000 distinct pairs
    got = {k: vs for part in read(tmp_path, buf.finish(), 3) for k, vs in part}
    assert got == {k: [v for kk, v in pairs if kk == k] for k in {k for k, _ in pairs}}


def test_stores_convert_in_place_and_the_counts_carry_over(tmp_path):
    """Keys counted, then a pair of another value, then a float value: the store becomes pair
    counts, then groups, each holding what the one before had counted; nothing is re-run."""
    buf = buffer(tmp_path, 1, sum_combine, 1 << 20, "c")
    buf.add_keys(["a", "b", "a"])
    assert type(buf._store) is KeyCounts
    buf.add_pairs([("a", 2), ("c", 1)], {tuple})
    assert type(buf._store) is PairCounts and buf._store.counted == {
        ("a", 1): 2, ("b", 1): 1, ("a", 2): 1, ("c", 1): 1}
    buf.add_pairs([("b", 0.5)], {tuple})
    assert type(buf._store) is Groups and buf._store.values == 6
    (part,) = read(tmp_path, buf.finish(), 1)
    assert [(k, [(type(v), v) for v in vs]) for k, vs in part] == [
        ("a", [(int, 4)]), ("b", [(float, 1.5)]), ("c", [(int, 1)])]


def test_a_key_that_is_not_of_exact_type_leaves_key_counting(tmp_path):
    """Keys 1.0 and True among counted int keys move the store to groups, and the key written
    is the least of the equal ones (True), with every occurrence counted."""
    buf = buffer(tmp_path, 1, None, 1 << 20, "k")
    buf.add_keys([1, 2, 1])
    buf.add_keys([1.0, True, 2])
    assert type(buf._store) is PairList
    (part,) = read(tmp_path, buf.finish(), 1)
    assert [(key_choice(k), vs) for k, vs in part] == [
        (("bool", "True"), [1, 1, 1, 1]), (("int", "2"), [1, 1])]


@pytest.mark.parametrize("combine", [None, sum_combine], ids=["listed", "grouped"])
def test_the_key_written_is_the_least_of_equal_keys_across_spills(tmp_path, combine):
    """1.0 first, -0.0 and 0.0, True in a later spill: the keys written are True and -0.0,
    whatever the buffer size (and so whatever spills)."""
    pairs = ([(1.0, 1), (0.0, 1)] + [(f"pad{i}", 1) for i in range(300)]
             + [(True, 1), (-0.0, 1), (1, 1)])
    for limit in (300, 1 << 20):
        (part,) = read(tmp_path, _filled(tmp_path, pairs, combine, limit), 1)
        got = {key_choice(k): vs for k, vs in part if type(k) is not str}
        want_values = [3] if combine else [1, 1, 1]
        assert got == {("float", "-0.0"): [2] if combine else [1, 1],
                       ("bool", "True"): want_values}


def _filled(tmp_path, pairs, combine, limit):
    buf = buffer(tmp_path, 1, combine, limit, f"spills{limit}")
    feed_map(buf, records(pairs), yield_pair, yield_pair)
    return buf.finish()


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
        buf = buffer(tmp_path, 3, combine, limit, f"o{limit}", partitioner=partitioner)
        feed_map(buf, records(pairs), yield_pair, yield_pair)
        output = buf.finish()
        assert len(output.partitions) == 3
        for p in range(3):
            with MergedGroups([output.segment(p)], str(tmp_path)) as merged:
                got = [(k, sorted(vs)) for k, vs in merged]
            want = sorted({k for k, _ in pairs if partitioner(k) == p})
            assert [k for k, _ in got] == want
            if combine is None:
                assert got == [(k, sorted(v for kk, v in pairs if kk == k)) for k in want]


@pytest.mark.parametrize("combine", [None, sum_combine], ids=["listed", "grouped"])
def test_a_first_batch_of_distinct_pairs_is_listed_in_order_and_not_aliased(tmp_path, combine):
    """A batch map's first result of all distinct pairs (one value: counted as keys; several:
    as pairs) becomes the list store in map order (but keys of one value counted for a
    combiner), a copy: the map reusing its list after returning it changes nothing written."""
    for one_value, value_of in ((True, lambda i: 7), (False, lambda i: i % 3)):
        buf = buffer(tmp_path, 2, combine, 1 << 30, "d")
        batch = [(f"w{i:05d}", value_of(i)) for i in range(5000)]
        expected = list(batch)
        feed_result(buf, batch, yield_pair)
        if combine is None or not one_value:  # with a combiner, keys counted stay counted
            assert type(buf._store) is PairList and buf._store.pairs == expected
        batch[:] = [("w00001", 99)] * 10  # the map's list, reused for its next batch
        feed_result(buf, batch, yield_pair)
        got = {k: vs for part in read(tmp_path, buf.finish(), 2) for k, vs in part}
        want = {k: [v] for k, v in expected}
        if combine is None:
            want["w00001"] += [99] * 10
        else:
            want["w00001"] = [want["w00001"][0] + 990]
        assert got == want
