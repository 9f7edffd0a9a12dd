"""Failures no retry can fix end a cluster job at its first attempt, with a message that says
what to fix; the inline runner raises the same message."""

from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

import minimr
from minimr.cluster.client import client, localcluster
from minimr.dataflow.format import output as out
from minimr.errors import JobCodeError, JobFailed
from minimr.loader import resolve_job
from minimr.runner import build_plan


def test_a_job_whose_module_the_worker_lacks_fails_at_the_first_attempt(tmp_path):
    """A job importing a module that only the submitting side has (here: gone from disk by
    the time the worker loads the plan) fails after one attempt, naming the module."""
    data = tmp_path / "in.txt"
    data.write_text("a b\nb c\n")
    with localcluster.LocalCluster(1) as cluster:  # started before the module exists anywhere
        helper = tmp_path / "helper"
        helper.mkdir()
        (helper / "submitside_only_x.py").write_text("def words(line):\n    return line.split()\n")
        folder = tmp_path / "job"
        folder.mkdir()
        (folder / "needs_helper.py").write_text(textwrap.dedent("""
            import submitside_only_x

            def map(key, line):
                for word in submitside_only_x.words(line):
                    yield word, 1

            def reduce(word, counts):
                yield word, sum(counts)
        """))
        sys.path.insert(0, str(helper))
        try:
            job = resolve_job(str(folder / "needs_helper.py"))
            shutil.rmtree(helper)
            plan = build_plan(job, [str(data)], str(tmp_path / "out"), reducers=1)
            out.prepare_output(plan.output, False, [str(data)])
            with pytest.raises(JobFailed) as info:
                client.submit_plan(plan, cluster.address, max_attempts=4)
        finally:
            sys.path.remove(str(helper))
            sys.modules.pop("submitside_only_x", None)
    message = str(info.value)
    assert "JobLoadError" in message and "'submitside_only_x'" in message, message
    assert "not installed on worker host" in message, message
    assert info.value.failure["attempts"] == 1, message
    assert "attempt 1 of at most 4" in message, message
    assert not (tmp_path / "out" / "_SUCCESS").exists()



LOCKING = """
import os
import threading

from minimr import Job


class Locking(Job):
    def setup(self):
        with open(os.environ["ATTEMPTS_FILE"], "a") as attempts:
            attempts.write("attempt\\n")

    def map(self, key, line):
        for word in line.split():
            yield word, threading.Lock() if word == "locked" else 1

    def reduce(self, word, counts):
        yield word, len(list(counts))
"""


@pytest.mark.parametrize("runner", ["local", "inline"])
def test_a_job_yielding_a_lock_fails_at_once_naming_type_function_and_key(tmp_path,
                                                                           monkeypatch, runner):
    """On the embedded cluster the map runs once (not max_attempts times) and the job fails
    with the message the inline runner raises: the type, the map's file:line, the key."""
    attempts = tmp_path / "attempts"
    monkeypatch.setenv("ATTEMPTS_FILE", str(attempts))
    job = tmp_path / "locking.py"
    job.write_text(LOCKING)
    data = tmp_path / "in.txt"
    data.write_text("fine words\nlocked words\n")
    with pytest.raises((JobFailed, JobCodeError)) as info:
        minimr.run(str(job), [str(data)], str(tmp_path / "out"), runner=runner, workers=1,
                   max_attempts=4, reducers=1)
    message = str(info.value)
    line = LOCKING.splitlines().index("    def map(self, key, line):") + 1
    expected = (f"Locking.map ({job}:{line}) yielded a value that cannot be pickled, a"
                " _thread.lock, for key 'locked' (TypeError: cannot pickle '_thread.lock'")
    assert expected in message, message
    assert attempts.read_text() == "attempt\n"  # one map attempt, set up once
    if runner == "local":
        assert isinstance(info.value, JobFailed) and info.value.failure["attempts"] == 1
        assert "JobCodeError: " + expected in message, message
    else:
        assert isinstance(info.value, JobCodeError)
