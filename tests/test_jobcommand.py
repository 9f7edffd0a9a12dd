"""minimr/jobcommand.py: `minimr submit JOB.py` and `minimr replay JOB.py` load the job
first and take its options beside their own."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import minimr
from minimr.cli import main

JOB = textwrap.dedent('''
    from minimr import Job, Option

    class Tagged(Job):
        options = [Option("--tag", required=True, help="Put before every key."),
                   Option("--inputs", type=int, default=1, help="A name submit's own dest has.")]

        def map(self, key, line):
            yield f"{self.options.tag}:{line}", self.options.inputs
''')


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A job file with a required str option and an int option named like submit's dest."""
    path = tmp_path / "tagged.py"
    path.write_text(JOB)
    return path


@pytest.fixture
def text(tmp_path: Path) -> Path:
    """A two-line input file."""
    path = tmp_path / "in.txt"
    path.write_text("a\nb\n")
    return path


def invoke(*args: str):
    """`minimr ARGS` in this process."""
    return CliRunner().invoke(main, list(args))


def test_the_jobs_values_reach_the_job_not_submit(job, text, tmp_path):
    """--tag and --inputs go to the job; submit's own --input is untouched."""
    out = tmp_path / "out"
    done = invoke("submit", "-q", str(job), "-i", str(text), "-o", str(out), "--inline",
                  "--tag", "t", "--inputs", "7")
    assert done.exit_code == 0, done.output
    assert sorted(minimr.read_output(out)) == [("t:a", 7), ("t:b", 7)]


def test_the_job_word_is_found_after_submits_own_options(job, text, tmp_path):
    """Options of submit (with their values) may come before JOB."""
    out = tmp_path / "out"
    done = invoke("submit", "--reducers", "1", "-i", str(text), "-o", str(out), "--inline",
                  str(job), "--tag", "x")
    assert done.exit_code == 0, done.output
    assert [k for k, _ in minimr.read_output(out)] == ["x:a", "x:b"]


def test_a_required_job_option_is_a_usage_error(job, text, tmp_path):
    """Without --tag: click's own message, exit 2, before any output."""
    done = invoke("submit", str(job), "-i", str(text), "-o", str(tmp_path / "out"))
    assert done.exit_code == 2 and "Missing option '--tag'" in done.output
    assert not (tmp_path / "out").exists()


def test_help_has_a_section_for_the_job(job):
    """--help lists submit's options, then the job's under "Options of Tagged"."""
    done = invoke("submit", str(job), "--help")
    assert done.exit_code == 0, done.output
    own, _, theirs = done.output.partition("Options of Tagged:")
    assert "--overwrite" in own and "--tag" not in own
    assert "--tag TEXT" in theirs and "[required]" in theirs and "[default: 1]" in theirs


def test_help_without_a_job_is_submits_own():
    """`minimr submit --help` works with no job, and has no job section."""
    done = invoke("submit", "--help")
    assert done.exit_code == 0 and "--input PATH" in done.output
    assert "Options of" not in done.output


def test_a_missing_job_file_fails_even_for_help(tmp_path):
    """A JOB that does not exist is named, also with --help (its options cannot be listed)."""
    done = invoke("submit", str(tmp_path / "gone.py"), "--help")
    assert done.exit_code == 1 and "gone.py' does not exist" in done.output


def test_replay_takes_the_jobs_options_too(job):
    """`minimr replay JOB.py --help` lists the job's options as submit does."""
    done = invoke("replay", str(job), "--help")
    assert done.exit_code == 0 and "Options of Tagged:" in done.output
    assert "--tag TEXT" in done.output.partition("Options of Tagged:")[2]
