"""Failures no retry can fix end a cluster job at its first attempt, with a message that says
what to fix; the inline runner raises the same message."""

from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

from minimr.cluster import client
from minimr.dataflow.format import output as out
from minimr.errors import JobFailed
from minimr.loader import resolve_job
from minimr.runner import build_plan


def test_a_job_whose_module_the_worker_lacks_fails_at_the_first_attempt(tmp_path):
    """A job importing a module that only the submitting side has (here: gone from disk by
    the time the worker loads the plan) fails after one attempt, naming the module."""
    data = tmp_path / "in.txt"
    data.write_text("a b\nb c\n")
    with client.LocalCluster(1) as cluster:  # started before the module exists anywhere
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

