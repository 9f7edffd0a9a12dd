"""mrjob jobs run unchanged: minimr writes the lines mrjob's inline runner writes, and refuses
before any task what it does not run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import minimr
from minimr.errors import JobDefinitionError, JobLoadError, UsageError
from tests.compat.conftest import minimr_lines, mrjob_lines, mrjob_run, part_lines, write_text
from tests.conftest import write_file

#: mrjob's examples that use only what minimr runs, with the arguments they are given
MATCHED = ["mr_word_freq_count", "mr_most_used_word", "mr_wc", "mr_count_lines_right",
           "mr_count_lines_by_file", "mr_next_word_stats"]

#: mrjob's examples minimr refuses, and what the refusal names
REFUSED = {
    "mr_grep": "mapper_cmd, a shell command",
    "mr_words_containing_u_freq_count": "mapper_pre_filter, a shell command",
    "mr_phone_to_url": "mapper_raw",
    "mr_text_classifier": "mapper_raw",
    "mr_nick_nack": "HADOOP_OUTPUT_FORMAT",
    "mr_nick_nack_input_format": "HADOOP_INPUT_FORMAT",
    "mr_jar_step_example": "is a JarStep",
    "mr_spark_wordcount": "is a SparkStep",
    "mr_spark_most_used_word": "is a SparkStep",
    "mr_sparkaboom": "is a SparkStep",
    "mr_spark_wordcount_script": "is a SparkScriptStep",
}
_REFUSED_OPTIONS = {"mr_grep": {"expression": "x"}}


@pytest.mark.parametrize("name", MATCHED)
def test_example_writes_what_mrjob_writes(name, examples, text, tmp_path):
    """One of mrjob's own example jobs, unchanged, writes the lines mrjob's runner writes."""
    job = examples / f"{name}.py"
    expected = mrjob_lines(job, [text])
    assert expected
    assert minimr_lines(job, [text], tmp_path / "out", split_size=20_000) == expected


@pytest.mark.parametrize("name", ["mr_word_freq_count", "mr_most_used_word"])
def test_example_on_a_local_cluster_with_spills(name, examples, text, tmp_path):
    """On worker processes, with many map tasks, spills and reducers, the lines are the same."""
    job = examples / f"{name}.py"
    got = minimr_lines(job, [text], tmp_path / "out", runner="local", workers=2,
                       split_size=8_000, sort_buffer=4_000, reducers=3)
    assert got == mrjob_lines(job, [text])


def test_file_argument_ships_the_file(examples, text, tmp_path):
    """``add_file_arg``: the file given on the command line reaches every task by name."""
    job = examples / "mr_most_used_word.py"
    [default] = mrjob_lines(job, [text])  # the most used word: stop it, and the answer changes
    stop = write_file(tmp_path / "elsewhere" / "mine.txt", json.loads(default) + "\n")
    expected = mrjob_lines(job, [text], ("--stop-words-file", str(stop)))
    assert expected != [default]
    got = minimr_lines(job, [text], tmp_path / "out", options={"stop_words_file": str(stop)},
                       runner="local", workers=2)
    assert got == expected


def test_mapper_final_counts_per_map_task(examples, tmp_path):
    """``mr_count_lines_wrong`` writes one count a map task: with one task a gzip file in
    both (mrjob cuts other files its own way), the same."""
    folder = write_text(tmp_path / "one", files=2, lines=300)
    for plain in folder.iterdir():
        with gzip.open(f"{plain}.gz", "wb") as packed:
            packed.write(plain.read_bytes())
        plain.unlink()
    single = folder
    job = examples / "mr_count_lines_wrong.py"
    assert minimr_lines(job, [single], tmp_path / "out") == mrjob_lines(job, [single])


def test_log_sampler_samples_input_lines(examples, text, tmp_path):
    """``mr_log_sampler`` (SORT_VALUES on random seeds) writes --sample-size input lines."""
    lines = set(minimr_lines(examples / "mr_log_sampler.py", [text], tmp_path / "out",
                             options={"sample_size": 25}, reducers=1))
    given = {line.encode() for f in text.iterdir() for line in f.read_text().splitlines()}
    assert lines <= given and len(part_lines(tmp_path / "out")) == 25


def test_sorted_values_are_what_the_next_word_stats_need(examples, text, tmp_path):
    """``mr_next_word_stats`` needs each word's total before its pairs: without SORT_VALUES
    it fails or writes other lines (so the match above is the sort's doing)."""
    source = (examples / "mr_next_word_stats.py").read_text()
    unsorted = write_file(tmp_path / "job" / "mr_unsorted.py",
                          source.replace("SORT_VALUES = True", "SORT_VALUES = False"))
    try:
        got = minimr_lines(unsorted, [text], tmp_path / "o1")
    except TypeError:  # a pair met before its word's total
        return
    assert got != mrjob_lines(examples / "mr_next_word_stats.py", [text])


def test_failing_example_raises_the_users_exception(examples, text, tmp_path):
    """``mr_boom``'s mapper_init raises; the inline runner lets that very exception through."""
    with pytest.raises(Exception, match="BOOM"):
        minimr.run(str(examples / "mr_boom.py"), inputs=[str(text)], output=str(tmp_path / "o"),
                   runner="inline")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_example_refused_before_any_task(name, examples, text, tmp_path):
    """An example using what minimr does not run is refused at submit, naming it; no output."""
    with pytest.raises(JobDefinitionError, match="which minimr does not run") as caught:
        minimr.run(str(examples / f"{name}.py"), inputs=[str(text)], output=str(tmp_path / "o"),
                   options=_REFUSED_OPTIONS.get(name, {}))
    assert REFUSED[name] in str(caught.value)
    assert not (tmp_path / "o").exists()


PROTOCOLS = """
    from mrjob.job import MRJob
    from mrjob.protocol import JSONValueProtocol, RawValueProtocol, ReprProtocol
    from mrjob.step import MRStep

    class MRProtocols(MRJob):
        INPUT_PROTOCOL = JSONValueProtocol
        INTERNAL_PROTOCOL = ReprProtocol
        OUTPUT_PROTOCOL = RawValueProtocol

        def steps(self):
            return [MRStep(mapper=self.by_user, reducer=self.totals),
                    MRStep(reducer=self.biggest),
                    MRStep(mapper=self.show)]

        def by_user(self, _, event):
            yield (event["user"], event["kind"]), (event["amount"], {1: "one"})

        def totals(self, key, values):
            total = sum(amount for amount, _ in values)
            yield key[0], (key[1], total)

        def biggest(self, user, kinds):
            yield user, max(kinds)

        def show(self, user, kind_total):
            yield None, "%s %s %r" % (user, kind_total[0], kind_total)
"""

JSON_STEPS = """
    from mrjob.job import MRJob
    from mrjob.step import MRStep

    class MRJsonSteps(MRJob):
        def steps(self):
            return [MRStep(mapper=self.words, combiner=self.add, reducer=self.pairs),
                    MRStep(mapper=self.regroup, reducer=self.collect)]

        def words(self, _, line):
            for word in line.split():
                yield (len(word), word[:1]), 1

        def add(self, key, counts):
            yield key, sum(counts)

        def pairs(self, key, counts):
            yield key[0], {"first": key[1], "n": sum(counts), 2: (1, 2)}

        def regroup(self, length, info):
            yield length % 3, [length, info]

        def collect(self, bucket, items):
            yield bucket, sorted(map(tuple, (map(str, item) for item in items)))
"""

HOOKS = """
    from mrjob.job import MRJob

    class MRHooks(MRJob):
        def mapper_init(self):
            self.seen = 0
            yield "map-init", 1

        def mapper(self, _, line):
            self.seen += 1
            for word in line.split():
                yield word.lower(), 1

        def mapper_final(self):
            yield "lines", self.seen

        def combiner_init(self):
            self.sums = {}

        def combiner(self, word, counts):
            self.sums[word] = self.sums.get(word, 0) + sum(counts)

        def combiner_final(self):
            yield from self.sums.items()

        def reducer_init(self):
            self.marks = "!"
            self.the = None

        def reducer_final(self):
            if self.the is not None:  # the one reduce task that had "the"
                yield "final", self.the

        def reducer(self, word, counts):
            total = sum(counts)
            if word == "the":
                self.the = total
            self.increment_counter("words, distinct", "seen")
            if word != "map-init":
                self.increment_counter("words", "total", total)
            self.set_status("reducing %s" % word)
            yield word + self.marks, total > 0 if word == "map-init" else total  # one a task
"""


@pytest.mark.parametrize("source", [PROTOCOLS, JSON_STEPS, HOOKS],
                         ids=["protocols", "json-steps", "hooks"])
def test_job_writes_what_mrjob_writes(source, tmp_path):
    """Protocols, several steps (reducer-only and mapper-only ones), tuples through JSON, and
    every _init and _final hook: the same lines as mrjob's runner."""
    job = write_file(tmp_path / "job" / "mr_job.py", source)
    inputs = write_text(tmp_path / "text", files=2, lines=400)
    if "JSONValueProtocol" in source:
        inputs = tmp_path / "events"
        inputs.mkdir()
        (inputs / "e.jsonl").write_text("".join(
            json.dumps({"user": f"u{i % 7}", "kind": "abc"[i % 3], "amount": i}) + "\n"
            for i in range(500)))
    expected = mrjob_lines(job, [inputs])
    assert expected
    assert minimr_lines(job, [inputs], tmp_path / "out", split_size=3_000,
                        sort_buffer=2_000) == expected


def test_counters_are_mrjobs(tmp_path):
    """``increment_counter`` adds up to the counters mrjob's runner reports."""
    job = write_file(tmp_path / "job" / "mr_job.py", HOOKS)
    inputs = write_text(tmp_path / "text", files=2, lines=300)
    expected = mrjob_run(job, [inputs])["counters"]
    result = minimr.run(str(job), inputs=[str(inputs)], output=str(tmp_path / "out"),
                        runner="inline", reducers=1)
    for group, names in expected.items():
        for name, amount in names.items():
            assert result.counters.get(group, name) == amount, (group, name)


ARGUMENTS = """
    from mrjob.job import MRJob

    def upper(text):
        return text.upper()

    class MRArguments(MRJob):
        FILES = ["extra.txt"]

        def configure_args(self):
            super().configure_args()
            self.add_passthru_arg("--min-count", type=int, default=2, help="at least %(default)s")
            self.add_passthru_arg("--weight", type=float, default="1.5")
            self.add_passthru_arg("--mode", choices=["all", "short"], default="all")
            self.add_passthru_arg("--shout", action="store_true")
            self.add_passthru_arg("--skip", action="append", default=[])
            self.add_passthru_arg("--prefix", type=upper, default="")
            self.add_file_arg("--words-file")

        def mapper_init(self):
            with open("extra.txt") as extra:
                self.extra = extra.read().split()
            self.listed = []
            if self.options.words_file:
                with open(self.options.words_file) as listed:
                    self.listed = listed.read().split()

        def mapper(self, _, line):
            for word in line.split():
                if word in self.options.skip:
                    continue
                if self.options.mode == "short" and len(word) > 3:
                    continue
                if self.options.shout:
                    word = word.upper()
                yield self.options.prefix + word, self.options.weight

        def mapper_final(self):
            for word in self.extra + self.listed:
                yield word, 100.0

        def reducer(self, word, weights):
            weights = list(weights)
            if word in ("zebra", "yak", "quokka"):  # once a map task: how many is not ours
                yield word, max(weights)
            elif len(weights) >= self.options.min_count:
                yield word, sum(weights)
"""


def test_arguments_and_files_as_mrjob_takes_them(tmp_path):
    """Passthru arguments of every kind and file arguments: the job's argparse gets them in
    every task, as mrjob's command line gives them."""
    job = write_file(tmp_path / "job" / "mr_job.py", ARGUMENTS)
    write_file(tmp_path / "job" / "extra.txt", "zebra\nyak\n")
    listed = write_file(tmp_path / "lists" / "listed.txt", "quokka\n")
    inputs = write_text(tmp_path / "text", files=2, lines=300)
    args = ("--min-count", "3", "--weight", "0.25", "--mode", "short", "--shout",
            "--skip", "the", "--skip", "a", "--prefix", "p-", "--words-file", str(listed))
    values = {"min_count": 3, "weight": 0.25, "mode": "short", "shout": True,
              "skip": ["the", "a"], "prefix": "p-", "words_file": str(listed)}
    expected = mrjob_lines(job, [inputs], args)
    assert any(line.startswith(b'"P-') for line in expected)
    got = minimr_lines(job, [inputs], tmp_path / "out", options=values, runner="local",
                       workers=2)
    assert got == expected
    defaults = minimr_lines(job, [inputs], tmp_path / "out2")
    assert defaults == mrjob_lines(job, [inputs])


def test_bad_argument_value_is_refused_before_any_task(tmp_path):
    """A value minimr's option or the job's argparse refuses stops the run before any task."""
    job = write_file(tmp_path / "job" / "mr_job.py", ARGUMENTS)
    write_file(tmp_path / "job" / "extra.txt", "zebra\n")
    inputs = write_text(tmp_path / "text", files=1, lines=10)
    with pytest.raises(UsageError, match="one of 'all', 'short'"):
        minimr.run(str(job), inputs=[str(inputs)], output=str(tmp_path / "o"),
                   options={"mode": "long"})
    with pytest.raises(UsageError, match="has no option 'min_cont'"):
        minimr.run(str(job), inputs=[str(inputs)], output=str(tmp_path / "o"),
                   options={"min_cont": 1})
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("body", "message"), [
    ("JOBCONF = {'mapreduce.job.reduces': '1'}", "Hadoop settings"),
    ("PARTITIONER = 'org.apache.hadoop.mapred.lib.HashPartitioner'", "partitioner"),
    ("DIRS = ['somewhere']", "DIRS"),
    ("FILES = ['data.txt#renamed.txt']", "no #name"),
    ("def steps(self):\n            return [MRStep(mapper=self.mapper, jobconf={'a': 'b'})]",
     "jobconf"),
    ("def steps(self):\n            return [MRStep(mapper=self.mapper, combiner=self.mapper)]",
     "a combiner and no reducer"),
    ("def configure_args(self):\n            super().configure_args()\n"
     "            self.add_passthru_arg('--off', action='store_false')", "store_false"),
    ("def configure_args(self):\n            super().configure_args()\n"
     "            self.add_passthru_arg('--pair', nargs=2)", "nargs=2"),
    ("def configure_args(self):\n            super().configure_args()\n"
     "            self.pass_arg_through('--runner')", "pass_arg_through"),
    ("def configure_args(self):\n            super().configure_args()\n"
     "            self.add_passthru_arg('--reducers', type=int)", "clashes with minimr submit"),
])
def test_what_minimr_does_not_run_is_refused(body, message, tmp_path):
    """Hadoop settings, renamed files and arguments minimr cannot take are refused, named."""
    job = write_file(tmp_path / "job" / "mr_job.py", f"""
    from mrjob.job import MRJob
    from mrjob.step import MRStep

    class MRRefused(MRJob):
        {body}

        def mapper(self, _, line):
            yield line, 1
    """)
    inputs = write_text(tmp_path / "text", files=1, lines=10)
    with pytest.raises(JobDefinitionError, match=message):
        minimr.run(str(job), inputs=[str(inputs)], output=str(tmp_path / "o"), runner="inline")
    assert not (tmp_path / "o").exists()


def test_class_and_instance(tmp_path, text):
    """The class itself runs too; an instance is refused, saying to pass the class."""
    from mrjob.examples.mr_word_freq_count import MRWordFreqCount

    out = tmp_path / "out"
    result = minimr.run(MRWordFreqCount, inputs=[str(text)], output=str(out), runner="inline")
    lines = [line for line, none in result.records()]
    assert lines and all(line.startswith('"') for line in lines)
    with pytest.raises(JobLoadError, match="not an instance"):
        minimr.run(MRWordFreqCount(args=[]), inputs=[str(text)], output=str(tmp_path / "o2"))


def test_submit_help_lists_the_jobs_arguments(examples):
    """``minimr submit mr_job.py --help`` lists the job's own arguments with their help."""
    from click.testing import CliRunner

    from minimr.cli import main

    done = CliRunner().invoke(main, ["submit", str(examples / "mr_most_used_word.py"),
                                     "--help"])
    assert done.exit_code == 0, done.output
    assert "Options of MRMostUsedWord" in done.output
    assert "--stop-words-file" in done.output


def test_submit_runs_the_example(examples, text, tmp_path):
    """``minimr submit mr_word_freq_count.py --input ... --output ...`` writes mrjob's lines."""
    from click.testing import CliRunner

    from minimr.cli import main

    job = examples / "mr_word_freq_count.py"
    done = CliRunner().invoke(main, ["submit", str(job), "--input", str(text), "--output",
                                     str(tmp_path / "out"), "--inline", "-q"])
    assert done.exit_code == 0, done.output
    assert part_lines(tmp_path / "out") == mrjob_lines(job, [text])
    assert json.loads((tmp_path / "out" / "_SUCCESS").read_text())["format"] == "lines"


def test_loading_a_plain_job_does_not_import_mrjob(tmp_path):
    """A job file that does not import mrjob never makes minimr import it."""
    import subprocess
    import sys

    job = write_file(tmp_path / "wc.py", """
        def map(key, line):
            yield line, 1
    """)
    code = ("import sys, minimr.loader as l; l.resolve_job(sys.argv[1]);"
            " print('mrjob' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(job)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "False", done.stderr
