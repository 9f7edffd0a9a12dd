"""Where a client's request is answered: submit, watch, cancel, status, logs.

The coordinator's loop (``coordinator.py``) decodes a client's message, checks its key's
role, flushes the turn (what a client is told must be durable) and hands it here. Each
request is answered from the scheduler's tables; a job's watchers hear its progress
(:meth:`ClientRequests.send_progress`) and its result (:meth:`ClientRequests.job_ended`).

Who may do what with a job: its submitter, or an admin key (without keys, anyone: one
user). What one submitter may make the coordinator hold is bounded (``limits.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from minimr.cluster.coordinator import entries
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.security import ADMIN

if TYPE_CHECKING:
    from minimr.cluster.coordinator.coordinator import Coordinator

log = logging.getLogger("minimr.coordinator")

#: seconds between two progress messages about one job: a snapshot costs a pass over the
#: job's tasks, and a turn that handles a few messages must not pay it every time
PROGRESS_INTERVAL = 0.2


@dataclass
class JobRecord:
    """What the coordinator keeps beside the scheduler: the blob, who sent it, who watches.

    ``submitter`` is the key the job came with ("" without keys): its plan bytes and
    unfinished jobs count against that submitter's limits (``limits.py``).
    """

    serializer: str
    blob: bytes
    watchers: set[bytes]
    submitter: str = ""


class ClientRequests:
    """The handlers of a client's messages, and what a job's watchers are sent.

    Each handler takes ``(peer, message, now, user)`` (``user``: the sender's key, "" without
    keys), as every handler of the coordinator's dispatch table does.

    Args:
        coordinator: whose tables it reads (``scheduler``, ``records``, ``journal``,
            ``history``) and through whom it answers (``send``) and changes the scheduler
            (``handle``, ``flush``).
    """

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        #: the jobs whose progress changed since their watchers last heard
        self.changed: set[str] = set()
        self._last_progress = float("-inf")

    @property
    def scheduler(self) -> s.Scheduler:
        return self.coordinator.scheduler

    def _send(self, peer: bytes, message: p.Message) -> bool:
        return self.coordinator.send(peer, message)

    # --- the requests ---------------------------------------------------------------------

    def on_submit(self, peer: bytes, message: p.Submit, now: float, user: str) -> None:
        """Queue a job (journaled first, with a state dir) and make ``peer`` its watcher; a
        resubmission of a known job only adds the watcher."""
        coordinator = self.coordinator
        mismatch = p.version_mismatch(message.minimr_version, message.python_version)
        if mismatch:
            self._send(peer, p.Reject(f"job {message.job_id} refused: {mismatch}", "version"))
            return
        known = self.scheduler.jobs.get(message.job_id)
        new = known is None  # else a client resubmitting
        if known is not None and known.owner != user:
            log.warning("job %s refused: its id is another submitter's job's", message.job_id)
            self._send(
                peer,
                p.Reject(
                    f"job {message.job_id} refused: a job of that id belongs to another "
                    "submitter",
                    "unauthorized",
                ),
            )
            return
        refusal = self._over_limits(user, len(message.blob)) if new else None
        if refusal is not None:
            log.warning("job %s refused: %s", message.job_id, refusal)
            self._send(peer, p.Reject(f"job {message.job_id} refused: {refusal}", "limit"))
            return
        entry = entries.SubmitEntry(
            message.job_id,
            message.name,
            message.steps,
            message.options,
            message.serializer,
            submitter=user,
            layout=message.layout,
        )
        if coordinator.journal is not None and new:
            coordinator.journal.append(entries.record(entry, message.blob))
            coordinator.journal.sync()
        record = coordinator.records.setdefault(
            message.job_id, JobRecord(message.serializer, message.blob, set(), user)
        )
        record.watchers.add(peer)
        self._send(peer, p.Submitted(message.job_id))
        coordinator.handle(entry.event(), now)

    def on_watch(self, peer: bytes, message: p.Watch, now: float, user: str) -> None:
        """Answer with the job's progress and make ``peer`` a watcher (with its result if it
        has ended)."""
        job = self.scheduler.jobs.get(message.job_id)
        if job is None:
            self._send(peer, p.Reject(f"unknown job {message.job_id}", "unknown-job"))
        elif not self._may_manage(peer, user, job, "watch"):
            return
        elif job.state is not s.JobState.RUNNING:
            self._send(peer, self.result(message.job_id, now))
        else:
            record = self.coordinator.records.get(message.job_id)
            if record is not None:
                record.watchers.add(peer)
            self._send(
                peer, p.Progress(message.job_id, self.scheduler.job_snapshot(message.job_id, now))
            )

    def on_cancel_job(self, peer: bytes, message: p.CancelJob, now: float, user: str) -> None:
        """Cancel a job and answer with its result (its final state: a job that had already
        ended says how); an unknown job is refused."""
        job_id = message.job_id
        if job_id not in self.scheduler.jobs:
            self._send(peer, p.Reject(f"unknown job {job_id}", "unknown-job"))
            return
        if not self._may_manage(peer, user, self.scheduler.jobs[job_id], "cancel"):
            return
        record = self.coordinator.records.get(job_id)
        watching = record is not None and peer in record.watchers  # answered as a watcher
        by = _canceller(peer, message.by, user)
        self.coordinator.handle(s.JobCancelled(job_id, by), now)
        self.coordinator.flush(now)  # the job's end durable and its watchers told first
        if not watching:
            self._send(peer, self.result(job_id, now))

    def on_status(self, peer: bytes, message: p.StatusRequest, now: float, user: str) -> None:
        """The cluster's status (the key's own jobs only, unless an admin's), or one job's."""
        coordinator = self.coordinator
        access = coordinator.access
        viewer = None if access is None or ADMIN in access.roles(user) else user
        if message.job_id is not None:
            self._send_job_status(peer, message.job_id, now, viewer)
            return
        status = self.scheduler.status(now, viewer)
        if coordinator.journal_note is not None:
            status["journal"] = coordinator.journal_note
        if message.history:
            status["history"] = self._history(viewer)
        self._send(peer, p.StatusReply(status))

    def on_log_request(self, peer: bytes, message: p.LogRequest, now: float, user: str) -> None:
        """Pass a client's log request on to the worker that ran the attempt (``logrelay``):
        the job's submitter's or an admin's."""
        sched = self.scheduler
        job = sched.jobs.get(message.job_id)
        if job is not None and not self._may_manage(peer, user, job, "read the logs of"):
            return
        routed = self.coordinator.logs.ask(peer, message, sched.jobs, sched.workers, now)
        if isinstance(routed, p.LogReply):
            self._send(peer, routed)
        else:
            self._send(*routed)

    # --- what watchers are sent -----------------------------------------------------------

    def send_progress(self, now: float) -> None:
        """Progress of the jobs that changed to their watchers, once per
        ``PROGRESS_INTERVAL`` at most (a job's end is sent at once, by :meth:`job_ended`)."""
        if not self.changed or now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        changed, self.changed = self.changed, set()
        for job_id in changed:
            record = self.coordinator.records.get(job_id)
            if record is None or job_id not in self.scheduler.jobs:
                continue
            snapshot = self.scheduler.job_snapshot(job_id, now)
            for watcher in list(record.watchers):
                if not self._send(watcher, p.Progress(job_id, snapshot)):
                    record.watchers.discard(watcher)

    def job_ended(self, record: JobRecord | None, job_id: str, now: float) -> None:
        """Send an ended job's result to its watchers (those of ``record``, if any)."""
        self.changed.discard(job_id)
        if record is not None:
            result = self.result(job_id, now)
            for watcher in record.watchers:
                self._send(watcher, result)

    def result(self, job_id: str, now: float) -> p.JobResult:
        """A job's result message: its state, last snapshot, counters and error."""
        job = self.scheduler.jobs[job_id]
        return p.JobResult(
            job_id,
            job.state.value,
            self.scheduler.job_snapshot(job_id, now),
            self.scheduler.job_counters(job_id),
            job.error,
        )

    # --- helpers --------------------------------------------------------------------------

    def _over_limits(self, submitter: str, plan_bytes: int) -> str | None:
        """Why ``submitter`` may not queue one more plan of ``plan_bytes`` (None: it may)."""
        held = [r for r in self.coordinator.records.values() if r.submitter == submitter]
        return self.coordinator.limits.refuse_submission(
            plan_bytes, len(held), sum(len(r.blob) for r in held)
        )

    def _may_manage(self, peer: bytes, user: str, job: s.Job, verb: str) -> bool:
        """Whether key ``user`` may watch or cancel ``job``: its owner, or an admin (without
        keys, anyone: one user). Refuse it if not."""
        access = self.coordinator.access
        if access is None or job.owner == user or ADMIN in access.roles(user):
            return True
        log.warning("refusing to let key %s %s job %s: another submitter's", user, verb, job.id)
        self._send(
            peer,
            p.Reject(
                f"job {job.id} belongs to another submitter: only its submitter or an admin "
                f"key may {verb} it",
                "unauthorized",
            ),
        )
        return False

    def _history(self, viewer: str | None) -> list[dict] | None:
        """The finished jobs the history keeps, those of ``viewer`` only unless it is None."""
        history = self.coordinator.history
        if history is None:
            return None
        return [e for e in history.read() if viewer is None or e.get("owner") == viewer]

    def _send_job_status(self, peer: bytes, job_id: str, now: float, viewer: str | None) -> None:
        """One job in detail (to its submitter, or anyone for ``viewer`` None); a job the
        scheduler forgot may still be in the history."""
        job = self.scheduler.jobs.get(job_id)
        if job is not None:
            if viewer is None or job.owner == viewer:
                self._send(peer, p.StatusReply({"job": self.scheduler.job_detail(job_id, now)}))
            else:
                self._send(peer, p.Reject(f"job {job_id} belongs to another submitter: only "
                                          "its submitter or an admin key may see it in detail",
                                          "unauthorized"))
            return
        kept = [e for e in (self._history(viewer) or []) if e.get("job_id") == job_id]
        if kept:
            self._send(peer, p.StatusReply({"job": kept[-1], "from_history": True}))
        else:
            self._send(peer, p.Reject(f"unknown job {job_id}: not running, and not among the "
                                      "finished jobs this coordinator keeps", "unknown-job"))


def _canceller(peer: bytes, said: str, key: str) -> str:
    """Who cancelled a job, for the log and ``status``: what the client said of itself, its
    connection, and the key it authenticated with (if any)."""
    who = said or "a client"
    where = f"connection {peer.decode('latin-1')!r}"
    return f"{who} ({where}{f', key {key}' if key else ''})"
