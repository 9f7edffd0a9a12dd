"""The coordinator's brain: a pure state machine over jobs, tasks, attempts and workers.

No sockets, no clock, no threads: :meth:`Scheduler.handle` takes one event (a
dataclass) and the current time, hands it to the handler of its type, which changes the
tables and *returns* the actions (more dataclasses) that the I/O shell in
``coordinator.py`` turns into messages. Tests script events and check actions.

The modules around it, one responsibility each:

- ``events.py``: the vocabulary, events in and actions out;
- ``tables.py``: task and job states, the transition table, the records;
- ``board.py``: the tables and the elementary moves on them, with a bounded log of recent
  events and moves, so an invalid transition raises with the story of its task;
- ``placement.py``: which free slot takes which pending task, and a reduce's inputs;
- ``mapoutputs.py``: which worker holds each map output, and what a lost one costs;
- ``results.py``: whether a worker's result fits its task (one that does not fails);
- ``failures.py``: what a failure means and who is to blame;
- ``steps.py``: what a finished task lets happen next (the chain below).

How a job becomes tasks, without the coordinator ever seeing the plan
----------------------------------------------------------------------
The plan is an opaque blob here (unpickling it would run user code in the
coordinator). So the tasks that need the plan to be *listed* are themselves tasks,
run on workers like any other:

    step k:  prepare ──> map × M ──> reduce × R ──>  (step k+1: prepare ...)
             last step's reduces ──> commit

- ``prepare`` (one per step) runs the range sampler if the step needs one, then
  ``plan.map_tasks(step, boundaries)`` and ``plan.reduce_tasks(step)``, and returns
  those task lists as plain dicts. For step 0 this splits the input; for step k>0 it
  lists step k-1's committed intermediate parts, which exist only now.
- ``map`` and ``reduce`` are the dataflow's tasks; a map's output stays on its worker
  and the scheduler records where (its worker and attempt, its size; each partition's
  byte range stays on the worker, in the output's index).
- ``commit`` runs ``plan.commit_job()`` (writes ``_SUCCESS``) once all reduces of the
  last step are committed; the job succeeds when it is done.

Task states and the only transitions allowed (:data:`TRANSITIONS`)::

    WAITING ──> PENDING ──> RUNNING ──> DONE
       ^  \\_______/ ^          |  \\      |
       |            └──────────┘   \\     | map output lost (worker died / fetch failed)
       └────────────────────────────┘    v
                                      PENDING            RUNNING ──> FAILED (attempts used up)

A reduce is WAITING until every map of its step is DONE, and goes back to WAITING
when a map output it needs is lost. Pull model: a worker's free slots are its
standing requests for work; when nothing is pending they stay parked and are served
as soon as a task becomes PENDING. Jobs run side by side, first come first served:
a free slot takes the oldest job's next task, so a later job uses only the slots the
earlier one leaves idle.

Every assignment carries an attempt id (``s0-m00003-a2``). Results of attempts that
are no longer live (lost with a worker declared dead, cancelled, or beaten by a
backup) are dropped: that is the fence. A reduce renames its output into place only
after a ``CommitRequest`` is granted, and one attempt per task is granted.

Fault tolerance: a dead worker's running attempts go back to PENDING without
counting as failures, and its finished map outputs are re-run while a reduce of that
step still needs them. A failed attempt (exception, executor death, timeout) counts
toward ``max_attempts``; the last failure fails the job with the task, its input,
the workers it ran on and the user's traceback; a failure the worker marks ``final`` (a
mistake in the job's code, a plan the worker cannot load) fails the job at once. A worker
whose failures succeed elsewhere, or whose attempts are overtaken by later ones, is excluded
from the job (never more than a third of the workers). Near the end of a phase, a task
running far longer than the median gets a backup attempt, and so does a task with nothing
to compare it with after ``backup_after`` seconds (so a worker that heartbeats but never
finishes cannot hold a job for ever); the first to finish wins and the others are
cancelled. A fetch failure runs the lost map outputs again, within bounds. What a failure
means and who is to blame (skip mode, the failure report, bad workers, stragglers, fetch
failures) is decided in ``failures.py``; the moving and requeueing happen here.

Map outputs that outlive their holder: a worker started on a dead worker's folder
adopts its finished map outputs (``workdir.py``) and registers them with the dead
worker's identity (``WorkerJoined.replaces``): the dead worker is dropped at once and
its maps stay done. After a coordinator restart, replaying the journal restores the
committed tasks (``TaskRestored``); a restored map's output counts once a worker
re-registers it, and the map runs again if none does within ``recovery_grace``.
"""

from __future__ import annotations

from collections.abc import Collection

from minimr.cluster.scheduling import failures, mapoutputs, notices, placement, steps, views
from minimr.cluster.scheduling.board import Board
from minimr.cluster.scheduling.events import (
    MAX_ATTEMPTS,
    MAX_SKIPS,
    Action,
    AnswerCommit,
    AskToReregister,
    Assign,
    AttemptFailed,
    AttemptSucceeded,
    Cancel,
    CommitRequested,
    Event,
    FetchFailed,
    JobCancelled,
    JobChanged,
    JobEnded,
    JobOutcomeRestored,
    JobSubmitted,
    Notice,
    TaskCommitted,
    TaskRestored,
    Tick,
    WorkerJoined,
    WorkerLeft,
    WorkerSeen,
)
from minimr.cluster.scheduling.results import misfit
from minimr.cluster.scheduling.tables import (
    TRANSITIONS,
    Attempt,
    AttemptState,
    InvariantError,
    Job,
    JobState,
    Kind,
    Task,
    TaskState,
    Worker,
)
from minimr.cluster.wire.protocol import (
    HEARTBEAT_INTERVAL,
    HEARTBEAT_LIVENESS,
)

__all__ = [  # the scheduler's vocabulary, importable from here
    "MAX_ATTEMPTS",
    "MAX_SKIPS",
    "Action",
    "AnswerCommit",
    "AskToReregister",
    "Assign",
    "AttemptFailed",
    "AttemptSucceeded",
    "Cancel",
    "CommitRequested",
    "Event",
    "FetchFailed",
    "InvariantError",
    "JobCancelled",
    "JobChanged",
    "JobEnded",
    "JobOutcomeRestored",
    "JobState",
    "JobSubmitted",
    "Kind",
    "Notice",
    "Scheduler",
    "TaskCommitted",
    "TaskRestored",
    "TaskState",
    "Tick",
    "TRANSITIONS",
    "WorkerJoined",
    "WorkerLeft",
    "WorkerSeen",
]

# --- tunables (the coordinator may override them per cluster) ---------------------------

#: a task is a straggler when running this many times the phase's median duration...
SPECULATION_MULTIPLIER = 4.0
#: ...and at least this many seconds
SPECULATION_MIN_RUNTIME = 1.0
#: a task with no finished peers to compare it with gets a backup after this many seconds
#: (a worker that heartbeats but never finishes holds a task that long at most)
BACKUP_AFTER = 60.0
#: ``status`` shows this many finished jobs at most (the oldest are forgotten first)...
FINISHED_JOBS_KEPT = 50
#: ...and none that finished longer ago than this many seconds (a day)
FINISHED_JOBS_TTL = 24 * 3600.0
#: after a restart, seconds restored map outputs wait for their workers to re-register
#: them before the maps run again (covers a worker's reconnect backoff, capped at 8 s)
RECOVERY_GRACE = 10.0


class Scheduler:
    """Jobs, tasks and workers; one entry point, :meth:`handle`.

    Args:
        heartbeat_interval: seconds between heartbeats.
        heartbeat_liveness: missed heartbeats before a worker is dead.
    """

    def __init__(
        self,
        *,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        heartbeat_liveness: int = HEARTBEAT_LIVENESS,
        speculation_multiplier: float = SPECULATION_MULTIPLIER,
        speculation_min_runtime: float = SPECULATION_MIN_RUNTIME,
        backup_after: float = BACKUP_AFTER,
        recovery_grace: float = RECOVERY_GRACE,
        keep_finished: int = FINISHED_JOBS_KEPT,
        keep_finished_for: float = FINISHED_JOBS_TTL,
    ) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_liveness = heartbeat_liveness
        self.speculation_multiplier = speculation_multiplier
        self.speculation_min_runtime = speculation_min_runtime
        self.backup_after = backup_after
        self.recovery_grace = recovery_grace
        self.keep_finished = max(1, keep_finished)  # the job that just ended is answered
        self.keep_finished_for = keep_finished_for
        self.board = Board()
        # the board's tables, by their usual names (the same dicts)
        self.jobs: dict[str, Job] = self.board.jobs
        self.workers: dict[str, Worker] = self.board.workers
        self.attempts: dict[tuple[str, str], Attempt] = self.board.attempts
        self._alone_since: float | None = None  # since when no worker is registered
        self._handlers = {
            WorkerJoined: self._on_worker_joined,
            WorkerSeen: self._on_worker_seen,
            WorkerLeft: self._on_worker_left,
            AttemptSucceeded: self._on_attempt_succeeded,
            AttemptFailed: self._on_attempt_failed,
            FetchFailed: self._on_fetch_failed,
            CommitRequested: self._on_commit_requested,
            JobSubmitted: self._on_job_submitted,
            JobCancelled: self._on_job_cancelled,
            TaskRestored: self._on_task_restored,
            JobOutcomeRestored: self._on_job_outcome_restored,
            Tick: self._on_tick,
        }

    # --- the entry point ----------------------------------------------------------------

    def handle(self, event: Event, now: float, dispatch: bool = True) -> list[Action]:
        """Apply one event at time ``now`` and return what the shell must do.

        Any event from a known worker refreshes its liveness; an event from an
        unknown worker (other than registration) only earns it a request to
        re-register, so a worker declared dead can never slip results in.

        With ``dispatch`` (the default) free slots are then served (:meth:`dispatch`); the
        coordinator passes False and serves them once per loop turn, after every message
        the turn took: a worker whose slots freed in that turn gets their tasks together.
        """
        worker_id = getattr(event, "worker", None)
        if worker_id is not None and not isinstance(event, WorkerJoined):
            worker = self.workers.get(worker_id)
            if worker is None:
                return [AskToReregister(worker_id, "unknown worker (declared dead?)")]
            worker.last_seen = now
        if not isinstance(event, (WorkerSeen, Tick)):  # the story leaves out heartbeats
            self.board.record(event, now)
        self.board.now = now
        actions = self._handlers[type(event)](event, now)
        if dispatch:
            actions += placement.dispatch(self.board, now)
        if self.workers:
            self._alone_since = None
        elif self._alone_since is None:
            self._alone_since = now
        return actions

    def dispatch(self, now: float) -> list[Action]:
        """Serve the free slots (the workers' standing requests) from the pending tasks."""
        self.board.now = now
        return placement.dispatch(self.board, now)

    def has_assignment(self, worker_id: str, job_id: str) -> bool:
        """Whether ``worker_id`` is registered and runs (or is about to run) a task of
        ``job_id``: the only workers a job's plan is served to."""
        worker = self.workers.get(worker_id)
        return worker is not None and any(job == job_id for job, _ in worker.attempts)

    def running(self) -> bool:
        """Whether a job is running (queued ones too)."""
        return any(job.state is JobState.RUNNING for job in self.jobs.values())

    @property
    def dead_after(self) -> float:
        """Seconds of silence after which a worker is dead."""
        return self.heartbeat_interval * self.heartbeat_liveness

    # --- workers ------------------------------------------------------------------------

    def _on_worker_joined(self, event: WorkerJoined, now: float) -> list[Action]:
        actions: list[Action] = []
        if event.worker in self.workers:  # registered again on the same identity
            self._lose_worker(event.worker, now, actions, "it registered again", dead=False)
        for dead in event.replaces:  # it adopted their folders: they are gone for sure
            known = self.workers.get(dead)
            # only a worker of the same key and host: another key naming a live worker
            # here would drop it and take its map outputs
            if known is not None and known.host == event.host and known.key == event.key:
                why = f"worker {event.name} took over its work folder on host {event.host}"
                brought = {(held.job_id, held.attempt) for held in event.outputs}
                self._lose_worker(dead, now, actions, why, dead=True, brought=brought)
        self.board.add_worker(Worker(
            event.worker,
            event.name,
            event.host,
            max(1, event.slots),
            event.shuffle_address,
            joined=now,
            last_seen=now,
            shuffle_key=event.shuffle_key,
            key=event.key,
            folder=event.folder,
        ))
        actions.append(notices.worker_joined(self.workers[event.worker], len(event.outputs)))
        for held in event.outputs:
            actions += mapoutputs.reclaim(self.board, self.workers[event.worker], held)
        return actions

    def _on_worker_seen(self, event: WorkerSeen, now: float) -> list[Action]:
        return []  # liveness was refreshed in handle()

    def _on_worker_left(self, event: WorkerLeft, now: float) -> list[Action]:
        actions: list[Action] = []
        self._lose_worker(event.worker, now, actions, "it said goodbye", dead=False)
        return actions

    def _lose_worker(
        self, worker_id: str, now: float, actions: list[Action], why: str, dead: bool,
        brought: Collection[tuple[str, str]] = (),
    ) -> None:
        """Forget a worker: requeue its attempts (uncounted) and its needed map outputs, and
        say so in the coordinator's log (``why`` it is gone; ``dead``: not by its own word).
        ``brought``: the (job, map attempt) outputs its successor on the same folder holds,
        reclaimed right after: not said to run again."""
        worker = self.board.remove_worker(worker_id)
        again: dict[str, list[int]] = {}  # job -> [running tasks, map outputs] run again
        for job_id, attempt_id in sorted(worker.attempts):
            attempt = self.attempts[(job_id, attempt_id)]
            job = self.jobs[job_id]
            task = job.tasks[attempt.task]
            gone = f"its worker {'was declared dead' if dead else 'left'}: {why}"
            self.board.drop_attempt(attempt, AttemptState.LOST, gone)
            if job.state is JobState.RUNNING and not task.live and task.state is TaskState.RUNNING:
                self.board.requeue(job, task, front=True)
                again.setdefault(job_id, [0, 0])[0] += 1
            actions.append(JobChanged(job_id))
        for job_id, key in sorted(worker.outputs):
            job = self.jobs[job_id]
            task = job.tasks[key]
            lost = mapoutputs.lose(self.board, job, task)
            if lost and (job_id, task.lost_output and task.lost_output[0]) not in brought:
                again.setdefault(job_id, [0, 0])[1] += 1
            actions += lost
        for job_id, (tasks, outputs) in again.items():
            said = [f"{n} {what}{'s' * (n > 1)}" for n, what in
                    ((tasks, "running task"), (outputs, "finished map output")) if n]
            self.board.note(self.jobs[job_id],
                            f"worker {worker.name} lost: {' and '.join(said)} will run again")
        requeued = sum(tasks for tasks, _ in again.values())
        rerun = sum(outputs for _, outputs in again.values())
        actions.append(notices.worker_lost(worker, why, requeued, rerun, dead))

    # --- jobs ---------------------------------------------------------------------------

    def _on_job_submitted(self, event: JobSubmitted, now: float) -> list[Action]:
        actions: list[Action] = []
        if event.job_id in self.jobs:
            return actions  # a client resubmitting after a reconnect: the job is already here
        job = Job(
            event.job_id,
            event.name,
            max(1, event.steps),
            max(1, event.max_attempts),
            event.speculation,
            event.task_timeout,
            event.worker_timeout,
            submitted=now,
            skip_bad_records=event.skip_bad_records,
            max_skips=max(0, event.max_skips),
            replay=event.replay,
            owner=event.owner,
            layout=event.layout,
        )
        ahead = sum(j.state is JobState.RUNNING for j in self.jobs.values())
        self.jobs[job.id] = job
        self.board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
        actions += [JobChanged(job.id), notices.job_queued(job, ahead)]
        return actions

    def _on_job_cancelled(self, event: JobCancelled, now: float) -> list[Action]:
        actions: list[Action] = []
        job = self.jobs.get(event.job_id)
        if job is not None and job.state is JobState.RUNNING:
            job.cancelled_by = event.by
            job.error = {"message": f"cancelled by {event.by}"}
            self._end_job(job, JobState.CANCELLED, now, actions)
        return actions

    def _on_task_restored(self, event: TaskRestored, now: float) -> list[Action]:
        """Replay a journaled commit: the task is done without running again."""
        actions: list[Action] = []
        job = self.jobs.get(event.job_id)
        task = job.tasks.get(event.task) if job is not None else None
        if job is None or task is None or job.state is not JobState.RUNNING:
            return actions
        if task.state not in (TaskState.WAITING, TaskState.PENDING):
            return actions
        if event.started > task.started:
            tally = job.attempts_started
            tally[task.kind] = tally.get(task.kind, 0) + event.started - task.started
            task.started = event.started
        task.counters = event.counters
        task.output = event.output
        task.output_attempt = event.attempt
        task.output_key = event.key
        task.output_worker = None  # a map's holder is known once it re-registers
        if event.skipped:
            task.skipped = list(event.skipped)
            task.spec = {**task.spec, "skip": sorted(e.ordinal for e in task.skipped)}
            job.skipped += len(task.skipped)
        self.board.move(job, task, TaskState.DONE)
        if task.kind is Kind.MAP and task.step not in job.map_only:  # its output on a worker
            job.recover_until = now + self.recovery_grace
        actions.append(JobChanged(job.id))
        if steps.advance(self.board, job, task):
            self._end_job(job, JobState.SUCCEEDED, now, actions)
        return actions

    def _on_job_outcome_restored(
        self, event: JobOutcomeRestored, now: float) -> list[Action]:
        actions: list[Action] = []
        job = self.jobs.get(event.job_id)
        if job is None or job.state is not JobState.RUNNING:
            return actions
        try:
            state = JobState(event.state)
        except ValueError:
            state = JobState.FAILED
        job.error = event.error
        self._end_job(job, state, now, actions)
        return actions

    def _end_job(self, job: Job, state: JobState, now: float, actions: list[Action]) -> None:
        job.state = state
        job.finished = now
        for task in job.tasks.values():
            for attempt in list(task.live.values()):
                self.board.drop_attempt(attempt, AttemptState.CANCELLED, f"the job {state.value}")
                actions.append(Cancel(attempt.worker, job.id, attempt.id))
        for worker in self.workers.values():
            worker.outputs = {o for o in worker.outputs if o[0] != job.id}
            worker.tables.pop(job.id, None)  # its ForgetJob drops the worker's copies
        job.pending.clear()
        job.located.clear()
        actions += [JobEnded(job.id, state), notices.job_ended(job, now)]
        self._forget_finished_jobs(now)

    def _forget_finished_jobs(self, now: float) -> None:
        """Keep ``keep_finished`` finished jobs at most, none older than ``keep_finished_for``
        seconds (a coordinator with ``--state-dir`` keeps their summaries in its history)."""
        finished = [j for j in self.jobs.values() if j.state is not JobState.RUNNING]
        excess = len(finished) - self.keep_finished
        for index, old in enumerate(finished):
            ended = old.finished if old.finished is not None else now
            if index < excess or now - ended > self.keep_finished_for:
                del self.jobs[old.id]

    # --- attempts -----------------------------------------------------------------------

    def _end_attempt(self, worker: str, job_id: str, attempt_id: str, why: str
                     ) -> tuple[Job, Task, Attempt] | None:
        """Retire a live attempt that failed (``why``: its error); its job and task, or None
        when there is nothing more to do (a stale attempt, fenced off, or a job no longer
        running)."""
        attempt = self.board.live_attempt(worker, job_id, attempt_id)
        if attempt is None:
            return None
        self.board.drop_attempt(attempt, AttemptState.FAILED, notices.error_line(why))
        job = self.jobs[job_id]
        if job.state is not JobState.RUNNING:
            return None
        return job, job.tasks[attempt.task], attempt

    def _on_attempt_succeeded(
        self, event: AttemptSucceeded, now: float) -> list[Action]:
        actions: list[Action] = []
        attempt = self.board.live_attempt(event.worker, event.job_id, event.attempt)
        if attempt is None:
            return actions  # stale: fenced off
        job = self.jobs[event.job_id]
        task = job.tasks[attempt.task]
        committed = task.committer == attempt.id
        if job.state is not JobState.RUNNING or task.state is not TaskState.RUNNING:
            self.board.drop_attempt(attempt, AttemptState.CANCELLED, "its task was done")
            return actions
        problem = misfit(job, task, event.output)
        if problem is not None:  # well-formed, but not this task's result: the worker's fault
            error = f"worker {self.board.name(event.worker)} returned a result that does not fit "
            error += f"{task.key}: {problem}"
            self.board.drop_attempt(attempt, AttemptState.FAILED, error)
            self._record_failure(job, task, attempt, error, "", now, actions)
            return actions
        if self.board.commits(job, task) and not committed:
            # a reduce (a map-only map) reports success only after its commit was granted;
            # one that did not may have left nothing in place, so the task runs again
            self.board.drop_attempt(attempt, AttemptState.FAILED, "done without a commit")
            if not task.live:
                self.board.requeue(job, task, front=True)
            return actions
        self.board.drop_attempt(attempt, AttemptState.SUCCEEDED)
        losers = list(task.live.values())  # a backup lost the race, or the first attempt
        for other in losers:
            self.board.drop_attempt(other, AttemptState.CANCELLED, f"overtaken by {attempt.id}")
            actions.append(Cancel(other.worker, job.id, other.id))
        failures.score_overtaken(job, attempt, losers, len(self.workers))
        task.counters = event.counters
        task.duration = now - attempt.started
        self._count_success(job, task, attempt)
        task.output_worker = event.worker
        task.output_attempt = attempt.id
        task.output_key = self.workers[event.worker].key
        task.output = event.output
        task.lost_output = None
        self.board.move(job, task, TaskState.DONE)
        actions.append(
            TaskCommitted(
                job.id,
                task.key,
                attempt.id,
                task.output,
                task.counters,
                task.started,
                task.skipped or None,
                task.output_key or "",
            )
        )
        failures.score_bad_workers(job, task, event.worker, len(self.workers))
        actions.append(JobChanged(job.id))
        if steps.advance(self.board, job, task):
            self._end_job(job, JobState.SUCCEEDED, now, actions)
        return actions

    def _count_success(self, job: Job, task: Task, attempt: Attempt) -> None:
        """Tally a taken result: its worker's tasks done, a map's input read."""
        worker = self.workers.get(attempt.worker)
        if worker is not None:
            worker.done += 1
        builtin = (task.counters or {}).get("minimr", {})
        if task.kind is Kind.MAP:
            job.input_records += builtin.get("map input records", 0)
            job.input_bytes += builtin.get("map input bytes", 0)

    def _on_attempt_failed(self, event: AttemptFailed, now: float) -> list[Action]:
        actions: list[Action] = []
        ended = self._end_attempt(event.worker, event.job_id, event.attempt, event.error)
        if ended is None:
            return actions
        job, task, attempt = ended
        if event.final:  # no retry can fix it: fail the job now, backups and all
            self._record_failure(job, task, attempt, event.error, event.stderr, now,
                                 actions, final=True)
            return actions
        if failures.skip_record(job, task, event):
            actions += [JobChanged(job.id),
                        notices.attempt_failed(job, task, attempt, event.error, counted=False)]
            if task.state is TaskState.RUNNING and not task.live:
                self.board.requeue(job, task, front=True)
            return actions
        self._record_failure(job, task, attempt, event.error, event.stderr, now, actions)
        return actions

    def _record_failure(
        self,
        job: Job,
        task: Task,
        attempt: Attempt,
        error: str,
        stderr: str,
        now: float,
        actions: list[Action],
        final: bool = False,
    ) -> None:
        """Count a failed attempt; requeue the task or, at the cap (or ``final``: at once),
        fail the job."""
        task.failures += 1
        phase = (task.step, task.kind)
        job.phase_failures[phase] = job.phase_failures.get(phase, 0) + 1
        job.erred[task.key] = None
        worker = attempt.worker
        name = self.board.name(worker)
        task.errors.append({"worker": worker, "name": name, "attempt": attempt.id,
                            "error": error, "stderr": stderr})
        actions += [JobChanged(job.id), notices.attempt_failed(job, task, attempt, error, True)]
        if task.state is not TaskState.RUNNING or (task.live and not final):
            return  # a backup is still running: it may yet succeed
        if final or task.failures >= job.max_attempts:
            self.board.move(job, task, TaskState.FAILED)
            job.error = failures.failure_report(job, task, final)
            self._end_job(job, JobState.FAILED, now, actions)
        else:
            self.board.note(job, f"{task.key} failed on worker {name} (failure {task.failures} "
                                 f"of at most {job.max_attempts}): "
                                 f"{notices.error_line(error)}; it runs again")
            self._retry(job, task)

    def _retry(self, job: Job, task: Task) -> None:
        """Queue a task again, or, a reduce some of whose map outputs were lost, let it wait."""
        if task.kind is Kind.REDUCE and not self.board.map_outputs_ready(job, task.step):
            self.board.move(job, task, TaskState.WAITING)
        else:
            self.board.requeue(job, task, front=True)

    def _on_fetch_failed(self, event: FetchFailed, now: float) -> list[Action]:
        actions: list[Action] = []
        why = f"could not fetch map outputs: {event.error}"
        ended = self._end_attempt(event.worker, event.job_id, event.attempt, why)
        if ended is None:
            return actions
        job, task, attempt = ended
        reporter = self.workers[event.worker].key or event.worker
        refusal = failures.fetch_failure_refused(task)
        refused = [] if refusal is None else [refusal]
        for index, map_attempt in () if refused else event.maps:
            keys = job.maps.get(task.step, [])
            if isinstance(index, int) and 0 <= index < len(keys):
                lost = job.tasks[keys[index]]
                holder = (attempt.located.holder(index) if attempt.located is not None
                          else lost.output_worker)
                if lost.output_attempt != map_attempt or lost.output_worker != holder:
                    continue  # it moved since
                refusal = failures.take_fetch_loss(lost, reporter)
                if refusal is None:
                    self.board.note(job, f"{task.key} could not fetch the output of {lost.key} "
                                         f"from worker {self.board.name(holder or '')}: "
                                         f"{lost.key} runs again")
                    actions += mapoutputs.lose(self.board, job, lost)
                else:
                    refused.append(refusal)
        if refused:  # the reporter's own failure now: counted, and on its worker
            error = f"{event.error} ({'; '.join(refused)})"
            self._record_failure(job, task, attempt, error, "", now, actions)
        else:  # not the reduce's fault: it does not count
            actions.append(notices.attempt_failed(job, task, attempt, why, counted=False))
            if task.state is TaskState.RUNNING and not task.live:
                self._retry(job, task)
        actions.append(JobChanged(job.id))
        return actions

    def _on_commit_requested(
        self, event: CommitRequested, now: float) -> list[Action]:
        actions: list[Action] = []
        attempt = self.board.live_attempt(event.worker, event.job_id, event.attempt)
        ok = False
        if attempt is not None:
            job = self.jobs[event.job_id]
            task = job.tasks[attempt.task]
            if (
                job.state is JobState.RUNNING
                and task.state is TaskState.RUNNING
                and (task.committer in (None, attempt.id))
            ):
                task.committer = attempt.id
                ok = True
            elif task.state is TaskState.RUNNING:
                # the loser of a commit race stops here; the worker discards its output
                why = "another attempt committed"
                self.board.drop_attempt(attempt, AttemptState.CANCELLED, why)
                if not task.live:
                    self.board.requeue(job, task, front=True)
        actions.append(AnswerCommit(event.worker, event.job_id, event.attempt, ok))
        return actions

    # --- time ---------------------------------------------------------------------------

    def _on_tick(self, event: Tick, now: float) -> list[Action]:
        actions: list[Action] = []
        silent_since = now - self.dead_after  # (once: the list walks every worker)
        for worker in [w for w in self.workers.values() if w.last_seen < silent_since]:
            why = (f"silent for {now - worker.last_seen:.1f} s (heartbeats every "
                   f"{self.heartbeat_interval:g} s, dead after {self.heartbeat_liveness} missed)")
            self._lose_worker(worker.id, now, actions, why, dead=True)
        self._forget_finished_jobs(now)
        for job in [j for j in self.jobs.values() if j.state is JobState.RUNNING]:
            if job.recover_until is not None and now >= job.recover_until:
                actions += mapoutputs.give_up_unclaimed(self.board, job)
            if job.worker_timeout is not None and self._alone_since is not None:
                waited = now - max(self._alone_since, job.submitted)
                if waited > job.worker_timeout:
                    job.error = {
                        "message": f"no worker was available for {waited:.0f} s "
                        f"(worker timeout {job.worker_timeout:g} s): start workers "
                        "with `minimr worker --coordinator ADDRESS`"
                    }
                    self._end_job(job, JobState.FAILED, now, actions)
                    continue
            if job.task_timeout is not None:
                self._time_out_tasks(job, now, actions)
            if job.speculation and job.state is JobState.RUNNING:
                self._speculate(job, now, actions)
        return actions

    def _time_out_tasks(self, job: Job, now: float, actions: list[Action]) -> None:
        timeout = job.task_timeout or 0.0
        for attempt in [a for a in self.attempts.values() if a.job_id == job.id]:
            if now - attempt.started > timeout and job.state is JobState.RUNNING:
                error = f"attempt {attempt.id} timed out after {timeout:g} s"
                self.board.drop_attempt(attempt, AttemptState.FAILED, error)
                actions.append(Cancel(attempt.worker, job.id, attempt.id))
                self._record_failure(job, job.tasks[attempt.task], attempt, error, "", now,
                                     actions)

    def _speculate(self, job: Job, now: float, actions: list[Action]) -> None:
        """Give a backup attempt to each straggler, and to each task held too long."""
        if any(job.tasks[k].state is TaskState.PENDING for k in job.pending):
            return
        running = dict.fromkeys(a.task for a in self.attempts.values() if a.job_id == job.id)
        limits = (self.speculation_multiplier, self.speculation_min_runtime, self.backup_after)
        for task in failures.stragglers(job, [job.tasks[k] for k in running], now, *limits):
            if task.kind is Kind.REDUCE and not self.board.map_outputs_ready(job, task.step):
                continue  # a map output it needs was lost: no backup can fetch it
            avoid = {a.worker for a in task.live.values()}
            worker = placement.free_worker(self.board, job, avoid=avoid)
            if worker is None:
                return
            slow = ", ".join(sorted(self.board.name(w) for w in avoid))
            self.board.note(job, f"{task.key} is slow on worker {slow}: a backup attempt "
                                 f"started on worker {worker.name}")
            actions.append(placement.start_attempt(self.board, job, task, worker, now, True))

    # --- views (read-only; built in views.py) ------------------------------------------

    def job_snapshot(self, job_id: str, now: float) -> dict:
        """Plain-data progress of one job (for clients and ``status``)."""
        return views.job_snapshot(self.jobs[job_id], len(self.workers), now)

    def job_detail(self, job_id: str, now: float) -> dict:
        """Plain-data view of one job in full: phases, counters, every attempt."""
        return views.job_detail(self.jobs[job_id], self.workers, now)

    def job_counters(self, job_id: str) -> list[dict]:
        """The counters of every finished task, each task once."""
        return views.job_counters(self.jobs[job_id])

    def status(self, now: float, viewer: str | None = None) -> dict:
        """Plain-data view of the cluster: workers and jobs (as ``viewer`` may see them, a
        submitter key; ``None``: everything)."""
        return views.cluster_status(self.workers, self.jobs, now, viewer)

