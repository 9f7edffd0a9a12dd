"""The dashboard's JSON documents, built from a published snapshot (plain data in, out).

Every ``GET /api/...`` answer carries the snapshot's ``version`` (also its ``ETag``) and
``time`` (the wall clock it was taken at). The routes (``docs/dashboard.md`` documents
each field):

- ``/api/cluster``: the workers and a summary of every job the coordinator keeps;
- ``/api/jobs``: the job summaries alone;
- ``/api/jobs/ID``: one job: state, phases with progress and ETA, counters, failure;
- ``/api/jobs/ID/attempts``: every attempt of the job, flat, in start order (filters:
  ``task``, ``state``, ``kind``; pages: ``offset``, ``limit``; ``fields``: only those);
- ``/api/jobs/ID/logs/ATTEMPT``: one attempt and what it printed;
- ``POST /api/jobs/ID/cancel``: cancel a job (see ``server.py`` for who may).

Encoded answers are cached by snapshot version, so a second viewer (or a second poll of
an unchanged job) costs a dictionary lookup.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from minimr.cluster.dashboard.window import Snapshot, Window
from minimr.dataflow import counters as C

#: encoded answers kept (a few pages of a few jobs, at the current version)
CACHE_SIZE = 64
#: attempts one page of ``/api/jobs/ID/attempts`` holds at most
MAX_LIMIT = 100_000


#: reads an attempt's log: (job id, attempt id) -> its text, or None if it cannot be had
LogReader = Callable[[str, str], "str | None"]


@dataclass(frozen=True)
class Answer:
    """An API answer: the HTTP status, the JSON body, the snapshot version (None: no
    snapshot behind it)."""

    status: int
    body: bytes
    version: int | None = None


class AnswerCache:
    """Encoded answers by (snapshot version, path, query): several viewers of one job, or
    polls of a job that did not change, cost a lookup. The latest ``CACHE_SIZE`` kept."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Answer | None:
        with self._lock:
            return self._answers.get(key)

    def put(self, key: tuple, answer: Answer) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > CACHE_SIZE:
                self._answers.popitem(last=False)


def get(window: Window, path: str, query: dict[str, list[str]], embedded: bool = False,
        logs: LogReader | None = None, cache: AnswerCache | None = None) -> Answer:
    """The answer to ``GET path?query`` from the window's current snapshot (``logs``: what
    reads an attempt's log, if this coordinator can; ``cache``: answers already encoded)."""
    snapshot = window.read()
    key = (snapshot.version, path, tuple(sorted((k, tuple(v)) for k, v in query.items())))
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        return cached
    try:
        document = _route(snapshot, path, {k: v[-1] for k, v in query.items()}, embedded, logs)
        answer = Answer(HTTPStatus.OK, _encode(document), snapshot.version)
    except _NotFound as exc:
        return Answer(HTTPStatus.NOT_FOUND, _encode({"error": str(exc)}))
    except ValueError as exc:
        return Answer(HTTPStatus.BAD_REQUEST, _encode({"error": str(exc)}))
    if cache is not None:
        cache.put(key, answer)
    return answer


def cancel(window: Window, job_id: str, who: str) -> Answer:
    """Post a cancel of ``job_id`` to the loop (a job that is not running is left as is)."""
    job = window.snapshot.jobs.get(job_id)
    if job is None:
        return Answer(HTTPStatus.NOT_FOUND, _encode({"error": f"no job {job_id}"}))
    if job["finished"]:
        return Answer(HTTPStatus.CONFLICT,
                      _encode({"error": f"job {job_id} has ended ({job['state']})"}))
    window.cancel(job_id, f"the dashboard ({who})")
    return Answer(HTTPStatus.ACCEPTED, _encode({"job_id": job_id, "cancelling": True}))


class _NotFound(LookupError):
    """No such route or job."""


def _route(snapshot: Snapshot, path: str, query: dict[str, str], embedded: bool,
           logs: LogReader | None) -> dict:
    head = {"version": snapshot.version, "time": snapshot.wall}
    if path == "/api/cluster":
        return {**head, "embedded": embedded, **snapshot.cluster}
    if path == "/api/jobs":
        return {**head, "jobs": snapshot.cluster["jobs"]}
    match = re.fullmatch(r"/api/jobs/([^/]+)(/attempts|/logs/([^/]+))?", path)
    if match is None:
        raise _NotFound(f"no API route {path}")
    job = snapshot.jobs.get(match.group(1))
    if job is None:
        raise _NotFound(f"no job {match.group(1)} (finished jobs are kept for a while only)")
    if match.group(2) == "/attempts":
        return {**head, "job_id": job["job_id"], **attempts(job, query)}
    if match.group(3):
        return {**head, "job_id": job["job_id"], **attempt_log(job, match.group(3), logs)}
    return {**head, **job_summary(job)}


def job_summary(job: dict) -> dict:
    """A job's document without its tasks, each phase with its ETA and throughput."""
    summary = {k: v for k, v in job.items() if k not in ("tasks", "replay")}
    summary["counters"] = ordered_counters(job.get("counters") or {})
    if job.get("error") and job.get("replay") and "input" in job["error"]:
        summary["error"] = {**job["error"], "replay": replay_command(job["error"], job["replay"])}
    tasks = job.get("tasks", [])
    summary["phases"] = [_with_eta(phase, tasks, job["elapsed"]) for phase in job.get("phases", [])]
    summary["attempt_count"] = sum(len(t.get("attempts", ())) for t in tasks)
    return summary


def replay_command(error: dict, recipe: dict) -> str:
    """The ``minimr replay`` command of a failed task, as ``minimr submit`` prints it."""
    from minimr.replay import replay_command as command  # the user's surface, loaded late

    return command(error, recipe["job"], list(recipe["inputs"]), recipe["reducers"],
                   recipe["split_size"], recipe["combine_files"], tuple(recipe["job_args"]))


def ordered_counters(counters: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """minimr's own counters first, in the order a record meets them, then the job's own
    groups by name."""
    builtin = counters.get(C.BUILTIN, {})
    ours = {name: builtin[name] for name in C.BUILTIN_ORDER if name in builtin}
    ours.update({name: value for name, value in sorted(builtin.items()) if name not in ours})
    ordered = {C.BUILTIN: ours} if ours else {}
    for group in sorted(g for g in counters if g != C.BUILTIN):
        ordered[group] = dict(sorted(counters[group].items()))
    return ordered


def _with_eta(phase: dict, tasks: list[dict], elapsed: float) -> dict:
    """``phase`` plus ``started`` (its first attempt, seconds into the job), ``eta``
    (seconds left at the rate its tasks have finished so far; None before one has) and
    its records and bytes so far."""
    mine = [t for t in tasks if t["step"] == phase["step"] and t["kind"] == phase["kind"]]
    starts = [a["start"] for t in mine for a in t.get("attempts", ())]
    started = min(starts) if starts else None
    eta = None
    left = phase["total"] - phase["done"]
    if started is not None and phase["done"] and left:
        rate = phase["done"] / max(elapsed - started, 1e-9)
        eta = left / rate
    elif started is not None and not left:
        eta = 0.0
    totals: dict[str, int] = {}
    for task in mine:
        for attempt in task.get("attempts", ()):
            for name, amount in (attempt.get("counters") or {}).items():
                totals[name] = totals.get(name, 0) + amount
    return {**phase, "started": started, "eta": eta, "counters": totals}


def attempt_log(job: dict, attempt_id: str, logs: LogReader | None) -> dict:
    """One attempt's facts (``attempts``' fields) and its log's ``text``: what it printed,
    read by ``logs`` (None when there is no reader, or the log is gone with its worker),
    with a ``note`` saying why there is none."""
    found = [a for a in attempts(job, {"task": attempt_id.rpartition("-a")[0]})["attempts"]
             if a["attempt"] == attempt_id]
    if not found:
        raise _NotFound(f"no attempt {attempt_id} in job {job['job_id']}")
    attempt = found[0]
    text, note = None, ""
    if logs is None:
        note = ("this dashboard holds no client key of the cluster to read task logs with "
                "(minimr logs --keys DIR can)")
    elif attempt.get("log") == "gone":
        note = "its worker has left, and the log was kept on that worker"
    else:
        text = logs(job["job_id"], attempt_id)
        if text is None:
            note = "its worker did not send the log"
    return {**attempt, "text": text, "note": note}


def attempts(job: dict, query: dict[str, str]) -> dict:
    """Every attempt of ``job``, flat and in start order, filtered and paged by ``query``.

    Each attempt carries its task's ``kind``, ``step`` and ``input``; ``lanes`` lists each
    worker's slots that ran one (the timeline's rows).
    """
    rows = []
    for task in job.get("tasks", []):
        for attempt in task.get("attempts", ()):
            rows.append({**attempt, "kind": task["kind"], "step": task["step"],
                         "input": task["input"]})
    rows.sort(key=lambda a: (a["start"], a["attempt"]))
    lanes = sorted({(a["worker"], a["lane"]) for a in rows})
    for name in ("task", "state", "kind"):
        if name in query:
            rows = [a for a in rows if str(a[name]) == query[name]]
    total = len(rows)
    offset = _number(query, "offset", 0)
    limit = min(_number(query, "limit", MAX_LIMIT), MAX_LIMIT)
    rows = rows[offset:offset + limit]
    if "fields" in query:  # the timeline asks only for what it draws: a fifth of the bytes
        names = query["fields"].split(",")
        rows = [{name: a.get(name) for name in names} for a in rows]
    return {
        "total": total,
        "offset": offset,
        "attempts": rows,
        "lanes": [{"worker": w, "lane": n} for w, n in lanes],
    }


def _number(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a number >= 0 (got {text!r})")
    return int(text)


def _encode(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
