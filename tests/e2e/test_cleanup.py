"""Failed or cancelled runs leave nothing to clean up but their task logs: no part, no
``_temporary``, no scratch folder in TMPDIR, only ``OUTPUT/_logs/``, and the same command
runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from minimr.cli import main
from minimr.cluster.client import client
from tests.conftest import WORDCOUNT, write_file
from tests.e2e.support import environment, finish, free_address, handles

FAILS = """
def map(key, line):
    raise RuntimeError("this job always fails")
    yield line, 1

def reduce(key, values):
    yield key, sum(values)
"""

# never ends by itself: a job that could finish before the test's signal reached it (on a
# loaded machine) would exit 0 and look like a cancellation that was lost
ENDLESS = """
import os, time

def map(key, line):
    open(os.environ["MINIMR_TEST_STARTED"], "a").close()  # the job is under way
    while True:
        time.sleep(0.05)
    yield line, 1

def reduce(key, values):
    yield key, sum(values)
"""


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A private world for one test: cwd, HOME and TMPDIR inside tmp_path, and an input."""
    for name in ("home", "tmp", "work"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", None)
    write_file(tmp_path / "work" / "in" / "a.txt", "".join(f"line {i}\n" for i in range(400)))
    return tmp_path


def submit(place: Path, job: str, *args: str, **popen) -> subprocess.Popen:
    """``minimr submit JOB -i in ARGS`` as a process, in the test's own world."""
    env = environment(HOME=str(place / "home"), TMPDIR=str(place / "tmp"),
                      MINIMR_TEST_STARTED=str(place / "started"))
    return subprocess.Popen(  # -X faulthandler: SIGABRT prints every thread's stack
        [sys.executable, "-X", "faulthandler", "-m", "minimr", "submit", job, "-i", "in",
         "-w", "2", "--quiet", *args], cwd=place / "work", env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible, **popen)


def _interruptible() -> None:
    """Ctrl-C's default in the child, as in a terminal's foreground job: a test run started in
    the background (`cmd &` in a script) has SIGINT ignored, which its children inherit, and
    Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def leftovers(place: Path) -> dict[str, list[str]]:
    """What is in the output's parent and in TMPDIR."""
    return {"work": sorted(os.listdir(place / "work")), "tmp": sorted(os.listdir(place / "tmp"))}


def test_a_failing_job_leaves_only_its_logs_and_the_same_command_runs_again(place):
    """A job whose map always fails leaves no part, _temporary or scratch folder: only its
    task logs in OUTPUT/_logs/, which its message names; the same command with the job fixed
    then succeeds, and its logs replace the failed run's."""
    job = write_file(place / "work" / "job.py", FAILS)
    code, stderr = finish(submit(place, "job.py", "-o", "out/deep/wc", "--max-attempts", "1"))
    assert code == 1 and "this job always fails" in stderr
    out = place / "work" / "out" / "deep" / "wc"
    assert leftovers(place) == {"work": ["in", "job.py", "out"], "tmp": []}
    assert os.listdir(out) == ["_logs"]
    assert f"its log: {out / '_logs' / 's0-m00000-a1.log'}" in stderr
    assert "this job always fails" in (out / "_logs" / "s0-m00000-a1.log").read_text()
    job.write_text(WORDCOUNT)
    assert finish(submit(place, "job.py", "-o", "out/deep/wc")) == (0, "")
    assert (out / "_SUCCESS").exists()
    assert "this job always fails" not in (out / "_logs" / "s0-m00000-a1.log").read_text()
    assert leftovers(place)["tmp"] == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_cancelled_job_leaves_nothing(place, sig):
    """Ctrl-C or SIGTERM to `minimr submit` mid-job cancels it, removes what it wrote but its
    task logs, and the embedded cluster's scratch, and exits 128 + the signal."""
    write_file(place / "work" / "job.py", ENDLESS)
    run = submit(place, "job.py", "-o", "out", "--split-size", "1KB")
    deadline = time.monotonic() + 60
    while not (place / "started").exists():
        assert run.poll() is None, finish(run)
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    assert (place / "work" / "out" / "_temporary").exists()
    # the job runs, so the submit handles the signal (Python's Ctrl-C handler, installed at
    # start-up unless SIGINT was ignored when it started; submit's own for SIGTERM): were it
    # ignored, the run would only time out
    assert handles(run.pid, sig), f"the submit does not handle {sig.name}"
    run.send_signal(sig)
    code, stderr = finish(run, timeout=60)
    assert code == 128 + sig, stderr
    assert "cancelled" in stderr
    time.sleep(0.5)  # a worker still writing would show now
    assert leftovers(place) == {"work": ["in", "job.py", "out"], "tmp": []}
    assert os.listdir(place / "work" / "out") == ["_logs"]


def test_a_failed_overwrite_leaves_the_old_folder_empty_and_the_retry_runs(place):
    """An --overwrite that fails leaves the folder it emptied empty but for its task logs;
    running again, with or without --overwrite, works."""
    write_file(place / "work" / "job.py", FAILS)
    old = place / "work" / "out"
    write_file(old / "part-00000", "'old'\t1\n")
    (old / "_SUCCESS").touch()
    code, _ = finish(submit(place, "job.py", "-o", "out", "--overwrite", "--max-attempts", "1"))
    assert code == 1
    assert os.listdir(old) == ["_logs"] and leftovers(place)["tmp"] == []
    write_file(place / "work" / "job.py", WORDCOUNT)
    assert finish(submit(place, "job.py", "-o", "out")) == (0, "")
    assert (old / "_SUCCESS").exists()


def test_a_coordinator_that_never_answers_leaves_nothing(place, monkeypatch):
    """A --coordinator nobody answers at ends the run with a clear error and no output
    folder, parents or scratch left behind."""
    monkeypatch.setattr(client, "SILENCE_LIMIT", 0.5)
    write_file(place / "work" / "job.py", WORDCOUNT)
    result = CliRunner().invoke(main, ["submit", "job.py", "-i", "in", "-o", "out/deep/wc",
                                       "--coordinator", free_address(), "--quiet"])
    assert result.exit_code == 1 and "no coordinator answered" in result.output
    assert leftovers(place) == {"work": ["in", "job.py"], "tmp": []}
