"""The scheduler's tables: task and job states, the transition table, and the records.

Plain data only; ``scheduler.py`` is the one module that changes them.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # events.py imports this module
    from minimr.cluster.scheduling.events import Skipped
    from minimr.cluster.wire.protocol import JobLayout, MapOutputRef, ReduceInputs, TaskLists


class TaskState(enum.Enum):
    """Where a task stands; see :data:`TRANSITIONS`."""

    WAITING = "waiting"  # its inputs are not all there yet
    PENDING = "pending"  # ready, queued for a free slot
    RUNNING = "running"  # one attempt live (two with a backup)
    DONE = "done"  # an attempt succeeded (and, for a reduce, committed)
    FAILED = "failed"  # attempts used up; the job failed

    # Enum's __hash__ is a Python function (the hash of the name): the tallies a task's move
    # keeps hash its states about five times, 10% of a scheduler's event. Members are
    # singletons compared by identity, so the identity's hash (in C) is as good.
    __hash__ = object.__hash__


TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # -> DONE straight from WAITING or PENDING: journal replay, or a lost map output adopted
    TaskState.WAITING: frozenset({TaskState.PENDING, TaskState.DONE}),
    TaskState.PENDING: frozenset({TaskState.RUNNING, TaskState.WAITING, TaskState.DONE}),
    TaskState.RUNNING: frozenset(
        {TaskState.PENDING, TaskState.WAITING, TaskState.DONE, TaskState.FAILED}
    ),
    TaskState.DONE: frozenset({TaskState.PENDING}),
    TaskState.FAILED: frozenset(),
}


class AttemptState(enum.Enum):
    """How an attempt ended (or that it has not yet)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"  # its result was taken (a reduce's commit too)
    FAILED = "failed"  # an exception, its executor died, a timeout, a fetch failure
    CANCELLED = "cancelled"  # not needed any more: another attempt won, the job ended
    LOST = "lost"  # its worker died or left


class JobState(enum.Enum):
    """A job's life: running until it succeeds, fails or is cancelled."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Kind(str, enum.Enum):
    """The task kinds a worker knows how to run."""

    PREPARE = "prepare"
    MAP = "map"
    REDUCE = "reduce"
    COMMIT = "commit"


#: notes a job keeps (the latest)
NOTES_KEPT = 100

_KIND_LETTER = {Kind.PREPARE: "p", Kind.MAP: "m", Kind.REDUCE: "r", Kind.COMMIT: "c"}


class InvariantError(RuntimeError):
    """The scheduler was about to break its own rules (a bug in minimr, not the peer)."""


# --- tables -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """Where a step's map outputs are: the table every reduce of the step is assigned
    (built once, ``placement.located``) and the worker behind each holder number in it.

    ``number`` tells this table from the step's earlier ones (a map run again after its
    holder was lost makes a new one): a worker is sent a table once, and each reduce
    assignment names the number of the table it must read (``Worker.tables``)."""

    inputs: ReduceInputs
    workers: tuple[str, ...]
    number: int = 1

    def holder(self, index: int) -> str | None:
        """The worker that held map ``index``'s output when the table was made."""
        maps = self.inputs.maps
        return self.workers[maps[index]] if 0 <= index < len(maps) else None


@dataclass(slots=True)
class Attempt:
    """One try of a task on a worker: live while in the board's ``attempts``; kept in its
    task's ``attempts`` after it ends, with how and when (for ``status JOB_ID`` and logs)."""

    id: str
    job_id: str
    task: str
    worker: str
    started: float
    backup: bool = False
    #: a reduce: where the map outputs it reads were when it started (to blame the right
    #: holder for a failed fetch)
    located: Located | None = None
    worker_name: str = ""  # the worker's name and host, kept after it is gone
    host: str = ""
    lane: int = 0  # which of its worker's slots it holds (0 .. slots-1): a timeline row
    state: AttemptState = AttemptState.RUNNING
    ended: float | None = None
    why: str = ""  # how it ended, one line: the user's exception, "overtaken by ..."


@dataclass(slots=True)
class Task:
    """A unit of work and its history."""

    key: str
    kind: Kind
    step: int
    index: int
    spec: dict
    state: TaskState = TaskState.PENDING
    size: int = 0  # a map: the bytes its splits span (0 when they do not say); else 0
    started: int = 0  # attempts ever started
    failures: int = 0  # attempts that failed in user code
    live: dict[str, Attempt] = field(default_factory=dict)
    committer: str | None = None
    output: MapOutputRef | TaskLists | None = None  # map: where it lives; prepare: the tasks
    output_worker: str | None = None  # None for a DONE map: restored, holder not back yet
    output_attempt: str | None = None
    #: the key of the worker that ran ``output_attempt`` ("" without keys): only a worker
    #: of that key may later say it holds that output (``mapoutputs.reclaim``)
    output_key: str | None = None
    #: (attempt, output, key) of a map output lost with its worker, which a successor of
    #: the same key may adopt
    lost_output: tuple[str, MapOutputRef | TaskLists, str | None] | None = None
    counters: dict | None = None
    duration: float | None = None
    errors: list[dict] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)  # every attempt started, in order
    record_failures: dict[int, int] = field(default_factory=dict)  # skip mode: ordinal -> n
    #: a map: times its output was declared lost by fetch failures, per reporter (a key, or a
    #: worker id without keys); bounded by ``failures.take_fetch_loss``
    fetch_losses: dict[str, int] = field(default_factory=dict)
    fetch_retries: int = 0  # a reduce: attempts retried uncounted after fetch failures
    skipped: list[Skipped] = field(default_factory=list)  # skip mode: on its skip list


@dataclass
class Job:
    """A submitted job and its tasks."""

    id: str
    name: str
    steps: int
    max_attempts: int
    speculation: bool
    task_timeout: float | None
    worker_timeout: float | None
    submitted: float
    skip_bad_records: bool = False
    max_skips: int = 0
    owner: str = ""  # the submitter key it came with ("" without keys)
    layout: JobLayout | None = None  # what it asks for (``results.py`` holds prepares to it)
    skipped: int = 0  # records on the skip lists of its tasks
    state: JobState = JobState.RUNNING
    step: int = 0
    finished: float | None = None
    started: float | None = None  # its first attempt started: until then it is queued
    cancelled_by: str = ""
    tasks: dict[str, Task] = field(default_factory=dict)
    pending: deque[str] = field(default_factory=deque)
    maps: dict[int, list[str]] = field(default_factory=dict)  # step -> map task keys
    reduces: dict[int, list[str]] = field(default_factory=dict)  # step -> reduce task keys
    #: the map-only steps (no reduce tasks): their maps commit the step's output themselves
    map_only: set[int] = field(default_factory=set)
    done: dict[str, int] = field(default_factory=dict)  # kind -> tasks done
    total: dict[str, int] = field(default_factory=dict)  # kind -> tasks known
    step_done: dict[tuple[str, int], int] = field(default_factory=dict)
    bad_scores: dict[str, int] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)
    error: dict | None = None
    recover_until: float | None = None  # restored map outputs wait for their holders till then
    #: step -> where its map outputs are, once all are done and located (``placement``)
    located: dict[int, Located] = field(default_factory=dict)
    #: tables of map output holders made for this job so far (the last one's ``number``)
    tables_made: int = 0
    #: what a progress snapshot shows, tallied as it changes (a snapshot of a job of 100,000
    #: tasks must not walk them all, several times a second): (step, kind) -> tasks in each
    #: state (``Board.move``), and -> failed attempts; attempts started per kind; live
    #: attempts; the tasks that ever failed, in that order
    phases: dict[tuple[int, Kind], dict[TaskState, int]] = field(default_factory=dict)
    phase_failures: dict[tuple[int, Kind], int] = field(default_factory=dict)
    attempts_started: dict[Kind, int] = field(default_factory=dict)
    live_attempts: int = 0
    erred: dict[str, None] = field(default_factory=dict)
    #: what happened, in words, for the people watching (``Board.note``): (seconds into
    #: the job, text), the latest ``NOTES_KEPT``; ``noted`` counts every note ever made
    notes: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=NOTES_KEPT))
    noted: int = 0
    replay: dict | None = None  # how the submitter replays one task (``ReplayRecipe``)
    input_records: int = 0  # map input read by the map attempts that succeeded
    input_bytes: int = 0


@dataclass
class Worker:
    """A registered worker."""

    id: str
    name: str
    host: str
    slots: int
    shuffle_address: str
    joined: float
    last_seen: float
    shuffle_key: str = ""
    key: str = ""  # the public key it registered with ("" without keys)
    folder: str = ""  # its work folder (where reducers on its host read its map outputs)
    attempts: set[tuple[str, str]] = field(default_factory=set)  # (job, attempt)
    outputs: set[tuple[str, str]] = field(default_factory=set)  # (job, map task) held
    done: int = 0  # attempts whose result was taken
    number: int = 0  # the order it registered in (``Board.add_worker``)
    served: int = 0  # bytes of its map outputs whose step's reduces all succeeded
    #: job -> step -> the number of the step's table of map output holders this worker was
    #: sent (it keeps the last one per step until the job ends; a registration starts bare)
    tables: dict[str, dict[int, int]] = field(default_factory=dict)

    @property
    def free(self) -> int:
        """Slots not running an attempt: this worker's standing requests for work."""
        return self.slots - len(self.attempts)


def task_key(kind: Kind, step: int, index: int) -> str:
    """The task's name within its job, e.g. ``s0-m00003``."""
    return f"s{step}-{_KIND_LETTER[kind]}{index:05d}"
