"""The coordinator's log lines: the scheduler says, one line each, what an operator wants."""

from __future__ import annotations

from minimr.cluster.scheduling import notices
from minimr.cluster.scheduling import scheduler as s
from tests.cluster.test_scheduler import Script, assigns


def said(actions: list) -> list[s.Notice]:
    return [a for a in actions if isinstance(a, s.Notice)]


def text(actions: list) -> str:
    return "\n".join(n.text for n in said(actions))


def test_a_worker_joining_and_leaving_is_said():
    """Joining names the worker, its slots and host; leaving says it said goodbye and what
    of its work runs again."""
    script = Script()
    assert text(script.join("w0", slots=2)) == "worker w0 joined: 2 slots, host host-w0"
    script.submit()
    (notice,) = said(script(s.WorkerLeft("w0")))
    assert notice.text == "worker w0 left: it said goodbye; 1 running attempt runs again"
    assert not notice.warning


def test_a_silent_worker_is_declared_dead_with_why_as_a_warning():
    """A worker purged for silence is declared dead, with how long it was silent."""
    script = Script(heartbeat_interval=1.0, heartbeat_liveness=3)
    script.join("w0")
    script.submit()
    (notice,) = said(script(s.Tick(), advance=3.5))
    assert notice.warning
    assert notice.text == (
        "worker w0 declared dead: silent for 3.5 s (heartbeats every 1 s, dead after 3 "
        "missed); 1 running attempt runs again"
    )


def test_a_failed_attempt_is_said_with_the_users_exception_line():
    """A failed attempt names itself, its worker, the tally and the exception, not the
    traceback or the worker's note."""
    script = Script()
    script.join("w0")
    (prep,) = assigns(script.submit(max_attempts=3))
    error = 'Traceback (most recent call last):\n  File "job.py"\nKeyError: \'x\'\n(on worker w0)'
    (notice,) = said(script(s.AttemptFailed("w0", "j", prep.attempt, error)))
    assert notice.warning
    assert notice.text == "attempt s0-p00000-a1 of job j failed on w0 (1 of 3): KeyError: 'x'"


def test_a_job_is_said_queued_started_and_ended():
    """A job's life in the log: queued (with the jobs ahead), started, succeeded."""
    script = Script()
    assert text(script.submit("a")) == "job a (test) queued: 1 step, 0 unfinished jobs ahead of it"
    assert "1 unfinished job ahead" in text(script.submit("b"))
    started = text(script.join("w0", slots=1))
    assert "job a (test) started after 0.0 s in the queue" in started
    (prep,) = [a for a in script.sched.attempts.values() if a.job_id == "a"]
    lines = text(script(s.AttemptFailed("w0", "a", prep.id, "ValueError: bad plan", final=True),
                        advance=1.5))
    assert "job a (test) failed after 1.5 s: " in lines
    assert "job b (test) started after 1.5 s in the queue" in lines


def test_a_cancelled_job_says_by_whom():
    """Cancelling names who did it, in the log and in the job's record."""
    script = Script()
    script.submit()
    (notice,) = said(script(s.JobCancelled("j", "minimr cancel (user ada on vm, pid 7)")))
    assert notice.text == (
        "job j (test) cancelled by minimr cancel (user ada on vm, pid 7) after 0.0 s")
    assert script.sched.jobs["j"].cancelled_by.startswith("minimr cancel")


def test_error_line_is_the_exception_of_a_traceback():
    """The line kept of a failure is its last, less the worker's note, cut to a line's length."""
    assert notices.error_line("Traceback:\n  x\nValueError: no\n(on worker vm:1)") == (
        "ValueError: no")
    assert notices.error_line("") == "no error text"
    # a hint minimr noted on the exception (mistakes.values_as_a_list) follows its line
    assert notices.error_line("Traceback:\n  x\nTypeError: no len()\nhint: Job.reduce gets"
                              " its values as an iterator\n(on worker vm:1)") == (
        "TypeError: no len()")
    assert len(notices.error_line("E: " + "x" * 1000)) == notices.LINE
