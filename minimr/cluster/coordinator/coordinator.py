"""The coordinator: an I/O shell that turns frames into scheduler events and back.

One ROUTER socket serves workers and clients alike. Each loop turn (the Paranoid
Pirate broker's shape):

1. wait up to a tick for messages, then drain what arrived;
2. decode each (a malformed frame is logged and dropped, never fatal) and dispatch it
   by type through ``{MessageClass: handler}``; worker messages become scheduler
   events, client messages are answered from the scheduler's tables by
   ``clientrequests.py`` (submit, watch, cancel, status, logs);
3. tick the scheduler (purges workers silent for ``interval x liveness``, times out
   tasks, launches backups) and heartbeat every worker once per interval;
4. flush: serve the free slots once (a worker whose slots freed in this turn gets their
   tasks together), journal the turn's task commits and job ends with one ``fsync``, and
   only then turn the turn's actions into messages (nothing is sent about a commit before
   it is durable); progress of the jobs that changed is sent to their watchers at most
   every ``clientrequests.PROGRESS_INTERVAL``, however many tasks finished meanwhile;
5. while no job runs, rest ``IDLE_REST`` before the next wait, so that an idle cluster's
   heartbeats are served a batch a turn rather than one a turn.

With keys (``security.py``), each message is authorized by the role of the key its
sender authenticated with (``admission.py``): a worker key cannot submit or cancel a job, a
submitter key cannot register as a worker. The coordinator keeps each job's plan blob
only to hand it to workers (it never unpickles it); what one submitter may make it hold
(unfinished jobs, plan bytes) and how many workers one key may register are bounded
(``limits.py``). Jobs from any number of clients run side by side, first come first
served (see ``scheduler.py``). A client that goes away does not stop its job; a client
that cancels does.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable

from minimr.cluster.coordinator import entries
from minimr.cluster.coordinator.admission import CLIENT_KINDS, CLIENTS, ROLES, refusal
from minimr.cluster.coordinator.clientrequests import ClientRequests, JobRecord
from minimr.cluster.coordinator.history import History, summary
from minimr.cluster.coordinator.journal import Journal, JournalDamaged, Record
from minimr.cluster.coordinator.limits import Limits
from minimr.cluster.coordinator.logrelay import LogRelay
from minimr.cluster.dashboard.window import Window, take_snapshot
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.security import AccessList
from minimr.cluster.wire.transport import Server, Waker
from minimr.cluster.wire.wiretypes import Invalid

log = logging.getLogger("minimr.coordinator")

#: how often the scheduler is ticked (liveness purge, timeouts, speculation), seconds
TICK_INTERVAL = 0.1
#: seconds an idle coordinator (no job running) lets messages gather between turns
IDLE_REST = 0.01
#: messages handled per loop turn at most, so ticks and heartbeats are never starved
BATCH = 2000
#: the coordinator process's garbage collector thresholds (``gc.set_threshold``): at the
#: default (700, 10, 10) a job of 100,000 tasks, whose records live as long as the job, had
#: the collector walk them all 15 times and ~2,000 young collections: 15 us a task of 56
GC_THRESHOLDS = (10_000, 10, 10)
#: the header bytes of the commands a client sends (a failure serving one is answered)
_CLIENT_COMMANDS = frozenset(
    c.command.to_bytes(2, "big")
    for c in (p.Submit, p.Watch, p.CancelJob, p.StatusRequest, p.LogRequest)
)
#: worker messages about one attempt: a malformed one fails that attempt
RESULTS = (p.TaskDone, p.TaskFailed, p.FetchFailed, p.CommitRequest)


class Coordinator:
    """Serves workers and clients on ``server`` until :meth:`stop` is called.

    Args:
        server: a transport server (``ZmqServer``, or a fake in tests).
        scheduler: the state machine (one with default timing if not given).
        clock: monotonic seconds (tests may pass a fake).
        access: with keys, the roles of each authorized key; every message is then
            checked against ``admission.ROLES`` (``None``: no keys, every message is served).
        limits: what one submitter or worker key may make it hold (``limits.py``).
        window: the dashboard's window (``dashboard/window.py``): the loop publishes
            snapshots there while someone looks, and takes the cancels asked there.
        notices: log the scheduler's notices (workers joining and lost, attempts failed,
            jobs queued and ended) at INFO or WARNING; else at DEBUG (an embedded cluster:
            its client's progress says the same).
    """

    def __init__(
        self,
        server: Server,
        scheduler: s.Scheduler | None = None,
        clock: Callable[[], float] = time.monotonic,
        access: AccessList | None = None,
        limits: Limits | None = None,
        window: Window | None = None,
        notices: bool = True,
    ) -> None:
        self.server = server
        self._notices = notices
        self.window = window
        self.limits = limits or Limits()
        self.scheduler = scheduler or s.Scheduler()
        self.clock = clock
        self.journal: Journal | None = None  # set by recover(): the coordinator has a state dir
        #: finished jobs' summaries, kept in the state dir (``minimr status --all``)
        self.history: History | None = None
        #: what ``status`` says of the journal (a damaged one moved aside at start-up)
        self.journal_note: dict | None = None
        self.access = access
        self.records: dict[str, JobRecord] = {}
        self._stop = threading.Event()
        #: ends the loop's wait for messages when it is asked to stop (else up to a tick
        #: later: an embedded cluster's every job waited 0.1 s for it at its end). Its pipe
        #: lives as long as the coordinator, so no stop writes to one closed under it.
        self._waker = Waker()
        #: the scheduler's actions of this turn, carried out at its flush (:meth:`flush`)
        self._due: list[s.Action] = []
        #: the messages the flush's actions send, per peer: each peer's go as one batch
        self._posted: dict[bytes, list[list[bytes]]] = {}
        self.logs = LogRelay()  # minimr logs: requests passed on to workers
        #: where a client's request is answered, and its job's watchers told
        self.clients = ClientRequests(self)
        self._signalled = False  # set by stop_from_signal
        self._last_tick = self._last_heartbeat = clock()
        #: when the coordinator last read all it had been sent (time passes for the
        #: scheduler only up to then: see :meth:`_tick`)
        self._heard_all = self._last_tick
        #: the messages of a batch a turn left unserved, the next turn's first: (peer, their
        #: frames, user)
        self._unserved: tuple[bytes, list[list[bytes]], str] | None = None
        # each handler takes (peer, message, now, user): user is the sender's key, "" without
        self._handlers: dict[type, Callable[[bytes, p.Message, float, str], None]] = {
            p.Ready: self._on_ready,
            p.Heartbeat: self._on_worker_message,
            p.TaskDone: self._on_worker_message,
            p.TaskFailed: self._on_worker_message,
            p.FetchFailed: self._on_worker_message,
            p.CommitRequest: self._on_worker_message,
            p.PlanRequest: self._on_plan_request,
            p.Bye: self._on_worker_message,
            p.LogData: self._on_log_data,
            p.Submit: self.clients.on_submit,
            p.Watch: self.clients.on_watch,
            p.CancelJob: self.clients.on_cancel_job,
            p.StatusRequest: self.clients.on_status,
            p.LogRequest: self.clients.on_log_request,
        }
        self._events = {
            p.Heartbeat: lambda w, m: s.WorkerSeen(w),
            p.Bye: lambda w, m: s.WorkerLeft(w),
            p.TaskDone: lambda w, m: s.AttemptSucceeded(
                w, m.job_id, m.attempt, m.output, m.counters, m.elapsed
            ),
            p.TaskFailed: lambda w, m: s.AttemptFailed(
                w, m.job_id, m.attempt, m.error, m.stderr, m.crashed, m.record, m.final
            ),
            p.FetchFailed: lambda w, m: s.FetchFailed(w, m.job_id, m.attempt, m.maps, m.error),
            p.CommitRequest: lambda w, m: s.CommitRequested(w, m.job_id, m.attempt),
        }
        self._actions: dict[type, Callable] = {
            s.Assign: self._do_assign,
            s.Cancel: lambda a: self._post(a.worker, p.CancelAttempt(a.job_id, a.attempt)),
            s.AnswerCommit: lambda a: self._post(
                a.worker, p.CommitAnswer(a.job_id, a.attempt, a.ok)
            ),
            s.AskToReregister: lambda a: self._post(a.worker, p.Reconnect(a.reason)),
            s.TaskCommitted: lambda a: None,  # journaled by flush, before anything is sent
            s.JobChanged: lambda a: self.clients.changed.add(a.job_id),
            s.JobEnded: self._do_job_ended,
            s.Notice: self._do_notice,
        }

    # --- the loop -----------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Run loop turns until :meth:`stop`.

        The last-resort guard (rq's ``work()``): a turn that raises is logged with its
        traceback and the next turn goes on; nothing a peer sends ends this loop.
        """
        from minimr.cluster.wire.transport import Poll

        log.info("coordinator listening on %s", self.server.address)
        waker = self._waker
        incoming = Poll([self.server.pollable, waker.fd])
        while not (self._signalled or self._stop.is_set()):
            if waker.fd in incoming.wait(TICK_INTERVAL):
                waker.clear()
            try:
                self.turn()
            except Exception:
                log.exception("a coordinator turn failed; serving goes on")
            if not self._signalled:
                self._stop.wait(self.rest())

    def rest(self) -> float:
        """Seconds to let messages gather before the next turn: ``IDLE_REST`` while no job
        runs (heartbeats are then all there is: 1,000 workers woke the loop 1,000 times a
        second, a turn each), none while one does (its tasks must not wait)."""
        return 0.0 if self.scheduler.running() else IDLE_REST

    def stop(self) -> None:
        """Ask :meth:`serve_forever` to return after the current turn (from another thread)."""
        self._stop.set()
        self._waker.wake()

    def stop_from_signal(self) -> None:
        """:meth:`stop` for a signal handler (SIGTERM, Ctrl-C). The handler runs in the loop's
        thread, maybe inside the rest's ``Event.wait`` while it holds the Event's lock:
        ``Event.set`` there waited for that lock forever (a coordinator kept running after
        SIGTERM). A flag takes no lock; the loop reads it each turn (a wait is at most
        ``TICK_INTERVAL``), and the waker's pipe, written without a lock, ends it at once."""
        self._signalled = True
        self._waker.wake()

    def turn(self) -> None:
        """One loop turn, in named steps: receive, heartbeat, tick, take the dashboard's
        cancels, flush the turn's actions, report progress, publish the dashboard."""
        self._receive_messages()
        now = self.clock()
        self._heartbeat(now)
        self._tick(now)
        self._take_window_cancels(now)
        self.flush(now)
        self.clients.send_progress(now)
        self._publish_window(now)

    def _receive_messages(self) -> None:
        """Serve what has arrived, at most ``BATCH`` messages a turn (ticks and heartbeats
        must not starve); a batch's messages are served one by one, as if each had come
        alone, and what a turn leaves of a batch is served first in the next, before
        anything else is read."""
        served = 0
        if self._unserved is not None:
            peer, parts, user = self._unserved
            self._unserved = None
            served = self._serve_parts(peer, parts, user, BATCH)
        while served < BATCH:
            received = self.server.recv()
            if received is None:
                self._heard_all = self.clock()
                break
            peer, frames, user = received
            try:
                parts = wire.unbatch(frames)
            except wire.ProtocolError as exc:
                log.warning("dropping a malformed batch from %r: %s", peer, exc)
                served += 1
                continue
            served += self._serve_parts(peer, parts, user, BATCH - served)

    def _serve_parts(self, peer: bytes, parts: list[list[bytes]], user: str,
                     budget: int) -> int:
        """Serve up to ``budget`` of one delivery's messages, keep the rest for the next
        turn (one batch of 10,000 took a second); return how many were served."""
        if len(parts) > budget:
            self._unserved = (peer, parts[budget:], user)
            parts = parts[:budget]
        for part in parts:
            self._serve_one(peer, part, user)
        return len(parts)

    def _serve_one(self, peer: bytes, frames: list[bytes], user: str) -> None:
        """One message; if serving it fails, that is the message's problem, not the loop's:
        the traceback is logged and a client is answered (a worker's attempt, if it was
        about one, times out or fails on its own)."""
        try:
            self._receive(peer, frames, user)
        except Exception as exc:
            log.exception("serving a message from %r failed", peer)
            if frames and bytes(frames[0])[4:6] in _CLIENT_COMMANDS:
                self.send(
                    peer,
                    p.Reject(f"the coordinator failed on this request: {exc!r:.300}", "internal"),
                )

    def _heartbeat(self, now: float) -> None:
        """Once per interval, a heartbeat to every worker (Paranoid Pirate)."""
        if now - self._last_heartbeat >= self.scheduler.heartbeat_interval:
            self._last_heartbeat = now
            frames = wire.encode(p.Heartbeat())  # the same bytes for every worker
            for worker in list(self.scheduler.workers):
                self.server.send(worker.encode("latin-1"), frames)

    def _tick(self, now: float) -> None:
        """Once per ``TICK_INTERVAL``, let time pass in the scheduler (purges, timeouts):
        up to when the coordinator last read all it had been sent, not to ``now``. A turn
        that left messages unread (a batch of 10,000 took a second) has not heard what a
        worker sent meanwhile: its heartbeat or result may be among them."""
        if now - self._last_tick >= TICK_INTERVAL:
            self._last_tick = now
            self.handle(s.Tick(), self._heard_all)
            names = {w.id: w.name for w in self.scheduler.workers.values()}
            for client, reply in self.logs.expired(now, names):
                self.send(client, reply)

    def _take_window_cancels(self, now: float) -> None:
        """The cancels asked on the dashboard (``window.py``)."""
        if self.window is None:
            return
        for request in self.window.take_cancels():  # the scheduler's notice logs who
            self.handle(s.JobCancelled(request.job_id, request.by), now)

    def _publish_window(self, now: float) -> None:
        """A new snapshot for the dashboard if someone looks (``window.py``)."""
        if self.window is not None and self.window.due(self.window.clock()):
            self.window.publish(take_snapshot(self.scheduler, self.window, now, time.time()))

    def _receive(self, peer: bytes, frames: list[bytes], user: str) -> None:
        try:
            message = wire.decode(frames)
        except wire.VersionMismatch as exc:  # refused in the peer's version: it can read why
            log.warning("turning away %r: %s", peer, exc)
            self.server.send(
                peer, wire.version_refusal(exc.version, f"{exc}; upgrade minimr on one side")
            )
            return
        except wire.ProtocolError as exc:
            log.warning("dropping a malformed message from %r: %s", peer, exc)
            self._on_malformed(peer, exc, user)
            return
        handler = self._handlers.get(type(message))
        if handler is None:
            log.warning(
                "dropping %s from %r: not a message a coordinator takes",
                type(message).__name__,
                peer,
            )
            return
        if not self._admitted(peer, user, type(message)):
            return
        now = self.clock()
        if type(message) not in CLIENT_KINDS:  # a client's: the turn is flushed first
            handler(peer, message, now, user)
            return
        # a client sees the scheduler's tables (status, progress, a result): what it is told
        # must be durable, and sent after what the actions before it say
        self.flush(now)
        handler(peer, message, now, user)

    def _on_malformed(self, peer: bytes, error: wire.ProtocolError, user: str) -> None:
        """Answer a message that does not decode, so that nobody waits on it for ever.

        A worker's malformed result about an attempt it runs fails that attempt (counted,
        and on that worker, as any failure); a client's malformed request is refused with
        the reason (a status request too, which a worker's key may also send, unless a
        registered worker sent it: a Reject would end that worker). Anything else was only
        dropped.
        """
        if not isinstance(error, wire.MalformedMessage) or error.command not in ROLES:
            return  # (not a message a coordinator takes: dropped, as it is when it decodes)
        kind = error.command
        if not self._admitted(peer, user, kind):
            return
        if kind in RESULTS and error.job_id and error.attempt:
            failed = s.AttemptFailed(
                peer.decode("latin-1"),
                error.job_id,
                error.attempt,
                f"the worker sent a malformed {kind.__name__} for this attempt: {error}",
            )
            self.handle(failed, self.clock())
        elif ROLES[kind] & CLIENTS and (
            peer.decode("latin-1") not in self.scheduler.workers
        ):
            self.send(peer, p.Reject(f"a malformed message: {error}", "malformed"))

    def _admitted(self, peer: bytes, user: str, kind: type) -> bool:
        """Whether a message of ``kind`` from ``peer`` with key ``user`` is served
        (``admission.refusal``); if not, the peer is told why."""
        reject = refusal(self.access, self.scheduler.workers, peer.decode("latin-1"), user, kind)
        if reject is not None:
            self.send(peer, reject)
        return reject is None

    def handle(self, event: s.Event, now: float) -> None:
        """Hand the scheduler an event; its actions are carried out at the turn's flush."""
        self._due += self.scheduler.handle(event, now, dispatch=False)

    def flush(self, now: float) -> None:
        """Serve the free slots, make the task commits and job ends among the actions due
        durable (one ``fsync``), then carry the actions out, in order."""
        actions = self._due
        actions += self.scheduler.dispatch(now)
        self._due = []
        if self.journal is not None:
            self._journal_actions(actions)  # durable before any of their effects is sent
        for action in actions:
            self._actions[type(action)](action)
        self._send_posted()

    def _post(self, worker: str, message: p.Message) -> None:
        """Send ``message`` to a worker at the end of the flush, with the others to it."""
        self._posted.setdefault(worker.encode("latin-1"), []).append(wire.encode(message))

    def _send_posted(self) -> None:
        """Each peer's posted messages, as one batch (one alone as it is; a reduce's table of
        map output holders alone too: ``wire.deliveries``)."""
        posted, self._posted = self._posted, {}
        for identity, messages in posted.items():
            for frames in wire.deliveries(messages):
                if not self.server.send(identity, frames):
                    log.debug("could not send %d message(s) to %r (gone?)", len(messages),
                              identity)

    def send(self, peer: str | bytes, message: p.Message) -> bool:
        identity = peer.encode("latin-1") if isinstance(peer, str) else peer
        sent = self.server.send(identity, wire.encode(message))
        if not sent:
            log.debug("could not send %s to %r (gone?)", type(message).__name__, identity)
        return sent

    # --- workers ------------------------------------------------------------------------

    def _on_ready(self, peer: bytes, message: p.Ready, now: float, user: str) -> None:
        mismatch = p.version_mismatch(message.minimr_version, message.python_version)
        if mismatch:
            log.warning("turning away worker %s: %s", message.name, mismatch)
            self.send(peer, p.Reject(f"worker {message.name} refused: {mismatch}", "version"))
            return
        worker = peer.decode("latin-1")
        refusal = self._too_many_workers(worker, user)
        if refusal is not None:
            log.warning("turning away worker %s: %s", message.name, refusal)
            self.send(peer, p.Reject(f"worker {message.name} refused: {refusal}", "limit"))
            return
        event = s.WorkerJoined(
            worker,
            message.name,
            message.host,
            message.slots,
            message.shuffle_address,
            # the key its shuffle server answers with is the one it authenticated with (one
            # key pair serves both): reducers check they reach that very worker
            user,
            outputs=message.outputs,
            replaces=message.replaces,
            key=user,
            folder=message.folder,
        )
        self.send(
            peer, p.Welcome(self.scheduler.heartbeat_interval, self.scheduler.heartbeat_liveness)
        )
        self.handle(event, now)

    def _too_many_workers(self, worker: str, key: str) -> str | None:
        """Why one more worker may not register with ``key`` (None: it may; no keys, no cap)."""
        if self.access is None:
            return None
        registered = sum(
            1 for w in self.scheduler.workers.values() if w.key == key and w.id != worker
        )
        return self.limits.refuse_worker(registered)

    def _on_worker_message(self, peer: bytes, message: p.Message, now: float, user: str) -> None:
        event = self._events[type(message)](peer.decode("latin-1"), message)
        self.handle(event, now)

    def _on_plan_request(
        self, peer: bytes, message: p.PlanRequest, now: float, user: str
    ) -> None:
        worker = peer.decode("latin-1")
        self.handle(s.WorkerSeen(worker), now)
        record = self.records.get(message.job_id)
        if record is None:
            self.send(peer, p.ForgetJob(message.job_id))
        elif self.scheduler.has_assignment(worker, message.job_id):
            self.send(peer, p.Plan(message.job_id, record.serializer, record.blob))
        else:
            # a plan is the submitter's code and data: only a worker given a task of the job
            # gets it (one whose attempt was cancelled meanwhile asks again when it needs it)
            log.warning(
                "not sending the plan of job %s to %r: it holds no assignment of that job",
                message.job_id,
                peer,
            )

    def _on_log_data(self, peer: bytes, message: p.LogData, now: float, user: str) -> None:
        """A worker's answer to a log request: passed on to the client that asked."""
        worker = peer.decode("latin-1")
        self.handle(s.WorkerSeen(worker), now)
        relayed = self.logs.answer(worker, message)
        if relayed is not None:
            self.send(*relayed)

    def _do_assign(self, action: s.Assign) -> None:
        inputs = action.inputs if action.fresh else None  # else the worker holds the table
        message = p.Assign(action.job_id, action.attempt, action.kind, action.task, inputs,
                           action.table)
        self._post(action.worker, message)

    def _do_notice(self, action: s.Notice) -> None:
        level = logging.WARNING if action.warning else logging.INFO
        log.log(level if self._notices else logging.DEBUG, action.text)

    def _do_job_ended(self, action: s.JobEnded) -> None:
        now = self.clock()
        job = self.scheduler.jobs.get(action.job_id)
        if self.history is not None and job is not None:
            self.history.append(summary(job, now))
        self.clients.job_ended(self.records.pop(action.job_id, None), action.job_id, now)
        for worker in list(self.scheduler.workers):
            self._post(worker, p.ForgetJob(action.job_id))


    # --- the journal (``--state-dir``) --------------------------------------------------

    def recover(self, journal: Journal, records: list[Record]) -> int:
        """Replay a journal's records into the scheduler, then journal to it from now on.

        Replaying is feeding the scheduler events: each submission, each task commit
        (``TaskRestored``: it will not run again) and each job's end. Workers are not
        back yet, so the actions replay yields are dropped. The journal is then
        rewritten with only the jobs the scheduler still keeps (finished ones without
        their plan).

        Every record is checked first: one that fits no entry (``entries.py``) is damage
        as much as a bad checksum, and nothing is replayed.

        Returns:
            The number of unfinished jobs that resume.

        Raises:
            JournalDamaged: a record does not fit its entry (naming its offset); the
                scheduler and the file are as they were.
        """
        now = self.clock()
        kept: dict[str, list[Record]] = {}
        replay = []
        for record in records:
            try:
                replay.append((record, entries.parse(record)))
            except Invalid as exc:
                raise JournalDamaged(
                    journal.path, record.offset, f"a {record.type!r:.40} record does not fit: {exc}"
                ) from None
        for record, entry in replay:
            if isinstance(entry, entries.SubmitEntry):
                self.records[entry.job_id] = JobRecord(
                    entry.serializer, record.blob, set(), entry.submitter
                )
            kept.setdefault(entry.job_id, []).append(record)
            self.scheduler.handle(entry.event(), now)
        for job_id in list(self.records):
            job = self.scheduler.jobs.get(job_id)
            if job is None or job.state is not s.JobState.RUNNING:
                del self.records[job_id]
        compacted = [
            record if job_id in self.records else Record(record.body)
            for job_id, job_records in kept.items()
            if job_id in self.scheduler.jobs
            for record in job_records
        ]
        journal.rewrite(compacted)
        self.journal = journal
        self.history = History(os.path.dirname(journal.path))
        for job_id in self.records:
            log.info("job %s resumes from the journal", job_id)
        return len(self.records)

    def _journal_actions(self, actions: list[s.Action]) -> None:
        """Append the task commits and job ends among ``actions``, then fsync once."""
        wrote = False
        for action in actions:
            entry: entries.Entry
            if isinstance(action, s.TaskCommitted):
                entry = entries.task_entry(action)
            elif isinstance(action, s.JobEnded):
                job = self.scheduler.jobs.get(action.job_id)
                entry = entries.end_entry(action, job.error if job is not None else None)
            else:
                continue
            self.journal.append(entries.record(entry))  # type: ignore[union-attr]
            wrote = True
        if wrote:
            self.journal.sync()  # type: ignore[union-attr]


def tune_gc() -> None:
    """Collect garbage less often in a coordinator's own process (``GC_THRESHOLDS``): its
    tables are long-lived, and a cycle among them is rare."""
    gc.set_threshold(*GC_THRESHOLDS)

