"""The scheduler's board: its tables, the only moves that change them, and their story.

``scheduler.py`` decides (what an event means, what to do next); the :class:`Board` holds
what it decides about (jobs, tasks, attempts, workers) and makes the elementary moves on
it: a task's state changes only through :meth:`Board.move`, against the transition table
(``tables.TRANSITIONS``), and every move and every event lands in a bounded log of recent
history. An invariant broken anyway raises :class:`InvalidTransition` carrying the story of
that task (dask's ``worker_state_machine`` keeps a ``stimulus_log`` and raises
``InvalidTransition(key, start, finish, story)`` for the same reason): an invariant error
then tells how it happened, not only that it did.
"""

from __future__ import annotations

import itertools
from collections import deque
from operator import attrgetter
from typing import NamedTuple

from minimr.cluster.scheduling.tables import (
    TRANSITIONS,
    Attempt,
    AttemptState,
    InvariantError,
    Job,
    Kind,
    Task,
    TaskState,
    Worker,
    task_key,
)

#: entries kept in the board's log of recent events and transitions
STORY_LENGTH = 2000
_registered = attrgetter("number")


class Entry(NamedTuple):
    """One line of the story: at ``now``, an event arrived or a task moved.

    ``subject`` is the event (a frozen record), or ``(job, task, start, finish)`` of a move:
    its text is made only when the story is read, not for every event and move. (A named
    tuple: three are made a task, and a frozen dataclass cost three times as much to make.)
    """

    now: float
    what: str  # "event" or "move"
    subject: object

    @property
    def text(self) -> str:
        """The event's repr, or ``job task start -> finish``."""
        if self.what == "move":
            job, task, start, finish = self.subject  # type: ignore[misc]
            return f"{job} {task} {start.value} -> {finish.value}"
        return repr(self.subject)

    def __str__(self) -> str:
        return f"{self.now:12.3f} {self.what:5} {self.text}"


class InvalidTransition(InvariantError):
    """A task was about to move where the transition table does not allow (a minimr bug).

    Attributes:
        key: the task (``job/s0-m00003``).
        start, finish: the states of the move refused.
        story: the recent events and moves that mention the task, oldest first.
    """

    def __init__(self, key: str, start: TaskState, finish: TaskState, story: list[Entry]):
        lines = "\n".join(f"  {entry}" for entry in story) or "  (nothing recorded)"
        super().__init__(
            f"task {key}: {start.value} -> {finish.value} is not allowed; its story:\n{lines}"
        )
        self.key = key
        self.start = start
        self.finish = finish
        self.story = story


class Board:
    """Jobs, tasks, attempts and workers, and the elementary moves on them."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.workers: dict[str, Worker] = {}
        self.attempts: dict[tuple[str, str], Attempt] = {}
        self.log: deque[Entry] = deque(maxlen=STORY_LENGTH)
        self.now = 0.0
        #: the workers with a free slot (their standing requests for work), kept as slots
        #: fill and free, so that serving the requests costs nothing per worker that has none
        self.free: set[str] = set()
        self._registrations = itertools.count()

    # --- the story ------------------------------------------------------------------------

    def record(self, event: object, now: float) -> None:
        """Log an event as it arrives (the scheduler leaves out heartbeats and idle ticks)."""
        self.now = now
        self.log.append(Entry(now, "event", event))

    def note(self, job: Job, text: str) -> None:
        """Say in words, for the people watching ``job``, what just happened to it (a worker
        lost and what runs again, a failed attempt retried, a backup started)."""
        job.notes.append((self.now - job.submitted, text))
        job.noted += 1

    def story(self, *keys: str) -> list[Entry]:
        """The logged entries that mention any of ``keys`` (a task key, a job id, a worker)."""
        return [entry for entry in self.log if any(key in entry.text for key in keys)]

    # --- tasks ----------------------------------------------------------------------------

    def move(self, job: Job, task: Task, state: TaskState) -> None:
        """The only place a task changes state; it keeps the done tallies (and the states of
        each phase's tasks, ``Job.phases``) in step.

        Raises:
            InvalidTransition: the move is not in the transition table.
        """
        if state not in TRANSITIONS[task.state]:
            raise InvalidTransition(
                f"{job.id}/{task.key}", task.state, state, self.story(task.key)
            )
        self.log.append(Entry(self.now, "move", (job.id, task.key, task.state, state)))
        if task.state is TaskState.DONE:
            job.done[task.kind] -= 1
            job.step_done[task.kind, task.step] -= 1
        elif state is TaskState.DONE:
            job.done[task.kind] += 1
            job.step_done[task.kind, task.step] = job.step_done.get((task.kind, task.step), 0) + 1
        tally = job.phases[task.step, task.kind]
        tally[task.state] -= 1
        tally[state] += 1
        task.state = state

    def requeue(self, job: Job, task: Task, front: bool = False) -> None:
        """Back to PENDING, queued at the front (a retry) or the back."""
        self.move(job, task, TaskState.PENDING)
        if front:
            job.pending.appendleft(task.key)
        else:
            job.pending.append(task.key)

    def add_task(
        self, job: Job, kind: Kind, step: int, index: int, spec: dict, state: TaskState,
        queue: bool = True,
    ) -> Task:
        """A new task of ``job``, queued if it starts PENDING (unless ``queue`` is False: the
        caller queues it)."""
        task = Task(task_key(kind, step, index), kind, step, index, spec, state)
        job.tasks[task.key] = task
        tally = job.phases.get((step, kind))
        if tally is None:
            tally = job.phases[step, kind] = dict.fromkeys(TaskState, 0)
        tally[state] += 1
        job.total[kind] = job.total.get(kind, 0) + 1
        job.done.setdefault(kind, 0)
        if state is TaskState.PENDING and queue:
            job.pending.append(task.key)
        return task

    def step_complete(self, job: Job, kind: Kind, step: int) -> bool:
        """Every task of that kind in that step is done."""
        keys = job.maps if kind is Kind.MAP else job.reduces
        return job.step_done.get((kind, step), 0) == len(keys.get(step, ()))

    def commits(self, job: Job, task: Task) -> bool:
        """Whether ``task`` writes part files, renamed into place once its commit is
        granted: a reduce, or a map of a map-only step (whose output no reduce reads)."""
        return task.kind is Kind.REDUCE or (task.kind is Kind.MAP and task.step in job.map_only)

    def map_outputs_ready(self, job: Job, step: int) -> bool:
        """Every map of the step is done and its output held by a known worker."""
        return self.step_complete(job, Kind.MAP, step) and all(
            job.tasks[k].output_worker is not None for k in job.maps.get(step, ())
        )

    def release_reduces(self, job: Job, step: int) -> None:
        """Queue a step's waiting reduces once every map output is done and located."""
        if not self.map_outputs_ready(job, step):
            return
        for key in job.reduces[step]:
            reduce = job.tasks[key]
            if reduce.state is TaskState.WAITING:
                self.move(job, reduce, TaskState.PENDING)
                job.pending.append(key)

    # --- attempts -------------------------------------------------------------------------

    def live_attempt(self, worker: str, job_id: str, attempt_id: str) -> Attempt | None:
        """The attempt if it is still live and really ran on ``worker`` (the fence)."""
        attempt = self.attempts.get((job_id, attempt_id))
        if attempt is None or attempt.worker != worker:
            return None
        return attempt

    def drop_attempt(self, attempt: Attempt, state: AttemptState, why: str = "") -> None:
        """End a live attempt: forget it everywhere live attempts are listed, and note in
        its record how (``state``, ``why``: one line) and when it ended."""
        if attempt.state is AttemptState.RUNNING:
            attempt.state, attempt.ended, attempt.why = state, self.now, why
        job = self.jobs[attempt.job_id]
        if self.attempts.pop((attempt.job_id, attempt.id), None) is not None:
            job.live_attempts -= 1
        task = job.tasks[attempt.task]
        task.live.pop(attempt.id, None)
        if task.committer == attempt.id:
            task.committer = None
        worker = self.workers.get(attempt.worker)
        if worker is not None:
            worker.attempts.discard((attempt.job_id, attempt.id))
            self.slots_changed(worker)

    # --- workers --------------------------------------------------------------------------

    def add_worker(self, worker: Worker) -> None:
        """A worker registered: its slots are free."""
        worker.number = next(self._registrations)
        self.workers[worker.id] = worker
        self.slots_changed(worker)

    def remove_worker(self, worker_id: str) -> Worker:
        """A worker is gone; returns it."""
        self.free.discard(worker_id)
        return self.workers.pop(worker_id)

    def slots_changed(self, worker: Worker) -> None:
        """An attempt started or ended on ``worker``: whether it has a free slot now."""
        if worker.free > 0:
            self.free.add(worker.id)
        else:
            self.free.discard(worker.id)

    def free_workers(self) -> list[Worker]:
        """The workers with a free slot, in the order they registered."""
        workers = self.workers
        if len(self.free) == len(workers):
            return list(workers.values())
        return sorted((workers[w] for w in self.free), key=_registered)

    def name(self, worker: str) -> str:
        """A worker's name for messages (its id once it is gone)."""
        known = self.workers.get(worker)
        return known.name if known is not None else worker
