"""The whole wire vocabulary of a minimr cluster, in one place.

Each message is a frozen dataclass of plain-data fields (``Message``), each numbered by a
``Command``; ``wirecodec.py`` turns one into ZeroMQ frames and back (a versioned header, a
JSON body, raw frames for opaque bytes) and is the only code that knows that layout. A
message class says which of its fields travel as raw frames (``blobs``: the cloudpickled
plan, carried and never interpreted by the coordinator) and which carry one value shared by
many messages (``shared``: a step's table of map output holders).

Trust ends at the wire. Every field, however deep, is checked for type and range as it is
decoded (``wiretypes.py`` holds the rules: ``Count``, ``ByteOffset``, ``JobId``...), and
nested fields arrive as typed, frozen records (a map output's location, a reduce's input,
a submission's options), never as bare dicts for the scheduler to read deep inside. What
a decoded message holds is then the right shape; whether it *fits* the task it answers
(a map output with one partition per reducer) is the scheduler's to judge
(``results.py``), since only it knows the task.

Who sends what::

    worker -> coordinator   Ready Heartbeat TaskDone TaskFailed FetchFailed
                            CommitRequest PlanRequest Bye LogData
    coordinator -> worker   Welcome Reject Assign Plan CommitAnswer CancelAttempt
                            Reconnect ForgetJob Heartbeat FetchLog
    client -> coordinator   Submit Watch CancelJob StatusRequest LogRequest
    coordinator -> client   Submitted Progress JobResult StatusReply Reject LogReply
    reducer -> worker       FetchChunk           (the shuffle, see ``shuffle.py``)
    worker -> reducer       Chunk

With keys (``security.py``), the coordinator also checks that the sender's key has the
role a message needs (worker messages: a worker key; Submit, Watch, CancelJob: a
submitter key) and answers ``Reject(code="unauthorized")`` otherwise.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from typing import Annotated, ClassVar, NamedTuple

from minimr.cluster.wire.fastinit import quick_init
from minimr.cluster.wire.wiretypes import (
    Amount,
    AttemptId,
    Bounds,
    ByteOffset,
    Chars,
    Count,
    FilePath,
    Invalid,
    JobId,
    Name,
    Plain,
    Seconds,
)
from minimr.dataflow.skips import MAX_SKIPS

#: seconds between heartbeats, both ways (a coordinator may set its own; its Welcome says)
HEARTBEAT_INTERVAL = 1.0
#: heartbeats a peer may miss before it is declared dead (Paranoid Pirate's liveness)
HEARTBEAT_LIVENESS = 3

#: minimr's version as sent at registration; peers must agree on it.
MINIMR_VERSION = "0.1.0"
#: Python major.minor: cloudpickled code only loads on the same minor version.
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
#: failed attempts of one task that fail the job, unless the submit says otherwise
MAX_ATTEMPTS = 4


def version_mismatch(minimr_version: str, python_version: str) -> str:
    """Why a peer's versions are incompatible with ours ('' when they are not)."""
    problems = []
    if minimr_version != MINIMR_VERSION:
        problems.append(f"minimr {minimr_version} != coordinator's {MINIMR_VERSION}")
    if python_version != PYTHON_VERSION:
        problems.append(
            f"Python {python_version} != coordinator's {PYTHON_VERSION} "
            "(shipped job code only loads on the same Python version)"
        )
    return "; ".join(problems)

# field types of this protocol beyond wiretypes' common ones
Slots = Annotated[int, Bounds(1, 4096)]
Steps = Annotated[int, Bounds(1, 10_000)]
Attempts = Annotated[int, Bounds(1, 1000)]
Timeout = Annotated[float, Bounds(0.001, 10**9)]
RequestId = Annotated[int, Bounds(0, 2**63 - 1)]
Length = Annotated[int, Bounds(0, 1 << 30)]  # of one shuffle chunk
TaskKind = Annotated[str, Chars(8, "prepare|map|reduce|commit")]
#: a CURVE public key in Z85 (40 characters), or "" without keys
CurveKey = Annotated[str, Chars(40, r"(?:[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40})?")]
Address = Annotated[str, Chars(256, nul=False)]
WorkerId = Annotated[str, Chars(256, nul=False)]
Counters = dict[Name, dict[Name, Amount]]
#: a sha256 in hex
Digest = Annotated[str, Chars(64, r"[0-9a-f]{64}")]


class Command(enum.IntEnum):
    """The command numbers on the wire; one per message class."""

    # worker -> coordinator
    READY = 1
    HEARTBEAT = 2
    TASK_DONE = 3
    TASK_FAILED = 4
    FETCH_FAILED = 5
    COMMIT_REQUEST = 6
    PLAN_REQUEST = 7
    BYE = 8
    LOG_DATA = 9
    # coordinator -> worker
    WELCOME = 20
    REJECT = 21
    ASSIGN = 22
    PLAN = 23
    COMMIT_ANSWER = 24
    CANCEL_ATTEMPT = 25
    RECONNECT = 26
    FORGET_JOB = 27
    FETCH_LOG = 28
    # client -> coordinator
    SUBMIT = 40
    WATCH = 41
    CANCEL_JOB = 42
    STATUS_REQUEST = 43
    LOG_REQUEST = 44
    # coordinator -> client
    SUBMITTED = 50
    PROGRESS = 51
    JOB_RESULT = 52
    STATUS_REPLY = 53
    LOG_REPLY = 54
    # shuffle: a reduce attempt fetching from a worker's map-output server
    FETCH_CHUNK = 60
    CHUNK = 61
    # either way between a worker and the coordinator: several messages in one
    BATCH = 70


class Message:
    """Base of all messages: subclasses set ``command`` and, if any, ``blobs``."""

    command: ClassVar[Command]
    #: names of ``bytes`` fields that travel as raw frames after the JSON body
    blobs: ClassVar[tuple[str, ...]] = ()
    #: names of record fields whose one value many messages carry (a step's reduce inputs):
    #: each travels as a frame of its own, its JSON made once (``wirecodec.encode``)
    shared: ClassVar[tuple[str, ...]] = ()


# --- records: the typed fields inside messages ---------------------------------------------


@quick_init
@dataclass(frozen=True)
class MapOutputRef:
    """A finished map's output on its worker: how many partitions it holds and its size in
    bytes. Each partition's byte range stays on the worker, in the output's partition index
    (``shuffle.py``, as Hadoop's ``file.out.index``): the coordinator never holds a number
    per (map, reduce) pair."""

    partitions: Count
    size: ByteOffset


@dataclass(frozen=True)
class TaskLists:
    """A ``prepare`` task's result: the step's map and reduce task specs.

    The specs are plain data for the workers that will run them; the scheduler reads
    only what ``results.py`` has checked in them (each reduce's partition, each map's
    reducers).
    """

    map_tasks: tuple[Plain, ...]
    reduce_tasks: tuple[Plain, ...]


@dataclass(frozen=True)
class HeldOutput:
    """A map output a registering worker holds (after a coordinator restart, or
    adopted from a dead worker's folder)."""

    job_id: JobId
    attempt: AttemptId
    output: MapOutputRef


@dataclass(frozen=True)
class Holder:
    """A worker that holds map outputs a reduce reads: its host (a reducer on the same host
    reads the files in place, under ``folder``), its shuffle server's address and CURVE key."""

    host: Name
    address: Address
    key: CurveKey
    folder: FilePath


@dataclass(frozen=True)
class ReduceInputs:
    """Where a step's map outputs are: one table for every reduce of the step, built and
    JSON-encoded once by the coordinator (``Assign.shared``) however many reduces get it.

    ``maps[i]`` is the number (in ``holders``) of the worker holding map ``i``'s output and
    ``attempts[i]`` the number of the attempt that made it (``s{step}-m{i:05d}-a{n}``): a
    reduce reads its own partition of each, which names its file and its byte range there.
    """

    holders: tuple[Holder, ...]
    maps: tuple[Count, ...]
    attempts: tuple[Count, ...]

    def __post_init__(self) -> None:
        if len(self.attempts) != len(self.maps):
            raise Invalid(f"has {len(self.maps)} maps and {len(self.attempts)} attempts")
        if self.maps and max(self.maps) >= len(self.holders):
            raise Invalid(f"names holder {max(self.maps)} of {len(self.holders)}")
        if 0 in self.attempts:
            raise Invalid("names attempt 0 (attempts count from 1)")

    def listed(self, step: int) -> list[MapInput]:
        """Each map output of the table (a reduce of ``step`` reads them), in map order."""
        holders = self.holders
        return [
            MapInput(index, map_attempt(step, index, number), holders[holder])
            for index, (holder, number) in enumerate(zip(self.maps, self.attempts, strict=True))
        ]


class MapInput(NamedTuple):
    """One map output a reduce reads: map ``map``'s, made by ``attempt``, held by ``holder``."""

    map: int
    attempt: str
    holder: Holder


def map_attempt(step: int, index: int, number: int) -> str:
    """The id of attempt ``number`` of map ``index`` of ``step`` (the scheduler's naming)."""
    return f"s{step}-m{index:05d}-a{number}"


def attempt_step(attempt: str) -> int:
    """The step of an attempt id (``s{step}-...``, as ``AttemptId`` checked it)."""
    return int(attempt[1:attempt.index("-")])


@dataclass(frozen=True)
class RecordLocation:
    """Skip mode: the record (or key group) user code failed on (``skips.py``)."""

    ordinal: Count
    where: str
    key: str
    value: str


@dataclass(frozen=True)
class ReplayRecipe:
    """How the submitter would run one task of the job again (``minimr replay``): what a
    dashboard needs to print the command for a failed task. Never run by the cluster."""

    job: FilePath  # the JOB argument: file.py or file.py:Class
    inputs: tuple[FilePath, ...]
    reducers: Count | None = None
    split_size: ByteOffset = 64 * 2**20
    combine_files: bool = False
    job_args: tuple[FilePath, ...] = ()  # the job's own options and --file, as words


@dataclass(frozen=True)
class StepLayout:
    """What one step of a job asks for: its reducers, whether a sample cuts its partitions
    (a range partitioner), and the digest of the input splits its map tasks must read
    (``dataflow/layout.py``)."""

    reducers: Count
    sampled: bool
    inputs: Digest


@dataclass(frozen=True)
class JobLayout:
    """What a job asks for, step by step: the coordinator holds a prepare task's answer to
    it (``results.py``), since a worker, not the submitter, lists a step's tasks."""

    steps: tuple[StepLayout, ...]


@dataclass(frozen=True)
class Options:
    """A submission's options for the coordinator (how hard to try, how long to wait), and
    what to show the people watching it (``replay``)."""

    max_attempts: Attempts = MAX_ATTEMPTS
    speculation: bool = True
    task_timeout: Timeout | None = None
    worker_timeout: Timeout | None = None
    skip_bad_records: bool = False
    max_skips: Count = MAX_SKIPS
    replay: ReplayRecipe | None = None


# --- worker -> coordinator -------------------------------------------------------------


@dataclass(frozen=True)
class Ready(Message):
    """A worker registers: who it is, its capacity and where it serves map outputs (and
    keeps them: ``folder``).

    ``shuffle_key`` is its shuffle server's CURVE public key (Z85; empty without keys). The
    coordinator hands reducers the key the worker authenticated with instead (one key pair
    serves both), so a worker cannot name another's server as its own.
    """

    command: ClassVar[Command] = Command.READY
    name: Name
    host: Name
    pid: Count
    slots: Slots
    shuffle_address: Address
    shuffle_key: CurveKey = ""
    minimr_version: Name = MINIMR_VERSION
    python_version: Name = PYTHON_VERSION
    #: its work folder, where its map outputs are (a reducer on the same host reads them there)
    folder: FilePath = ""
    #: map outputs it still holds, so a restarted coordinator need not run those maps again
    outputs: tuple[HeldOutput, ...] = ()
    #: identities of dead workers whose folder it adopted (``workdir.py``): drop them now
    replaces: tuple[WorkerId, ...] = ()


@dataclass(frozen=True)
class Heartbeat(Message):
    """A sign of life, both ways (any message also counts as one)."""

    command: ClassVar[Command] = Command.HEARTBEAT


@quick_init
@dataclass(frozen=True)
class TaskDone(Message):
    """An attempt succeeded: a map's output, a prepare's task lists, else None."""

    command: ClassVar[Command] = Command.TASK_DONE
    job_id: JobId
    attempt: AttemptId
    output: MapOutputRef | TaskLists | None
    counters: Counters
    elapsed: Seconds


@dataclass(frozen=True)
class TaskFailed(Message):
    """An attempt failed in user code (``crashed``: its executor process died; ``final``: no
    retry can succeed, such as a mistake in the job's code or a plan the worker cannot load)."""

    command: ClassVar[Command] = Command.TASK_FAILED
    job_id: JobId
    attempt: AttemptId
    error: str
    stderr: str = ""
    crashed: bool = False
    record: RecordLocation | None = None  # skip mode: the record user code failed on
    final: bool = False


@dataclass(frozen=True)
class FetchFailed(Message):
    """A reduce attempt could not fetch these map outputs: ``[[map_index, map_attempt]]``."""

    command: ClassVar[Command] = Command.FETCH_FAILED
    job_id: JobId
    attempt: AttemptId
    maps: tuple[tuple[Count, AttemptId], ...]
    error: str = ""


@quick_init
@dataclass(frozen=True)
class CommitRequest(Message):
    """A reduce attempt asks whether it may rename its output into place."""

    command: ClassVar[Command] = Command.COMMIT_REQUEST
    job_id: JobId
    attempt: AttemptId


@dataclass(frozen=True)
class PlanRequest(Message):
    """A worker asks for a job's plan blob (once per job; it is cached)."""

    command: ClassVar[Command] = Command.PLAN_REQUEST
    job_id: JobId


@dataclass(frozen=True)
class LogData(Message):
    """A worker's answer to ``FetchLog``: an attempt's log from the offset asked, the offset
    to ask from next, whether the attempt still runs, or (``error``) why it has none."""

    command: ClassVar[Command] = Command.LOG_DATA
    blobs: ClassVar[tuple[str, ...]] = ("data",)
    request: RequestId
    job_id: JobId
    attempt: AttemptId
    offset: ByteOffset
    running: bool
    error: str
    data: bytes


@dataclass(frozen=True)
class Bye(Message):
    """A worker leaves on purpose (SIGTERM, Ctrl-C)."""

    command: ClassVar[Command] = Command.BYE


# --- coordinator -> worker -------------------------------------------------------------


@dataclass(frozen=True)
class Welcome(Message):
    """Registration accepted; the worker adopts the coordinator's heartbeat timing."""

    command: ClassVar[Command] = Command.WELCOME
    heartbeat_interval: Annotated[float, Bounds(0.001, 3600)]
    heartbeat_liveness: Annotated[int, Bounds(1, 1000)]


@dataclass(frozen=True)
class Reject(Message):
    """Registration or request refused, with the reason for a human."""

    command: ClassVar[Command] = Command.REJECT
    reason: str
    code: Name = ""  # machine-readable: "version", "unknown-job", "bad-options", "malformed"


@quick_init
@dataclass(frozen=True)
class Assign(Message):
    """Run ``task`` (a task spec of kind prepare/map/reduce/commit) as ``attempt``.

    A reduce reads table number ``table`` of where its step's map outputs are: the same
    table for every reduce of the step, sent to a worker in ``inputs`` with the first
    reduce of the step it gets (and again with the first after the table changed: a map
    run again after its holder was lost), then named by its number alone. The worker keeps
    the last table of each step until its job is forgotten (``ForgetJob``) or it registers
    again. Encoded once and sent as a frame of its own (``shared``).
    """

    command: ClassVar[Command] = Command.ASSIGN
    shared: ClassVar[tuple[str, ...]] = ("inputs",)
    job_id: JobId
    attempt: AttemptId
    kind: TaskKind
    task: Plain
    inputs: ReduceInputs | None = None
    table: Count = 0  # the number of the table a reduce reads (0: not a reduce)


@dataclass(frozen=True)
class Plan(Message):
    """A job's serialized plan, opaque to the coordinator."""

    command: ClassVar[Command] = Command.PLAN
    blobs: ClassVar[tuple[str, ...]] = ("blob",)
    job_id: JobId
    serializer: Name
    blob: bytes


@quick_init
@dataclass(frozen=True)
class CommitAnswer(Message):
    """Whether the attempt may commit (exactly one attempt per task gets ``ok``)."""

    command: ClassVar[Command] = Command.COMMIT_ANSWER
    job_id: JobId
    attempt: AttemptId
    ok: bool


@dataclass(frozen=True)
class CancelAttempt(Message):
    """Stop this attempt (its job ended, or another attempt won the race)."""

    command: ClassVar[Command] = Command.CANCEL_ATTEMPT
    job_id: JobId
    attempt: AttemptId


@dataclass(frozen=True)
class Reconnect(Message):
    """The coordinator does not know this worker (any more): drop attempts, re-register."""

    command: ClassVar[Command] = Command.RECONNECT
    reason: str


@dataclass(frozen=True)
class ForgetJob(Message):
    """The job ended: drop its plan and delete its map outputs."""

    command: ClassVar[Command] = Command.FORGET_JOB
    job_id: JobId


@dataclass(frozen=True)
class FetchLog(Message):
    """Send an attempt's log from ``offset`` (of its output stream; ``tasklogs.py``)."""

    command: ClassVar[Command] = Command.FETCH_LOG
    request: RequestId
    job_id: JobId
    attempt: AttemptId
    offset: ByteOffset = 0


# --- client <-> coordinator ------------------------------------------------------------


@dataclass(frozen=True)
class Submit(Message):
    """A client submits a job: plain-data options plus the opaque plan blob."""

    command: ClassVar[Command] = Command.SUBMIT
    blobs: ClassVar[tuple[str, ...]] = ("blob",)
    job_id: JobId
    name: Name
    steps: Steps
    options: Options
    serializer: Name
    blob: bytes
    minimr_version: Name = MINIMR_VERSION
    python_version: Name = PYTHON_VERSION
    #: what the job asks for, which prepare results are checked against (None: no check)
    layout: JobLayout | None = None


@dataclass(frozen=True)
class Watch(Message):
    """A client asks for a job's progress (also its heartbeat while it waits)."""

    command: ClassVar[Command] = Command.WATCH
    job_id: JobId


@dataclass(frozen=True)
class CancelJob(Message):
    """A client cancels a job (Ctrl-C on ``minimr submit``, or ``minimr cancel``); ``by``
    says who, for the coordinator's log. The sender gets the job's ``JobResult`` (or a
    ``Reject`` for an unknown job)."""

    command: ClassVar[Command] = Command.CANCEL_JOB
    job_id: JobId
    by: Name = ""


@dataclass(frozen=True)
class StatusRequest(Message):
    """Ask for the cluster's workers and jobs; with ``job_id``, for that one job in detail
    (``views.job_detail``); with ``history``, also the finished jobs the coordinator's
    ``--state-dir`` remembers."""

    command: ClassVar[Command] = Command.STATUS_REQUEST
    job_id: JobId | None = None
    history: bool = False


@dataclass(frozen=True)
class LogRequest(Message):
    """Ask for an attempt's log (``minimr logs``) from ``offset`` on; the coordinator asks
    the worker that ran it."""

    command: ClassVar[Command] = Command.LOG_REQUEST
    job_id: JobId
    attempt: AttemptId
    offset: ByteOffset = 0


@dataclass(frozen=True)
class LogReply(Message):
    """An attempt's log from the offset asked (``data``), the offset to ask from next,
    whether the attempt still runs; or ``error``: why there is none (its worker is gone,
    did not answer, keeps it no more)."""

    command: ClassVar[Command] = Command.LOG_REPLY
    blobs: ClassVar[tuple[str, ...]] = ("data",)
    job_id: JobId
    attempt: AttemptId
    offset: ByteOffset
    running: bool
    error: str
    data: bytes


@dataclass(frozen=True)
class Submitted(Message):
    """The job was accepted and queued."""

    command: ClassVar[Command] = Command.SUBMITTED
    job_id: JobId


@dataclass(frozen=True)
class Progress(Message):
    """A snapshot of a job: state, tasks done of total, workers, elapsed."""

    command: ClassVar[Command] = Command.PROGRESS
    job_id: JobId
    snapshot: Plain


@dataclass(frozen=True)
class JobResult(Message):
    """A job ended: its final state, the counters of each task (once each), the error."""

    command: ClassVar[Command] = Command.JOB_RESULT
    job_id: JobId
    state: Name
    snapshot: Plain
    counters: tuple[Counters, ...]
    error: Plain | None = None


@dataclass(frozen=True)
class StatusReply(Message):
    """The cluster's workers and jobs."""

    command: ClassVar[Command] = Command.STATUS_REPLY
    status: Plain


# --- shuffle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchChunk(Message):
    """Ask a worker's shuffle server for up to ``length`` bytes of one partition of a map
    output (that of attempt ``attempt`` of job ``job_id``), from ``offset`` in the partition.
    The server finds the file and the partition's byte range itself: a fetcher names no path."""

    command: ClassVar[Command] = Command.FETCH_CHUNK
    request: RequestId
    job_id: JobId
    attempt: AttemptId
    partition: Count
    offset: ByteOffset
    length: Length
    codec: Name = ""  # how the fetcher can take the bytes: "zstd", or "" for as they are


@dataclass(frozen=True)
class Chunk(Message):
    """The bytes asked for by ``request`` (fewer at the partition's end), and the length of
    the whole partition (``total``); or an ``error`` (then ``data`` is empty)."""

    command: ClassVar[Command] = Command.CHUNK
    blobs: ClassVar[tuple[str, ...]] = ("data",)
    request: RequestId
    error: str
    data: bytes
    codec: Name = ""  # how ``data`` is encoded: "zstd" (a frame of the bytes asked for) or ""
    total: ByteOffset = 0
