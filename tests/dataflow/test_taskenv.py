"""minimr/dataflow/taskenv.py: inside a task, the job's option values and side files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import minimr
from minimr.dataflow import taskenv
from minimr.dataflow.counters import Counters
from minimr.dataflow.plan import JobPlan
from minimr.dataflow.sidefiles import FileCache, collect


def plan_with(options: dict, files: tuple = ()) -> JobPlan:
    """A plan that holds only what taskenv reads."""
    return JobPlan("j", "J", [], [], "out", 1, options=options, files=files)


def test_options_are_the_plans_while_a_task_runs(tmp_path):
    """minimr.options() gives the plan's values inside, and refuses outside."""
    with taskenv.entered(plan_with({"k": 3}), str(tmp_path / "f"), FileCache(str(tmp_path)),
                         Counters()):
        assert minimr.options().k == 3
    with pytest.raises(RuntimeError, match="while a task"):
        minimr.options()


def test_side_files_are_in_the_working_directory_while_a_task_runs(tmp_path):
    """With side files, the task's cwd is their folder; side_file gives a file's path; the
    cwd comes back after, and the fetch is counted."""
    source = tmp_path / "src" / "stop.txt"
    source.parent.mkdir()
    source.write_text("the\n")
    plan = plan_with({}, collect([str(source)]))
    counters = Counters()
    before = os.getcwd()
    folder = tmp_path / "job" / "files"
    with taskenv.entered(plan, str(folder), FileCache(str(tmp_path / "cache")), counters):
        assert os.getcwd() == str(folder)
        assert Path("stop.txt").read_text() == "the\n"
        assert minimr.side_file("stop.txt") == str(folder / "stop.txt")
        with pytest.raises(FileNotFoundError, match="ships no side file 'other.txt'"):
            minimr.side_file("other.txt")
    assert os.getcwd() == before
    assert counters.get("minimr", taskenv.SIDE_FILES_FETCHED) == 1


def test_without_side_files_the_working_directory_stays(tmp_path):
    """A job that ships no file runs where it always did."""
    before = os.getcwd()
    with taskenv.entered(plan_with({}), str(tmp_path / "f"), FileCache(str(tmp_path)),
                         Counters()):
        assert os.getcwd() == before
    assert not (tmp_path / "f").exists()


def test_a_side_folder_is_opened_by_its_name_while_a_task_runs(tmp_path):
    """side_file gives a shipped folder's path, and each of its files' by folder/name."""
    (tmp_path / "src" / "users").mkdir(parents=True)
    (tmp_path / "src" / "users" / "part-0").write_text("7\tAda\n")
    plan = plan_with({}, collect([str(tmp_path / "src" / "users")]))
    folder = tmp_path / "job" / "files"
    with taskenv.entered(plan, str(folder), FileCache(str(tmp_path / "cache")), Counters()):
        assert minimr.side_file("users") == str(folder / "users")
        assert os.listdir(minimr.side_file("users")) == ["part-0"]
        assert Path(minimr.side_file("users/part-0")).read_text() == "7\tAda\n"
        assert Path("users/part-0").read_text() == "7\tAda\n"
