"""minimr.run: jobs of every shape, multi-step jobs, counters, and all-or-nothing output."""

from __future__ import annotations

import collections
import re
from fractions import Fraction

import pytest

import minimr
from minimr import Job, Step
from minimr.dataflow.counters import BUILTIN, MAP_INPUT_RECORDS, REDUCE_OUTPUT_RECORDS
from tests.conftest import write_file


def run_inline(*args, **kwargs):
    """minimr.run with the inline runner: the reference the cluster runners are held to."""
    return minimr.run(*args, runner="inline", **kwargs)


def reference_counts(folder):
    counts = collections.Counter()
    for path in sorted(folder.iterdir()):
        for line in path.read_text().splitlines():
            counts.update(re.findall(r"[a-z]+", line.lower()))
    return dict(counts)


def test_job_file_path_runs_and_matches_reference(wordcount_job, text_input, tmp_path):
    """A job given by path produces the plain-Python word counts, keys sorted in each part."""
    result = run_inline(str(wordcount_job), [str(text_input)], str(tmp_path / "out"),
                        reducers=3, split_size=500)
    assert dict(result.records()) == reference_counts(text_input)
    for part in sorted((tmp_path / "out").glob("part-*")):
        keys = [k for k, _ in minimr.read_output(part)]
        assert keys == sorted(keys)
    assert result.counters.get(BUILTIN, MAP_INPUT_RECORDS) == 600


class LineLengths(Job):
    """Counts lines by length; increments a user counter."""

    reducers = 2

    def map(self, key, line):
        self.increment_counter("lines", "seen")
        yield len(line), 1

    def reduce(self, length, ones):
        yield length, sum(ones)


def test_class_job_with_user_counters(text_input, tmp_path):
    """A Job class works directly and its user counters are summed over tasks."""
    result = run_inline(LineLengths, str(text_input), str(tmp_path / "out"), split_size=700)
    assert result.counters.get("lines", "seen") == 600
    assert sum(v for _, v in result.records()) == 600
    assert len(list((tmp_path / "out").glob("part-*"))) == 2


class CountThenTop(Job):
    """Two steps: word count, then the 3 most frequent words in one reducer."""

    def steps(self):
        return [
            Step(map=self.words, combine=self.total, reduce=self.total),
            Step(map=self.swap, reduce=self.top, reducers=1),
        ]

    def words(self, key, line):
        for w in line.split():
            yield w, 1

    def total(self, word, counts):
        yield word, sum(counts)

    def swap(self, word, count):
        yield None, (count, word)

    def top(self, _, pairs):
        for count, word in sorted(pairs, reverse=True)[:3]:
            yield word, count


def test_multi_step_job_feeds_each_step_into_the_next(text_input, tmp_path):
    """Step 2 reads step 1's output and the final parts hold only step 2's records."""
    result = run_inline(CountThenTop, str(text_input), str(tmp_path / "out"), reducers=3,
                        split_size=400)
    counts = collections.Counter()
    for path in text_input.iterdir():
        for line in path.read_text().splitlines():
            counts.update(line.split())
    expected = [(w, c) for c, w in sorted(((c, w) for w, c in counts.items()), reverse=True)[:3]]
    assert list(result.records()) == expected
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_SUCCESS", "part-00000"]


def test_batch_map_accepts_a_mapping(text_input, tmp_path):
    """A map_batch returning a Counter gives the same result as the per-line map."""
    job = write_file(tmp_path / "batch.py", """
        import collections, re
        WORD = re.compile(r"[a-z]+")
        def map_batch(records):
            counts = collections.Counter()
            for _, line in records:
                counts.update(WORD.findall(line.lower()))
            return counts
        def combine(word, counts):
            yield word, sum(counts)
        reduce = combine
    """)
    result = run_inline(str(job), str(text_input), str(tmp_path / "out"), split_size=900)
    assert dict(result.records()) == reference_counts(text_input)


def test_identity_reduce_and_range_partitioner_give_total_order(tmp_path):
    """With no reduce and a range partitioner, the concatenated parts are globally sorted."""
    data = tmp_path / "nums.txt"
    data.write_text("".join(f"{(i * 7919) % 1000:04d}\n" for i in range(1000)))

    class Sort(Job):
        partitioner = "range"

        def map(self, key, line):
            yield line, None

    result = run_inline(Sort, str(data), str(tmp_path / "out"), reducers=4, split_size=600)
    keys = [k for k, _ in result.records()]
    assert keys == sorted(f"{(i * 7919) % 1000:04d}" for i in range(1000))
    sizes = [len(list(minimr.read_output(p))) for p in sorted((tmp_path / "out").glob("part-*"))]
    assert len(sizes) == 4 and min(sizes) > 100


def test_failed_job_leaves_no_success_and_no_temporaries(text_input, tmp_path):
    """A reduce that raises lets the user's exception through and commits nothing more."""

    class Fails(Job):
        def map(self, key, line):
            yield line, 1

        def reduce(self, key, values):
            if "grape" in key:
                raise RuntimeError("reduce exploded")
            yield key, sum(values)

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="reduce exploded"):
        run_inline(Fails, str(text_input), str(out), reducers=1)
    assert not (out / "_SUCCESS").exists()
    assert not (out / "_temporary").exists()
    assert not list(out.glob("part-*"))


def test_records_of_a_fresh_run_read_pickled_values_that_read_output_refuses(tmp_path):
    """Result.records() trusts the run's own output; read_output's default refuses pickles."""

    class Thirds(Job):
        def map(self, key, line):
            yield line, Fraction(1, 3)

        def reduce(self, key, values):
            yield key, sum(values)

    write_file(tmp_path / "in.txt", "a\nb\na\n")
    result = run_inline(Thirds, str(tmp_path / "in.txt"), str(tmp_path / "out"), reducers=1)
    assert sorted(result.records()) == [("a", Fraction(2, 3)), ("b", Fraction(1, 3))]
    with pytest.raises(minimr.UntrustedOutputError, match="trusted=True"):
        list(minimr.read_output(result.output))
    with pytest.raises(minimr.UntrustedOutputError):
        list(result.records(trusted=False))


def test_whole_file_input_format(text_input, tmp_path):
    """The whole_file format gives one (path, contents) record per file."""

    class Sizes(Job):
        input_format = "whole_file"

        def map(self, path, contents):
            yield path.rsplit("/", 1)[-1], len(contents)

    result = run_inline(Sizes, str(text_input), str(tmp_path / "out"), split_size=10)
    expected = {p.name: len(p.read_text()) for p in text_input.iterdir()}
    assert dict(result.records()) == expected
    assert result.counters.get(BUILTIN, REDUCE_OUTPUT_RECORDS) == 3


def test_default_runner_is_an_embedded_cluster_with_the_inline_output(text_input, tmp_path):
    """Without runner=, a local cluster runs the job; its output equals the inline runner's."""
    cluster = minimr.run(CountThenTop, str(text_input), str(tmp_path / "cluster"), reducers=3,
                         split_size=400, workers=2)
    inline = run_inline(CountThenTop, str(text_input), str(tmp_path / "inline"), reducers=3,
                        split_size=400)
    assert list(cluster.records()) == list(inline.records())
    assert cluster.counters[BUILTIN] == inline.counters[BUILTIN]
    assert cluster.counters.get(BUILTIN, MAP_INPUT_RECORDS) == 600 + 7  # 7 words in step 2


def test_bad_options_are_usage_errors(text_input, tmp_path):
    """Bad reducers or runner values are refused with what was expected and received."""
    with pytest.raises(minimr.UsageError, match="reducers must be an int >= 1, or 0 for a"):
        run_inline(LineLengths, str(text_input), str(tmp_path / "o"), reducers=-1)
    with pytest.raises(minimr.UsageError, match="runner must be one of"):
        minimr.run(LineLengths, str(text_input), str(tmp_path / "o"), runner="spark")


def test_an_unknown_keyword_is_refused_naming_the_closest_known_one(text_input, tmp_path):
    """A typo such as reducer=2 is an error that names it and suggests reducers, before any
    output is touched; it is also a TypeError, as Python's own would be."""
    with pytest.raises(minimr.UnknownOptionError) as info:
        run_inline(LineLengths, str(text_input), str(tmp_path / "o"), reducer=2)
    assert "reducer=2 (did you mean reducers=?)" in str(info.value)
    assert isinstance(info.value, minimr.UsageError) and isinstance(info.value, TypeError)
    assert not (tmp_path / "o").exists()
    with pytest.raises(minimr.UnknownOptionError) as info:
        run_inline(LineLengths, str(text_input), str(tmp_path / "o"), zzz=1, max_attempt=2)
    assert "max_attempt=2 (did you mean max_attempts=?)" in str(info.value)
    assert "zzz=1," in str(info.value) and "split_size" in str(info.value)  # all it takes


def test_malformed_job_is_a_definition_error(text_input, tmp_path):
    """A job with none of map, map_keys and map_batch, or two of them, is refused before any
    task runs, the message naming what it defines."""

    class NoMap(Job):
        def reduce(self, k, v):
            yield k, v

    with pytest.raises(minimr.JobDefinitionError,
                       match=r"exactly one of map, map_keys or map_batch \(it defines none\)"):
        run_inline(NoMap, str(text_input), str(tmp_path / "o"))

    class TwoMaps(NoMap):
        def map(self, key, line):
            yield line, 1

        def map_keys(self, key, line):
            return line.split()

    with pytest.raises(minimr.JobDefinitionError, match="it defines map and map_keys"):
        run_inline(TwoMaps, str(text_input), str(tmp_path / "o"))


class WordCount(Job):
    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        yield word, sum(counts)


def test_combine_files_packs_small_files_into_fewer_map_tasks(tmp_path):
    """With combine_files, a dozen small files run as a few map tasks (counted in the task
    list and in the bytes each reads), inline and on a local cluster, with the same output."""
    from minimr.runner import build_plan

    folder = tmp_path / "many"
    for i in range(12):
        write_file(folder / f"f{i:02d}.txt", f"w{i % 5} shared\nshared w{i % 3}\n")
    plan = build_plan(WordCount(), [str(folder)], str(tmp_path / "p"), split_size=60,
                      combine_files=True)
    tasks = plan.map_tasks(0)
    assert 1 < len(tasks) < 12
    assert sum(len(t.splits) for t in tasks) == 12
    assert all(sum(s.end - s.start for s in t.splits) <= 60 for t in tasks)
    assert "more split" in tasks[0].describe()
    plain = run_inline(WordCount, str(folder), str(tmp_path / "plain"), split_size=60)
    packed = run_inline(WordCount, str(folder), str(tmp_path / "packed"), split_size=60,
                        combine_files=True)
    cluster = minimr.run(WordCount, str(folder), str(tmp_path / "cluster"), split_size=60,
                         combine_files=True, workers=2)
    assert list(plain.records()) == list(packed.records()) == list(cluster.records())
    assert dict(plain.records())["shared"] == 24
    assert packed.counters[BUILTIN] == cluster.counters[BUILTIN]


class WhereLines(Job):
    """Every line under the key the reader gave it: (path, offset) -> line."""

    reducers = 3

    def map(self, key, line):
        yield key, line

    def reduce(self, key, lines):
        for line in lines:
            yield key, line


def lines_by_place(path, data: bytes) -> list[tuple[tuple[str, int], str]]:
    """((path, offset), line) of every line of ``data``, the obvious way."""
    found, offset = [], 0
    for line in data.splitlines(keepends=True):
        found.append(((path, offset), line.decode().rstrip("\n")))
        offset += len(line)
    return found


def test_small_files_are_packed_by_default_and_every_line_keeps_its_key(tmp_path):
    """Without combine_files, hundreds of small files (empty ones and gzip ones among them)
    and a file of many splits run as a few map tasks; each split is read by exactly one
    task, each line once under its own (path, offset), inline and on a local cluster."""
    import gzip

    from minimr.runner import build_plan

    folder = tmp_path / "logs"
    folder.mkdir()
    expected = []
    for i in range(300):  # every fourth file empty, every tenth gzip
        data = "".join(f"file {i} line {j} w{(i * j) % 7}\n" for j in range(i % 4)).encode()
        path = folder / (f"f{i:03d}.txt" + ("" if i % 10 else ".gz"))
        path.write_bytes(data if i % 10 else gzip.compress(data))
        expected += lines_by_place(str(path), data)
    huge = folder / "m-huge.txt"  # 10 splits of 4 KiB, between the small files
    data = "".join(f"huge line {j:05d}\n" for j in range(2560)).encode()
    huge.write_bytes(data)
    expected += lines_by_place(str(huge), data)
    plan = build_plan(WhereLines(), [str(folder)], str(tmp_path / "p"), split_size=4096)
    tasks = plan.map_tasks(0)
    splits = [s for t in tasks for s in t.splits]
    assert sorted(splits, key=lambda s: (s.path, s.start)) == plan.splits
    assert len(plan.splits) == 310 and 10 < len(tasks) < 40  # was 310 tasks
    assert sum(len(t.splits) == 1 and t.split.path == str(huge) for t in tasks) == 10
    inline = run_inline(WhereLines, str(folder), str(tmp_path / "inline"), split_size=4096)
    cluster = minimr.run(WhereLines, str(folder), str(tmp_path / "cluster"), split_size=4096,
                         workers=2)
    assert sorted(inline.records()) == sorted(expected) == sorted(cluster.records())
    assert inline.counters[BUILTIN] == cluster.counters[BUILTIN]


def test_a_map_that_changes_its_values_midway_gives_the_same_output_and_counters(tmp_path):
    """A map whose first values are all 1 and later ones are not (the store converts as it
    goes): output and counters are what a map with mixed values from the start gives; a
    KeyError of the user's own map reaches the user as that KeyError."""
    folder = tmp_path / "in"
    write_file(folder / "a.txt", "".join(f"w{i % 50} x\n" for i in range(2000)))

    class LateTwos(Job):
        def map(self, key, line):
            word = line.split()[0]
            yield word, (2 if key[1] > 6000 else 1)

        def reduce(self, word, counts):
            yield word, sum(counts)

    class EarlyTwos(LateTwos):
        def map(self, key, line):
            yield line.split()[0], (2 if key[1] > 6000 or key[1] == 0 else 1)

    late = run_inline(LateTwos, str(folder), str(tmp_path / "late"))
    early = run_inline(EarlyTwos, str(folder), str(tmp_path / "early"))
    expected = collections.Counter()
    offset = 0
    for i in range(2000):
        line = f"w{i % 50} x\n"
        expected[f"w{i % 50}"] += 2 if offset > 6000 else 1
        offset += len(line)
    assert dict(late.records()) == dict(expected)
    assert dict(early.records())["w0"] == expected["w0"] + 1
    assert late.counters.get(BUILTIN, MAP_INPUT_RECORDS) == 2000

    class LookupFails(LateTwos):
        def map(self, key, line):
            if key[1] > 6000:
                raise KeyError("the user's own")
            yield line.split()[0], 1

    with pytest.raises(KeyError, match="the user's own"):
        run_inline(LookupFails, str(folder), str(tmp_path / "fails"))


def test_map_final_emits_what_a_task_accumulated(text_input, tmp_path):
    """In-mapper combining: map_batch (or map) counts into the task's own Counter and
    map_final hands it on once per task; each task starts afresh (setup), inline and on a
    local cluster, as a module of functions and as a class."""
    module = write_file(tmp_path / "final.py", """
        import collections, re
        WORD = re.compile(r"[a-z]+")
        counts = collections.Counter()
        def setup():
            counts.clear()
        def map(key, line):
            counts.update(WORD.findall(line.lower()))
        def map_final():
            return counts
        def combine(word, values):
            yield word, sum(values)
        reduce = combine
    """)

    class BatchFinal(Job):
        def setup(self):
            self.counts = collections.Counter()

        def map_batch(self, records):
            for _, line in records:
                self.counts.update(re.findall(r"[a-z]+", line.lower()))

        def map_final(self):
            yield from self.counts.items()

        def reduce(self, word, values):
            yield word, sum(values)

    expected = reference_counts(text_input)
    for job in (str(module), BatchFinal):
        inline = run_inline(job, str(text_input), str(tmp_path / "inline"), split_size=900,
                            overwrite=True)
        assert inline.counters[BUILTIN][MAP_INPUT_RECORDS] > 0
        assert dict(inline.records()) == expected
        cluster = minimr.run(job, str(text_input), str(tmp_path / "cluster"), split_size=900,
                             workers=2, overwrite=True)
        assert dict(cluster.records()) == expected


def test_map_final_counts_each_record_once_when_the_map_output_is_unhashable(tmp_path):
    """A map whose pairs cannot be counted (a list value) runs once per record: what it
    accumulated for map_final is counted once."""
    folder = tmp_path / "in"
    write_file(folder / "a.txt", "".join(f"line {i}\n" for i in range(500)))

    class Seen(Job):
        def setup(self):
            self.lines = 0

        def map(self, key, line):
            self.lines += 1
            yield "pairs", [line]  # a list value: unhashable, no pair counting

        def map_final(self):
            return {"lines": ["seen"] * self.lines}

        def reduce(self, key, values):
            yield key, sum(len(v) for v in values)

    result = run_inline(Seen, str(folder), str(tmp_path / "out"))
    assert dict(result.records()) == {"lines": 500, "pairs": 500}


def test_map_final_must_be_callable(text_input, tmp_path):
    class Bad(WordCount):
        map_final = 3

    with pytest.raises(minimr.JobDefinitionError, match="map_final must be callable"):
        run_inline(Bad, str(text_input), str(tmp_path / "o"))


def test_range_partitioning_samples_what_map_final_emits(tmp_path):
    """A range-partitioned job whose map only accumulates (map_final emits the keys) still
    gets boundaries from a sample: its keys spread over the parts, in total order."""
    folder = tmp_path / "in"
    write_file(folder / "a.txt", "".join(f"{i:04d}\n" for i in range(2000)))

    class FinalSort(Job):
        partitioner = "range"

        def setup(self):
            self.seen = []

        def map(self, key, line):
            self.seen.append(line)

        def map_final(self):
            return [(line, 1) for line in self.seen]

    result = run_inline(FinalSort, str(folder), str(tmp_path / "out"), reducers=3)
    parts = [p.read_text().splitlines() for p in sorted((tmp_path / "out").glob("part-*"))]
    assert all(parts) and len(parts) == 3
    assert [k for k, _ in result.records()] == [f"{i:04d}" for i in range(2000)]


class Scaled(Job):
    """Word lengths times ``--factor``, for the words not in a shipped ``skip.txt``."""

    options = [minimr.Option("--factor", type=int, default=1)]

    def setup(self):
        with open(minimr.side_file("skip.txt")) as file:
            self.skip = set(file.read().split())

    def map(self, key, line):
        for word in line.split():
            if word not in self.skip:
                yield word, len(word) * self.options.factor

    def reduce(self, word, values):
        yield word, max(values)


def test_run_takes_options_and_files_inline_and_on_a_cluster(tmp_path):
    """options={...} and files=[...] reach every task, inline and on workers alike, and the
    steps are planned with the values (minimr.run checks them before any task)."""
    text = write_file(tmp_path / "in.txt", "ab cde ab f\ncde gh\n")
    skip = write_file(tmp_path / "skip.txt", "f\n")
    outputs = [
        dict(minimr.run(Scaled, [str(text)], str(tmp_path / name), runner=runner, workers=1,
                        options={"factor": 10}, files=[str(skip)]).records())
        for name, runner in (("inline", "inline"), ("local", "local"))
    ]
    assert outputs[0] == outputs[1] == {"ab": 20, "cde": 30, "gh": 20}
    with pytest.raises(minimr.UsageError, match="Scaled has no option 'facter': did you mean"):
        minimr.run(Scaled, [str(text)], str(tmp_path / "o"), options={"facter": 1},
                   files=[str(skip)])
    assert not (tmp_path / "o").exists()


def test_overwrite_never_deletes_a_side_file(tmp_path):
    """An old output folder that holds one of the job's side files is not emptied."""
    text = write_file(tmp_path / "in.txt", "ab\n")
    out = tmp_path / "out"
    skip = write_file(out / "skip.txt", "f\n")
    (out / "_SUCCESS").touch()
    with pytest.raises(minimr.UsageError, match="skip.txt"):
        minimr.run(Scaled, [str(text)], str(out), runner="inline", overwrite=True,
                   files=[str(skip)])
    assert skip.read_text() == "f\n"
