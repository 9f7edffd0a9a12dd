"""Map-only steps (0 reducers): declared, refused when contradictory, run by every runner."""

from __future__ import annotations

import os
from fractions import Fraction

import pytest
from click.testing import CliRunner

import minimr
from minimr import Job, Step
from minimr.cli import main
from minimr.dataflow.counters import BUILTIN, MAP_OUTPUT_BYTES, MAP_OUTPUT_RECORDS
from tests.conftest import write_file


class Matches(Job):
    """Keeps the lines holding an "e", as typed values of several kinds."""

    reducers = 0

    def map(self, key, line):
        if "e" in line:
            yield key, (line, len(line), Fraction(len(line), 3), -0.0)


class Words(Job):
    """A map-only step feeding a word count, then a map-only step that swaps the pairs."""

    def steps(self):
        return [Step(map=self.split, reducers=0),
                Step(map=self.relay, reduce=self.total, reducers=2),
                Step(map=self.swap, reducers=0)]

    def split(self, key, line):
        for word in line.split():
            yield word, 1

    def relay(self, word, one):
        yield word, one

    def total(self, word, ones):
        yield word, sum(ones)

    def swap(self, word, count):
        yield count, word


def run_inline(*args, **kwargs):
    return minimr.run(*args, runner="inline", **kwargs)


def lines_of(folder):
    return [line for path in sorted(folder.glob("part-*")) for line in
            path.read_text().splitlines()]


def test_a_map_only_job_writes_a_part_per_map_task_in_the_maps_order(text_input, tmp_path):
    """reducers = 0: one part-m-NNNNN per map task, records in input order, values unchanged
    (type included), no reduce counters."""
    result = run_inline(Matches, str(text_input), str(tmp_path / "out"), split_size=700)
    names = sorted(os.listdir(tmp_path / "out"))
    parts = [n for n in names if n.startswith("part-")]
    assert names[0] == "_SUCCESS" and len(parts) > 1
    assert parts == [f"part-m-{i:05d}" for i in range(len(parts))]
    expected = []
    for path in sorted(text_input.iterdir()):
        offset = 0
        for line in path.read_text().splitlines(keepends=True):
            text = line.rstrip("\n")
            if "e" in text:
                expected.append(((str(path), offset),
                                 (text, len(text), Fraction(len(text), 3), -0.0)))
            offset += len(line.encode())
    got = list(result.records())
    assert got == expected  # parts in order, each in the map's order: the input's
    assert all(str(v[3]) == "-0.0" for _, v in got)
    builtin = result.counters[BUILTIN]
    assert builtin[MAP_OUTPUT_RECORDS] == len(expected)
    assert builtin[MAP_OUTPUT_BYTES] == sum(
        os.path.getsize(tmp_path / "out" / p) for p in parts)
    assert not any(name.startswith(("reduce", "spilled", "combine")) for name in builtin)


def test_map_only_steps_feed_the_next_step_and_end_a_job(text_input, tmp_path):
    """A map-only first step feeds a reduce step, and a map-only last step writes the job's
    output: the same records as the job written with reduces."""

    class WithReduces(Words):
        def steps(self):
            return [Step(map=self.split, reduce=self.total, reducers=3),
                    Step(map=self.swap, reducers=1)]

    result = run_inline(Words, str(text_input), str(tmp_path / "out"), split_size=900)
    reference = run_inline(WithReduces, str(text_input), str(tmp_path / "ref"))
    assert sorted(result.records()) == sorted(reference.records())
    assert sorted(p.name for p in (tmp_path / "out").glob("part-*")) == [
        "part-m-00000", "part-m-00001"]  # one map task a part file of step 1


def test_map_keys_map_batch_and_map_final_write_their_pairs(text_input, tmp_path):
    """Every map form of a map-only step writes what it gives, in order: a key of map_keys
    as (key, 1), a batch map's mapping in its order, map_final's pairs last."""
    job = write_file(tmp_path / "job.py", """
        import collections
        reducers = 0

        def map_batch(records):
            return collections.Counter(len(line) for _, line in records)

        def map_final():
            return [("end", None)]
    """)
    result = run_inline(str(job), str(text_input), str(tmp_path / "out"), split_size=10**6)
    records = list(result.records())
    assert records[-1] == ("end", None)
    assert sum(v for k, v in records if k != "end") == 600

    class Keys(Job):
        reducers = 0

        def map_keys(self, key, line):
            return line.split()[:2]

    keyed = list(run_inline(Keys, str(text_input), str(tmp_path / "keys")).records())
    assert len(keyed) == 1080 and {v for _, v in keyed} == {1}  # 120 lines of one word
    assert all(type(v) is int for _, v in keyed)


@pytest.mark.parametrize("fmt", ["jsonl", "tsv"])
def test_map_only_output_in_other_formats_and_compressed(text_input, tmp_path, fmt):
    """The run's output format and compression apply to map-only parts too, which
    read_output reads back."""
    job = write_file(tmp_path / "job.py", """
        reducers = 0

        def map(key, line):
            if line.startswith("a"):
                yield line.split()[0], str(len(line))
    """)
    result = run_inline(str(job), str(text_input), str(tmp_path / "out"), output_format=fmt,
                        compress="gzip")
    assert sorted(os.listdir(tmp_path / "out"))[1] == "part-m-00000.gz"
    records = list(result.records())
    assert records and all(k.startswith("a") and v.isdigit() for k, v in records)


def test_reducers_zero_from_the_run_or_a_module_or_a_step(wordcount_job, text_input, tmp_path):
    """reducers=0 is declared on the run, a module, a class or a Step; a Step's 0 wins over
    the run's reducers, and the run's number wins over the job's 0."""
    job = write_file(tmp_path / "job.py", """
        def map(key, line):
            yield len(line), line
    """)
    run_inline(str(job), str(text_input), str(tmp_path / "run"), reducers=0)
    assert (tmp_path / "run" / "part-m-00000").exists()

    class StepZero(Words):
        def steps(self):
            return [Step(map=self.split, reducers=0)]

    run_inline(StepZero, str(text_input), str(tmp_path / "step"), reducers=5)
    assert (tmp_path / "step" / "part-m-00000").exists()
    run_inline(Matches, str(text_input), str(tmp_path / "override"), reducers=2)
    assert sorted(p.name for p in (tmp_path / "override").glob("part-*")) == [
        "part-00000", "part-00001"]  # an identity reduce, as a job without reduce has


@pytest.mark.parametrize(("attributes", "named"), [
    ("reduce = lambda self, key, values: [(key, 1)]", "declares reduce:"),
    ("reduce = minimr.fold(sum)", "declares reduce:"),
    ("combine = lambda self, key, values: [(key, 1)]", "declares combine:"),
    ("reduce_final = lambda self: []", "declares reduce_final:"),
    ("sort_values = True", "declares sort_values=True:"),
    ("partitioner = 'range'", 'declares partitioner="range":'),
])
def test_a_map_only_step_that_declares_what_a_reduce_has_is_refused(
        attributes, named, text_input, tmp_path):
    """A reduce, combine, reduce_final, sort_values or range partitioner with reducers=0 is
    refused before any task, naming it, where the 0 came from and the ways out."""
    job = write_file(tmp_path / "job.py", f"""
        import minimr

        class Contradiction(minimr.Job):
            reducers = 0
            {attributes}

            def map(self, key, line):
                yield key, line
    """)
    with pytest.raises(minimr.JobDefinitionError) as info:
        run_inline(str(job), str(text_input), str(tmp_path / "out"))
    message = str(info.value)
    assert named in message and "map-only (reducers=0, from Contradiction.reducers)" in message
    assert "give the step reducers >= 1" in message
    assert not (tmp_path / "out").exists()


def test_a_reduce_job_run_with_zero_reducers_is_refused(wordcount_job, text_input, tmp_path):
    """--reducers 0 on a job with a reduce says the run's 0 made the step map-only."""
    with pytest.raises(minimr.JobDefinitionError, match="from the run's reducers"):
        run_inline(str(wordcount_job), str(text_input), str(tmp_path / "out"), reducers=0)


@pytest.mark.parametrize("value", [-1, 1.0, "2", True])
def test_a_malformed_number_of_reducers_is_refused(value, text_input, tmp_path):
    """A negative or non-int reducers on a job or a step says what it expected."""

    class Bad(Matches):
        reducers = value

    with pytest.raises(minimr.JobDefinitionError, match=r"Bad.reducers must be an int >= 1, or"
                       r" 0 for a map-only step \(got "):
        run_inline(Bad, str(text_input), str(tmp_path / "out"))

    class BadStep(Words):
        def steps(self):
            return [Step(map=self.split, reducers=value)]

    with pytest.raises(minimr.JobDefinitionError, match="step 0: reducers must be an int"):
        run_inline(BadStep, str(text_input), str(tmp_path / "out"))


def test_submit_takes_reducers_zero(text_input, tmp_path):
    """minimr submit --reducers 0 runs a job map-only; a negative number is a usage error."""
    job = write_file(tmp_path / "job.py", """
        def map(key, line):
            yield key, line
    """)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["submit", str(job), "--input", str(text_input), "--output",
                                  str(out), "--reducers", "0", "--inline"])
    assert result.exit_code == 0, result.output
    assert (out / "part-m-00000").exists() and len(lines_of(out)) == 600
    assert "map output bytes" in result.output and "reduce input" not in result.output
    bad = runner.invoke(main, ["submit", str(job), "--input", str(text_input), "--output",
                               str(tmp_path / "bad"), "--reducers", "-1"])
    assert bad.exit_code == 2 and "-1 is not in the range x>=0" in bad.output


def test_a_local_cluster_writes_what_the_inline_runner_writes(text_input, tmp_path):
    """Map-only steps at the start and the end of a job, on an embedded cluster: the same
    part files, byte for byte, as inline."""
    cluster = minimr.run(Words, str(text_input), str(tmp_path / "cluster"), split_size=900,
                         workers=2)
    inline = run_inline(Words, str(text_input), str(tmp_path / "inline"), split_size=900)
    files = sorted(p.name for p in (tmp_path / "inline").glob("part-*"))
    assert files == sorted(p.name for p in (tmp_path / "cluster").glob("part-*"))
    for name in files:
        assert (tmp_path / "cluster" / name).read_bytes() == (
            tmp_path / "inline" / name).read_bytes()
    assert cluster.counters[BUILTIN] == inline.counters[BUILTIN]
