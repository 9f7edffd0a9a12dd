"""The failure policy against peers that never give up: endless fetch-failure reports."""

from __future__ import annotations

from minimr.cluster import failures
from minimr.cluster import scheduler as s
from tests.cluster.test_scheduler import Script, assigns, ended


def named_inputs(a: s.Assign) -> tuple:
    """A lie that names every map output the reduce was given: each really runs again."""
    return tuple((i.map, i.attempt) for i in a.inputs) if a.kind == "reduce" else None


def play(script: Script, hostile: set[str], lie=named_inputs, rounds: int = 500) -> list:
    """Run a two-map, two-reduce job to its end: ``hostile`` workers answer an assignment
    with a fetch failure naming ``lie(assign)`` (``None``: they run it honestly), the
    others succeed. Returns the job's end actions, ``[]`` if it still runs after ``rounds``."""
    queue = assigns(script.submit())
    for _ in range(rounds):
        if not queue:
            break
        a = queue.pop(0)
        lost = lie(a) if a.worker in hostile else None
        if lost is not None:
            actions = script(s.FetchFailed(a.worker, "j", a.attempt, lost, "cannot fetch"))
        elif a.kind == "prepare":
            actions = script.prepare(a, maps=2, reduces=2)
        elif a.kind == "map":
            actions = script.map_done(a, reduces=2)
        elif a.kind == "reduce":
            actions = script.reduce_done(a)
        else:
            actions = script.succeed(a)
        queue += assigns(actions)
        if ended(actions):
            return ended(actions)
    return []


def joined(*workers: str) -> Script:
    script = Script()
    for worker in workers:
        script.join(worker)
    return script


def test_a_reducer_reporting_fetch_failures_without_end_is_blamed_and_the_job_succeeds():
    """Past its share of lost map outputs, a reporter's fetch failure fails its own attempt."""
    script = joined("liar", "w1", "w2")
    assert play(script, hostile={"liar"}) == [s.JobEnded("j", s.JobState.SUCCEEDED)]
    job = script.sched.jobs["j"]
    for key in job.maps[0]:
        losses = job.tasks[key].fetch_losses
        assert losses.get("liar", 0) <= failures.FETCH_LOSSES_PER_REPORTER
        assert sum(losses.values()) <= failures.FETCH_LOSSES_PER_OUTPUT


def test_fetch_failures_from_every_reducer_end_the_job_with_a_clear_message():
    """When every reducer keeps reporting, the job fails saying the outputs were lost too often."""
    script = joined("liar1", "liar2")
    assert play(script, hostile={"liar1", "liar2"}) == [s.JobEnded("j", s.JobState.FAILED)]
    error = script.sched.jobs["j"].error
    assert "reduce" in error["message"] and "declared lost" in error["traceback"]


def test_a_fetch_failure_from_a_task_that_fetches_nothing_counts_as_its_failure():
    """Only a reduce fetches: a prepare or map 'failing to fetch' failed, and is blamed."""
    script = joined("liar", "w1")
    outcome = play(script, hostile={"liar"}, lie=lambda a: () if a.kind != "reduce" else None)
    assert outcome == [s.JobEnded("j", s.JobState.SUCCEEDED)]
    job = script.sched.jobs["j"]
    assert job.bad_scores.get("liar", 0) >= 1  # its "fetch failures" counted against it


def test_reports_naming_outputs_that_are_not_lost_are_bounded_per_reduce():
    """A reducer naming stale map attempts loses nothing, and may not retry for ever."""
    script = joined("liar", "w1")
    stale = lambda a: ((0, "s0-m00000-a99"),) if a.kind == "reduce" else None  # noqa: E731
    assert play(script, hostile={"liar"}, lie=stale) == [s.JobEnded("j", s.JobState.SUCCEEDED)]
    for key in script.sched.jobs["j"].reduces[0]:
        assert script.task(key).fetch_retries <= failures.FETCH_RETRIES_PER_REDUCE


def test_an_honest_fetch_failure_reruns_the_map_without_counting_against_the_reduce():
    """Below the caps nothing changes: the map runs again and the reduce is not charged."""
    script = joined("w0", "w1")
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=2, reduces=1))
    reduces = []
    for m in maps:
        reduces += assigns(script.map_done(m, reduces=1))
    (r,) = reduces
    lost = r.inputs[0]
    rerun = assigns(script(s.FetchFailed(r.worker, "j", r.attempt, ((lost.map, lost.attempt),))))
    assert [a.kind for a in rerun] == ["map"]
    assert script.task("s0-r00000").failures == 0
