"""The one-pass scan of a word count's pairs, compiled and pure Python, against plain Python."""

from __future__ import annotations

import os
from collections import Counter, namedtuple
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimr.dataflow.exact import key_choice
from minimr.dataflow.mapside import pairscan, pairstore

NamedPair = namedtuple("NamedPair", "key value")
ONE = 1
items = st.one_of(
    st.tuples(st.one_of(st.text(max_size=3), st.integers(-2, 2), st.booleans(), st.none(),
                        st.binary(max_size=2), st.just(1.0)),
              st.sampled_from([ONE, ONE, ONE, 1.0, True, Decimal(1), 2, "1"])),
    st.builds(lambda k: [k, ONE], st.text(max_size=2)),
    st.builds(lambda k: (k, ONE, ONE), st.text(max_size=2)),
    st.builds(lambda k: (k,), st.text(max_size=2)),
    st.builds(lambda k: NamedPair(k, ONE), st.text(max_size=2)),
)
IMPLEMENTATIONS = [(pairscan.one_value_key_types_py, pairscan.KeyCounterPy)]
if pairscan.COMPILED:
    IMPLEMENTATIONS.append((pairscan.one_value_key_types, pairscan.KeyCounter))


def model_key_types(pairs, one):
    """Plain Python: every item an exact tuple of two whose value is ``one`` itself."""
    if all(type(p) is tuple and len(p) == 2 and p[1] is one for p in pairs):
        return {type(p[0]) for p in pairs}
    return None


@pytest.mark.parametrize("scan, counter", IMPLEMENTATIONS,
                         ids=["python", "compiled"][: len(IMPLEMENTATIONS)])
@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(items, max_size=40))
def test_scan_and_count_agree_with_plain_python(scan, counter, pairs):
    """Key types only for exact pairs all of the one value object (1.0, True, a Decimal, a
    list, a named tuple or three items leave the scan), and the keys counted as a Counter."""
    assert scan(pairs, ONE) == model_key_types(pairs, ONE)
    if scan(pairs, ONE) is not None:
        counts = counter()
        counts.count_keys(["seen", "seen"])
        counts.count_pairs(pairs)
        assert counts.counts() == Counter({"seen": 2}) + Counter(p[0] for p in pairs)


COUNTERS = [pairscan.KeyCounterPy] + ([pairscan.KeyCounter] if pairscan.COMPILED else [])
exact_keys = st.one_of(st.text(max_size=3), st.integers(), st.binary(max_size=2), st.none(),
                       st.sampled_from([-1, -2, 2**61 - 1, 2**61, -(2**61), 0, 1, True, False]))


@pytest.mark.parametrize("counter", COUNTERS, ids=["python", "compiled"][: len(COUNTERS)])
@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(exact_keys, max_size=30), max_size=4))
def test_key_counters_count_as_a_dict_does(counter, batches):
    """Each key counted as a dict counts it: equal keys are one (1 and True, the first seen
    kept), keys of equal hashes (-1 and -2, 2**61 - 1 and 0) stay apart, keys in first-seen
    order; ``take`` hands the counts and the number counted over and empties the counter."""
    counts = counter()
    model: dict = {}
    for keys in batches:
        counts.count_keys(keys)
        for key in keys:
            model[key] = model.get(key, 0) + 1
    assert len(counts) == len(model)
    assert counts.first(3) == list(model)[:3]
    got = counts.counts()
    assert list(got.items()) == list(model.items())
    assert [type(k) for k in got] == [type(k) for k in model]
    taken, total = counts.take()
    assert total == sum(map(len, batches))
    assert dict(taken) == model and list(taken) == list(model) and len(taken) == len(model)
    assert taken.counts_of(list(model)[::-1]) == list(model.values())[::-1]
    assert len(counts) == 0 and dict(counts.take()[0]) == {}


short_texts = st.one_of(st.text(alphabet="ab\x00\x7f\xe9\u20ac\U0001f600", max_size=9),
                        st.binary(max_size=8), st.integers(-3, 3))


@pytest.mark.parametrize("counter", COUNTERS, ids=["python", "compiled"][: len(COUNTERS)])
@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(short_texts, max_size=40), max_size=3))
def test_key_counters_tell_short_texts_apart(counter, batches):
    """Keys of 0 to 9 characters (the compiled table keeps a str of 1 to 7 ASCII characters'
    text in its slot, and compares those by text alone): "ab" and "ab\\x00", an ASCII str and
    the bytes of its text, non-ASCII strs of the same length, each counted as a dict counts
    them, whether passed as keys or in pairs (made anew: equal keys, distinct objects); the
    hashes cut to two bits, so that keys' hashes collide and their texts are compared, and
    the compiled slots' counts carried every 2 (and whenever counts are read)."""
    counts = counter(hash_mask=3, slot_limit=2)
    model: dict = {}
    for keys in batches:
        copies = [k[:1] + k[1:] if isinstance(k, str) and len(k) > 1 else k for k in keys]
        counts.count_keys(keys)
        counts.count_pairs([(k, ONE) for k in copies])
        for key in keys + copies:
            model[key] = model.get(key, 0) + 1
        assert counts.counts() == model
    got = counts.counts()
    assert list(got.items()) == list(model.items())
    assert [type(k) for k in got] == [type(k) for k in model]
    copies = [k[:1] + k[1:] if isinstance(k, str) else k for k in model]  # other objects
    assert counts.take()[0].counts_of(copies) == list(model.values())


@pytest.mark.parametrize("counter", COUNTERS, ids=["python", "compiled"][: len(COUNTERS)])
def test_key_counters_tell_texts_of_one_hash_apart(counter):
    """Every hash cut to nothing: texts that differ only in a trailing NUL, in length past
    the 7 characters a slot holds, in one non-ASCII character, or in type (str and bytes),
    are counted apart; equal texts made anew are one key."""
    texts = ["", "\x00", "a", "a\x00", "ab", "ab\x00", "abcdefg", "abcdefg\x00", "abcdefgh",
             "abcdefgi", "\xe9", "e\u0301", "\U0001f600", "abcdef\xe9", b"ab", b"a", 0, 1]
    keys = texts * 3 + [t[:1] + t[1:] for t in texts if not isinstance(t, int)]
    counts = counter(hash_mask=0)
    counts.count_pairs([(k, ONE) for k in keys])
    model: dict = {}
    for key in keys:
        model[key] = model.get(key, 0) + 1
    assert list(counts.counts().items()) == list(model.items())
    assert counts.take()[0].counts_of(keys) == list(map(model.__getitem__, keys))


@pytest.mark.parametrize("counter", COUNTERS, ids=["python", "compiled"][: len(COUNTERS)])
def test_key_counters_hold_many_keys(counter):
    """A table that grows many times over keeps every count (300,000 keys, each 1 to 3
    times), and counts again from empty after ``take``."""
    keys = [f"w{i}" for i in range(300_000)]
    counts = counter()
    for batch in (keys, keys[::2], keys[::3]):
        counts.count_pairs([(k, ONE) for k in batch])
    want = {k: 1 + (i % 2 == 0) + (i % 3 == 0) for i, k in enumerate(keys)}
    taken, total = counts.take()
    assert dict(taken) == want and total == 300_000 + 150_000 + 100_000
    shuffled = [k for i, k in sorted(enumerate(keys), key=lambda ik: ik[0] * 7919 % 300_007)]
    assert taken.counts_of(shuffled) == list(map(want.__getitem__, shuffled))
    with pytest.raises(KeyError):
        taken.counts_of([*keys[:20], "none such"])
    counts.count_keys(keys[:5])
    assert counts.counts() == dict.fromkeys(keys[:5], 1)


def test_the_compiled_scan_is_built_where_asked():
    """MINIMR_REQUIRE_COMPILED=1 (CI) fails the run when the compiled helper was not built."""
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert pairscan.COMPILED


GROUPINGS = [(pairscan.counted_runs_py, pairscan.group_counted_py)]
if pairscan.COMPILED:
    GROUPINGS.append((pairscan.counted_runs, pairscan.group_counted))


@pytest.mark.parametrize("runs, group", GROUPINGS, ids=["python", "compiled"][: len(GROUPINGS)])
@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(st.one_of(st.text(max_size=2), st.integers(-2, 2)),
                                st.one_of(st.integers(0, 3), st.text(max_size=1), st.none())),
                      max_size=60))
def test_counted_pairs_group_back_into_their_keys_values(runs, group, pairs):
    """Each key gets each of its values as often as it was counted, in the count's order: as
    one run ``(value, times)`` a key when no key has two values, else as lists."""
    counted = Counter(pairs)
    want: dict = {}
    for (key, value), times in counted.items():
        want.setdefault(key, []).extend([value] * times)
    if all(len(set(map(repr, values))) == 1 for values in want.values()):
        assert runs(counted) == {key: (values[0], len(values)) for key, values in want.items()}
    else:
        assert runs(counted) is None
    got = group(counted)
    assert got == want
    assert all(type(v) is type(w) for k in want for v, w in zip(got[k], want[k], strict=True))


def model_groups(pairs):
    """The grouping store's loop as plain Python: each value appended to its key's entry,
    the key to write the least of the equal keys (``key_choice``), unhashable keys wrapped."""
    groups: dict = {}
    for key, value in pairs:
        try:
            entry = groups.get(key)
        except TypeError:
            key = pairstore._Unhashable(key)
            entry = groups.get(key)
        if entry is None:
            groups[key] = [key, [value]]
        else:
            entry[1].append(value)
            if key_choice(pairstore.unwrap(key)) < key_choice(pairstore.unwrap(entry[0])):
                entry[0] = key
    return groups


PAIR_GROUPINGS = [pairscan.group_pairs_py]
if pairscan.COMPILED:
    PAIR_GROUPINGS.append(pairscan.group_pairs)
group_keys = st.one_of(st.text(max_size=2), st.integers(0, 2), st.booleans(), st.none(),
                       st.binary(max_size=1), st.sampled_from([1.0, 0.0, Decimal(1)]),
                       st.lists(st.integers(0, 1), max_size=2), st.tuples(st.integers(0, 1)))


@pytest.mark.parametrize("group", PAIR_GROUPINGS, ids=["python", "compiled"][: len(PAIR_GROUPINGS)])
@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(group_keys, st.integers()).map(
    lambda pair: list(pair) if pair[1] % 5 == 0 else pair), max_size=50))
def test_grouped_pairs_match_plain_python(group, pairs):
    """Pairs appended to a grouping store (canonical keys in the compiled pass, the others
    and equal keys of another type one at a time) give each key its values in map order and
    the least of its equal keys to write."""
    store = pairstore.Groups()
    with mock.patch.object(pairstore, "group_pairs", group):
        store.append(pairs[: len(pairs) // 2])
        store.append(iter(pairs[len(pairs) // 2:]))
    want = model_groups(pairs)
    assert store.values == len(pairs)
    assert [(type(k), k, type(e[0]), e[0], e[1]) for k, e in store.groups.items()] == \
        [(type(k), k, type(e[0]), e[0], e[1]) for k, e in want.items()]
