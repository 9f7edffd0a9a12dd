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

import minimr
from minimr import Job, Step
from minimr.dataflow.partition import sort_key
from minimr.dataflow.sortvalues import composite_entries, composite_pairs, plain_entries
from minimr.errors import JobDefinitionError

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


@pytest.mark.xfail(strict=True, reason="known gap: with sort_values, of equal keys of"
                   " different types reduce gets the key of the least value's pair")
def test_of_equal_keys_reduce_gets_the_least_key_with_sorted_values(tmp_path):
    """As without sort_values (``exact``), the key handed to reduce is the least of the
    equal keys by type name and repr (-0.0 of 0 and -0.0), whatever the values' order."""
    source = tmp_path / "lines.txt"
    source.write_text("int\nzfloat\n")
    result = minimr.run(EqualKeys, inputs=[str(source)], output=str(tmp_path / "out"),
                        runner="inline")
    [(key, values)] = list(result.records())
    assert (type(key), values) == (float, ["int", "zfloat"])
