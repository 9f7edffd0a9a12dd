"""Submitting a plan to a running cluster, and watching it until it ends.

:func:`submit_plan` ships a plan to a running coordinator and waits: it sends
``Submit`` (the plan blob plus plain-data options), then ``Watch`` every
``WATCH_INTERVAL`` seconds — the coordinator answers with the job's progress, which
goes to the ``progress`` callback, and pushes progress whenever tasks finish — until
the ``JobResult`` arrives. A coordinator silent for ``SILENCE_LIMIT`` seconds makes
the client reconnect on a fresh socket and keep watching; a coordinator that answers
"unknown job" (it restarted) gets the job submitted again. Ctrl-C cancels the job on
the cluster before re-raising. With keys (``curve``), a refused security handshake
ends the submission at once with the reason.

The embedded cluster that ``minimr submit`` runs on without ``--coordinator`` is
``localcluster.py``; it submits through :func:`submit_plan` too.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from minimr.cluster import shipping
from minimr.cluster.client.operations import other_version, who_am_i
from minimr.cluster.coordinator import limits
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.scheduling.views import describe_input
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import security
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.transport import Client, CurveClient, ZmqClient, wait
from minimr.cluster.wire.wiretypes import Invalid, parse
from minimr.dataflow import layout
from minimr.dataflow.counters import Counters
from minimr.errors import JobDefinitionError, JobFailed, MinimrError, UsageError

log = logging.getLogger("minimr.client")

WATCH_INTERVAL = 0.5
SILENCE_LIMIT = 15.0


class ClusterUnavailable(MinimrError):
    """No coordinator answered at the given address."""


@dataclass(frozen=True)
class JobProgress:
    """A job's progress as the coordinator reports it (``str()`` is one status line)."""

    snapshot: dict

    def __str__(self) -> str:
        snap = self.snapshot
        return (
            f"step {snap['step'] + 1}/{snap['steps']}: "
            f"map {snap['maps_done']}/{snap['maps_total']}, "
            f"reduce {snap['reduces_done']}/{snap['reduces_total']}, "
            f"{snap['workers']} worker{'s' if snap['workers'] != 1 else ''}"
        )


@dataclass
class ClusterResult:
    """A job that succeeded on a cluster."""

    job_id: str
    counters: Counters
    snapshot: dict  # the final progress: attempts per kind, elapsed, ...
    elapsed: float


def submit_plan(
    plan: Any,
    coordinator: str,
    *,
    progress: Callable[[JobProgress], None] | None = None,
    serializer: str | None = None,
    max_attempts: int | None = None,
    speculation: bool | None = None,
    task_timeout: float | None = None,
    worker_timeout: float | None = None,
    curve: CurveClient | None = None,
    insecure: bool = False,
    connect: Callable[[str, bytes], Client] | None = None,
    max_message_size: int = limits.MAX_MESSAGE_SIZE,
    log_place: Callable[[str], str] | None = None,
) -> ClusterResult:
    """Run ``plan`` on the cluster at ``coordinator`` and wait for it.

    ``log_place`` says, for an attempt id, where its log is: a failed job's message names
    the failed attempt's (by default the ``minimr logs`` command that shows it).

    Options not given come from ``plan.settings`` (``max_attempts``, ``serializer``,
    ``speculation``, ``task_timeout``, ``worker_timeout``; skip mode's ``skip_bad_records``
    and ``max_skips`` only from there). ``curve`` is the submitter's
    keys for a cluster with keys (``security.Keys(DIR).client()``); without them, a loopback
    coordinator is reached with this user's local keys unless ``insecure``. ``max_message_size`` is
    the largest message the coordinator takes (its ``--max-message-size``): a bigger plan
    is refused here, since the coordinator would drop it unread.

    Returns:
        The result, with the counters of every task merged (each task once).

    Raises:
        JobDefinitionError: the plan cannot be serialized (names the culprit), or it is
            larger than ``max_message_size``.
        JobFailed: the job failed; the message names the task, its input, the
            workers it ran on and carries the user's traceback.
        ClusterUnavailable: no coordinator answered, it refused the handshake, or it
            speaks another protocol version (both named).
        KeyboardInterrupt: after cancelling the job on the cluster.
    """
    submit = submit_message(
        plan,
        serializer=serializer,
        max_attempts=max_attempts,
        speculation=speculation,
        task_timeout=task_timeout,
        worker_timeout=worker_timeout,
    )
    too_large = limits.plan_too_large(len(submit.blob), max_message_size)
    if too_large is not None:
        _abort(plan)
        raise JobDefinitionError(f"job {plan.job_id} not sent: {too_large}")
    if curve is None and connect is None:
        curve = security.client_keys(coordinator, insecure=insecure)
    started = time.monotonic()
    session = _Session(coordinator, connect or partial(ZmqClient, curve=curve))
    try:
        result = session.run(submit, progress)
    except KeyboardInterrupt:
        session.cancel(plan.job_id)
        _abort(plan)
        raise
    except (JobFailed, ClusterUnavailable):  # refused, or no coordinator: nothing ran
        _abort(plan)
        raise
    finally:
        session.close()
    if result.state != s.JobState.SUCCEEDED.value:
        _abort(plan)
        raise _job_failed(result, log_place or partial(_logs_command, plan.job_id, coordinator))
    counters = Counters()
    for task_counters in result.counters:
        counters.merge(Counters.from_dict(task_counters))
    return ClusterResult(plan.job_id, counters, result.snapshot, time.monotonic() - started)


class _Session:
    """One client's conversation with a coordinator about one job."""

    def __init__(self, address: str, connect: Callable[[str, bytes], Client]) -> None:
        self.address = address
        self._connect = connect
        self.conn = self._new_connection()

    def _new_connection(self) -> Client:
        identity = f"c-{os.getpid()}-{secrets.token_hex(4)}".encode()
        return self._connect(self.address, identity)

    def run(self, submit: p.Submit, progress: Callable | None) -> p.JobResult:
        self.conn.send(wire.encode(submit))
        accepted = False
        heard = last_watch = time.monotonic()
        while True:
            wait([self.conn.pollable], WATCH_INTERVAL)
            failure = self.conn.handshake_failure()
            if failure is not None:
                raise ClusterUnavailable(
                    f"cannot talk to the coordinator at {self.address}: {failure}"
                )
            while (frames := self.conn.recv()) is not None:
                heard = time.monotonic()
                try:
                    message = wire.decode(frames)
                except wire.VersionMismatch as exc:
                    raise ClusterUnavailable(other_version(self.address, exc)) from None
                except wire.ProtocolError as exc:
                    log.warning("dropping a malformed message from the coordinator: %s", exc)
                    continue
                if isinstance(message, p.JobResult) and message.job_id == submit.job_id:
                    return message
                if isinstance(message, p.Submitted):
                    accepted = True
                elif isinstance(message, p.Progress) and progress is not None:
                    progress(JobProgress(message.snapshot))
                elif isinstance(message, p.Reject) and message.code == "unknown-job":
                    # the coordinator restarted without our job: submit it again (tasks
                    # that had committed rename their identical output once more)
                    log.warning("the coordinator lost job %s; submitting it again", submit.job_id)
                    self.conn.send(wire.encode(submit))
                elif isinstance(message, p.Reject):
                    raise JobFailed(
                        f"the coordinator at {self.address} refused job "
                        f"{submit.job_id}: {message.reason}"
                    )
            now = time.monotonic()
            if now - heard > SILENCE_LIMIT:
                if not accepted:
                    raise ClusterUnavailable(
                        f"no coordinator answered at {self.address} within {SILENCE_LIMIT:g} s; "
                        "is `minimr coordinator` running there?"
                    )
                log.warning("coordinator silent for %.0f s; reconnecting", now - heard)
                self.conn.close()
                self.conn = self._new_connection()
                self.conn.send(wire.encode(submit))  # idempotent: the job id is known
                heard = now
            if accepted and now - last_watch >= WATCH_INTERVAL:
                self.conn.send(wire.encode(p.Watch(submit.job_id)))
                last_watch = now

    def cancel(self, job_id: str) -> None:
        """Cancel the job and wait a moment for the coordinator to confirm."""
        by = who_am_i("its client, interrupted (Ctrl-C or SIGTERM)")
        self.conn.send(wire.encode(p.CancelJob(job_id, by)))
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            wait([self.conn.pollable], 0.1)
            while (frames := self.conn.recv()) is not None:
                try:
                    if isinstance(wire.decode(frames), p.JobResult):
                        return
                except wire.ProtocolError:
                    continue

    def close(self) -> None:
        self.conn.close()


def submit_message(
    plan: Any,
    *,
    serializer: str | None = None,
    max_attempts: int | None = None,
    speculation: bool | None = None,
    task_timeout: float | None = None,
    worker_timeout: float | None = None,
) -> p.Submit:
    """The ``Submit`` of ``plan``, its fields checked as the coordinator will check them.

    Options not given come from ``plan.settings``, as :func:`submit_plan` says.

    Raises:
        JobDefinitionError: the plan cannot be serialized (names the culprit).
        UsageError: an option the coordinator would refuse (a timeout of ``inf``, 0 attempts).
    """
    settings = dict(getattr(plan, "settings", {}) or {})
    serializer = serializer or settings.get("serializer", "cloudpickle")
    options = {
        "max_attempts": max_attempts or settings.get("max_attempts", s.MAX_ATTEMPTS),
        "speculation": settings.get("speculation", True) if speculation is None else speculation,
        "task_timeout": task_timeout if task_timeout is not None else settings.get("task_timeout"),
        "worker_timeout": (
            worker_timeout if worker_timeout is not None else settings.get("worker_timeout")
        ),
        "skip_bad_records": bool(settings.get("skip_bad_records", False)),
        "max_skips": settings.get("max_skips", s.MAX_SKIPS),
        "replay": settings.get("replay"),
    }
    blob = shipping.dumps(plan, serializer)
    return _checked_submit(plan, options, serializer, blob, layout.job_layout(plan))


def _checked_submit(
    plan: Any, options: dict, serializer: str, blob: bytes, job_layout: dict | None = None
) -> p.Submit:
    """The Submit message, its fields checked as the coordinator will check them; with the
    plan's layout (``dataflow/layout.py``: what a prepare task's answer is held to).

    Raises:
        UsageError: an option the coordinator would refuse (a timeout of ``inf``, 0 attempts).
    """
    try:
        checked = parse(p.Options, options)
        shape = None if job_layout is None else parse(p.JobLayout, job_layout)
        submit = p.Submit(plan.job_id, plan.job_name, len(plan.steps), checked, serializer, blob,
                          layout=shape)
        return wire.decode(wire.encode(submit))  # type: ignore[return-value]
    except (Invalid, ValueError, wire.ProtocolError) as exc:
        raise UsageError(f"cannot submit job {plan.job_id}: {exc}") from None


def _abort(plan: Any) -> None:
    try:
        plan.abort_job()
    except Exception as exc:  # cleaning up must not hide why the job ended
        log.warning("could not clean up the job's temporary files: %s", exc)


def _logs_command(job_id: str, coordinator: str, attempt: str) -> str:
    """The command that shows an attempt's log on a running cluster."""
    return f"minimr logs {job_id} {attempt} -c {coordinator}"


def _job_failed(result: p.JobResult, log_place: Callable[[str], str]) -> JobFailed:
    error = result.error or {}
    if result.state == s.JobState.CANCELLED.value:
        return JobFailed(f"job {result.job_id} was cancelled")
    lines = [f"job {result.job_id} failed: {error.get('message', 'no reason given')}"]
    if "input" in error:
        described = describe_input(str(error.get("kind")), error.get("step", 0),
                                   error.get("input") or {})
        lines.append(f"  task:    {error.get('task')} ({described})")
        lines.append(f"  workers: {', '.join(error.get('workers', []))}")
        if error.get("attempt"):
            lines.append(f"  its log: {log_place(error['attempt'])} (the last attempt's "
                         "output: prints, logging, the traceback)")
    traceback_text = error.get("traceback", "")
    if traceback_text:
        lines += ["", traceback_text.rstrip()]
    if error.get("stderr"):
        lines += ["", "the end of the last attempt's log:", error["stderr"].rstrip()]
    return JobFailed(
        "\n".join(lines),
        task=str(error.get("task", "")),
        remote_traceback=traceback_text,
        failure=error if "input" in error else None,
    )
