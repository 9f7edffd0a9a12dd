"""The scheduler in skip mode: failures on a record are the record's, not the task's."""

from __future__ import annotations

from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from tests.cluster.test_scheduler import Script, assigns, ended


def bad(assign: s.Assign, ordinal: int = 7) -> s.AttemptFailed:
    record = p.RecordLocation(ordinal, f"record {ordinal} of f", "k", "v")
    return s.AttemptFailed(assign.worker, assign.job_id, assign.attempt, "Traceback: boom",
                           record=record)


def one_map(**job) -> tuple[Script, s.Assign]:
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(**job))
    (first,) = assigns(script.prepare(prep, maps=1, reduces=1))
    return script, first


def test_a_record_that_fails_twice_is_skipped_by_later_attempts():
    """Two failures on record 7 put it on the skip list; neither counts toward attempts."""
    script, first = one_map(skip_bad_records=True, max_attempts=1)
    (second,) = assigns(script(bad(first)))
    assert "skip" not in second.task  # one failure may be bad luck: retried as it is
    (third,) = assigns(script(bad(second)))
    assert third.task["skip"] == [7]
    task = script.task("s0-m00000")
    assert task.failures == 0 and script.sched.jobs["j"].skipped == 1
    (reduce,) = assigns(script.map_done(third, reduces=1))
    (commit,) = assigns(script.reduce_done(reduce))
    (entry,) = commit.task["skipped"]
    assert entry["task"] == "s0-m00000" and entry["where"] == "record 7 of f"
    assert entry["traceback"] == "Traceback: boom"


def test_past_max_skips_a_record_failure_counts_as_usual():
    """With no skips left, the record's failure is an ordinary one and can fail the job."""
    script, first = one_map(skip_bad_records=True, max_skips=0, max_attempts=2)
    (second,) = assigns(script(bad(first)))
    actions = script(bad(second))
    assert script.task("s0-m00000").failures == 1
    (third,) = assigns(actions)
    assert ended(script(bad(third))) == [s.JobEnded("j", s.JobState.FAILED)]
    assert "max skips" in script.sched.jobs["j"].error["message"]


def test_without_skip_mode_a_record_failure_is_an_ordinary_failure():
    """A failure report naming a record changes nothing when skip mode is off."""
    script, first = one_map(max_attempts=1)
    assert ended(script(bad(first))) == [s.JobEnded("j", s.JobState.FAILED)]
