"""Read-only views of the scheduler's tables, as plain data for clients and ``minimr status``.

They never change state, so they live apart from the state machine in ``scheduler.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from minimr.cluster.tables import Job, Kind, TaskState, Worker


def job_snapshot(job: Job, workers: int, now: float) -> dict:
    """Plain-data progress of one job: state, tasks done of total, workers, elapsed."""
    end = job.finished if job.finished is not None else now
    return {
        "job_id": job.id,
        "name": job.name,
        "state": job.state.value,
        "step": job.step,
        "steps": job.steps,
        "maps_done": job.done.get(Kind.MAP, 0),
        "maps_total": job.total.get(Kind.MAP, 0),
        "reduces_done": job.done.get(Kind.REDUCE, 0),
        "reduces_total": job.total.get(Kind.REDUCE, 0),
        "running": sum(len(t.live) for t in job.tasks.values()),
        "workers": workers,
        "elapsed": end - job.submitted,
        "attempts": {
            k.value: sum(t.started for t in job.tasks.values() if t.kind is k) for k in Kind
        },
        "excluded": sorted(job.excluded),
        "skipped": job.skipped,
        "failures": [{"task": t.key, **e} for t in job.tasks.values() for e in t.errors][-20:],
        "phases": phase_counts(job),
        "input_records": job.input_records,
        "input_bytes": job.input_bytes,
        "notes": notes(job),
    }


def phase_counts(job: Job) -> list[dict]:
    """Each step's phases in order (prepare, map, reduce, commit): tasks total, done and
    running, so that a client can draw a bar per phase."""
    rows: dict[tuple[int, int], dict] = {}
    order = list(Kind)
    for task in job.tasks.values():
        key = (task.step, order.index(task.kind))
        row = rows.get(key)
        if row is None:
            row = rows[key] = {"step": task.step, "kind": task.kind.value, "total": 0,
                               "done": 0, "running": 0}
        row["total"] += 1
        row["done"] += task.state is TaskState.DONE
        row["running"] += bool(task.live)
    return [rows[key] for key in sorted(rows)]


def notes(job: Job, last: int = 20) -> list[dict]:
    """The job's latest notes, oldest first: ``seq`` (1 for the job's first note ever),
    ``at`` (seconds into the job) and ``text``."""
    kept = list(job.notes)[-last:]
    first = job.noted - len(kept) + 1
    return [{"seq": first + i, "at": at, "text": text} for i, (at, text) in enumerate(kept)]


def job_counters(job: Job) -> list[dict]:
    """The counters of every finished task, each task once (its winning attempt)."""
    return [t.counters for t in job.tasks.values() if t.state is TaskState.DONE and t.counters]


def cluster_status(workers: Mapping[str, Worker], jobs: Mapping[str, Job], now: float) -> dict:
    """Plain-data view of the cluster: workers and jobs."""
    return {
        "workers": [
            {
                "id": w.id,
                "name": w.name,
                "host": w.host,
                "slots": w.slots,
                "shuffle": w.shuffle_address,
                "running": sorted(a for _, a in w.attempts),
                "last_heartbeat": now - w.last_seen,
                "uptime": now - w.joined,
                "tasks_done": w.done,
                "shuffle_served": w.served,
            }
            for w in workers.values()
        ],
        "jobs": [job_snapshot(job, len(workers), now) for job in jobs.values()],
    }
