"""The map side's combiner across spills (``combining.Combiner.merged``): each key's values of
every spill combined once, keys cut into groups as ``itertools.groupby`` cuts them; and a
generator combiner's calls drained in one chain (``CallCombiner``), as a call a key gives."""

from __future__ import annotations

from itertools import chain, groupby
from operator import itemgetter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.counters import (
    BUILTIN,
    COMBINE_INPUT_RECORDS,
    COMBINE_OUTPUT_RECORDS,
    Counters,
)
from minimr.dataflow.mapside import combining
from minimr.dataflow.mapside.combining import make_combiner


def varied(key, values):
    """Yield nothing, one pair or several, by the key: every shape a combiner may have."""
    values = list(values)
    if key % 3 == 0:
        return
    if key % 3 == 1:
        yield key, sum(values)
        return
    for value in values:
        yield key, value


def reference(entries, fn):
    """What a loop over ``groupby`` gives: each key's values chained, combined when several."""
    out = []
    for key, group in groupby(entries, key=itemgetter(0)):
        values = list(chain.from_iterable(v for _, v in group))
        if len(values) > 1:
            values = [v for _, v in fn(key, iter(values))]
        if values:
            out.append((key, values))
    return out


def entries_of(chunks):
    """The ``(key, values list)`` entries of ``merged``'s chunks, a key of no values left
    out (as ``write_key_lists`` leaves it out)."""
    return [(k, list(v)) for keys, lists in chunks for k, v in zip(keys, lists, strict=True)
            if v]


def as_batches(entries, cuts):
    """``entries`` cut into lists at the positions ``cuts``."""
    bounds = [0, *sorted(c % (len(entries) + 1) for c in cuts), len(entries)]
    return [entries[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@settings(max_examples=150, deadline=None)
@given(runs=st.lists(st.tuples(st.integers(0, 12),
                               st.lists(st.integers(-5, 5), min_size=1, max_size=4)),
                     max_size=40),
       cuts=st.lists(st.integers(0, 60), max_size=6), chunk=st.sampled_from([1, 2, 3, 4096]))
def test_merged_equals_a_loop_over_groupby(runs, cuts, chunk):
    """However the entries are cut into batches and chunks, each key's values of every entry
    are combined together once, in order, as a loop over ``groupby`` would."""
    entries = sorted(runs, key=itemgetter(0))  # stable: a key's entries keep their order
    combining._MERGE_CHUNK, saved = chunk, combining._MERGE_CHUNK
    try:
        combiner = make_combiner(varied, Counters())
        got = entries_of(combiner.merged(as_batches(entries, cuts)))
    finally:
        combining._MERGE_CHUNK = saved
    assert got == reference(entries, varied)


@pytest.mark.parametrize("chunk", [1, 2, 4096])
def test_a_key_object_twice_is_one_group_a_nan_not_equal_to_itself_included(monkeypatch,
                                                                             chunk):
    """One NaN object on two entries is one group (as groupby has it), two NaN objects two."""
    monkeypatch.setattr(combining, "_MERGE_CHUNK", chunk)
    nan, other = float("nan"), float("nan")
    seen = []

    def record(key, values):
        seen.append(list(values))
        yield key, 0

    combiner = make_combiner(record, Counters())
    got = entries_of(combiner.merged([[(nan, [1]), (nan, [2])], [(nan, [3]), (other, [4])]]))
    assert seen == [[1, 2, 3]]
    assert [k is nan for k, _ in got] == [True, False] and got[1] == (other, [4])


@pytest.mark.parametrize("chunk", [1, 4096])
def test_the_combiner_gets_each_groups_first_key(monkeypatch, chunk):
    """Of equal keys (1, 1.0, True) the group's first entry's key is the one combined and
    written."""
    monkeypatch.setattr(combining, "_MERGE_CHUNK", chunk)
    keys = []

    def record(key, values):
        keys.append(key)
        yield key, sum(values)

    counters = Counters()
    combiner = make_combiner(record, counters)
    got = entries_of(combiner.merged([[(1, [1]), (1.0, [2])], [(True, [3]), (2, (5,))]]))
    assert got == [(1, [6]), (2, [5])]
    assert type(keys[0]) is int and type(got[0][0]) is int
    assert counters.get(BUILTIN, COMBINE_INPUT_RECORDS) == 4


class Planned:
    """A generator combiner that does, per key, what ``plan[key]`` says: yield nothing, one
    pair, several, a pair of another key, or raise after a first pair; each step logged."""

    def __init__(self, plan):
        self.plan = plan
        self.log = []

    def __call__(self, key, values):
        self.log.append(("called", key))
        action = self.plan.get(key, "one")
        values = list(values)
        self.log.append(("read", key, len(values)))
        if action == "none":
            return
        if action == "one":
            yield key, sum(values)
        elif action == "many":
            for v in values:
                yield key, v
            yield key, (len(values), -0.0)
        elif action == "other":
            yield key + 1000, sum(values)
        else:
            yield key, 1
            raise ValueError(f"planned for {key}")


def per_key(fn, keys, lists):
    """The per-key way: each key's call drained into a list before the next call."""
    out = []
    for key, values in zip(keys, lists, strict=True):
        out.append([v for _, v in fn(key, iter(values))])
    return out


def outcome(call):
    try:
        return call(), None
    except ValueError as error:
        return None, str(error)


actions = st.sampled_from(["none", "one", "one", "many", "other", "raise"])


@settings(max_examples=200, deadline=None)
@given(lists=st.lists(st.lists(st.integers(-3, 3), min_size=2, max_size=4), max_size=30),
       plan=st.dictionaries(st.integers(0, 29), actions),
       chunk=st.sampled_from([1, 2, 3, 1024]))
def test_one_chain_of_calls_equals_the_per_key_way(lists, plan, chunk):
    """However a generator combiner behaves per key (no pair, one, several, another key's,
    an exception), the calls drained in one chain give each key the values a call a key
    gives, with the same calls in the same order (up to the same exception)."""
    keys = list(range(len(lists)))
    want_fn, got_fn = Planned(plan), Planned(plan)
    want = outcome(lambda: per_key(want_fn, keys, lists))
    saved, combining.CALL_CHUNK = combining.CALL_CHUNK, chunk
    try:
        got = outcome(lambda: make_combiner(got_fn, Counters()).combine(keys, lists))
    finally:
        combining.CALL_CHUNK = saved
    assert repr(got) == repr(want)  # repr: -0.0 and 0.0 told apart
    assert got_fn.log == want_fn.log


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), max_size=30),
       plan=st.dictionaries(st.integers(0, 29), actions.filter(lambda a: a != "raise")),
       chunk=st.sampled_from([1, 2, 1024]))
def test_runs_combined_in_one_chain_equal_the_per_key_way(sizes, plan, chunk):
    """A counting store's runs (one value ``n`` times) combined in one chain: each key of
    several values gets what its call yields, a key of one value keeps it; counted in and
    out."""
    keys = list(range(len(sizes)))
    values = [k % 3 for k in keys]
    counters = Counters()
    saved, combining.CALL_CHUNK = combining.CALL_CHUNK, chunk
    try:
        got = make_combiner(Planned(plan), counters).runs(keys, values, sizes).value_lists()
    finally:
        combining.CALL_CHUNK = saved
    fn = Planned(plan)
    want = [per_key(fn, [k], [[v] * n])[0] if n > 1 else [v]
            for k, v, n in zip(keys, values, sizes, strict=True)]
    assert repr(got) == repr(want)
    assert counters.get(BUILTIN, COMBINE_INPUT_RECORDS) == sum(sizes)
    assert counters.get(BUILTIN, COMBINE_OUTPUT_RECORDS) == sum(map(len, want))
