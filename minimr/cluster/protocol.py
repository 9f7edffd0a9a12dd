"""The whole wire vocabulary of a minimr cluster, in one place.

Every message is a ZeroMQ multipart message::

    [header, body, *blobs]

- ``header`` is 6 bytes: the magic ``b"MMR"``, the protocol version (one byte) and
  the command (two bytes, big endian).
- ``body`` is a UTF-8 JSON object holding the message's plain-data fields.
- ``blobs`` are raw frames for opaque bytes (the cloudpickled job plan). They are
  carried, never interpreted: the coordinator forwards a plan blob to workers but
  never unpickles it, so a hostile frame cannot run code in the coordinator.

A ROUTER socket sees the sender's routing identity in front of these frames; the
transport strips it (see ``transport.py``), so this module only deals in the frames
above. Each message is a frozen dataclass; :func:`encode` and :func:`decode` are the
only functions that know the layout. A peer that sends anything else gets a
:class:`ProtocolError` raised at it (never an ``assert``): the caller logs and drops
the message.

Who sends what::

    worker -> coordinator   Ready Heartbeat TaskDone TaskFailed FetchFailed
                            CommitRequest PlanRequest Bye
    coordinator -> worker   Welcome Reject Assign Plan CommitAnswer CancelAttempt
                            Reconnect ForgetJob Heartbeat
    client -> coordinator   Submit Watch CancelJob StatusRequest
    coordinator -> client   Submitted Progress JobResult StatusReply Reject

With keys (``security.py``), the coordinator also checks that the sender's key has the
role a message needs (worker messages: a worker key; Submit, Watch, CancelJob: a
submitter key) and answers ``Reject(code="unauthorized")`` otherwise.
    reducer -> worker       FetchChunk           (the shuffle, see ``shuffle.py``)
    worker -> reducer       Chunk
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import struct
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

MAGIC = b"MMR"
VERSION = 1
#: seconds between heartbeats, both ways (a coordinator may set its own; its Welcome says)
HEARTBEAT_INTERVAL = 1.0
#: heartbeats a peer may miss before it is declared dead (Paranoid Pirate's liveness)
HEARTBEAT_LIVENESS = 3
_HEADER = struct.Struct(">3sBH")

#: minimr's version as sent at registration; peers must agree on it.
MINIMR_VERSION = "0.1.0"
#: Python major.minor: cloudpickled code only loads on the same minor version.
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


class ProtocolError(Exception):
    """A frame that is not a valid minimr message (the peer is dropped, not trusted)."""


class VersionMismatch(ProtocolError):
    """A well-formed header of another protocol version."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"peer speaks minimr protocol version {version}, this process speaks {VERSION}"
        )
        self.version = version


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
    # coordinator -> worker
    WELCOME = 20
    REJECT = 21
    ASSIGN = 22
    PLAN = 23
    COMMIT_ANSWER = 24
    CANCEL_ATTEMPT = 25
    RECONNECT = 26
    FORGET_JOB = 27
    # client -> coordinator
    SUBMIT = 40
    WATCH = 41
    CANCEL_JOB = 42
    STATUS_REQUEST = 43
    # coordinator -> client
    SUBMITTED = 50
    PROGRESS = 51
    JOB_RESULT = 52
    STATUS_REPLY = 53
    # shuffle: a reduce attempt fetching from a worker's map-output server
    FETCH_CHUNK = 60
    CHUNK = 61


class Message:
    """Base of all messages: subclasses set ``command`` and, if any, ``blobs``."""

    command: ClassVar[Command]
    #: names of ``bytes`` fields that travel as raw frames after the JSON body
    blobs: ClassVar[tuple[str, ...]] = ()


# --- worker -> coordinator -------------------------------------------------------------


@dataclass(frozen=True)
class Ready(Message):
    """A worker registers: who it is, its capacity and where it serves map outputs.

    ``shuffle_key`` is its shuffle server's CURVE public key (Z85; empty without keys),
    handed to reducers so they know they reach that very worker.
    """

    command: ClassVar[Command] = Command.READY
    name: str
    host: str
    pid: int
    slots: int
    shuffle_address: str
    shuffle_key: str = ""
    minimr_version: str = MINIMR_VERSION
    python_version: str = PYTHON_VERSION
    #: map outputs it still holds, ``[[job_id, attempt, {"path", "partitions"}], ...]``, so a
    #: restarted coordinator need not run those maps again
    outputs: list | None = None
    #: identities of dead workers whose folder it adopted (``workdir.py``): drop them now
    replaces: list | None = None


@dataclass(frozen=True)
class Heartbeat(Message):
    """A sign of life, both ways (any message also counts as one)."""

    command: ClassVar[Command] = Command.HEARTBEAT


@dataclass(frozen=True)
class TaskDone(Message):
    """An attempt succeeded; ``output`` is the task kind's plain-data result."""

    command: ClassVar[Command] = Command.TASK_DONE
    job_id: str
    attempt: str
    output: dict | None
    counters: dict
    elapsed: float


@dataclass(frozen=True)
class TaskFailed(Message):
    """An attempt failed in user code (``crashed``: its executor process died; ``final``: no
    retry can succeed, such as a mistake in the job's code or a plan the worker cannot load)."""

    command: ClassVar[Command] = Command.TASK_FAILED
    job_id: str
    attempt: str
    error: str
    stderr: str = ""
    crashed: bool = False
    record: dict | None = None  # skip mode: the record user code failed on (``skips.py``)
    final: bool = False


@dataclass(frozen=True)
class FetchFailed(Message):
    """A reduce attempt could not fetch these map outputs: ``[[map_index, map_attempt]]``."""

    command: ClassVar[Command] = Command.FETCH_FAILED
    job_id: str
    attempt: str
    maps: list
    error: str = ""


@dataclass(frozen=True)
class CommitRequest(Message):
    """A reduce attempt asks whether it may rename its output into place."""

    command: ClassVar[Command] = Command.COMMIT_REQUEST
    job_id: str
    attempt: str


@dataclass(frozen=True)
class PlanRequest(Message):
    """A worker asks for a job's plan blob (once per job; it is cached)."""

    command: ClassVar[Command] = Command.PLAN_REQUEST
    job_id: str


@dataclass(frozen=True)
class Bye(Message):
    """A worker leaves on purpose (SIGTERM, Ctrl-C)."""

    command: ClassVar[Command] = Command.BYE


# --- coordinator -> worker -------------------------------------------------------------


@dataclass(frozen=True)
class Welcome(Message):
    """Registration accepted; the worker adopts the coordinator's heartbeat timing."""

    command: ClassVar[Command] = Command.WELCOME
    heartbeat_interval: float
    heartbeat_liveness: int


@dataclass(frozen=True)
class Reject(Message):
    """Registration or request refused, with the reason for a human."""

    command: ClassVar[Command] = Command.REJECT
    reason: str
    code: str = ""  # machine-readable: "version", "unknown-job", "bad-options"


@dataclass(frozen=True)
class Assign(Message):
    """Run ``task`` (a task dict of kind prepare/map/reduce/commit) as ``attempt``.

    For a reduce, ``inputs`` lists where each map output's partition lives.
    """

    command: ClassVar[Command] = Command.ASSIGN
    job_id: str
    attempt: str
    kind: str
    task: dict
    inputs: list | None = None


@dataclass(frozen=True)
class Plan(Message):
    """A job's serialized plan, opaque to the coordinator."""

    command: ClassVar[Command] = Command.PLAN
    blobs: ClassVar[tuple[str, ...]] = ("blob",)
    job_id: str
    serializer: str
    blob: bytes


@dataclass(frozen=True)
class CommitAnswer(Message):
    """Whether the attempt may commit (exactly one attempt per task gets ``ok``)."""

    command: ClassVar[Command] = Command.COMMIT_ANSWER
    job_id: str
    attempt: str
    ok: bool


@dataclass(frozen=True)
class CancelAttempt(Message):
    """Stop this attempt (its job ended, or another attempt won the race)."""

    command: ClassVar[Command] = Command.CANCEL_ATTEMPT
    job_id: str
    attempt: str


@dataclass(frozen=True)
class Reconnect(Message):
    """The coordinator does not know this worker (any more): drop attempts, re-register."""

    command: ClassVar[Command] = Command.RECONNECT
    reason: str


@dataclass(frozen=True)
class ForgetJob(Message):
    """The job ended: drop its plan and delete its map outputs."""

    command: ClassVar[Command] = Command.FORGET_JOB
    job_id: str


# --- client <-> coordinator ------------------------------------------------------------


@dataclass(frozen=True)
class Submit(Message):
    """A client submits a job: plain-data options plus the opaque plan blob."""

    command: ClassVar[Command] = Command.SUBMIT
    blobs: ClassVar[tuple[str, ...]] = ("blob",)
    job_id: str
    name: str
    steps: int
    options: dict
    serializer: str
    blob: bytes
    minimr_version: str = MINIMR_VERSION
    python_version: str = PYTHON_VERSION


@dataclass(frozen=True)
class Watch(Message):
    """A client asks for a job's progress (also its heartbeat while it waits)."""

    command: ClassVar[Command] = Command.WATCH
    job_id: str


@dataclass(frozen=True)
class CancelJob(Message):
    """A client cancels a job (Ctrl-C)."""

    command: ClassVar[Command] = Command.CANCEL_JOB
    job_id: str


@dataclass(frozen=True)
class StatusRequest(Message):
    """Ask for the cluster's workers and jobs."""

    command: ClassVar[Command] = Command.STATUS_REQUEST


@dataclass(frozen=True)
class Submitted(Message):
    """The job was accepted and queued."""

    command: ClassVar[Command] = Command.SUBMITTED
    job_id: str


@dataclass(frozen=True)
class Progress(Message):
    """A snapshot of a job: state, tasks done of total, workers, elapsed."""

    command: ClassVar[Command] = Command.PROGRESS
    job_id: str
    snapshot: dict


@dataclass(frozen=True)
class JobResult(Message):
    """A job ended: its final state, the counters of each task (once each), the error."""

    command: ClassVar[Command] = Command.JOB_RESULT
    job_id: str
    state: str
    snapshot: dict
    counters: list
    error: dict | None = None


@dataclass(frozen=True)
class StatusReply(Message):
    """The cluster's workers and jobs."""

    command: ClassVar[Command] = Command.STATUS_REPLY
    status: dict


# --- shuffle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchChunk(Message):
    """Ask a worker's shuffle server for ``length`` bytes of a map output file."""

    command: ClassVar[Command] = Command.FETCH_CHUNK
    request: int
    path: str
    offset: int
    length: int
    codec: str = ""  # how the fetcher can take the bytes: "zstd", or "" for as they are


@dataclass(frozen=True)
class Chunk(Message):
    """The bytes asked for by ``request``, or an ``error`` (then ``data`` is empty)."""

    command: ClassVar[Command] = Command.CHUNK
    blobs: ClassVar[tuple[str, ...]] = ("data",)
    request: int
    error: str
    data: bytes
    codec: str = ""  # how ``data`` is encoded: "zstd" (a frame of the bytes asked for) or ""


# --- encoding --------------------------------------------------------------------------

MESSAGES: dict[Command, type[Message]] = {
    cls.command: cls
    for cls in Message.__subclasses__()  # type: ignore[attr-defined]
}


def _field_types(cls: type[Message]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


_FIELDS: dict[type[Message], dict[str, Any]] = {cls: _field_types(cls) for cls in MESSAGES.values()}
_REQUIRED: dict[type[Message], frozenset[str]] = {
    cls: frozenset(
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.name not in cls.blobs
    )
    for cls in MESSAGES.values()
}


def _accepts(hint: Any, value: Any) -> bool:
    """Whether a decoded JSON value fits a field's type hint (shallowly)."""
    if isinstance(hint, types.UnionType):
        return any(_accepts(h, value) for h in hint.__args__)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def encode(message: Message) -> list[bytes]:
    """Turn a message into its frames.

    Args:
        message: any message dataclass of this module.

    Returns:
        ``[header, json_body, *blobs]``.
    """
    cls = type(message)
    body = {name: getattr(message, name) for name in _FIELDS[cls] if name not in cls.blobs}
    frames = [
        _HEADER.pack(MAGIC, VERSION, cls.command),
        json.dumps(body, separators=(",", ":")).encode(),
    ]
    frames.extend(getattr(message, name) for name in cls.blobs)
    return frames


_JOB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def decode(frames: list[bytes]) -> Message:
    """Turn frames into a message, checking everything a peer could get wrong.

    Raises:
        VersionMismatch: the header is minimr's, of another protocol version.
        ProtocolError: anything else that is not a valid message.
    """
    if len(frames) < 2:
        raise ProtocolError(f"expected at least 2 frames (header, body), got {len(frames)}")
    header = bytes(frames[0])
    if len(header) != _HEADER.size:
        raise ProtocolError(f"header must be {_HEADER.size} bytes (got {len(header)})")
    magic, version, number = _HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {magic!r} (expected {MAGIC!r})")
    if version != VERSION:
        raise VersionMismatch(version)
    try:
        cls = MESSAGES[Command(number)]
    except ValueError:
        raise ProtocolError(f"unknown command {number}") from None
    if len(frames) != 2 + len(cls.blobs):
        raise ProtocolError(f"{cls.__name__} takes {2 + len(cls.blobs)} frames (got {len(frames)})")
    try:
        body = json.loads(bytes(frames[1]))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # "[[[[..." recurses
        raise ProtocolError(f"{cls.__name__} body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError(
            f"{cls.__name__} body must be a JSON object (got {type(body).__name__})"
        )
    fields = _FIELDS[cls]
    unknown = body.keys() - fields.keys()
    if unknown:
        raise ProtocolError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    missing = _REQUIRED[cls] - body.keys()
    if missing:
        raise ProtocolError(f"{cls.__name__} lacks field(s) {sorted(missing)}")
    for name, value in body.items():
        if name in cls.blobs or not _accepts(fields[name], value):
            raise ProtocolError(
                f"{cls.__name__}.{name} must be {fields[name]} (got {value!r:.60} that is a "
                f"{type(value).__name__})"
            )
    job_id = body.get("job_id")
    if isinstance(job_id, str) and not _JOB_ID.fullmatch(job_id):
        # Job ids name folders on workers (removed when the job ends): no paths, no dots first.
        raise ProtocolError(f"{cls.__name__}.job_id {job_id!r:.60} is not a valid job id")
    for index, name in enumerate(cls.blobs, start=2):
        body[name] = bytes(frames[index])
    return cls(**body)
