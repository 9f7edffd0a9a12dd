"""Secondary sort: each key's values reach reduce sorted, across map tasks, spills and
partitions, in minimr's typed order, and a hot key's values never all in memory."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minimr
from minimr import Job, Step
from minimr.dataflow.counters import Counters
from minimr.dataflow.exact import key_choice
from minimr.dataflow.mapside.combining import make_combiner
from minimr.dataflow.mapside.spill import MapOutputBuffer
from minimr.dataflow.partition import HashPartitioner, sort_key
from minimr.dataflow.reduceside.merge import MergedGroups, MergedPairs
from minimr.dataflow.sortvalues import composite_entries, composite_pairs, plain_entries
from minimr.errors import JobDefinitionError
from tests.dataflow.mapside.test_map_buffer import model

MIXED = [3, "b", 2.5, b"x", None, (1, "a"), "a", -1, True, Decimal("2.25"), (0, "z"), b"a"]


def test_composite_entries_sort_each_keys_values_in_typed_order():
    """Each value becomes its own composite entry, a key's values in minimr's order."""
    entries = list(composite_entries([("k", list(MIXED)), ("l", [2, 1])]))
    assert [composite for composite, _ in entries] == (
        [("k", v) for v in sorted(MIXED, key=sort_key)] + [("l", 1), ("l", 2)])
    assert all(values == [composite[1]] for composite, values in entries)


@pytest.mark.parametrize("values", [["b", "a", "c"], [b"z", b"a"], [3, -1, 2], MIXED],
                         ids=["str", "bytes", "int", "mixed"])
def test_composite_pairs_order_by_key_then_value(values):
    """Pairs sort by key then value, by plain comparison where it gives minimr's order."""
    rng = random.Random(3)
    pairs = [(k, v) for k in ("b", "a") for v in values]
    rng.shuffle(pairs)
    expected = sorted(pairs, key=lambda p: (sort_key(p[0]), sort_key(p[1])))
    composite_pairs(pairs)
    assert pairs == expected


def test_plain_entries_unwrap_the_composite_key():
    """On the reduce side an entry gets its plain key back, values untouched."""
    assert plain_entries([(("k", 1), [1]), (("k", 2.0), [2.0])]) == [("k", [1]), ("k", [2.0])]


class Ordered(Job):
    """Each key's values as the reducer got them, with a check that they come sorted."""

    sort_values = True

    def map(self, key, line):
        number = int(line)
        yield f"k{number % 5}", (number * 7919) % 10007
        if number % 3 == 0:
            yield "mixed", MIXED[number % len(MIXED)]

    def reduce(self, key, values):
        values = list(values)
        assert values == sorted(values, key=sort_key), key
        yield key, (len(values), values[:3])


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_values_arrive_sorted_across_map_tasks_and_spills(tmp_path, runner):
    """Many map tasks, each spilling several times, several reducers: every key's values
    reach reduce in order, none lost."""
    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"{n}\n" for n in random.Random(5).sample(range(30_000), 30_000)))
    result = minimr.run(Ordered, inputs=[str(source)], output=str(tmp_path / "out"),
                        runner=runner, workers=2, split_size=20_000, sort_buffer=20_000,
                        reducers=3)
    got = dict(result.records())
    assert sum(n for n, _ in got.values()) == 30_000 + 10_000
    assert got["k0"][1] == sorted((n * 7919) % 10007 for n in range(0, 30_000, 5))[:3]
    mixed = [MIXED[n % len(MIXED)] for n in range(0, 30_000, 3)]
    assert got["mixed"] == (len(mixed), sorted(mixed, key=sort_key)[:3])


class OrderedWithCombiner(Job):
    """A combiner beside sort_values: combined per spill, values still sorted."""

    sort_values = True

    def map(self, key, line):
        yield int(line) % 3, int(line) % 50

    def combine(self, key, values):
        for value in sorted(set(values)):  # keeps one of each value
            yield key, value

    def reduce(self, key, values):
        values = list(values)
        yield key, values == sorted(values) and set(values) == set(range(50))


def test_a_combiner_runs_beside_sorted_values(tmp_path):
    """With a combiner, values still come sorted (it runs when the buffer spills)."""
    source = tmp_path / "n.txt"
    source.write_text("".join(f"{n}\n" for n in range(6_000)))
    result = minimr.run(OrderedWithCombiner, inputs=[str(source)],
                        output=str(tmp_path / "out"), runner="inline", split_size=5_000,
                        sort_buffer=2_000, reducers=2)
    assert dict(result.records()) == {0: True, 1: True, 2: True}


def test_a_steps_own_sort_values_wins_and_must_be_a_bool(tmp_path):
    """A Step's sort_values wins over the job's; anything but a bool is refused."""
    class TwoSteps(Job):
        sort_values = True

        def steps(self):
            return [Step(map=self.pairs, reduce=self.keep, sort_values=False),
                    Step(map=self.pairs, reduce=self.keep)]

        def pairs(self, key, value):
            yield key, value

        def keep(self, key, values):
            yield key, list(values)

    plan = minimr.runner.build_plan(TwoSteps(), [str(tmp_path)], str(tmp_path / "o"))
    assert [sp.step.sort_values for sp in plan.steps] == [False, True]
    TwoSteps.sort_values = "yes"
    with pytest.raises(JobDefinitionError, match="sort_values must be True or False"):
        minimr.runner.build_plan(TwoSteps(), [str(tmp_path)], str(tmp_path / "o"))


HOT_KEY = """
    import sys
    import minimr
    from minimr import Job

    class Hot(Job):
        sort_values = True

        def map(self, key, line):
            number = int(line)
            yield "hot", (number * 7919) % 1000003

        def reduce(self, key, values):
            previous, count = -1, 0
            for value in values:
                assert previous <= value
                previous, count = value, count + 1
            yield key, count

    result = minimr.run(Hot, inputs=[sys.argv[1]], output=sys.argv[2], runner="inline",
                        split_size="4MB", sort_buffer="4MB", reducers=1)
    # this process's peak RSS (VmHWM: ru_maxrss would count the forking parent's too)
    with open("/proc/self/status") as status:
        [peak] = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    print(dict(result.records())["hot"], peak)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_a_hot_key_of_a_million_values_in_bounded_memory(tmp_path):
    """A key with a million values spills and merges by value: it reaches reduce sorted with
    a peak RSS far below what the values take in memory."""
    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"{n}\n" for n in range(1_000_000)))
    script = tmp_path / "hot.py"
    script.write_text(textwrap.dedent(HOT_KEY))
    done = subprocess.run([sys.executable, str(script), str(source), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    count, peak_kib = map(int, done.stdout.split())
    peak = peak_kib // 1024
    assert count == 1_000_000
    # a list of the million values and their sort keys alone would take over 100 MiB
    assert peak < 100, f"peak RSS {peak} MiB"


class EqualKeys(Job):
    """0 and -0.0: one key of two types, each with one value."""

    sort_values = True

    def map(self, key, line):
        yield (0 if line == "int" else -0.0), line

    def reduce(self, key, values):
        yield key, list(values)


def test_of_equal_keys_reduce_gets_the_least_key_with_sorted_values(tmp_path):
    """As without sort_values (``exact``), the key handed to reduce is the least of the
    equal keys by type name and repr (-0.0 of 0 and -0.0), whatever the values' order."""
    source = tmp_path / "lines.txt"
    source.write_text("int\nzfloat\n")
    result = minimr.run(EqualKeys, inputs=[str(source)], output=str(tmp_path / "out"),
                        runner="inline")
    [(key, values)] = list(result.records())
    assert (type(key), values) == (float, ["int", "zfloat"])


# Keys of which several are equal with different types, and values likewise: the class of
# inputs where the key handed to reduce is a choice (``exact``).
EQUAL_KEYS = [0, 0.0, -0.0, False, 1, 1.0, True, Decimal("1"), Decimal("1.0"), 2, 2.0, "a"]
VALUES = [0, -0.0, 0.0, False, 1, 1.0, True, 2, "x", "y", (1, "z")]


def exact_path(pairs: list) -> list:
    """What reduce gets without sort_values, in plain Python: each group of equal keys once,
    in minimr's order, under the least of its keys, with its values in minimr's order."""
    [groups] = model(pairs, 1)  # the map buffer's model of one partition: the least keys
    return [(key, sorted(values, key=sort_key)) for key, values in groups]


def exactly(groups: list) -> list:
    """Groups as types and reprs (equal only when the same type and value), each group's
    values checked in minimr's order (equal values of other types may come in any order)."""
    for _, values in groups:
        assert list(map(sort_key, values)) == sorted(map(sort_key, values))
    return [(key_choice(key), sorted(map(key_choice, values))) for key, values in groups]


def keep_each(key, values):
    """A combiner that keeps every value as it came."""
    for value in values:
        yield key, value


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tasks=st.lists(st.lists(st.tuples(st.sampled_from(EQUAL_KEYS), st.sampled_from(VALUES)),
                               max_size=80), min_size=1, max_size=5),
       chunk=st.sampled_from([3, 17, 1000]), limit=st.sampled_from([1, 1 << 20]),
       partitions=st.sampled_from([1, 3]), combine=st.booleans(), identity=st.booleans())
def test_equal_keys_of_other_types_reach_reduce_as_without_sorted_values(
        tmp_path_factory, monkeypatch, tasks, chunk, limit, partitions, combine, identity):
    """Map tasks, each spilling after every few pairs or not at all (over ``MAX_RUNS``
    spills: merged on the map side), their partitions merged in passes of a few runs, a few
    entries a block: each key group reaches reduce once, under the least of its equal keys
    (as without sort_values), with its values in order; read as pairs (an identity reduce),
    every value is under that key."""
    monkeypatch.setattr("minimr.dataflow.format.segments.BLOCK_ENTRIES", 4)
    monkeypatch.setattr("minimr.dataflow.reduceside.passes.MERGE_FACTOR", 3)
    folder = tmp_path_factory.mktemp("sv")
    outputs = []
    for number, pairs in enumerate(tasks):
        counters = Counters()
        buffer = MapOutputBuffer(HashPartitioner(partitions), partitions,
                                 make_combiner(keep_each if combine else None, counters),
                                 limit, str(folder / f"map{number}"), counters,
                                 sort_values=True)
        for at in range(0, len(pairs), chunk):
            buffer.add_pairs(pairs[at : at + chunk], {tuple})
        outputs.append(buffer.finish())
    everything = [pair for pairs in tasks for pair in pairs]
    partitioner = HashPartitioner(partitions)
    for p in range(partitions):
        segments = [output.segment(p) for output in outputs]
        want = exact_path([pair for pair in everything if partitioner(pair[0]) == p])
        if identity:
            with MergedPairs(segments, str(folder), sort_values=True) as merged:
                got = [pair for keys, values in merged.columns(5)
                       for pair in zip(keys, values, strict=True)]
            assert sorted(map(key_choice, map(_first_of, got))) == sorted(
                key_choice(key) for key, values in want for _ in values)
        else:
            with MergedGroups(segments, str(folder), sort_values=True) as merged:
                got = [(key, list(values)) for key, values in merged]
            assert exactly(got) == exactly(want)


def _first_of(pair: tuple):
    return pair[0]


class EqualKeyPairs(Job):
    """Each line ``K V`` yields the K-th of EQUAL_KEYS with the V-th of VALUES; the reduce
    writes the key it got with every value, in the order they came."""

    sort_values = True

    def map(self, key, line):
        k, v = line.split()
        yield EQUAL_KEYS[int(k)], VALUES[int(v)]

    def reduce(self, key, values):
        yield key, list(values)


class EqualKeyPairsIdentity(EqualKeyPairs):
    """The same pairs, then an identity reduce, then a second step that regroups them."""

    def steps(self):
        return [Step(map=self.map), Step(map=self.again, reduce=self.reduce)]

    def again(self, key, value):
        yield key, value


@pytest.mark.parametrize(("runner", "seed"), [("inline", 1), ("inline", 2), ("inline", 3),
                                              ("local", 4)])
def test_a_job_of_equal_keys_with_sorted_values_writes_what_the_exact_path_gives(
        tmp_path, runner, seed):
    """Random pairs over keys equal with different types, many map tasks each spilling,
    several reducers, on each runner: every group is written under its least key with its
    values in order, by a reduce and through an identity reduce into a second step."""
    rng = random.Random(seed)
    lines = [(rng.randrange(len(EQUAL_KEYS)), rng.randrange(len(VALUES))) for _ in range(1500)]
    source = tmp_path / "pairs.txt"
    source.write_text("".join(f"{k} {v}\n" for k, v in lines))
    want = exactly(exact_path([(EQUAL_KEYS[k], VALUES[v]) for k, v in lines]))
    for job in (EqualKeyPairs, EqualKeyPairsIdentity):
        result = minimr.run(job, inputs=[str(source)], output=str(tmp_path / job.__name__),
                            runner=runner, workers=2, split_size=1500, sort_buffer=600,
                            reducers=rng.randint(2, 3))
        got = sorted(result.records(), key=lambda record: sort_key(record[0]))
        assert exactly(got) == want, job.__name__
