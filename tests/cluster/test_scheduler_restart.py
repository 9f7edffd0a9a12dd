"""A restarted coordinator's scheduler: journal replay as events, re-registered map outputs."""

from __future__ import annotations

import dataclasses

from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from tests.cluster.test_scheduler import Script, assigns, ended, inputs_of, map_output


def committed(actions: list) -> list[s.TaskCommitted]:
    return [a for a in actions if isinstance(a, s.TaskCommitted)]


def restore(journal: list, grace: float = 5.0) -> Script:
    """A fresh scheduler fed a submission and the journaled commits, as after a restart."""
    script = Script(recovery_grace=grace)
    script.submit()
    for c in journal:
        script(s.TaskRestored(c.job_id, c.task, c.attempt, c.output, c.counters, c.started))
    return script


def first_life(maps: int, reduces: int, maps_done: int) -> tuple[Script, list, list]:
    """Run a job on two workers until ``maps_done`` maps finished.

    Returns:
        The scheduler, the journal (its TaskCommitted actions), the live assignments.
    """
    script = Script()
    script.join("w0")
    script.join("w1")
    (prep,) = assigns(script.submit())
    actions = script.prepare(prep, maps, reduces)
    journal, live = committed(actions), assigns(actions)
    for _ in range(maps_done):
        actions = script.map_done(live.pop(0), reduces)
        journal += committed(actions)
        live += assigns(actions)
    return script, journal, live


def held(journal: list) -> tuple:
    """What a worker holding every journaled map output re-registers."""
    return tuple(p.HeldOutput("j", c.attempt, c.output) for c in journal if "-m" in c.task)


def test_every_finished_task_is_handed_to_the_shell_to_journal():
    """A task that succeeds yields one TaskCommitted with its output, counters and attempts."""
    _, journal, _ = first_life(maps=3, reduces=2, maps_done=2)
    assert [c.task for c in journal] == ["s0-p00000", "s0-m00000", "s0-m00001"]
    assert journal[1].output == map_output(2) and journal[1].started == 1


def test_maps_whose_holder_re_registers_do_not_run_again():
    """After a restart, only the unfinished map runs; re-registered outputs feed the reduces."""
    _, journal, _ = first_life(maps=3, reduces=2, maps_done=2)
    script = restore(journal)
    joined = s.WorkerJoined("v0", "v0", "host-v0", 1, "tcp://v0:1", outputs=held(journal))
    first = assigns(script(joined))
    assert [(a.kind, a.task.get("index")) for a in first] == [("map", 2)]
    (reduce,) = assigns(script.map_done(first[0], reduces=2))
    assert reduce.kind == "reduce" and {i.holder.address for i in inputs_of(reduce)} == {"tcp://v0:1"}
    snapshot = script.sched.job_snapshot("j", script.now)
    assert snapshot["attempts"]["map"] == 3  # the two restored attempts and one new one


def test_reduces_wait_while_restored_outputs_have_no_holder():
    """No reduce starts until every restored map output is located again."""
    _, journal, _ = first_life(maps=2, reduces=1, maps_done=2)
    script = restore(journal)
    assert assigns(script.join("v0")) == []  # nothing to run, nothing known to fetch from
    assert script.task("s0-r00000").state is s.TaskState.WAITING
    actions = script(s.WorkerJoined("v1", "v1", "host", 1, "tcp://v1:1", outputs=held(journal)))
    (reduce,) = assigns(actions)
    assert reduce.kind == "reduce" and {i.holder.address for i in inputs_of(reduce)} == {"tcp://v1:1"}


def test_outputs_not_re_registered_within_the_grace_run_again():
    """A restored map whose worker never comes back runs again once the grace is over."""
    _, journal, _ = first_life(maps=2, reduces=1, maps_done=2)
    script = restore(journal, grace=5.0)
    script.join("v0")
    assert assigns(script(s.Tick(), advance=4.0)) == []
    (again,) = assigns(script(s.Tick(), advance=2.0))
    assert again.kind == "map"
    assert {script.task(k).state for k in ("s0-m00000", "s0-m00001")} == {
        s.TaskState.RUNNING, s.TaskState.PENDING
    }


def test_an_output_of_another_attempt_is_not_taken_for_the_committed_one():
    """A worker holding an output of a map's stale attempt does not make the map done."""
    _, journal, _ = first_life(maps=1, reduces=1, maps_done=1)
    script = restore(journal, grace=1.0)
    stale = (p.HeldOutput("j", "s0-m00000-a7", map_output(1)),)
    script(s.WorkerJoined("v0", "v0", "host", 1, "tcp://v0:1", outputs=stale))
    assert script.task("s0-r00000").state is s.TaskState.WAITING
    (again,) = assigns(script(s.Tick(), advance=2.0))
    assert again.kind == "map"


def test_committed_reduces_are_not_run_again():
    """Reduces journaled as committed stay done; only the others run, then the job commit."""
    script, journal, live = first_life(maps=1, reduces=3, maps_done=1)
    first = live[0]
    journal += committed(script.reduce_done(first))
    restored = restore(journal)
    restored(s.WorkerJoined("v0", "v0", "host", 1, "tcp://v0:1", outputs=held(journal)))
    restored.join("v1")
    restored.join("v2")
    running = sorted(a.task for a in restored.sched.attempts.values())
    assert running == sorted({"s0-r00000", "s0-r00001", "s0-r00002"} - {first.attempt[:9]})


def test_a_journaled_end_ends_the_restored_job():
    """A job that had ended before the restart is restored as ended, with its error."""
    script = Script()
    script.submit()
    actions = script(s.JobOutcomeRestored("j", "failed", {"message": "boom"}))
    assert ended(actions) == [s.JobEnded("j", s.JobState.FAILED)]
    assert script.sched.jobs["j"].error == {"message": "boom"}


# --- a worker adopts the folder of a dead one (``workdir.py``) ----------------------------


def adopting(worker: str, replaces: tuple, held_outputs: tuple) -> s.WorkerJoined:
    return s.WorkerJoined(worker, worker, "host-w0", 1, f"tcp://{worker}:1",
                          outputs=held_outputs, replaces=replaces)


def moved(journal: list, task: str) -> tuple:
    """The output of ``task`` as its adopter offers it: the same attempt's (in its folder)."""
    (c,) = [c for c in journal if c.task == task]
    return (p.HeldOutput("j", c.attempt, c.output),)


def test_a_successor_that_adopts_the_outputs_saves_their_maps():
    """w0 dies holding map 0's output; w2 adopts it: w0 is dropped at once, map 0 stays done."""
    script, journal, live = first_life(maps=3, reduces=1, maps_done=1)
    assert script.task("s0-m00000").output_worker == "w0"
    script.sched.workers["w0"].host = "host-w0"
    actions = script(adopting("w2", ("w0",), moved(journal, "s0-m00000")))
    assert "w0" not in script.sched.workers
    task = script.task("s0-m00000")
    assert task.state is s.TaskState.DONE and task.output_worker == "w2"
    assert ("j", "s0-m00000") in script.sched.workers["w2"].outputs  # read from its folder
    assert all(a.task.get("index") != 0 for a in assigns(actions))
    # what the log and the job's notes say: w0 was dropped, and no finished map runs again
    said = [a.text for a in actions if isinstance(a, s.Notice)]
    said += [text for _, text in script.sched.jobs["j"].notes]
    assert any("took over its work folder" in text for text in said), said
    assert not any("finished map" in text for text in said), said


def test_an_adopted_output_undoes_the_loss_of_its_map_and_cancels_the_rerun():
    """Map 0 was lost when w0 died and runs again; w2 then offers it: done, re-run cancelled."""
    script, journal, live = first_life(maps=2, reduces=1, maps_done=1)
    script.join("w3")
    for alive in ("w1", "w3"):  # only w0 goes silent
        script.sched.workers[alive].last_seen = script.now + 2000
    rerun = [a for a in assigns(script(s.Tick(), advance=1001)) if a.task.get("index") == 0]
    assert rerun and script.task("s0-m00000").state is s.TaskState.RUNNING
    actions = script(adopting("w2", (), moved(journal, "s0-m00000")))
    assert s.Cancel(rerun[0].worker, "j", rerun[0].attempt) in actions
    task = script.task("s0-m00000")
    assert task.state is s.TaskState.DONE and task.output_worker == "w2"


def test_a_claim_on_an_output_a_live_worker_holds_is_refused():
    """w2 says it holds map 0's output while w0, alive, holds it: the claim is ignored (a
    reducer would fetch, and unpickle, whatever w2 serves), whatever key w2 has."""
    script, journal, live = first_life(maps=1, reduces=1, maps_done=1)
    script(adopting("w2", (), moved(journal, "s0-m00000")))
    task = script.task("s0-m00000")
    assert task.output_worker == "w0"
    assert ("j", "s0-m00000") not in script.sched.workers["w2"].outputs
    assert script.sched.workers["w2"].outputs == set()


def keyed(event: s.WorkerJoined, key: str) -> s.WorkerJoined:
    return dataclasses.replace(event, key=key)


def test_replaces_drops_only_a_worker_of_the_same_key():
    """A registration naming a live worker of another key in ``replaces`` leaves it alone;
    the same key (its successor on that machine) drops it."""
    script, journal, live = first_life(maps=3, reduces=1, maps_done=1)
    script.sched.workers["w0"].host = "host-w0"
    script.sched.workers["w0"].key = script.task("s0-m00000").output_key = "KEY-A"
    script(keyed(adopting("w2", ("w0",), moved(journal, "s0-m00000")), "KEY-B"))
    assert "w0" in script.sched.workers
    assert script.task("s0-m00000").output_worker == "w0"
    script(keyed(adopting("w3", ("w0",), moved(journal, "s0-m00000")), "KEY-A"))
    assert "w0" not in script.sched.workers
    assert script.task("s0-m00000").output_worker == "w3"


def test_a_lost_output_is_adopted_only_by_the_key_that_made_it():
    """Map 0's holder w0 (key A) died; a worker of key B offering that output is ignored
    and the map runs again; one of key A then saves it."""
    script, journal, live = first_life(maps=2, reduces=1, maps_done=1)
    script.task("s0-m00000").output_key = "KEY-A"
    script.join("w3")
    for alive in ("w1", "w3"):  # only w0 goes silent
        script.sched.workers[alive].last_seen = script.now + 2000
    script(s.Tick(), advance=1001)
    assert script.task("s0-m00000").state is s.TaskState.RUNNING
    script(keyed(adopting("w4", (), moved(journal, "s0-m00000")), "KEY-B"))
    assert script.task("s0-m00000").state is s.TaskState.RUNNING
    script(keyed(adopting("w5", (), moved(journal, "s0-m00000")), "KEY-A"))
    task = script.task("s0-m00000")
    assert task.state is s.TaskState.DONE and task.output_worker == "w5"


def test_a_restored_output_is_reclaimed_only_by_the_key_that_made_it():
    """After a restart, a map journaled as run by key A is re-registered by key A only."""
    _, journal, _ = first_life(maps=3, reduces=2, maps_done=2)
    journal = [dataclasses.replace(c, key="KEY-A") for c in journal]
    script = Script(recovery_grace=5.0)
    script.submit()
    for c in journal:
        script(s.TaskRestored(c.job_id, c.task, c.attempt, c.output, c.counters, c.started,
                              key=c.key))
    script(s.WorkerJoined("v0", "v0", "h", 1, "tcp://v0:1", outputs=held(journal), key="KEY-B"))
    assert all(script.task(k).output_worker is None for k in ("s0-m00000", "s0-m00001"))
    script(s.WorkerJoined("v1", "v1", "h", 1, "tcp://v1:1", outputs=held(journal), key="KEY-A"))
    assert all(script.task(k).output_worker == "v1" for k in ("s0-m00000", "s0-m00001"))
