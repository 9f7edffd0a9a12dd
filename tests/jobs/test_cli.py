"""The example jobs run through `minimr submit`, as their docstrings tell users to run them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import minimr
from minimr.cli import main
from tests.jobs.conftest import JOBS, all_text_records, job_path

WORD = re.compile(r"[a-z]+")
ALL_JOBS = ("count_by", "grep", "inverted_index", "join", "join_replicated", "pagerank", "sort",
            "top_words", "wordcount", "wordcount_batch", "wordcount_filtered", "wordcount_final",
            "wordcount_functions")


def submit(*args: str):
    """Invoke `minimr submit ARGS` in this process."""
    return CliRunner().invoke(main, ["submit", *args])


def sample_inputs(name: str, corpus: Path, tmp_path: Path) -> list[str]:
    """`--input` arguments with small data of the kind job ``name`` reads."""
    if name == "sort":
        path = tmp_path / "sort.txt"
        path.write_text("".join(f"{k * 10}  rest of record {k}\n" for k in "qwertyuiop"))
        return ["--input", str(path)]
    if name == "join":
        users, orders = tmp_path / "users.tsv", tmp_path / "orders.tsv"
        users.write_text("1\tAda\tGB\n2\tAlan\tGB\n")
        orders.write_text("10\t1\t5.00\n11\t1\t7.50\n12\t3\t1.00\n")
        return ["--input", str(users), "--input", str(orders)]
    if name == "join_replicated":
        users, orders = tmp_path / "users.tsv", tmp_path / "orders.tsv"
        users.write_text("1\tAda\tGB\n2\tAlan\tGB\n")
        orders.write_text("10\t1\t5.00\n11\t1\t7.50\n12\t3\t1.00\n")
        return ["--input", str(orders), "--file", str(users)]
    if name == "count_by":
        events = tmp_path / "events.jsonl"
        events.write_text('{"kind": "view"}\n{"kind": "buy"}\n{"kind": "view"}\n')
        return ["--input", str(events), "--field", "kind"]
    if name == "pagerank":
        edges = tmp_path / "edges.tsv"
        edges.write_text("a\tb\nb\tc\nc\ta\na\tc\nc\td\n")
        return ["--input", str(edges)]
    return ["--input", str(corpus)]


def test_every_job_file_is_tested_here():
    """The list below names every file of jobs/, so a new job gets a CLI run too."""
    assert sorted(p.stem for p in JOBS.glob("*.py")) == sorted(ALL_JOBS)


@pytest.mark.parametrize("name", ALL_JOBS)
def test_job_file_runs_through_submit(name, corpus, tmp_path):
    """Each job file runs through `minimr submit`, exits 0, prints its counters and output."""
    out = tmp_path / "out"
    result = submit(job_path(name), *sample_inputs(name, corpus, tmp_path), "--output",
                    str(out), "--reducers", "2", "--split-size", "300")
    assert result.exit_code == 0, result.output
    assert "map input records" in result.output
    assert f"output: {out}" in result.output
    assert (out / "_SUCCESS").exists()
    assert list(minimr.read_output(out))


def test_wordcount_through_submit_equals_reference(corpus, tmp_path):
    """`minimr submit jobs/wordcount.py` writes the counts a Counter loop computes."""
    out = tmp_path / "out"
    result = submit(job_path("wordcount"), "--input", str(corpus), "--output", str(out),
                    "--reducers", "3", "--split-size", "300", "--quiet")
    assert result.exit_code == 0, result.output
    expected = Counter(w for _, line in all_text_records(corpus)
                       for w in WORD.findall(line.lower()))
    assert dict(minimr.read_output(out)) == expected
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS", "_logs", "part-00000", "part-00001", "part-00002"]


def test_missing_input_is_a_clear_error(tmp_path):
    """A missing --input path exits 2 naming the path, before any output is created."""
    missing = tmp_path / "no-such-folder"
    out = tmp_path / "out"
    result = submit(job_path("wordcount"), "--input", str(missing), "--output", str(out))
    assert result.exit_code == 2
    assert f"input path '{missing}' does not exist" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_installed_command_runs_wordcount(corpus, tmp_path):
    """The installed `minimr` command runs word count in a fresh process."""
    out = tmp_path / "out"
    command = shutil.which("minimr")
    argv = [command] if command else [sys.executable, "-c", "from minimr.cli import main; main()"]
    done = subprocess.run([*argv, "submit", job_path("wordcount"), "--input", str(corpus),
                           "--output", str(out), "--reducers", "2", "--quiet"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # --quiet
    assert sum(count for _, count in minimr.read_output(out)) == sum(
        len(WORD.findall(line.lower())) for _, line in all_text_records(corpus))
