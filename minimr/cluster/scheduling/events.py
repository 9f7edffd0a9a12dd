"""What goes into the scheduler (events) and what comes out of it (actions).

Both are frozen dataclasses of plain data; ``coordinator.py`` builds events from
decoded messages and turns actions into messages. Nested fields are the wire's typed
records (``protocol.py``), already checked for type and range when they were decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

from minimr.cluster.scheduling.tables import JobState
from minimr.cluster.wire.fastinit import quick_init
from minimr.cluster.wire.protocol import (
    MAX_ATTEMPTS,
    HeldOutput,
    JobLayout,
    MapOutputRef,
    RecordLocation,
    ReduceInputs,
    TaskLists,
)
from minimr.cluster.wire.wiretypes import Count, Name
from minimr.dataflow.skips import MAX_SKIPS

#: what a task's success may carry: a map's output, a prepare's task lists, else None
TaskOutput = MapOutputRef | TaskLists | None
#: skip mode: failures on one record after which later attempts skip it
SKIP_AFTER_FAILURES = 2

# --- records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """Skip mode: a record on a task's skip list, as the job commit reports it."""

    task: Name
    ordinal: Count
    where: str
    key: str
    value: str
    traceback: str


# --- events (in) ------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerJoined:
    """A worker registered (its versions were already checked)."""

    worker: str
    name: str
    host: str
    slots: int
    shuffle_address: str
    shuffle_key: str = ""  # its shuffle server's CURVE public key, "" without keys
    #: map outputs it still holds: after a coordinator restart, finished maps whose output
    #: survived need not run again
    outputs: tuple[HeldOutput, ...] = ()
    #: dead workers (on its host) whose folder it adopted: drop them without waiting
    replaces: tuple[str, ...] = ()
    key: str = ""  # the public key it authenticated with, "" without keys
    folder: str = ""  # its work folder: where reducers on its host read its map outputs


@quick_init
@dataclass(frozen=True)
class WorkerSeen:
    """Any message from a worker: a sign of life."""

    worker: str


@dataclass(frozen=True)
class WorkerLeft:
    """A worker said goodbye."""

    worker: str


@quick_init
@dataclass(frozen=True)
class AttemptSucceeded:
    """An attempt reported success with its plain-data output and counters."""

    worker: str
    job_id: str
    attempt: str
    output: TaskOutput
    counters: dict
    elapsed: float = 0.0


@dataclass(frozen=True)
class AttemptFailed:
    """An attempt failed in user code or its executor died; ``final``: no retry can succeed."""

    worker: str
    job_id: str
    attempt: str
    error: str
    stderr: str = ""
    crashed: bool = False
    record: RecordLocation | None = None  # skip mode: the record user code failed on
    final: bool = False


@dataclass(frozen=True)
class FetchFailed:
    """A reduce attempt could not fetch map outputs ``[(map_index, map_attempt), ...]``."""

    worker: str
    job_id: str
    attempt: str
    maps: tuple[tuple[int, str], ...]
    error: str = ""


@quick_init
@dataclass(frozen=True)
class CommitRequested:
    """A reduce attempt asks to rename its output into place."""

    worker: str
    job_id: str
    attempt: str


@dataclass(frozen=True)
class JobSubmitted:
    """A client submitted a job (the plan blob stays with the coordinator)."""

    job_id: str
    name: str
    steps: int
    max_attempts: int = MAX_ATTEMPTS
    speculation: bool = True
    task_timeout: float | None = None
    worker_timeout: float | None = None
    skip_bad_records: bool = False
    max_skips: int = MAX_SKIPS
    replay: dict | None = None  # how to replay a task of it (``protocol.ReplayRecipe``)
    owner: str = ""  # the key it came with ("" without keys): who may watch and cancel it
    layout: JobLayout | None = None  # what it asks for: prepare results must fit it


@dataclass(frozen=True)
class TaskRestored:
    """Journal replay: a task committed before the coordinator restarted.

    A restored map's output is held by no known worker until one re-registers it
    (``WorkerJoined.outputs``); it runs again if none does within the recovery grace.
    """

    job_id: str
    task: str
    attempt: str
    output: TaskOutput
    counters: dict | None
    started: int = 1
    skipped: tuple[Skipped, ...] | None = None  # skip mode: the records it passed over
    key: str = ""  # the key of the worker that ran the attempt ("" without keys)


@dataclass(frozen=True)
class JobOutcomeRestored:
    """Journal replay: the job had ended (``state``, a ``JobState`` value) before the restart."""

    job_id: str
    state: str
    error: dict | None = None


@dataclass(frozen=True)
class JobCancelled:
    """A client cancelled a job; ``by`` says who, for the log and ``status``."""

    job_id: str
    by: str = "its client"


@dataclass(frozen=True)
class Tick:
    """Time passed: purge dead workers, time out tasks, launch backups."""


# --- actions (out) ----------------------------------------------------------------------


@quick_init
@dataclass(frozen=True)
class Assign:
    """Tell ``worker`` to run ``task`` as ``attempt``."""

    worker: str
    job_id: str
    attempt: str
    kind: str
    task: dict
    #: a reduce's table of map output holders, and its number (0: not a reduce)
    inputs: ReduceInputs | None = None
    table: int = 0
    #: whether ``worker`` was not sent that table yet (the message then carries it)
    fresh: bool = False


@quick_init
@dataclass(frozen=True)
class Cancel:
    """Tell ``worker`` to stop ``attempt``."""

    worker: str
    job_id: str
    attempt: str


@quick_init
@dataclass(frozen=True)
class AnswerCommit:
    """Tell ``worker`` whether ``attempt`` may commit."""

    worker: str
    job_id: str
    attempt: str
    ok: bool


@dataclass(frozen=True)
class AskToReregister:
    """``worker`` is unknown (declared dead, or the coordinator restarted)."""

    worker: str
    reason: str


@quick_init
@dataclass(frozen=True)
class TaskCommitted:
    """A task is done for good: the shell journals it (durably) before anyone sees it."""

    job_id: str
    task: str
    attempt: str
    output: TaskOutput
    counters: dict | None
    started: int
    skipped: tuple[Skipped, ...] | None = None  # skip mode: the records it passed over
    #: the key of the worker that ran the attempt ("" without keys): after a restart, only
    #: a worker of that key may re-register the map output it left
    key: str = ""


@quick_init
@dataclass(frozen=True)
class JobChanged:
    """A job's progress changed (tell its watchers)."""

    job_id: str


@dataclass(frozen=True)
class JobEnded:
    """A job reached a final state (tell its watchers; workers may forget it)."""

    job_id: str
    state: JobState


@dataclass(frozen=True)
class Notice:
    """One line for the coordinator's log: something an operator wants to know happened
    (a worker joined, left or was declared dead; an attempt failed; a job was queued,
    started, ended). ``warning``: logged as a warning."""

    text: str
    warning: bool = False


Event = (
    WorkerJoined
    | WorkerSeen
    | WorkerLeft
    | AttemptSucceeded
    | AttemptFailed
    | FetchFailed
    | CommitRequested
    | JobSubmitted
    | JobCancelled
    | TaskRestored
    | JobOutcomeRestored
    | Tick
)
Action = (
    Assign | Cancel | AnswerCommit | AskToReregister | TaskCommitted | JobChanged | JobEnded
    | Notice
)
