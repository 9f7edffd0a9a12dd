"""The scheduler as a pure state machine: events in, actions out, no sockets or clock."""

from __future__ import annotations

import pytest

from minimr.cluster.scheduling import board
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.scheduling.board import InvalidTransition
from minimr.cluster.wire import protocol as p


def listing(maps: int, reduces: int, step: int = 0) -> p.TaskLists:
    """A prepare task's result: ``maps`` map specs and ``reduces`` reduce specs of ``step``."""
    return p.TaskLists(
        tuple({"step": step, "index": i, "reducers": reduces} for i in range(maps)),
        tuple({"step": step, "partition": r} for r in range(reduces)),
    )


def map_output(reduces: int, length: int = 10) -> p.MapOutputRef:
    """A map output of ``reduces`` partitions of ``length`` bytes each."""
    return p.MapOutputRef(reduces, reduces * length)


def inputs_of(assign: s.Assign) -> list[p.MapInput]:
    """The map outputs a reduce's assignment says it reads, in map order."""
    return assign.inputs.listed(assign.task["step"])


class Script:
    """Drives a scheduler with events at a fake time and collects its actions."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("heartbeat_liveness", 1000)  # only the liveness test lets workers die
        self.sched = s.Scheduler(**kwargs)
        self.now = 0.0

    def __call__(self, event, advance: float = 0.0) -> list:
        self.now += advance
        return self.sched.handle(event, self.now)

    def join(self, worker: str, slots: int = 1) -> list:
        return self(s.WorkerJoined(worker, worker, "host-" + worker, slots, f"tcp://{worker}:1"))

    def submit(self, job: str = "j", steps: int = 1, **kwargs) -> list:
        return self(s.JobSubmitted(job, "test", steps, **kwargs))

    def succeed(self, assign: s.Assign, output=None, advance: float = 0.0) -> list:
        return self(
            s.AttemptSucceeded(
                assign.worker, assign.job_id, assign.attempt, output, {"g": {"tasks": 1}}
            ),
            advance,
        )

    def prepare(self, assign: s.Assign, maps: int, reduces: int) -> list:
        return self.succeed(assign, listing(maps, reduces, assign.task["step"]))

    def map_done(self, assign: s.Assign, reduces: int, advance: float = 0.0) -> list:
        return self.succeed(assign, map_output(reduces), advance)

    def reduce_done(self, assign: s.Assign) -> list:
        granted = self(s.CommitRequested(assign.worker, assign.job_id, assign.attempt))
        assert granted[0] == s.AnswerCommit(assign.worker, assign.job_id, assign.attempt, True)
        return self.succeed(assign)

    def task(self, key: str, job: str = "j") -> s.Task:
        return self.sched.jobs[job].tasks[key]


def assigns(actions: list) -> list[s.Assign]:
    return [a for a in actions if isinstance(a, s.Assign)]


def ended(actions: list) -> list[s.JobEnded]:
    return [a for a in actions if isinstance(a, s.JobEnded)]


def run_to_reduce(script: Script, maps: int = 2, reduces: int = 2, workers: int = 2) -> list:
    """Submit a job to ``workers`` one-slot workers and finish its map phase."""
    for i in range(workers):
        script.join(f"w{i}")
    (prep,) = assigns(script.submit())
    pending = assigns(script.prepare(prep, maps, reduces))
    reduce_assigns = []
    while pending:
        a = pending.pop(0)
        new = assigns(script.map_done(a, reduces))
        pending += [n for n in new if n.kind == "map"]
        reduce_assigns += [n for n in new if n.kind == "reduce"]
    return reduce_assigns


def test_idle_worker_request_is_parked_until_work_appears():
    """A worker that joins with nothing to do gets the first task the moment a job arrives."""
    script = Script()
    assert assigns(script.join("w0")) == []
    (prep,) = assigns(script.submit())
    assert (prep.worker, prep.kind, prep.attempt) == ("w0", "prepare", "s0-p00000-a1")


def test_assignments_never_exceed_free_slots():
    """A worker with two slots runs at most two tasks; a finished one frees a slot."""
    script = Script()
    script.join("w0", slots=2)
    (prep,) = assigns(script.submit())
    first = assigns(script.prepare(prep, maps=5, reduces=1))
    assert [a.task["index"] for a in first] == [0, 1]
    more = assigns(script.map_done(first[0], reduces=1))
    assert [a.task["index"] for a in more] == [2]


def test_free_slots_are_served_in_the_order_workers_registered():
    """Free workers take pending tasks in the order they registered (one that registered
    again counts from then), and a busy one is never among them."""
    script = Script()
    for w in ("w0", "w1", "w2", "w1"):
        script.join(w)
    (prep,) = assigns(script.submit())
    assert prep.worker == "w0"
    maps = assigns(script.prepare(prep, maps=8, reduces=1))
    assert [a.worker for a in maps] == ["w0", "w2", "w1"]
    assert script.sched.board.free == set()
    (more,) = assigns(script.map_done(maps[1], reduces=1))
    assert more.worker == "w2" and script.sched.board.free == set()


def test_a_job_runs_prepare_maps_reduces_then_commit():
    """A failure-free job goes through every phase once and ends succeeded."""
    script = Script()
    reduce_assigns = run_to_reduce(script, maps=3, reduces=2)
    assert sorted(a.task["partition"] for a in reduce_assigns) == [0, 1]
    first = assigns(script.reduce_done(reduce_assigns[0]))
    commit = assigns(script.reduce_done(reduce_assigns[1])) + first
    (commit,) = [a for a in commit if a.kind == "commit"]
    actions = script.succeed(commit)
    assert ended(actions) == [s.JobEnded("j", s.JobState.SUCCEEDED)]
    snapshot = script.sched.job_snapshot("j", script.now)
    assert snapshot["attempts"] == {"prepare": 1, "map": 3, "reduce": 2, "commit": 1}
    assert len(script.sched.job_counters("j")) == 1 + 3 + 2 + 1


def test_reduce_inputs_name_each_map_output_and_its_holder():
    """A reduce assignment lists where its partition of every map output lives."""
    script = Script()
    reduce_assigns = run_to_reduce(script, maps=2, reduces=2)
    inputs = inputs_of(reduce_assigns[0])
    assert [(i.map, i.attempt) for i in inputs] == [(0, "s0-m00000-a1"), (1, "s0-m00001-a1")]
    assert {i.holder.address for i in inputs} <= {"tcp://w0:1", "tcp://w1:1"}
    assert reduce_assigns[1].inputs is reduce_assigns[0].inputs  # one table for the step


def test_a_worker_gets_a_steps_table_once_then_its_number_with_each_reduce():
    """A worker's next reduce of a step names the table it was sent with its first."""
    script = Script()
    (first,) = run_to_reduce(script, maps=2, reduces=3, workers=1)
    assert first.fresh and first.table == 1
    (second,) = assigns(script.reduce_done(first))
    assert second.kind == "reduce" and not second.fresh and second.table == 1
    assert second.inputs is first.inputs
    assert script.sched.workers["w0"].tables == {"j": {0: 1}}


def test_a_map_run_again_makes_a_new_table_sent_with_the_next_reduce():
    """After a lost map output runs again, a worker's next reduce carries the new table."""
    script = Script()
    (r,) = run_to_reduce(script, maps=2, reduces=2, workers=1)
    lost = inputs_of(r)[0]
    (rerun,) = assigns(script(s.FetchFailed(r.worker, "j", r.attempt, ((0, lost.attempt),))))
    (again,) = assigns(script.map_done(rerun, reduces=2))
    assert again.fresh and again.table == 2 and inputs_of(again)[0].attempt == rerun.attempt
    (other,) = assigns(script.reduce_done(again))
    assert not other.fresh and other.table == 2


def test_what_a_worker_was_sent_goes_with_its_registration_and_with_the_job():
    """A worker that registers again, or whose job ended, is known to hold no table."""
    script = Script()
    run_to_reduce(script, maps=1, reduces=2, workers=2)
    assert script.sched.workers["w0"].tables == {"j": {0: 1}}
    script.join("w0")  # again, on the same identity
    assert script.sched.workers["w0"].tables == {}
    assert script.sched.workers["w1"].tables == {"j": {0: 1}}
    script(s.JobCancelled("j", "test"))
    assert script.sched.workers["w1"].tables == {}


def test_multi_step_job_prepares_the_next_step_after_the_reduces():
    """Step 1 is prepared only once every reduce of step 0 has committed."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(steps=2))
    (m,) = assigns(script.prepare(prep, maps=1, reduces=1))
    (r,) = assigns(script.map_done(m, reduces=1))
    (prep1,) = assigns(script.reduce_done(r))
    assert (prep1.kind, prep1.task) == ("prepare", {"step": 1})


def test_stale_attempt_result_is_dropped():
    """A result for an attempt that is no longer live changes nothing (the fence)."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit())
    script(s.WorkerLeft("w0"))
    (again,) = assigns(script.join("w1"))
    assert again.attempt == "s0-p00000-a2"
    script.join("w0")  # the zombie comes back and reports its old attempt
    assert script.prepare(prep, maps=1, reduces=1) == []
    assert script.task("s0-p00000").state is s.TaskState.RUNNING
    assert list(script.task("s0-p00000").live) == ["s0-p00000-a2"]


def test_unknown_worker_is_asked_to_reregister():
    """Messages from a worker the scheduler does not know earn only a re-register request."""
    script = Script()
    actions = script(s.WorkerSeen("ghost"))
    assert actions == [s.AskToReregister("ghost", "unknown worker (declared dead?)")]


def test_silent_worker_is_declared_dead_and_its_attempt_requeued_uncounted():
    """After interval x liveness of silence a worker is purged; its task runs elsewhere."""
    script = Script(heartbeat_interval=1.0, heartbeat_liveness=3)
    script.join("w0")
    (prep,) = assigns(script.submit())
    script.join("w1")
    script(s.WorkerSeen("w1"), advance=2.5)
    assert assigns(script(s.Tick(), advance=0.0)) == []
    actions = script(s.Tick(), advance=1.0)
    assert "w0" not in script.sched.workers
    (again,) = assigns(actions)
    assert (again.worker, again.attempt) == ("w1", "s0-p00000-a2")
    assert script.task("s0-p00000").failures == 0


def test_dead_worker_finished_maps_rerun_while_reduces_need_them():
    """A dead worker's map outputs are re-run and reduces wait for them again."""
    script = Script()
    for w in ("w0", "w1", "w2"):
        script.join(w)
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=2, reduces=2))
    m0 = next(a for a in maps if a.worker == "w1")
    other = next(a for a in maps if a is not m0)
    script.map_done(m0, reduces=2)
    actions = script(s.WorkerLeft("w1"))
    (rerun,) = assigns(actions)
    assert rerun.task == m0.task and rerun.attempt.endswith("-a2")
    reduces = assigns(script.map_done(other, reduces=2))
    assert [a for a in reduces if a.kind == "reduce"] == []
    reduces = assigns(script.map_done(rerun, reduces=2))
    assert sorted(a.kind for a in reduces) == ["reduce", "reduce"]


def test_maps_of_a_finished_step_are_not_rerun_when_their_worker_dies():
    """Once every reduce of a step committed, losing its map outputs costs nothing."""
    script = Script()
    reduce_assigns = run_to_reduce(script, maps=2, reduces=1, workers=2)
    (r,) = reduce_assigns
    script.reduce_done(r)
    actions = script(s.WorkerLeft("w0"))
    assert all(a.kind == "commit" for a in assigns(actions))


def test_failed_attempts_up_to_the_cap_fail_the_job_with_a_report():
    """A task failing max_attempts times fails the job naming task, input and traceback."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(max_attempts=3))
    (m,) = assigns(script.prepare(prep, maps=1, reduces=1))
    for attempt in range(1, 4):
        assert m.attempt.endswith(f"-a{attempt}")
        actions = script(s.AttemptFailed("w0", "j", m.attempt, f"Traceback {attempt}", "err"))
        if attempt < 3:
            (m,) = assigns(actions)
    assert ended(actions) == [s.JobEnded("j", s.JobState.FAILED)]
    error = script.sched.jobs["j"].error
    assert error["task"] == "s0-m00000" and error["input"] == {"step": 0, "index": 0, "reducers": 1}
    assert error["traceback"] == "Traceback 3" and error["workers"] == ["w0"]
    assert "3 times" in error["message"]


def straggling_phase(script: Script) -> list[s.Assign]:
    """Five workers, a job of four maps of which three finish in 0.5 s: its maps' assigns."""
    for w in ("w0", "w1", "w2", "w3", "w4"):
        script.join(w)
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=4, reduces=1))
    for a in maps[:3]:
        script.map_done(a, reduces=1, advance=0.5)
    return maps


def test_a_final_failure_fails_the_job_at_its_first_attempt():
    """A failure marked final (a mistake in the job's code) is not retried: the job fails
    at once, its report saying so, with the error as the worker sent it."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(max_attempts=4))
    (m,) = assigns(script.prepare(prep, maps=1, reduces=1))
    actions = script(s.AttemptFailed("w0", "j", m.attempt, "JobCodeError: x", final=True))
    assert assigns(actions) == [] and ended(actions) == [s.JobEnded("j", s.JobState.FAILED)]
    error = script.sched.jobs["j"].error
    assert error["attempts"] == 1 and error["final"] is True
    assert error["traceback"] == "JobCodeError: x" and "no retry can fix" in error["message"]
    assert script.task("s0-m00000").state is s.TaskState.FAILED


def test_a_final_failure_cancels_a_running_backup():
    """A final failure ends the job even while a backup of the task runs (it would fail the
    same way), and the backup is cancelled."""
    script = Script(speculation_min_runtime=1.0, speculation_multiplier=4.0)
    maps = straggling_phase(script)
    (backup,) = assigns(script(s.Tick(), advance=10.0))
    actions = script(s.AttemptFailed(maps[3].worker, "j", maps[3].attempt, "boom", final=True))
    assert ended(actions) == [s.JobEnded("j", s.JobState.FAILED)]
    assert s.Cancel(backup.worker, "j", backup.attempt) in actions


def test_fetch_failure_reruns_the_map_and_does_not_count_against_the_reduce():
    """A reduce that cannot fetch a map output makes that map run again, then retries."""
    script = Script()
    reduce_assigns = run_to_reduce(script, maps=2, reduces=1, workers=2)
    (r,) = reduce_assigns
    lost = inputs_of(r)[0]
    actions = script(s.FetchFailed(r.worker, "j", r.attempt, ((lost.map, lost.attempt),)))
    (rerun,) = assigns(actions)
    assert rerun.kind == "map" and rerun.task["index"] == lost.map
    assert script.task(r.attempt.rsplit("-", 1)[0]).state is s.TaskState.WAITING
    (r2,) = assigns(script.map_done(rerun, reduces=1))
    assert r2.kind == "reduce" and r2.attempt.endswith("-a2")
    assert script.task("s0-r00000").failures == 0
    assert inputs_of(r2)[lost.map].attempt == rerun.attempt  # a new table, naming the rerun


def test_only_one_attempt_of_a_task_may_commit():
    """The first attempt to ask commits; a racing backup is refused and dropped."""
    script = Script()
    for w in ("w0", "w1", "w2", "w3", "w4"):
        script.join(w)
    reduce_assigns = run_to_reduce(script, maps=1, reduces=4, workers=0)
    for r in reduce_assigns[:3]:
        script.reduce_done(r)
    straggler = reduce_assigns[3]
    (backup,) = assigns(script(s.Tick(), advance=10.0))
    assert backup.task == straggler.task and backup.worker != straggler.worker
    assert script(s.CommitRequested(straggler.worker, "j", straggler.attempt))[0].ok
    refused = script(s.CommitRequested(backup.worker, "j", backup.attempt))
    assert refused == [s.AnswerCommit(backup.worker, "j", backup.attempt, False)]
    assert script.succeed(backup) == []
    assert any(a.kind == "commit" for a in assigns(script.succeed(straggler)))


def test_straggler_gets_one_backup_and_the_winner_cancels_it():
    """Near the end of a phase a task running far past the median gets a backup."""
    script = Script(speculation_min_runtime=1.0, speculation_multiplier=4.0)
    maps = straggling_phase(script)
    assert assigns(script(s.Tick(), advance=1.0)) == []  # 2.5 s < max(1, 4 x 0.5)... not yet
    (backup,) = assigns(script(s.Tick(), advance=10.0))
    assert backup.task == maps[3].task and backup.attempt.endswith("-a2")
    assert assigns(script(s.Tick(), advance=1.0)) == []  # not while the backup is young
    actions = script.map_done(backup, reduces=1)
    assert s.Cancel(maps[3].worker, "j", maps[3].attempt) in actions


def sized_phase(script: Script, last_size: int) -> list[s.Assign]:
    """Five workers, a job of four maps: three of 10 bytes that finish in 0.5 s and one of
    ``last_size`` bytes, still running; the maps' assigns in task order."""
    for w in ("w0", "w1", "w2", "w3", "w4"):
        script.join(w)
    (prep,) = assigns(script.submit())
    sizes = (10, 10, 10, last_size)
    specs = tuple({"step": 0, "index": i, "reducers": 1,
                   "split": {"path": f"f{i}", "start": 0, "end": size}}
                  for i, size in enumerate(sizes))
    maps = sorted(assigns(script.succeed(prep, p.TaskLists(specs, ({"step": 0, "partition": 0},)))),
                  key=lambda a: a.task["index"])
    for a in maps[:3]:
        script.map_done(a, reduces=1, advance=0.5)
    return maps


def test_a_map_much_larger_than_its_finished_peers_is_not_a_straggler_for_its_size():
    """A map of ten times the bytes of every finished one is not late at 4x their median:
    with no peer of at least half its size it waits ``backup_after``, as a lone task does;
    one of about their size is a straggler as before."""
    script = Script(speculation_min_runtime=1.0, speculation_multiplier=4.0, backup_after=60.0)
    sized_phase(script, last_size=100)
    assert assigns(script(s.Tick(), advance=10.0)) == []
    assert assigns(script(s.Tick(), advance=40.0)) == []
    (backup,) = assigns(script(s.Tick(), advance=11.0))  # past 60 s: a black hole's guard
    assert backup.task["index"] == 3
    script = Script(speculation_min_runtime=1.0, speculation_multiplier=4.0, backup_after=60.0)
    maps = sized_phase(script, last_size=15)
    (backup,) = assigns(script(s.Tick(), advance=10.0))
    assert backup.task == maps[3].task


def test_uniform_tasks_get_no_backup():
    """In a failure-free run of equal tasks nothing is speculated."""
    script = Script()
    for w in ("w0", "w1", "w2"):
        script.join(w)
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=3, reduces=1))
    script.map_done(maps[0], reduces=1, advance=1.0)
    script.map_done(maps[1], reduces=1)
    assert assigns(script(s.Tick(), advance=0.5)) == []


def test_speculation_can_be_turned_off():
    """A job submitted without speculation never gets a backup."""
    script = Script(speculation_min_runtime=0.0, speculation_multiplier=1.0)
    for w in ("w0", "w1"):
        script.join(w)
    (prep,) = assigns(script.submit(speculation=False))
    m0, m1 = assigns(script.prepare(prep, maps=2, reduces=1))
    script.map_done(m0, reduces=1, advance=1.0)
    assert assigns(script(s.Tick(), advance=100.0)) == []


def test_worker_whose_failures_succeed_elsewhere_is_excluded():
    """A worker on which tasks keep failing, where they succeed elsewhere, gets none of the job."""
    script = Script()
    for w in ("bad", "w1", "w2", "w3", "w4", "w5"):
        script.join(w)
    (prep,) = assigns(script.submit(max_attempts=4))
    maps = assigns(script.prepare(prep, maps=8, reduces=1))
    queue = list(maps)
    while queue:
        a = queue.pop(0)
        if a.worker == "bad":
            queue += assigns(script(s.AttemptFailed("bad", "j", a.attempt, "boom")))
        elif a.kind == "map":
            queue += assigns(script.map_done(a, reduces=1))
    assert script.sched.jobs["j"].excluded == {"bad"}


def test_cancelled_job_cancels_its_live_attempts():
    """Cancelling a job stops its attempts and ends it cancelled."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit())
    actions = script(s.JobCancelled("j"))
    assert s.Cancel("w0", "j", prep.attempt) in actions
    assert ended(actions) == [s.JobEnded("j", s.JobState.CANCELLED)]
    assert script.sched.workers["w0"].free == 1


def test_earlier_job_gets_free_slots_first():
    """Jobs share the cluster first come, first served."""
    script = Script()
    script.join("w0")
    (prep_a,) = assigns(script.submit("a"))
    script.submit("b")
    (next_task,) = assigns(script.prepare(prep_a, maps=2, reduces=1))
    assert next_task.job_id == "a"


def test_task_timeout_counts_as_a_failure():
    """An attempt running past the job's task timeout is cancelled and counted."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(task_timeout=5.0, max_attempts=2))
    actions = script(s.Tick(), advance=6.0)
    assert s.Cancel("w0", "j", prep.attempt) in actions
    assert script.task("s0-p00000").failures == 1


def test_transition_table_forbids_illegal_moves():
    """Moving a task along an edge missing from TRANSITIONS is an invariant error."""
    script = Script()
    script.join("w0")
    script.submit()
    job = script.sched.jobs["j"]
    with pytest.raises(s.InvariantError):
        script.sched.board.move(job, job.tasks["s0-p00000"], s.TaskState.RUNNING)


def test_an_invalid_transition_tells_the_story_of_its_task():
    """The error carries the recent events and moves of that task, oldest first."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit())
    (first,) = assigns(script.prepare(prep, maps=2, reduces=1))
    script(s.AttemptFailed("w0", "j", first.attempt, "boom"), advance=1.0)
    job = script.sched.jobs["j"]
    task = job.tasks["s0-m00000"]
    with pytest.raises(InvalidTransition) as info:
        script.sched.board.move(job, task, s.TaskState.RUNNING)
    error = info.value
    assert (error.key, error.start, error.finish) == ("j/s0-m00000", task.state, task.state)
    told = [str(entry) for entry in error.story]
    assert [t.split()[1] for t in told] == ["move", "event", "move", "move"]
    assert "pending -> running" in told[0] and "AttemptFailed" in told[1]
    assert "running -> pending" in told[2] and "pending -> running" in told[3]
    assert "pending -> running" in str(error) and "AttemptFailed" in str(error)


def test_the_story_is_bounded_and_leaves_out_heartbeats():
    """The log keeps a bounded number of entries; heartbeats and ticks are not in it."""
    script = Script()
    script.join("w0")
    for _ in range(10):
        script(s.WorkerSeen("w0"), advance=0.1)
        script(s.Tick(), advance=0.1)
    assert [e.text.split("(")[0] for e in script.sched.board.log] == ["WorkerJoined"]
    for number in range(board.STORY_LENGTH + 10):
        script(s.JobCancelled(f"none-{number}"))
    assert len(script.sched.board.log) == board.STORY_LENGTH


def test_job_without_workers_fails_after_the_worker_timeout():
    """With no worker for longer than the job's worker timeout, the job fails saying so."""
    script = Script()
    script.submit(worker_timeout=5.0)
    assert ended(script(s.Tick(), advance=4.0)) == []
    actions = script(s.Tick(), advance=2.0)
    assert ended(actions) == [s.JobEnded("j", s.JobState.FAILED)]
    assert "no worker" in script.sched.jobs["j"].error["message"]


def test_job_without_workers_waits_for_them_by_default():
    """Without a worker timeout a job waits, then runs when a worker joins."""
    script = Script()
    script.submit()
    script(s.Tick(), advance=1000.0)
    (prep,) = assigns(script.join("w0"))
    assert prep.kind == "prepare"


def notes(script: Script, job: str = "j") -> list[str]:
    return [n["text"] for n in script.sched.job_snapshot(job, script.now)["notes"]]


def test_a_lost_worker_is_noted_with_what_runs_again():
    """A worker lost with a running task and a finished map output of a job gets one note
    on that job saying both run again; the snapshot numbers its notes."""
    script = Script()
    for w in ("w0", "w1", "w2"):
        script.join(w, slots=2)
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=6, reduces=2))
    on_w1 = [a for a in maps if a.worker == "w1"]
    script.map_done(on_w1[0], reduces=2)
    script(s.WorkerLeft("w1"))
    assert notes(script) == ["worker w1 lost: 1 running task and 1 finished map output will "
                             "run again"]
    assert script.sched.job_snapshot("j", script.now)["notes"][0]["seq"] == 1
    script(s.WorkerLeft("w2"))  # two running tasks, no output yet
    assert notes(script)[1] == "worker w2 lost: 2 running tasks will run again"


def test_a_retried_failure_a_fetch_failure_and_a_backup_are_noted():
    """Each says which task, where, and what happens next."""
    script = Script()
    reduce_assigns = run_to_reduce(script, maps=2, reduces=1, workers=2)
    (r,) = reduce_assigns
    retried = script(s.AttemptFailed(r.worker, "j", r.attempt, "Traceback\nValueError: <k>"))
    assert notes(script) == [f"s0-r00000 failed on worker {r.worker} (failure 1 of at most 4): "
                             "ValueError: <k>; it runs again"]
    (r2,) = assigns(retried)
    lost = inputs_of(r2)[0]
    script(s.FetchFailed(r2.worker, "j", r2.attempt, ((lost.map, lost.attempt),)))
    assert notes(script)[1] == (f"s0-r00000 could not fetch the output of s0-m0000{lost.map} "
                                f"from worker {lost.holder.host[5:]}: "
                                f"s0-m0000{lost.map} runs again")
    script = Script(speculation_min_runtime=1.0, speculation_multiplier=4.0)
    maps = straggling_phase(script)
    (backup,) = assigns(script(s.Tick(), advance=11.0))
    assert notes(script) == [f"{maps[3].attempt[:-3]} is slow on worker {maps[3].worker}: a "
                             f"backup attempt started on worker {backup.worker}"]


def test_workers_tally_tasks_done_and_map_output_bytes_served():
    """A taken result counts for its worker; a reduce that succeeded counts the bytes it read
    from each map output's holder; a map's input read counts for the job."""
    script = Script()
    for w in ("w0", "w1"):
        script.join(w)
    (prep,) = assigns(script.submit())
    maps = assigns(script.prepare(prep, maps=2, reduces=1))
    reduce_assigns = []
    for m in maps:
        counters = {"minimr": {"map input records": 5, "map input bytes": 100}}
        done = script(s.AttemptSucceeded(m.worker, "j", m.attempt, map_output(1, 7),
                                         counters))
        reduce_assigns += [a for a in assigns(done) if a.kind == "reduce"]
    (r,) = reduce_assigns
    script.reduce_done(r)
    status = {w["name"]: w for w in script.sched.status(script.now)["workers"]}
    assert sum(w["tasks_done"] for w in status.values()) == 4  # prepare, 2 maps, the reduce
    assert {w["shuffle_served"] for w in status.values()} == {7}  # one map output each
    snapshot = script.sched.job_snapshot("j", script.now)
    assert (snapshot["input_records"], snapshot["input_bytes"]) == (10, 200)
    assert [(ph["kind"], ph["done"], ph["total"]) for ph in snapshot["phases"]] == [
        ("prepare", 1, 1), ("map", 2, 2), ("reduce", 1, 1), ("commit", 0, 1)]


def test_finished_jobs_are_kept_up_to_a_count():
    """Past ``keep_finished`` finished jobs, the oldest are forgotten; running ones never."""
    script = Script(keep_finished=2)
    for job in ("a", "b", "c", "d"):
        script.submit(job)
    for job in ("a", "b", "c"):
        script(s.JobCancelled(job))
    assert list(script.sched.jobs) == ["b", "c", "d"]


def test_finished_jobs_are_forgotten_after_a_while():
    """A finished job is forgotten ``keep_finished_for`` seconds after it ended."""
    script = Script(keep_finished_for=60.0)
    script.submit("a")
    script(s.JobCancelled("a"))
    script(s.Tick(), advance=59.0)
    assert "a" in script.sched.jobs
    script(s.Tick(), advance=2.0)
    assert "a" not in script.sched.jobs
