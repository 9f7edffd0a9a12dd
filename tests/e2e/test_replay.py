"""A failed cluster job's message ends with one command that replays the failed task here."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from tests.e2e.support import JOBS, ROOT, environment, small_inputs

#: where the minimr package the commands run lives (environment() puts ROOT first on the
#: import path): no frame of it may show, whatever folder the project was cloned into
PACKAGE = str(ROOT / "minimr") + os.sep


def minimr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minimr", *args],
        env=environment(),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def failed_job_replay_command(cluster, job: str, inputs: list, output, *options: str
                              ) -> list[str]:
    """Submit ``job`` to ``cluster``, check it fails, return its replay command's words."""
    done = minimr(
        "submit", str(JOBS / job), *[f"--input={p}" for p in inputs], "--output", str(output),
        "--coordinator", cluster.address, "--max-attempts", "1", "--reducers", "2", "--quiet",
        *options,
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.rstrip().splitlines()[-1]
    assert last.startswith("  minimr replay "), done.stderr
    words = shlex.split(last)
    assert words[:2] == ["minimr", "replay"]
    return words[2:]


def test_the_replay_command_of_a_failed_map_raises_the_users_exception_again(cluster, tmp_path):
    """The command re-runs just the map's split, inline, and the user's ValueError comes back;
    with --pdb it stops in the debugger where it was raised."""
    cluster.add_worker()
    inputs = small_inputs(tmp_path / "in dir", 3)  # a space: the command must quote paths
    inputs[1].write_text("fine line\npoison here\n")
    words = failed_job_replay_command(cluster, "failing.py:RaiseOnBad", inputs, tmp_path / "out")
    assert "--split" in words and str(inputs[1]) in words
    again = minimr(*["replay", *words])
    assert again.returncode == 1
    assert "ValueError: poisoned record at 10" in again.stderr
    assert "failing.py" in again.stderr and PACKAGE not in again.stderr  # the user's frames
    debugged = minimr(*["replay", *words, "--pdb"], stdin="p line\nq\n")
    assert "(Pdb)" in debugged.stdout and "'poison here'" in debugged.stdout


def test_a_failed_map_of_packed_small_files_replays_by_task_name(cluster, tmp_path):
    """A map task reading several packed files is replayed by its name, with the run's
    --combine-files and --split-size, so the same files make up the same task again."""
    cluster.add_worker()
    inputs = small_inputs(tmp_path / "in", 6)
    inputs[4].write_text("fine line\npoison here\n")
    words = failed_job_replay_command(cluster, "failing.py:RaiseOnBad", inputs, tmp_path / "out",
                                      "--combine-files", "--split-size", "60")
    assert "--split" not in words and "--combine-files" in words
    assert words[words.index("--split-size") + 1] == "60" and "--task" in words
    again = minimr(*["replay", *words])
    assert again.returncode == 1 and "ValueError: poisoned record at 10" in again.stderr


def test_the_replay_command_of_a_failed_reduce_reruns_that_partition(cluster, tmp_path):
    """A reduce's command names the task; its maps run first, then that reduce fails again."""
    cluster.add_worker()
    inputs = small_inputs(tmp_path / "in", 2)
    inputs[0].write_text("venom and more\n")
    words = failed_job_replay_command(cluster, "poisoned.py", inputs, tmp_path / "out")
    assert "--task" in words and words[words.index("--task") + 1].startswith("s0-r")
    again = minimr(*["replay", *words])
    assert again.returncode == 1 and "KeyError: 'venom'" in again.stderr


def test_a_replay_that_fails_again_leaves_no_folder_behind(tmp_path):
    """A replay writes to a new folder in TMPDIR; when the task fails again (the usual end),
    that folder is removed."""
    (tmp := tmp_path / "tmp").mkdir()
    (data := small_inputs(tmp_path / "in", 1)[0]).write_text("fine line\npoison here\n")
    again = subprocess.run(
        [sys.executable, "-m", "minimr", "replay", f"{JOBS / 'failing.py'}:RaiseOnBad",
         "--input", str(data), "--split", "0:21"],
        env=environment(TMPDIR=str(tmp)), capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "poisoned record at 10" in again.stderr
    assert os.listdir(tmp) == []


def test_the_replay_command_keeps_the_runs_input_format(cluster, tmp_path):
    """A run given --input-format replays with it: the failed map reads JSON values again."""
    cluster.add_worker()
    job = tmp_path / "kinds.py"
    job.write_text("from minimr import Job\n\n\nclass Kinds(Job):\n"
                   "    def map(self, key, event):\n"
                   "        if event['kind'] == 'bad':\n"
                   "            raise ValueError(f\"bad kind at {key[1]}\")\n"
                   "        yield event['kind'], 1\n")
    events = tmp_path / "events.jsonl"
    events.write_text('{"kind": "ok"}\n{"kind": "bad"}\n')
    words = failed_job_replay_command(cluster, str(job), [events], tmp_path / "out",
                                      "--input-format", "jsonl")
    assert words[words.index("--input-format") + 1] == "jsonl"
    again = minimr(*["replay", *words])
    assert again.returncode == 1 and "ValueError: bad kind at 15" in again.stderr
