"""The failure policy against peers that never give up: endless fetch-failure reports, and
black holes (workers that heartbeat but never finish a task)."""

from __future__ import annotations

from minimr.cluster.scheduling import failures
from minimr.cluster.scheduling import scheduler as s
from tests.cluster.test_scheduler import Script, assigns, ended, inputs_of


def named_inputs(a: s.Assign) -> tuple:
    """A lie that names every map output the reduce was given: each really runs again."""
    return tuple((i.map, i.attempt) for i in inputs_of(a)) if a.kind == "reduce" else None


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
    lost = inputs_of(r)[0]
    rerun = assigns(script(s.FetchFailed(r.worker, "j", r.attempt, ((lost.map, lost.attempt),))))
    assert [a.kind for a in rerun] == ["map"]
    assert script.task("s0-r00000").failures == 0


def finish(script: Script, queue: list, black_holes: set[str], rounds: int = 500) -> list:
    """Run assignments to the job's end, ticking the clock a second a round: ``black_holes``
    never answer theirs, the others finish theirs at once. Returns the end actions."""
    for _ in range(rounds):
        actions = script(s.Tick(), advance=1.0)
        answered = [a for a in queue if a.worker not in black_holes]
        queue[:] = [a for a in queue if a.worker in black_holes]
        for a in answered:
            if a.kind == "prepare":
                actions += script.prepare(a, maps=4, reduces=2)
            elif a.kind == "map":
                actions += script.map_done(a, reduces=2)
            elif a.kind == "reduce":
                actions += script.reduce_done(a)
            else:
                actions += script.succeed(a)
        queue += assigns(actions)
        if ended(actions):
            return ended(actions)
    return []


def test_a_lone_task_on_a_black_hole_gets_a_backup_after_backup_after():
    """A prepare (nothing to compare it with) held by a silent worker runs elsewhere too."""
    script = Script(backup_after=30.0)
    script.join("hole")
    (prep,) = assigns(script.submit())
    script.join("w1")
    assert assigns(script(s.Tick(), advance=29.0)) == []
    (backup,) = assigns(script(s.Tick(), advance=2.0))
    assert backup.worker == "w1" and backup.task == prep.task


def test_a_black_hole_holding_most_of_a_phase_does_not_stall_the_job():
    """A silent worker with many slots, first served, cannot hold a job for ever: backups
    run its tasks elsewhere, and once overtaken twice it is excluded from the job."""
    script = Script(backup_after=30.0)
    for worker, slots in (("hole", 16), ("w1", 1), ("w2", 1)):
        script.join(worker, slots=slots)
    queue = assigns(script.submit())
    assert finish(script, queue, {"hole"}) == [s.JobEnded("j", s.JobState.SUCCEEDED)]
    job = script.sched.jobs["j"]
    assert job.excluded == {"hole"}
    assert script.now < 200  # a few backup delays, not for ever


def test_a_task_on_two_black_holes_gets_a_third_attempt():
    """When the first backup lands on a black hole too, a second one follows."""
    script = Script(backup_after=30.0)
    for worker in ("hole1", "hole2", "w1"):
        script.join(worker)
    queue = assigns(script.submit())  # the prepare, on hole1
    queue += assigns(script(s.Tick(), advance=31.0))  # the first backup: hole2, first free
    assert [a.worker for a in queue] == ["hole1", "hole2"]
    assert finish(script, queue, {"hole1", "hole2"}) == [s.JobEnded("j", s.JobState.SUCCEEDED)]


def test_a_straggler_that_wins_is_not_blamed():
    """Only an attempt overtaken by a later one counts against its worker."""
    script = Script(backup_after=30.0)
    for worker in ("slow", "w1"):
        script.join(worker)
    (prep,) = assigns(script.submit())
    (backup,) = assigns(script(s.Tick(), advance=31.0))
    script.prepare(prep, maps=1, reduces=1)  # the first attempt wins after all
    assert script.sched.jobs["j"].bad_scores == {}
