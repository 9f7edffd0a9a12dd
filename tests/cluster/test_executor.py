"""The executor's side of the pipe, served in a thread: typed commands in, typed replies out."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from minimr.cluster import shipping
from minimr.cluster.wire import protocol as p
from minimr.cluster.worker import pipe
from minimr.cluster.worker.executor import serve
from tests.e2e.support import inline_output, make_plan, read_dir, small_inputs

HOST = "this-host"


class Served:
    """An executor loop in a thread of this process, on a real pipe (no process, no socket)."""

    def __init__(self, work_dir) -> None:
        self.work_dir = str(work_dir)
        self.conn, child = multiprocessing.Pipe()
        self.thread = threading.Thread(target=serve, args=(child, str(work_dir), HOST))
        self.thread.start()

    def ask(self, command: pipe.Command, timeout: float = 30) -> pipe.Reply:
        """Send a command and wait for its reply."""
        self.conn.send(command)
        assert self.conn.poll(timeout), f"no reply to {command!r:.80}"
        return self.conn.recv()

    def close(self) -> None:
        self.conn.close()
        self.thread.join(10)


@pytest.fixture
def executor(tmp_path):
    served = Served(tmp_path / "work")
    yield served
    served.close()


def load(executor: Served, plan) -> None:
    """Send the executor a job's plan, as a worker does before its first task."""
    blob = shipping.dumps(plan, "cloudpickle")
    executor.conn.send(pipe.LoadPlan(plan.job_id, "cloudpickle", blob))


def run_job(executor: Served, plan) -> None:
    """Every task of a one-step plan, through the executor, as a worker would send them."""
    load(executor, plan)
    lists = executor.ask(pipe.Run(plan.job_id, "s0-p00000-a1", "prepare", {"step": 0}))
    assert isinstance(lists, pipe.Done) and isinstance(lists.output, p.TaskLists)
    maps = lists.output.map_tasks
    for index, spec in enumerate(maps):
        done = executor.ask(pipe.Run(plan.job_id, f"s0-m{index:05d}-a1", "map", spec))
        assert isinstance(done, pipe.Done) and isinstance(done.output, p.MapOutputRef), done
    inputs = p.ReduceInputs((p.Holder(HOST, "", "", executor.work_dir),),
                            (0,) * len(maps), (1,) * len(maps))
    for spec in lists.output.reduce_tasks:
        partition = spec["partition"]
        attempt = f"s0-r{partition:05d}-a1"
        ready = executor.ask(pipe.Run(plan.job_id, attempt, "reduce", spec, inputs))
        assert isinstance(ready, pipe.ReadyToCommit), ready
        committed = executor.ask(pipe.Commit(plan.job_id, attempt, spec, ready.temp_path))
        assert committed == pipe.Committed(attempt)
    done = executor.ask(pipe.Run(plan.job_id, "s0-c00000-a1", "commit", {"step": 0}))
    assert done == pipe.Done("s0-c00000-a1", None, done.counters, done.elapsed)


def test_a_whole_job_through_the_pipe_writes_the_inline_output(executor, tmp_path):
    """Prepare, maps, reduces with their commits and the job commit, as typed messages."""
    inputs = small_inputs(tmp_path / "in", 3)
    inline_output("wordcount.py", inputs, tmp_path / "inline", reducers=2)
    run_job(executor, make_plan("wordcount.py", inputs, tmp_path / "out", reducers=2))
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")


def test_a_failing_task_is_a_failed_reply_and_the_executor_goes_on(executor, tmp_path):
    """User code that raises answers Failed with its traceback; the next command is served."""
    inputs = small_inputs(tmp_path / "in", 1)
    inputs[0].write_text("poison here\n")
    plan = make_plan("failing.py:RaiseOnBad", inputs, tmp_path / "out", reducers=1)
    load(executor, plan)
    lists = executor.ask(pipe.Run(plan.job_id, "s0-p00000-a1", "prepare", {"step": 0}))
    failed = executor.ask(pipe.Run(plan.job_id, "s0-m00000-a1", "map", lists.output.map_tasks[0]))
    assert isinstance(failed, pipe.Failed) and "poisoned record" in failed.error
    again = executor.ask(pipe.Run(plan.job_id, "s0-p00000-a2", "prepare", {"step": 0}))
    assert isinstance(again, pipe.Done)


def test_commands_that_cannot_be_served_fail_their_attempt_not_the_executor(executor):
    """A job without a plan, an unknown kind, a bad spec, a stray message: replies go on."""
    unknown = executor.ask(pipe.Run("nojob", "s0-m00000-a1", "map", {}))
    assert isinstance(unknown, pipe.Failed)
    executor.conn.send("not a command")
    executor.conn.send(pipe.Discard("/nonexistent/part-0"))
    commit = executor.ask(pipe.Commit("nojob", "s0-r00000-a1", {"step": 0}, "/nowhere"))
    assert isinstance(commit, pipe.Failed) and commit.attempt == "s0-r00000-a1"
