"""The scheduler's plain-data views: a job's attempts, phases and state as status shows them."""

from __future__ import annotations

from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.scheduling import views
from tests.cluster.test_scheduler import Script, assigns, inputs_of, map_output, straggling_phase


def detail(script: Script, job: str = "j") -> dict:
    return views.job_detail(script.sched.jobs[job], script.sched.workers, script.now)


def attempts_of(view: dict, task: str) -> list[dict]:
    (found,) = [t for t in view["tasks"] if t["task"] == task]
    return found["attempts"]


def test_every_attempt_is_kept_with_how_it_ended():
    """A failed attempt, one lost with its worker and the one that succeeded all stay in the
    task's record, each with its worker, state, times and why it ended."""
    script = Script(heartbeat_interval=1.0, heartbeat_liveness=3)
    script.join("w0")
    script.join("w1")
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=1, reduces=1))
    (m,) = maps
    error = "Traceback (most recent call last):\n  ...\nValueError: bad line 7\n(on worker w)"
    (m2,) = assigns(script(s.AttemptFailed(m.worker, "j", m.attempt, error), advance=1.0))
    script(s.WorkerSeen(m.worker), advance=2.0)
    script(s.Tick(), advance=2.0)  # m2's worker is silent for 4 s: declared dead
    (m3,) = [a for a in script.sched.attempts.values() if a.task == "s0-m00000"]
    script.succeed(s.Assign(m3.worker, "j", m3.id, "map", {}), map_output(1))
    first, lost, won = attempts_of(detail(script), "s0-m00000")
    assert (first["state"], first["why"]) == ("failed", "ValueError: bad line 7")
    assert first["worker"] == m.worker and first["end"] == 1.0
    assert lost["attempt"] == m2.attempt and lost["state"] == "lost"
    assert "declared dead" in lost["why"] and "silent for" in lost["why"]
    assert won["state"] == "succeeded" and won["end"] is not None
    assert won["counters"]["map input records"] == 0  # the task's records: this one's


def test_a_backup_that_loses_is_cancelled_and_says_by_whom():
    """When one attempt of a task wins, the others end cancelled, overtaken by the winner."""
    script = Script(speculation_min_runtime=1.0, speculation_multiplier=4.0)
    maps = straggling_phase(script)
    (backup,) = assigns(script(s.Tick(), advance=10.0))
    script.map_done(backup, reduces=1)
    first, second = attempts_of(detail(script), "s0-m00003")
    assert first["state"] == "cancelled" and first["why"] == f"overtaken by {backup.attempt}"
    assert first["attempt"] == maps[3].attempt
    assert second["backup"] is True and second["state"] == "succeeded"


def test_attempts_on_one_worker_take_distinct_lanes():
    """Attempts running at once on a worker take different lanes (its slots), reused once free."""
    script = Script()
    script.join("w0", slots=2)
    (prep,) = assigns(script.submit())
    first, second = assigns(script.prepare(prep, maps=3, reduces=1))
    (third,) = assigns(script.map_done(first, reduces=1))
    lanes = {a["attempt"]: a["lane"] for t in detail(script)["tasks"] for a in t["attempts"]}
    assert {lanes[first.attempt], lanes[second.attempt]} == {0, 1}
    assert lanes[third.attempt] == lanes[first.attempt]


def test_a_job_waiting_behind_another_is_queued_with_its_place():
    """A job none of whose attempts has started shows as queued, with its place in line,
    until a slot takes its first task."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit("first"))
    script.submit("second")
    script.submit("third")
    jobs = {j["job_id"]: j for j in views.cluster_status(
        script.sched.workers, script.sched.jobs, script.now)["jobs"]}
    assert jobs["first"]["state"] == "running"
    assert (jobs["second"]["state"], jobs["second"]["queue_position"]) == ("queued", 1)
    assert (jobs["third"]["state"], jobs["third"]["queue_position"]) == ("queued", 2)
    script(s.AttemptFailed(prep.worker, "first", prep.attempt, "bad plan", final=True),
           advance=2.0)  # first fails
    assert detail(script, "second")["state"] == "running"
    assert detail(script, "second")["queued_for"] == 2.0


def test_phases_count_tasks_done_running_waiting_and_failed_attempts():
    """A job's phases: per step and kind, tasks done of total, running, waiting, failures."""
    script = Script()
    script.join("w0")
    script.join("w1")
    (prep,) = assigns(script.submit())
    m0, m1 = assigns(script.prepare(prep, maps=3, reduces=2))
    script(s.AttemptFailed(m0.worker, "j", m0.attempt, "boom"))
    phases = {row["kind"]: row for row in detail(script)["phases"]}
    assert phases["prepare"]["done"] == phases["prepare"]["total"] == 1
    assert phases["map"] == {"step": 0, "kind": "map", "total": 3, "done": 0, "running": 2,
                             "pending": 1, "waiting": 0, "failed_attempts": 1}
    assert phases["reduce"]["waiting"] == 2


def test_find_attempts_takes_an_attempt_a_task_or_the_whole_job():
    """An attempt id names one attempt, a task key all of its attempts, '' all the job's."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit())
    (m,) = assigns(script.prepare(prep, maps=1, reduces=1))
    script(s.AttemptFailed(m.worker, "j", m.attempt, "boom"))
    job = script.sched.jobs["j"]
    assert [a.id for a in views.find_attempts(job, "s0-m00000")] == [
        "s0-m00000-a1", "s0-m00000-a2"]
    assert [a.id for a in views.find_attempts(job, "s0-m00000-a2")] == ["s0-m00000-a2"]
    assert len(views.find_attempts(job, "")) == 3
    assert views.find_attempts(job, "s0-m00009") == []


def test_a_detail_reuses_the_views_of_settled_tasks_only():
    """Given an earlier detail, a task done with no attempt running keeps its view as it
    was; a running task, and a done one whose worker has gone since, get a new view."""
    script = Script()
    script.join("w0")
    script.join("w1")
    (prep,) = assigns(script.submit())
    m0, m1 = assigns(script.prepare(prep, maps=2, reduces=1))
    script.map_done(m0, reduces=1)
    before = detail(script)
    after = views.job_detail(script.sched.jobs["j"], script.sched.workers, script.now, before)
    view = {t["task"]: t for t in after["tasks"]}
    was = {t["task"]: t for t in before["tasks"]}
    assert view["s0-m00000"] is was["s0-m00000"]
    assert view["s0-m00001"] is not was["s0-m00001"]  # running: its duration grows
    assert after == views.job_detail(script.sched.jobs["j"], script.sched.workers, script.now)
    script(s.WorkerLeft(m0.worker))  # its log went with it; the map runs again
    again = views.job_detail(script.sched.jobs["j"], script.sched.workers, script.now, after)
    assert again == detail(script)
    assert again["tasks"][1] is not view["s0-m00000"]


def walked_snapshot(job) -> tuple:
    """What a snapshot shows, counted by walking every task (the tallies' reference)."""
    rows: dict = {}
    for task in job.tasks.values():
        row = rows.setdefault((task.step, task.kind), {
            "step": task.step, "kind": task.kind.value, "total": 0, "done": 0, "running": 0,
            "pending": 0, "waiting": 0, "failed_attempts": 0,
        })
        row["total"] += 1
        row["failed_attempts"] += task.failures
        if task.state is s.TaskState.DONE:
            row["done"] += 1
        elif task.live:
            row["running"] += 1
        elif task.state in (s.TaskState.PENDING, s.TaskState.WAITING):
            row[task.state.value] += 1
    order = list(s.Kind)
    phases = [rows[key] for key in sorted(rows, key=lambda k: (k[0], order.index(k[1])))]
    attempts = {k.value: sum(t.started for t in job.tasks.values() if t.kind is k) for k in s.Kind}
    failures = sorted((t.key, e["attempt"]) for t in job.tasks.values() for e in t.errors)
    return phases, sum(len(t.live) for t in job.tasks.values()), attempts, failures


def test_the_tallied_snapshot_is_what_a_walk_over_the_tasks_counts():
    """Through failures, fetch failures, lost workers, backups and a job's end, the progress a
    snapshot shows from the board's tallies is what counting every task says."""
    import random

    for seed in range(12):
        rng = random.Random(seed)
        script = Script(speculation_min_runtime=0.2, speculation_multiplier=1.5)
        for w in ("w0", "w1", "w2"):
            script.join(w, slots=2)
        queue = assigns(script.submit(steps=2, max_attempts=6))
        job = script.sched.jobs["j"]
        for _ in range(400):
            if not queue:
                queue = assigns(script(s.Tick(), advance=1.0))
                if not queue:
                    break
            a = queue.pop(rng.randrange(len(queue)))
            roll = rng.random()
            if roll < 0.1:
                actions = script(s.AttemptFailed(a.worker, "j", a.attempt, "boom"), 0.1)
            elif roll < 0.15 and a.kind == "reduce":
                lost = inputs_of(a)[0]
                actions = script(s.FetchFailed(a.worker, "j", a.attempt,
                                               ((lost.map, lost.attempt),)), 0.1)
            elif roll < 0.18:
                actions = script(s.WorkerLeft(a.worker)) + script.join(a.worker, slots=2)
            elif a.kind == "prepare":
                actions = script.prepare(a, maps=3, reduces=2)
            elif a.kind == "map":
                actions = script.map_done(a, reduces=2, advance=rng.random())
            elif a.kind == "reduce":
                actions = script.reduce_done(a)
            else:
                actions = script.succeed(a)
            queue += assigns(actions)
            snapshot = views.job_snapshot(job, 3, script.now)
            shown = (snapshot["phases"], snapshot["running"], snapshot["attempts"],
                     sorted((f["task"], f["attempt"]) for f in snapshot["failures"]))
            assert shown == walked_snapshot(job), (seed, a)
        assert job.state is not s.JobState.RUNNING, seed
