"""The scheduler's map-only steps (no reduce tasks): their maps commit part files as reduces
do, and what is committed is never run again, whatever happens to its worker."""

from __future__ import annotations

from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from tests.cluster.test_scheduler import Script, assigns, ended, map_output


def committed(actions: list) -> list[s.TaskCommitted]:
    return [a for a in actions if isinstance(a, s.TaskCommitted)]


def commit_map(script: Script, assign: s.Assign) -> list:
    """A map-only map asks for its commit, is granted it, and reports success (no output)."""
    granted = script(s.CommitRequested(assign.worker, assign.job_id, assign.attempt))
    assert granted[0] == s.AnswerCommit(assign.worker, assign.job_id, assign.attempt, True)
    return script.succeed(assign)


def start(script: Script, maps: int, steps: int = 1, workers: int = 2) -> list[s.Assign]:
    """Submit a job whose step 0 is map-only; returns the first map assignments."""
    for i in range(workers):
        script.join(f"w{i}")
    (prep,) = assigns(script.submit(steps=steps))
    return assigns(script.prepare(prep, maps, reduces=0))


def test_a_map_only_step_commits_its_maps_then_the_job():
    """Maps of a step with no reduce tasks each commit; after the last, the job commits;
    no reduce phase is ever shown."""
    script = Script()
    first = start(script, maps=3)
    assert [a.kind for a in first] == ["map", "map"]
    (third,) = assigns(commit_map(script, first[0]))
    assert assigns(commit_map(script, first[1])) == []
    (commit,) = assigns(commit_map(script, third))
    assert commit.kind == "commit"
    assert ended(script.succeed(commit)) == [s.JobEnded("j", s.JobState.SUCCEEDED)]
    snapshot = script.sched.job_snapshot("j", script.now)
    assert [row["kind"] for row in snapshot["phases"]] == ["prepare", "map", "commit"]
    assert (snapshot["reduces_total"], snapshot["maps_done"]) == (0, 3)


def test_a_map_only_map_done_without_a_commit_runs_again():
    """A map-only map that reports success without a granted commit may have left nothing in
    place: it runs again."""
    script = Script()
    (first, _) = start(script, maps=2)
    again = assigns(script.succeed(first))
    assert [(a.task["index"], a.attempt) for a in again] == [(0, "s0-m00000-a2")]
    assert script.task("s0-m00000").state is s.TaskState.RUNNING


def test_a_map_only_map_that_returns_a_map_output_fails_that_attempt():
    """A map output for a map-only map does not fit its task: that attempt failed."""
    script = Script()
    (first, _) = start(script, maps=2)
    script(s.CommitRequested(first.worker, "j", first.attempt))
    script.succeed(first, map_output(1))
    task = script.task("s0-m00000")
    assert task.failures == 1 and "map-only step has no map output" in task.errors[0]["error"]


def test_a_lost_worker_never_reruns_a_committed_map_only_map():
    """The worker that ran a committed map-only map dies: the map stays done (its output is
    the job's part file), and only its running attempt runs again."""
    script = Script()
    first = start(script, maps=3, workers=1)
    (second,) = assigns(commit_map(script, first[0]))
    script(s.WorkerJoined("w9", "w9", "host-w9", 2, "tcp://w9:1"))  # takes map 2
    actions = script(s.WorkerLeft("w0"))
    assert script.task("s0-m00000").state is s.TaskState.DONE
    assert [(a.task["index"], a.worker) for a in assigns(actions)] == [(1, "w9")]


def test_a_middle_map_only_step_prepares_the_next_step_once_its_maps_committed():
    """Step 1 is prepared after the last map of a map-only step 0 commits."""
    script = Script()
    first = start(script, maps=2, steps=2)
    assert assigns(commit_map(script, first[0])) == []
    (prep1,) = assigns(commit_map(script, first[1]))
    assert (prep1.kind, prep1.task) == ("prepare", {"step": 1})


def test_a_map_only_step_without_maps_is_done_at_once():
    """No input, no maps: the step has nothing to write and the job commits."""
    script = Script()
    (commit,) = start(script, maps=0)
    assert commit.kind == "commit"


def test_restored_map_only_maps_wait_for_no_worker():
    """After a restart, committed map-only maps stay done without any worker re-registering
    them (no recovery grace), and a worker claiming one is not believed."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit())
    actions = script.prepare(prep, 2, reduces=0)
    journal = committed(actions)
    journal += committed(commit_map(script, assigns(actions)[0]))
    assert [c.task for c in journal] == ["s0-p00000", "s0-m00000"] and journal[1].output is None
    restored = Script(recovery_grace=5.0)
    restored.submit()
    for c in journal:
        restored(s.TaskRestored(c.job_id, c.task, c.attempt, c.output, c.counters, c.started))
    assert restored.sched.jobs["j"].recover_until is None
    claim = p.HeldOutput("j", journal[1].attempt, map_output(0))
    actions = restored(s.WorkerJoined("v0", "v0", "host", 2, "tcp://v0:1", outputs=(claim,)))
    assert restored.task("s0-m00000").state is s.TaskState.DONE
    assert restored.task("s0-m00000").output_worker is None
    assert [a.task.get("index") for a in assigns(actions)] == [1]
