"""A job's own options and side files, through `minimr submit` and `minimr.run`, on real
workers: checked before any task, the same in every task, files fetched once per worker."""

from __future__ import annotations

import random
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import minimr
from minimr.cluster.client import client
from minimr.dataflow import sidefiles
from minimr.dataflow.taskenv import SIDE_FILES_FETCHED
from tests.e2e.support import JOBS, environment

JOB = JOBS / "stopwords.py"
WORD = re.compile(r"[a-z]+")
STOP = set((JOBS / "stop_words.txt").read_text().split())
VOCABULARY = "the a and of to in sea ship sail salt storm whale wind wave star".split()


def minimr_command(*args: str) -> subprocess.CompletedProcess:
    """Run the `minimr` command in a new process."""
    return subprocess.run([sys.executable, "-m", "minimr", *args], env=environment(),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Four files of random lines over a small vocabulary, stop words included."""
    rng = random.Random(7)
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(4):
        lines = (" ".join(rng.choices(VOCABULARY, k=rng.randint(0, 9))) for _ in range(80))
        (folder / f"doc-{i}.txt").write_text("\n".join(lines) + "\n")
    return folder


def expected(corpus: Path, min_count: int = 1, prefix: str = "",
             more: set[str] = frozenset()) -> dict[str, int]:
    """Plain Python: the counts the job must write."""
    counts = Counter(w for path in sorted(corpus.iterdir())
                     for w in WORD.findall(path.read_text().lower())
                     if w not in STOP | more and w.startswith(prefix))
    return {w: n for w, n in counts.items() if n >= min_count}


def test_submit_gives_the_jobs_options_and_files_to_every_task(corpus, tmp_path):
    """On an embedded cluster of two workers, --min-count, --prefix, the job's own file and
    one shipped with --file shape the output exactly as the reference."""
    more = tmp_path / "extra.txt"
    more.write_text("sail\n")
    out = tmp_path / "out"
    done = minimr_command("submit", str(JOB), "-i", str(corpus), "-o", str(out), "-w", "2",
                          "--split-size", "600", "-r", "3", "--min-count", "90",
                          "--prefix", "s", "--file", str(more),
                          "--more-stop-words", "extra.txt")
    assert done.returncode == 0, done.stderr
    reference = expected(corpus, 90, "s", {"sail"})
    assert reference and set(reference) < set(expected(corpus, 1, "s", {"sail"}))
    assert dict(minimr.read_output(out)) == reference


def test_the_inline_runner_gives_the_same_output(corpus, tmp_path):
    """--inline runs the same tasks in one process, with the same options and files."""
    args = ["-i", str(corpus), "--split-size", "600", "--min-count", "5", "--prefix", "s"]
    inline = minimr_command("submit", str(JOB), *args, "-o", str(tmp_path / "a"), "--inline")
    cluster = minimr_command("submit", str(JOB), *args, "-o", str(tmp_path / "b"), "-w", "2")
    assert inline.returncode == 0 and cluster.returncode == 0, inline.stderr + cluster.stderr
    parts = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert parts == sorted(p.name for p in (tmp_path / "b").iterdir() if p.name != "_logs")
    for name in parts:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert dict(minimr.read_output(tmp_path / "a")) == expected(corpus, 5, "s")


def test_help_lists_the_jobs_options_beside_submits(tmp_path):
    """`minimr submit JOB.py --help` shows submit's options, then the job's with their help."""
    done = minimr_command("submit", str(JOB), "--help")
    assert done.returncode == 0, done.stderr
    own, _, job = done.stdout.partition("Options of StopWordCount:")
    assert "--input PATH" in own and "--file PATH" in own and "--min-count" not in own
    assert re.search(r"--min-count INTEGER\s+Keep words seen at least this often.\s+"
                     r"\[default: 1\]", job)
    assert "--prefix TEXT" in job
    plain = minimr_command("submit", "--help")
    assert plain.returncode == 0 and "--input PATH" in plain.stdout
    assert "Options of" not in plain.stdout


def test_a_bad_value_is_refused_before_any_task(corpus, tmp_path):
    """--min-count many: exit 2 naming the option and its type; no output folder is made."""
    out = tmp_path / "out"
    done = minimr_command("submit", str(JOB), "-i", str(corpus), "-o", str(out),
                          "--min-count", "many")
    assert done.returncode == 2
    assert "Invalid value for '--min-count': 'many' is not an int" in done.stderr
    assert not out.exists()


def test_an_unknown_option_is_refused_with_a_suggestion(corpus, tmp_path):
    """A misspelt job option: exit 2, and the closest option named."""
    done = minimr_command("submit", str(JOB), "-i", str(corpus), "-o", str(tmp_path / "o"),
                          "--min-cont", "3")
    assert done.returncode == 2
    assert "No such option '--min-cont'" in done.stderr
    assert re.search(r"Did you mean .*'--min-count'", done.stderr)


def test_a_missing_or_broken_job_file_is_a_clear_error(tmp_path):
    """The job is loaded before the rest is parsed: a missing or broken file says so."""
    done = minimr_command("submit", str(tmp_path / "nope.py"), "--help")
    assert done.returncode == 1 and "nope.py' does not exist" in done.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("def map(key, value:\n")
    done = minimr_command("submit", str(broken), "-i", "x", "-o", "y")
    assert done.returncode == 1 and "syntax error in job file" in done.stderr


def test_a_missing_side_file_is_a_usage_error(corpus, tmp_path):
    """--file naming nothing: exit 2 naming the path, before any output is made."""
    out = tmp_path / "out"
    done = minimr_command("submit", str(JOB), "-i", str(corpus), "-o", str(out), "--file",
                          str(tmp_path / "gone.txt"))
    assert done.returncode == 2
    assert f"side file '{tmp_path / 'gone.txt'}' does not exist" in done.stderr
    assert not out.exists()


def test_stored_files_are_fetched_once_per_worker(corpus, tmp_path, monkeypatch):
    """`minimr.run(options=..., files=...)` on two workers, with files too big to travel in
    the plan: each worker fetches each file once, whatever the number of its tasks."""
    monkeypatch.setattr(sidefiles, "INLINE_LIMIT", 0)
    more = tmp_path / "extra.txt"
    more.write_text("salt\nwave\n")
    result = minimr.run(str(JOB), [str(corpus)], str(tmp_path / "out"), reducers=3,
                        workers=2, split_size=300, options={"min_count": 2,
                                                            "more_stop_words": "extra.txt"},
                        files=[str(more)])
    assert dict(result.records()) == expected(corpus, 2, more={"salt", "wave"})
    assert sum(p.stat().st_size for p in corpus.iterdir()) > 12 * 300  # a dozen map tasks
    fetched = result.counters.get("minimr", SIDE_FILES_FETCHED)
    assert 2 <= fetched <= 2 * 2  # two files, once each per worker at most


def test_a_function_job_reads_options_and_files_through_minimr(corpus, tmp_path):
    """A function job's `minimr.options()` and `minimr.side_file()`, on two workers."""
    result = minimr.run(str(JOBS / "stopwords_functions.py"), [str(corpus)],
                        str(tmp_path / "out"), workers=2, split_size=600,
                        options={"min_count": 30})
    assert dict(result.records()) == expected(corpus, 30)


def test_a_running_cluster_reads_stored_files_from_a_staged_copy(cluster, corpus, tmp_path,
                                                                monkeypatch):
    """Submitted to a coordinator, a stored file is copied under the output, which workers
    reach; the user's own copy may be gone by the time tasks run."""
    cluster.add_worker()
    cluster.add_worker()
    monkeypatch.setattr(sidefiles, "INLINE_LIMIT", 0)
    more = tmp_path / "extra.txt"
    more.write_text("storm\n")
    submit_plan = client.submit_plan

    def remove_then_submit(plan, *args, **kwargs):
        more.unlink()  # planned: from here on, workers must find the file elsewhere
        return submit_plan(plan, *args, **kwargs)

    monkeypatch.setattr(client, "submit_plan", remove_then_submit)
    out = tmp_path / "out"
    result = minimr.run(str(JOB), [str(corpus)], str(out), coordinator=cluster.address,
                        split_size=600, options={"more_stop_words": "extra.txt"},
                        files=[str(more)])
    assert dict(result.records()) == expected(corpus, more={"storm"})
    assert not (out / "_temporary").exists()  # the staged copies went with it


def test_the_replay_command_carries_the_jobs_options_and_files(cluster, corpus, tmp_path):
    """A failed job's replay command gives the job's options and --file again, so the
    replayed task fails the same way."""
    cluster.add_worker()
    more = tmp_path / "extra.txt"
    more.write_text("wind\n")
    done = minimr_command("submit", str(JOB), "-i", str(corpus), "-o", str(tmp_path / "out"),
                          "-c", cluster.address, "--max-attempts", "1", "--min-count", "3",
                          "--fail-on", "whale", "--file", str(more), "-q")
    assert done.returncode == 1, done.stderr
    words = shlex.split(done.stderr.rstrip().splitlines()[-1])
    assert words[:2] == ["minimr", "replay"]
    assert words[-6:] == ["--min-count", "3", "--fail-on", "whale", "--file", str(more)]
    again = minimr_command(*words[1:])
    assert again.returncode == 1 and "ValueError: found 'whale'" in again.stderr
