"""A combiner's listed pairs (``listed.combined_parts``): map output whose first batch has
nearly all distinct keys of exact type str is kept as a list, sorted into columns when
written and combined over runs of equal keys (``Combiner.sorted_runs``); what comes out is
exactly what the grouping store gives, with or without the compiled sort."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimr.dataflow.counters import (
    BUILTIN,
    COMBINE_INPUT_RECORDS,
    COMBINE_OUTPUT_RECORDS,
    Counters,
)
from minimr.dataflow.exact import key_choice
from minimr.dataflow.folds import fold
from minimr.dataflow.mapside import listed
from minimr.dataflow.mapside.feed import feed_map
from minimr.dataflow.mapside.keysort import sorted_key_runs_py
from minimr.dataflow.mapside.pairstore import Groups, PairList
from tests.dataflow.mapside.test_map_buffer import buffer, read, records, sum_combine, yield_pair


def varied(key, values):
    """Nothing, one pair, several, another type or another value, by the key's length."""
    values = list(values)
    shape = len(key) % 5
    if shape == 0:
        return
    if shape == 1:
        yield key, sum(values)
    elif shape == 2:
        yield from ((key, v) for v in values)
    elif shape == 3:
        yield key, (float(sum(values)), len(values))
    else:
        yield key, -0.0


def average(key, pairs):
    """The zoo's average combiner: a lone (amount, 1) would come out as (0.0 + amount, 1)."""
    total, count = 0.0, 0
    for amount, n in pairs:
        total += amount
        count += n
    yield key, (total, count)


COMBINERS = {"sum": sum_combine, "varied": varied, "average": average, "fold": fold(sum)}


def value_for(combine, i):
    return (float(i) - 0.5, 1) if combine is average else i


@pytest.fixture(params=["compiled", "python"])
def twin(request, monkeypatch):
    """Each test runs with the compiled sort and with its pure-Python twin."""
    if request.param == "python":
        monkeypatch.setattr(listed, "sorted_key_runs", sorted_key_runs_py)
    return request.param


def filled(tmp_path, pairs, combine, partitions, limit, name, grouped=False):
    """A buffer fed ``pairs`` by a map; ``grouped`` starts it on the grouping store."""
    counters = Counters()
    buf = buffer(tmp_path, partitions, combine, limit, name, counters)
    if grouped:
        buf._store = Groups()
    feed_map(buf, records(pairs), yield_pair, yield_pair)
    return buf, counters


def output(tmp_path, buf, partitions):
    """The partitions with keys and values as (type, repr): equal only when exactly equal."""
    parts = read(tmp_path, buf.finish(), partitions)
    return [[(key_choice(k), [key_choice(v) for v in vs]) for k, vs in part] for part in parts]


def test_a_combiners_distinct_str_keys_are_listed_and_combined_per_key(tmp_path, twin):
    """Distinct str keys with a combiner are listed; each key's values come out combined
    once (the repeated ones), counted in and out, as the grouping store gives them."""
    pairs = [(f"u{i * 7919 % 3000}", i) for i in range(3300)]  # 300 keys twice
    buf, counters = filled(tmp_path, pairs, sum_combine, 4, 1 << 30, "l")
    assert type(buf._store) is PairList
    grouped, grouped_counters = filled(tmp_path, pairs, sum_combine, 4, 1 << 30, "g", True)
    assert output(tmp_path, buf, 4) == output(tmp_path, grouped, 4)
    for name in (COMBINE_INPUT_RECORDS, COMBINE_OUTPUT_RECORDS):
        assert counters.get(BUILTIN, name) == grouped_counters.get(BUILTIN, name)
    assert counters.get(BUILTIN, COMBINE_OUTPUT_RECORDS) == 3000


def test_an_empty_partition_of_listed_pairs_is_written_empty(tmp_path, twin):
    """Three keys in 40 partitions: most partitions are empty, and are written empty."""
    pairs = [("a", 1), ("b", 2), ("c", 3)]
    buf, _ = filled(tmp_path, pairs, sum_combine, 40, 1 << 30, "e")
    assert type(buf._store) is PairList
    parts = output(tmp_path, buf, 40)
    assert sum(map(len, parts)) == 3 and parts.count([]) == 37


@pytest.mark.parametrize("later", [1, "ü", ("a",), "b" * 3])
def test_keys_the_column_sort_does_not_take_fall_back_to_groups(tmp_path, twin, later):
    """A later key that is not an exact str of one byte a character (an int, a tuple, "ü"
    for the compiled sort) sends the list through the grouping store: the same output."""
    pairs = [(f"k{i}", i) for i in range(3000)] + [(later, 5), (later, 6), ("k7", 1)]
    buf, _ = filled(tmp_path, pairs, sum_combine, 3, 1 << 30, "f")
    assert type(buf._store) is PairList
    grouped, _ = filled(tmp_path, pairs, sum_combine, 3, 1 << 30, "g", True)
    assert output(tmp_path, buf, 3) == output(tmp_path, grouped, 3)


def test_a_lone_value_is_left_as_the_grouping_store_leaves_it(tmp_path, twin):
    """The average's combiner would turn a lone (-0.0, 1) into (0.0, 1): a key of one value
    comes out as the map yielded it, from the list as from the groups (the combiner may run
    zero times on a key); a key of two values is combined."""
    pairs = [(f"u{i}", (float(i) if i else -0.0, 1)) for i in range(3000)] + [("u5", (1.5, 1))]
    buf, _ = filled(tmp_path, pairs, average, 2, 1 << 30, "a")
    grouped, _ = filled(tmp_path, pairs, average, 2, 1 << 30, "g", True)
    got = output(tmp_path, buf, 2)
    assert got == output(tmp_path, grouped, 2)
    values = {k: vs for part in got for k, vs in part}
    assert values[("str", "'u0'")] == [("tuple", "(-0.0, 1)")]
    assert values[("str", "'u5'")] == [("tuple", "(6.5, 2)")]


distinct_keys = st.lists(st.text(alphabet="abcdeü", max_size=6), unique=True, max_size=400)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=distinct_keys, repeats=st.lists(st.integers(0, 399), max_size=60),
       partitions=st.sampled_from([1, 3, 17, 40]), combine=st.sampled_from(sorted(COMBINERS)),
       python=st.booleans())
def test_listed_pairs_combine_as_the_grouping_store_does(tmp_path, monkeypatch, keys, repeats,
                                                         partitions, combine, python):
    """Any mostly distinct str keys, with repeats, in any number of partitions, with a
    combiner that yields nothing, one pair, several, another type: the list's output is the
    groups' output, exactly, with the compiled sort and its twin."""
    if python:
        monkeypatch.setattr(listed, "sorted_key_runs", sorted_key_runs_py)
    fn = COMBINERS[combine]
    order = keys + [keys[r % len(keys)] for r in repeats] if keys else []
    pairs = [(k, value_for(fn, i)) for i, k in enumerate(order)]
    buf, _ = filled(tmp_path, pairs, fn, partitions, 1 << 30, "h")
    grouped, _ = filled(tmp_path, pairs, fn, partitions, 1 << 30, "hg", True)
    assert output(tmp_path, buf, partitions) == output(tmp_path, grouped, partitions)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=distinct_keys, repeats=st.lists(st.integers(0, 399), max_size=400),
       partitions=st.sampled_from([1, 3, 17]))
def test_listed_pairs_spill_and_merge_to_exact_sums(tmp_path, keys, repeats, partitions):
    """With a small sort buffer the list spills often; the spills merged give every key the
    exact sum of its values."""
    order = keys + [keys[r % len(keys)] for r in repeats] if keys else []
    pairs = [(k, i) for i, k in enumerate(order)]
    buf, _ = filled(tmp_path, pairs, sum_combine, partitions, 2000, "s")
    got = {k: vs for part in read(tmp_path, buf.finish(), partitions) for k, vs in part}
    want: dict = {}
    for k, v in pairs:
        want[k] = want.get(k, 0) + v
    assert got == {k: [v] for k, v in want.items()}


def test_after_a_spill_of_listed_pairs_the_next_batch_picks_the_store_again(tmp_path):
    """Distinct keys first, then a few keys over and over: once the list has spilled, the
    repeated keys are counted rather than listed, and every key's sum is exact."""
    pairs = [(f"u{i}", i) for i in range(3000)] + [(f"k{i % 5}", 1) for i in range(20_000)]
    buf, _ = filled(tmp_path, pairs, sum_combine, 2, 200_000, "r")
    assert type(buf._store) is not PairList
    got = {k: vs for part in read(tmp_path, buf.finish(), 2) for k, vs in part}
    assert got == {**{f"u{i}": [i] for i in range(3000)}, **{f"k{i}": [4000] for i in range(5)}}


def test_pairs_yielded_as_lists_fall_back_to_groups_exactly(tmp_path):
    """Pairs yielded as lists of two (not tuples) are listed like others, and the column
    sort, which takes exact tuples only, leaves them to the grouping store: the same output."""
    pairs = [[f"k{i}", i] for i in range(3000)] + [["k7", 1.5]]
    buf, _ = filled(tmp_path, pairs, sum_combine, 3, 1 << 30, "lp")
    assert type(buf._store) is PairList
    grouped, _ = filled(tmp_path, pairs, sum_combine, 3, 1 << 30, "lg", True)
    assert output(tmp_path, buf, 3) == output(tmp_path, grouped, 3)
