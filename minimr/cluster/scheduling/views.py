"""Read-only views of the scheduler's tables, as plain data for clients and ``minimr status``.

They never change state, so they live apart from the state machine in ``scheduler.py``.
Times are seconds: ``elapsed`` since the job was submitted (to its end, once it ended);
an attempt's ``start`` and ``end`` count from the job's submission too, so that attempts
line up on one time axis (a timeline of each worker's ``lane``, its slot).

- :func:`job_snapshot`: a job's progress in a few numbers (the client's progress line);
- :func:`job_detail`: one job in full: its phases, counters, failure, and every task with
  every attempt (worker, lane, start, end, state, why it ended, records and bytes, where its
  log is) — ``minimr status JOB_ID``, ``minimr logs`` and anything that draws a job;
- :func:`cluster_status`: the workers and the jobs.
"""

from __future__ import annotations

from collections.abc import Mapping

from minimr.cluster.scheduling.tables import Attempt, Job, JobState, Kind, Task, TaskState, Worker
from minimr.dataflow import counters as C

#: the built-in counters an attempt's view shows, by task kind: its records and bytes
_ATTEMPT_COUNTERS = {
    Kind.MAP: (C.MAP_INPUT_RECORDS, C.MAP_INPUT_BYTES, C.MAP_OUTPUT_RECORDS, C.SPILLED_RECORDS),
    Kind.REDUCE: (C.REDUCE_INPUT_RECORDS, C.REDUCE_INPUT_GROUPS, C.REDUCE_OUTPUT_RECORDS,
                  C.REDUCE_OUTPUT_BYTES),
}


def job_state(job: Job) -> str:
    """A job's state as shown: ``queued`` until its first attempt starts, then its state."""
    if job.state is JobState.RUNNING and job.started is None:
        return "queued"
    return job.state.value


def job_snapshot(job: Job, workers: int, now: float) -> dict:
    """Plain-data progress of one job: state, tasks done of total, workers, elapsed."""
    end = job.finished if job.finished is not None else now
    return {
        "job_id": job.id,
        "name": job.name,
        "state": job_state(job),
        "step": job.step,
        "steps": job.steps,
        "maps_done": job.done.get(Kind.MAP, 0),
        "maps_total": job.total.get(Kind.MAP, 0),
        "reduces_done": job.done.get(Kind.REDUCE, 0),
        "reduces_total": job.total.get(Kind.REDUCE, 0),
        "running": job.live_attempts,
        "workers": workers,
        "elapsed": end - job.submitted,
        "attempts": {k.value: job.attempts_started.get(k, 0) for k in Kind},
        "excluded": sorted(job.excluded),
        "skipped": job.skipped,
        "failures": [{"task": key, **e} for key in job.erred
                     for e in job.tasks[key].errors][-20:],
        "phases": phase_counts(job),
        "input_records": job.input_records,
        "input_bytes": job.input_bytes,
        "notes": notes(job),
    }


def notes(job: Job, last: int = 20) -> list[dict]:
    """The job's latest notes, oldest first: ``seq`` (1 for the job's first note ever),
    ``at`` (seconds into the job) and ``text``."""
    kept = list(job.notes)[-last:]
    first = job.noted - len(kept) + 1
    return [{"seq": first + i, "at": at, "text": text} for i, (at, text) in enumerate(kept)]


def job_counters(job: Job) -> list[dict]:
    """The counters of every finished task, each task once (its winning attempt)."""
    return [t.counters for t in job.tasks.values() if t.state is TaskState.DONE and t.counters]


def merged_counters(job: Job) -> dict[str, dict[str, int]]:
    """The job's counters so far: every finished task's, summed (each task once)."""
    total: dict[str, dict[str, int]] = {}
    for counters in job_counters(job):
        for group, names in counters.items():
            into = total.setdefault(group, {})
            for name, amount in names.items():
                into[name] = into.get(name, 0) + amount
    return total


def job_detail(job: Job, workers: Mapping[str, Worker], now: float,
               previous: dict | None = None) -> dict:
    """One job in full (see the module docstring): its snapshot, and ``queued_for`` (seconds
    before its first attempt), ``finished``, ``cancelled_by``, ``error`` (the failure
    report), ``counters`` and ``tasks``, each task with its ``attempts``.

    ``previous``: an earlier detail of the job, whose views of settled tasks (done or
    failed, no attempt running, the same attempts and workers since) are taken as they
    are: a dashboard looking at a job of 10,000 tasks rebuilds only those that moved.
    """
    live = {w.name for w in workers.values()}
    kept = {t["task"]: t for t in previous["tasks"]} if previous else {}
    detail = job_snapshot(job, len(workers), now)
    detail.update(
        queued_for=(job.started if job.started is not None else job.finished or now)
        - job.submitted,
        finished=job.finished is not None,
        cancelled_by=job.cancelled_by,
        error=job.error,
        counters=merged_counters(job),
        tasks=[
            view if (view := kept.get(task.key)) is not None and _settled(task, view, live)
            else task_view(job, task, live, now)
            for task in job.tasks.values()
        ],
    )
    return detail


def _settled(task: Task, view: dict, live: set[str]) -> bool:
    """Whether ``view`` of ``task`` still holds: the task is done or failed with no attempt
    running, and its attempts and their workers' presence are as the view says."""
    return (
        task.state.value == view["state"]
        and task.state in (TaskState.DONE, TaskState.FAILED)
        and not task.live
        and len(task.attempts) == len(view["attempts"])
        and all((a["worker"] in live) == (a["log"] == "worker") for a in view["attempts"])
    )


def phase_counts(job: Job) -> list[dict]:
    """Each step's phases in order (prepare, map, reduce, commit), so that a client can draw
    a bar per phase: their tasks ``total``, ``done``, ``running``, waiting for a slot
    (``pending``) or for their inputs (``waiting``), and ``failed_attempts``: from the
    tallies the board keeps (``Job.phases``), not a walk over the tasks. A task that was
    running when its job ended counts as none of these."""
    order = list(Kind)
    running = job.state is JobState.RUNNING
    return [
        {
            "step": step, "kind": kind.value, "total": sum(states.values()),
            "done": states[TaskState.DONE],
            "running": states[TaskState.RUNNING] if running else 0,
            "pending": states[TaskState.PENDING], "waiting": states[TaskState.WAITING],
            "failed_attempts": job.phase_failures.get((step, kind), 0),
        }
        for (step, kind), states in sorted(job.phases.items(),
                                           key=lambda item: (item[0][0], order.index(item[0][1])))
    ]


def task_view(job: Job, task: Task, live: set[str], now: float) -> dict:
    """A task and its attempts; ``live``: the names of the workers registered now."""
    return {
        "task": task.key,
        "kind": task.kind.value,
        "step": task.step,
        "index": task.index,
        "state": task.state.value,
        "input": describe_input(task.kind.value, task.step, task.spec),
        "failures": task.failures,
        "attempts": [attempt_view(job, task, a, live, now) for a in task.attempts],
    }


def attempt_view(job: Job, task: Task, attempt: Attempt, live: set[str], now: float) -> dict:
    """One attempt: where and when it ran, how it ended, and where its log is.

    ``log`` is ``"worker"`` while the worker that ran it is registered (``minimr logs`` asks
    it), ``"gone"`` once it is not: a worker keeps its attempts' logs in its work folder,
    and they went with it. The attempt whose result was taken carries its task's records
    and bytes (``counters``).
    """
    view = {
        "attempt": attempt.id,
        "task": attempt.task,
        "worker": attempt.worker_name,
        "host": attempt.host,
        "lane": attempt.lane,
        "backup": attempt.backup,
        "state": attempt.state.value,
        "start": attempt.started - job.submitted,
        "end": None if attempt.ended is None else attempt.ended - job.submitted,
        "duration": (attempt.ended if attempt.ended is not None else now) - attempt.started,
        "why": attempt.why,
        "log": "worker" if attempt.worker_name in live else "gone",
    }
    names = _ATTEMPT_COUNTERS.get(task.kind)
    if names and task.output_attempt == attempt.id and task.counters:
        builtin = task.counters.get(C.BUILTIN, {})
        view["counters"] = {name: builtin.get(name, 0) for name in names}
    return view


def find_attempts(job: Job, name: str) -> list[Attempt]:
    """The attempts ``name`` stands for: one attempt (``s0-m00003-a2``), every attempt of a
    task (``s0-m00003``), or of the whole job (``""``)."""
    if not name:
        return [a for task in job.tasks.values() for a in task.attempts]
    task = job.tasks.get(name)
    if task is not None:
        return list(task.attempts)
    task = job.tasks.get(name.rpartition("-a")[0])
    return [a for a in task.attempts if a.id == name] if task is not None else []


def describe_input(kind: str, step: int, spec: dict) -> str:
    """A task's input for people: a map's split (and how many more), a reduce's partition."""
    if kind == "map" and isinstance(spec.get("split"), dict):
        split, more = spec["split"], len(spec.get("more") or ())
        tail = f" and {more} more split{'s' * (more > 1)}" if more else ""
        return f"map input {split.get('path')} bytes {split.get('start')}-{split.get('end')}{tail}"
    if kind == "reduce":
        return f"reduce partition {spec.get('partition')} of step {spec.get('step')}"
    return f"{kind} of step {step}"


def cluster_status(
    workers: Mapping[str, Worker], jobs: Mapping[str, Job], now: float, viewer: str | None = None
) -> dict:
    """Plain-data view of the cluster: workers and jobs (a queued job with its place in the
    queue: 1 is next).

    ``viewer`` is the key of a submitter (or worker) that is no admin: it sees its own jobs
    in detail and the others' as counts (``other_jobs``), the attempts workers run for its
    jobs only, and no worker's connection identity or shuffle address. ``None`` (an admin,
    or a cluster without keys) sees everything.
    """
    mine = {job.id for job in jobs.values() if viewer is None or job.owner == viewer}
    waiting = [j.id for j in jobs.values() if job_state(j) == "queued"]
    listed = []
    for job in jobs.values():
        if job.id not in mine:
            continue
        snapshot = job_snapshot(job, len(workers), now)
        if job.id in waiting:
            snapshot["queue_position"] = waiting.index(job.id) + 1
        listed.append(snapshot)
    status = {
        "workers": [
            {
                **({"id": w.id, "shuffle": w.shuffle_address} if viewer is None else {}),
                "name": w.name,
                "host": w.host,
                "slots": w.slots,
                "running": sorted(a for job, a in w.attempts if job in mine),
                "busy": len(w.attempts),
                "last_heartbeat": now - w.last_seen,
                "uptime": now - w.joined,
                "tasks_done": w.done,
                "shuffle_served": w.served,
            }
            for w in workers.values()
        ],
        "jobs": listed,
    }
    if viewer is not None:
        others = [job for job in jobs.values() if job.id not in mine]
        status["other_jobs"] = {
            "running": sum(job.state is JobState.RUNNING for job in others),
            "finished": sum(job.state is not JobState.RUNNING for job in others),
        }
    return status
