"""The coordinator's log lines: what an operator wants to read happened, one line each.

Pure functions from the scheduler's tables to :class:`~minimr.cluster.scheduling.events.Notice`
actions. The scheduler emits them where things happen (a worker joins, leaves or is
declared dead; an attempt fails; a job is queued, starts, ends) and the coordinator logs
them under ``minimr.coordinator``, so its log reads as the cluster's history::

    worker vm:3413 joined: 2 slots, host vm
    job wc-20261204-101500-ab12cd (WordCount) queued: 1 unfinished job ahead of it
    job wc-20261204-101500-ab12cd (WordCount) started after 0.4 s in the queue
    attempt s0-m00003-a1 of job wc-... failed on vm:3413 (1 of 4): ValueError: bad line
    worker vm:3413 declared dead: silent for 3.2 s (...); 1 running attempt runs again
    job wc-20261204-101500-ab12cd (WordCount) succeeded in 12.3 s: 17 map and 4 reduce tasks
"""

from __future__ import annotations

from minimr.cluster.scheduling.events import Notice
from minimr.cluster.scheduling.tables import Attempt, Job, JobState, Kind, Task, Worker
from minimr.errors import HINT

#: characters of a user's exception line kept in a log line or an attempt's record
LINE = 300

def error_line(error: str) -> str:
    """The line of a failure's text that says what went wrong: a traceback's last line (the
    exception), without the ``(on worker ...)`` a worker appends nor a ``hint:`` note
    minimr added to the exception; cut to ``LINE``."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[-1].startswith("(on worker "):
        lines.pop()
    while len(lines) > 1 and lines[-1].startswith(HINT):
        lines.pop()
    line = lines[-1] if lines else "no error text"
    return line if len(line) <= LINE else line[: LINE - 3] + "..."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _job(job: Job) -> str:
    return f"job {job.id} ({job.name})"


def worker_joined(worker: Worker, held: int) -> Notice:
    """A worker registered (``held``: map outputs it brought back)."""
    extra = f", holding {_plural(held, 'map output')}" if held else ""
    return Notice(f"worker {worker.name} joined: {_plural(worker.slots, 'slot')}, host "
                  f"{worker.host}{extra}")


def worker_lost(worker: Worker, why: str, requeued: int, rerun: int, dead: bool) -> Notice:
    """A worker is gone: it said goodbye, or it is declared ``dead`` (``why``: the reason).

    Args:
        requeued: its running attempts, which run again elsewhere (not counted as failures).
        rerun: finished maps whose output it held and that must run again.
    """
    costs = []
    if requeued:
        costs.append(f"{_plural(requeued, 'running attempt')} run{'s' * (requeued == 1)} again")
    if rerun:
        costs.append(f"{_plural(rerun, 'finished map')} whose output it held "
                     f"run{'s' * (rerun == 1)} again")
    cost = "; " + ", ".join(costs) if costs else ""
    verb = "declared dead" if dead else "left"
    return Notice(f"worker {worker.name} {verb}: {why}{cost}", warning=dead)


def attempt_failed(job: Job, task: Task, attempt: Attempt, error: str, counted: bool
                   ) -> Notice:
    """An attempt failed; ``counted`` when it counts toward the task's attempts."""
    tally = f"{task.failures} of {job.max_attempts}" if counted else "not counted"
    return Notice(
        f"attempt {attempt.id} of job {job.id} failed on {attempt.worker_name or attempt.worker}"
        f" ({tally}): {error_line(error)}",
        warning=True,
    )


def job_queued(job: Job, ahead: int) -> Notice:
    """A job was submitted; ``ahead``: unfinished jobs before it (first come, first served)."""
    return Notice(f"{_job(job)} queued: {_plural(job.steps, 'step')}, "
                  f"{_plural(ahead, 'unfinished job')} ahead of it")


def job_started(job: Job, now: float) -> Notice:
    """A job's first attempt started."""
    return Notice(f"{_job(job)} started after {now - job.submitted:.1f} s in the queue")


def job_ended(job: Job, now: float) -> Notice:
    """A job succeeded, failed (with why) or was cancelled (by whom)."""
    took = now - job.submitted
    if job.state is JobState.SUCCEEDED:
        failed = sum(t.failures for t in job.tasks.values())
        tail = f", {_plural(failed, 'attempt')} failed" if failed else ""
        maps, reduces = job.total.get(Kind.MAP, 0), job.total.get(Kind.REDUCE, 0)
        tasks = (f"{maps} map and {reduces} reduce tasks" if reduces
                 else f"{_plural(maps, 'map task')} (map-only)")
        return Notice(f"{_job(job)} succeeded in {took:.1f} s: {tasks}{tail}")
    if job.state is JobState.CANCELLED:
        return Notice(f"{_job(job)} cancelled by {job.cancelled_by or 'its client'} after "
                      f"{took:.1f} s")
    message = (job.error or {}).get("message", "no reason recorded")
    return Notice(f"{_job(job)} failed after {took:.1f} s: {message}", warning=True)
