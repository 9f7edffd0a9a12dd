"""The scheduler's failure policy: what a failure means, and who is to blame.

Functions over the scheduler's tables (``tables.py``), no state of their own; the
scheduler (``scheduler.py``) calls them and does the moving and requeueing:

- skip mode (``skip_record``): a failure on one record is the record's, not the task's;
- the report that fails a job (``failure_report``): the task, its input, where it ran,
  the last traceback;
- bad workers (``score_bad_workers``, ``score_overtaken``): failures that then succeeded
  elsewhere, and attempts overtaken by a later attempt of their task, count against the
  worker they happened on, which is excluded from the job after a few;
- stragglers (``stragglers``): a task running far longer than the median of its phase's
  finished tasks (a map's, of those at least half its size) is given a backup attempt near
  the phase's end; and so is a task with nothing to compare it with (a lone prepare or
  commit, a phase whose tasks mostly still run, a map larger than any finished) after
  ``backup_after`` seconds, so that a worker that heartbeats but never finishes (a black
  hole) cannot hold a job for ever;
- fetch failures (``fetch_failure_refused``, ``take_fetch_loss``): a reduce that cannot
  fetch a map output has it run again and is retried without counting, but only so often:
  past that, the report is the reporter's own failure, so a reducer that reports without
  end cannot make a job loop for ever.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator

from minimr.cluster.scheduling.events import SKIP_AFTER_FAILURES, AttemptFailed, Skipped
from minimr.cluster.scheduling.tables import Attempt, Job, Kind, Task, TaskState

#: failures of a job's tasks on one worker, that then succeeded elsewhere, that exclude it
BAD_WORKER_FAILURES = 2
#: a phase is "near its end" when this fraction of its tasks is done
SPECULATION_QUANTILE = 0.75
#: attempts of one task running at once at most: the first and two backups (a backup may
#: land on a black hole too)
MAX_LIVE_ATTEMPTS = 3
#: times one reporter's fetch failures may have the same map's output declared lost...
FETCH_LOSSES_PER_REPORTER = 2
#: ...and all reporters' together; past either, the reporting attempt fails instead
FETCH_LOSSES_PER_OUTPUT = 4
#: attempts of one reduce retried without counting after fetch failures; later ones count
FETCH_RETRIES_PER_REDUCE = 8


def skip_record(job: Job, task: Task, event: AttemptFailed) -> bool:
    """Skip mode: a failure on a record is the record's, not the task's.

    The record's first failure is retried as is (it may have been bad luck); from its
    second on, later attempts skip it, within the job's ``max_skips``. Such failures
    do not count toward the task's attempts. Returns whether the failure was taken.
    """
    record = event.record
    if not job.skip_bad_records or task.kind not in (Kind.MAP, Kind.REDUCE) or record is None:
        return False
    ordinal = record.ordinal
    if ordinal in task.spec.get("skip", ()):
        return True  # an attempt started before the record was put on the skip list
    seen = task.record_failures[ordinal] = task.record_failures.get(ordinal, 0) + 1
    if seen < SKIP_AFTER_FAILURES:
        return True
    if job.skipped >= job.max_skips:
        return False  # the job skipped all it may: an ordinary failure from now on
    job.skipped += 1
    task.skipped.append(
        Skipped(task.key, ordinal, record.where, record.key, record.value, event.error)
    )
    task.spec = {**task.spec, "skip": sorted({*task.spec.get("skip", ()), ordinal})}
    return True


def failure_report(job: Job, task: Task, final: bool = False) -> dict:
    """Why the job failed: the task that used up its attempts (or, ``final``, failed in a
    way no retry can fix), its input, where it ran."""
    workers = sorted({e["name"] for e in task.errors})
    last = task.errors[-1]
    budget = ""
    if job.skip_bad_records and job.skipped >= job.max_skips:
        budget = f" Skip mode had already skipped {job.skipped} records, the limit (max skips)."
    if final:
        what = ("failed with an error no retry can fix, so it was not run again "
                f"(attempt {task.failures} of at most {job.max_attempts})")
    else:
        what = f"failed {task.failures} times, the limit (max attempts {job.max_attempts})"
    return {
        "message": (
            f"task {task.key} ({task.kind.value} of step {task.step}) {what}; "
            f"it ran on {', '.join(workers)}.{budget} The last attempt's error is below: "
            "fix the job (or the input) and run it again, or replay this one task locally."
        ),
        "attempts": task.failures,
        "final": final,
        "task": task.key,
        "attempt": last.get("attempt", ""),  # the last failed attempt: its log says more
        "worker": last["name"],
        "kind": task.kind.value,
        "step": task.step,
        "input": task.spec,
        "workers": workers,
        "traceback": last["error"],
        "stderr": last["stderr"],
    }


def score_bad_workers(job: Job, task: Task, winner: str, workers: int) -> None:
    """``task`` succeeded on ``winner``: its failures elsewhere count against those workers.

    A worker reaching ``BAD_WORKER_FAILURES`` is excluded from the job, never more than a
    third of the cluster's ``workers``.
    """
    if not task.errors:
        return  # the usual case: nothing to blame, and no new list kept per task
    for error in task.errors:
        if error["worker"] != winner:
            _blame(job, error["worker"], workers)
    task.errors = [e for e in task.errors if e["worker"] == winner]


def score_overtaken(job: Job, winner: Attempt, losers: list[Attempt], workers: int) -> None:
    """``winner`` finished first: the losers that started before it were overtaken.

    A worker whose attempts keep being overtaken is slow for this job, or never finishes
    at all (a black hole): it is scored as for a failure (see :func:`score_bad_workers`).
    """
    for loser in losers:
        if loser.started < winner.started:
            _blame(job, loser.worker, workers)


def _blame(job: Job, culprit: str, workers: int) -> None:
    if culprit in job.excluded:
        return
    job.bad_scores[culprit] = job.bad_scores.get(culprit, 0) + 1
    if job.bad_scores[culprit] >= BAD_WORKER_FAILURES and len(job.excluded) < workers // 3:
        job.excluded.add(culprit)


def stragglers(
    job: Job,
    running: Iterable[Task],
    now: float,
    multiplier: float,
    min_runtime: float,
    backup_after: float,
) -> Iterator[Task]:
    """The ``running`` tasks of ``job`` that deserve one more attempt.

    A task deserves one when each of its live attempts (fewer than ``MAX_LIVE_ATTEMPTS``)
    has run longer than its limit: ``multiplier`` times the median duration of its peers,
    the finished tasks of its phase, and at least ``min_runtime`` seconds, once
    ``SPECULATION_QUANTILE`` of the phase is done (a straggler near the phase's end);
    ``backup_after`` seconds, or that multiple of the median if longer, before (a lone
    prepare or commit has no phase to compare with, and a phase held by a black hole
    might never reach its quantile). A map's peers are those of at least half its size
    (``Task.size``): one that reads several times the bytes of any finished map is not late
    for taking longer, so with no peer it is given ``backup_after`` as a lone task is.
    """
    phases: dict[tuple[Kind, int], _Phase] = {}
    for task in running:
        if task.state is not TaskState.RUNNING or not 0 < len(task.live) < MAX_LIVE_ATTEMPTS:
            continue
        key = (task.kind, task.step)
        if key not in phases:
            phases[key] = _Phase(job, *key)
        limit = phases[key].limit(task.size, multiplier, min_runtime, backup_after)
        if all(now - attempt.started > limit for attempt in task.live.values()):
            yield task


class _Phase:
    """The finished tasks of one phase (kind and step of a job), as stragglers compare."""

    def __init__(self, job: Job, kind: Kind, step: int) -> None:
        keys = {Kind.MAP: job.maps, Kind.REDUCE: job.reduces}.get(kind, {}).get(step, [])
        tasks = [job.tasks[k] for k in keys]
        self.done = [(t.size, t.duration) for t in tasks
                     if t.duration is not None and t.state is TaskState.DONE]
        self.near_end = bool(self.done) and len(self.done) >= SPECULATION_QUANTILE * len(tasks)
        self.smallest = min((size for size, _ in self.done), default=0)
        self.median = statistics.median(d for _, d in self.done) if self.done else None

    def limit(self, size: int, multiplier: float, min_runtime: float,
              backup_after: float) -> float:
        """Seconds an attempt of a task of ``size`` bytes runs before it gets a backup."""
        median = self.median
        if size > 2 * self.smallest:  # (the usual phase of equal tasks skips this)
            peers = [d for s, d in self.done if 2 * s >= size]
            median = statistics.median(peers) if peers else None
        typical = multiplier * median if median is not None else 0.0
        if self.near_end and median is not None:
            return max(min_runtime, typical)
        return max(backup_after, typical)


def take_fetch_loss(task: Task, reporter: str) -> str | None:
    """A reduce reported map ``task``'s output unreachable: count it lost, if it may be.

    Each loss runs the map again, so it is bounded: ``FETCH_LOSSES_PER_REPORTER`` per
    reporter (a worker's key, or its id without keys) and ``FETCH_LOSSES_PER_OUTPUT`` in
    all. Returns ``None`` when the loss is counted, else why the report is refused: the
    reporting attempt then fails, counted against its task and blamed on its worker.
    """
    mine = task.fetch_losses.get(reporter, 0)
    total = sum(task.fetch_losses.values())
    if mine >= FETCH_LOSSES_PER_REPORTER:
        return (
            f"this worker's fetch failures already had map {task.key}'s output declared lost "
            f"{mine} times, the limit: its failure to fetch it counts as its own"
        )
    if total >= FETCH_LOSSES_PER_OUTPUT:
        return (
            f"map {task.key}'s output was already declared lost {total} times by fetch "
            "failures, the limit: the fetch failure counts as this attempt's (is the map's "
            "worker reachable from the reducers? see `minimr logs`)"
        )
    task.fetch_losses[reporter] = mine + 1
    return None


def fetch_failure_refused(task: Task) -> str | None:
    """Why a fetch failure reported by an attempt of ``task`` counts as its own failure.

    Only a reduce fetches; and one reduce is retried without counting after
    ``FETCH_RETRIES_PER_REDUCE`` fetch failures at most (whatever outputs they name), so
    reports that lose nothing, naming outputs that moved or never were, end too. Returns
    ``None`` (and counts the retry) when the failure is not the attempt's.
    """
    if task.kind is not Kind.REDUCE:
        return f"a {task.kind.value} task fetches no map output, so cannot fail to"
    if task.fetch_retries >= FETCH_RETRIES_PER_REDUCE:
        return (
            f"reduce {task.key} was already retried {task.fetch_retries} times after fetch "
            "failures, the limit: this one counts as the attempt's"
        )
    task.fetch_retries += 1
    return None
