"""The wire codec: a message of ``protocol.py`` to ZeroMQ frames and back, checked.

Every message is a ZeroMQ multipart message::

    [header, body, *shared, *blobs]

- ``header`` is 6 bytes: the magic ``b"MMR"``, the protocol version (one byte) and
  the command (two bytes, big endian).
- ``body`` is a UTF-8 JSON object holding the message's plain-data fields.
- ``shared`` are fields that many messages carry the same value of (a step's table of map
  output holders, in every reduce's ``Assign``), each the JSON of its value in a frame of
  its own: made once, and the same bytes sent (without a copy) in every message. They are
  checked as they are decoded, as the body's fields are.
- ``blobs`` are raw frames for opaque bytes (the cloudpickled job plan). They are
  carried, never interpreted: the coordinator forwards a plan blob to workers but
  never unpickles it, so a hostile frame cannot run code in the coordinator.

Several messages to one peer may travel as one *batch* (:func:`batch`), three frames
whatever the number of messages::

    [batch header, table, body]

- the batch header is a header of command ``BATCH``;
- the table is little-endian unsigned 32-bit words: for each message, in order, its *kind
  word* (its command x 65,536 + the number of its frames after the header, its *parts*),
  then the length in bytes of each of its parts;
- the body is those parts' bytes, end to end, in the table's order.

:func:`unbatch` takes a batch apart into the frames each message would have come with
alone (a header of its command, of this version, then its parts, cut from the body), and
each message is then decoded, checked and served as if it had come alone: a message of an
unknown command, or with the wrong number of parts, costs only itself. The table gives
lengths, not offsets, so parts can neither overlap nor leave gaps: the layout is refused
whole (:class:`MalformedBatch`) only when the lengths do not cover the body exactly (one
runs past its end, or bytes are left after the last part), when the table ends inside an
entry or is not whole words, when an entry has more than ``MAX_PARTS`` parts, or when it
holds fewer than 2 or more than ``MAX_BATCH`` messages. A message with a frame of
``LARGE_FRAME`` bytes or more (a reduce's table of map output holders, a plan) travels
alone, not joined into a body (:func:`deliveries`): such a frame is sent without a copy, the
same bytes to every worker, where a body would copy it once per worker.

The coordinator sends each worker the messages of one loop turn together (the tasks of the
slots that freed in it), and a worker its results of one turn: at 1,000 workers most of a
task's cost was the messages, not the scheduling, and then each frame's (a batch of 4 map
assignments was 14 frames, each sent, queued and received on its own).

A ROUTER socket sees the sender's routing identity in front of these frames; the
transport strips it (see ``transport.py``), so this module only deals in the frames
above. :func:`encode` and :func:`decode` are the only functions that know the layout. A
peer that sends anything else gets a :class:`ProtocolError` raised at it (never an
``assert``): the caller logs and drops the message. Every field, however deep, is checked
as it is decoded, by the converters ``wiretypes.py`` builds from the messages' type hints.
"""

from __future__ import annotations

import dataclasses
import struct
import typing

from minimr.cluster.wire.protocol import (
    AttemptId,
    Command,
    CommitRequest,
    JobId,
    MapOutputRef,
    Message,
    Reject,
    TaskDone,
)
from minimr.cluster.wire.wiretypes import (
    INT64,
    Converter,
    Invalid,
    Name,
    ascii_fit,
    converter,
    dumps,
    loads,
    record_converter,
)

MAGIC = b"MMR"
#: 2: a map reports its partition count and size, not each partition's byte range; a
#: reduce's assignment holds one table of the step's map output holders (``ReduceInputs``);
#: a fetch names a map output and a partition, not a path and a byte range.
#: 3: several messages to one peer may travel as one batch (:func:`batch`)
#: 4: a reduce's table of map output holders is sent to a worker once per step (and again
#: when it changes), each reduce's ``Assign`` naming its number (``Assign.table``)
#: 5: a batch is three frames (header, table, body), not one frame per field of each message
VERSION = 5
_HEADER = struct.Struct(">3sBH")


class ProtocolError(Exception):
    """A frame that is not a valid minimr message (the peer is dropped, not trusted)."""


class MalformedMessage(ProtocolError):
    """A message of a known command whose frames or fields do not fit it.

    Attributes:
        command: the message class the header named.
        job_id, attempt: those fields when they were present and sound ("" if not), so
            the coordinator can fail the attempt a worker's malformed result was about.
    """

    def __init__(self, command: type[Message], problem: str, body: dict) -> None:
        super().__init__(f"{command.__name__}: {problem}")
        self.command = command
        self.job_id = _sound(JobId, body.get("job_id"))
        self.attempt = _sound(AttemptId, body.get("attempt"))


def _sound(hint: object, value: object) -> str:
    """``value`` if it fits ``hint`` (a str field), else ""."""
    try:
        return converter(hint)(value)
    except Invalid:
        return ""


class MalformedBatch(ProtocolError):
    """A batch whose own layout is wrong (its messages cannot be told apart)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"Batch: {problem}")


class VersionMismatch(ProtocolError):
    """A well-formed header of another protocol version."""

    def __init__(self, version: int, command: int) -> None:
        super().__init__(
            f"peer speaks minimr protocol version {version}, this process speaks {VERSION}"
        )
        self.version = version
        self.command = command  # the header's command number (that version's)


def version_refusal(version: int, reason: str) -> list[bytes]:
    """A ``Reject`` (code "version") a peer of protocol ``version`` can read.

    A ``Reject`` has been a header and a JSON object of ``reason`` and ``code`` in every
    version from 1 to this one: to a peer of an older version it goes with that version in
    its header, so the peer decodes it and says why it was turned away, rather than drop a
    message of a version it does not speak. A peer of a newer version gets ours.
    """
    frames = encode(Reject(reason, "version"))
    if 1 <= version < VERSION:
        frames[0] = _HEADER.pack(MAGIC, version, Command.REJECT)
    return frames


MESSAGES: dict[Command, type[Message]] = {
    cls.command: cls
    for cls in Message.__subclasses__()  # type: ignore[attr-defined]
}

#: each message class by its command's number (``Command(number)`` costs an enum lookup)
_BY_NUMBER: dict[int, type[Message]] = {int(number): cls for number, cls in MESSAGES.items()}
#: each message's header, and the fields its JSON body holds (in order: all but its shared
#: fields and blobs)
_HEADERS = {cls: _HEADER.pack(MAGIC, VERSION, cls.command) for cls in MESSAGES.values()}
_BODY_FIELDS = {
    cls: tuple(f.name for f in dataclasses.fields(cls) if f.name not in cls.blobs + cls.shared)
    for cls in MESSAGES.values()
}
#: the frames each message takes: header, body, shared fields, blobs
_FRAMES = {cls: 2 + len(cls.shared) + len(cls.blobs) for cls in MESSAGES.values()}

#: each message's body converter: JSON object in, checked field values out (blobs and shared
#: fields aside)
_BODIES = {
    cls: record_converter(cls, skip=cls.blobs + cls.shared, build=False)
    for cls in MESSAGES.values()
}


# --- the results' decoders: one pass for the usual body ----------------------------------
#
# A worker sends a TaskDone per task (and a CommitRequest per reduce): at 15,000 tasks a
# second, the general converter's call per field (and per field of the output and counters)
# was a fifth of the coordinator's time. These take the usual body in one pass, with every
# check the general converter makes; anything else (a prepare's task lists, an int where a
# float goes, a non-ASCII string, a field missing or unknown, a value out of range) goes to
# the general converter, which takes it or says why not.

_job_id_fits = ascii_fit(JobId)
_attempt_fits = ascii_fit(AttemptId)
_name_fits = ascii_fit(Name)
_TASK_DONE_FIELDS = frozenset(("job_id", "attempt", "output", "counters", "elapsed"))
_COMMIT_FIELDS = frozenset(("job_id", "attempt"))
_OUTPUT_FIELDS = frozenset(("partitions", "size"))
_MAX_COUNT = 2**31 - 1  # protocol.Count
_MAX_OFFSET = 2**53  # protocol.ByteOffset
_MAX_SECONDS = 10**9  # protocol.Seconds
_LOW, _HIGH = INT64  # protocol.Amount


def _counters_fit(counters: object) -> bool:
    """Whether a TaskDone's counters are ``{group: {name: int64}}`` with ASCII names."""
    if type(counters) is not dict:
        return False
    for group, values in counters.items():
        if not _name_fits(group) or type(values) is not dict:
            return False
        for name, value in values.items():
            if not _name_fits(name) or type(value) is not int or not _LOW <= value <= _HIGH:
                return False
    return True


def _task_done_body(general: Converter) -> Converter:
    """TaskDone's body converter: a map's or a reduce's usual result in one pass."""

    def convert(body: dict) -> dict:
        if body.keys() == _TASK_DONE_FIELDS:
            output, elapsed = body["output"], body["elapsed"]
            if (
                _job_id_fits(body["job_id"])
                and _attempt_fits(body["attempt"])
                and type(elapsed) is float
                and 0.0 <= elapsed <= _MAX_SECONDS
                and _counters_fit(body["counters"])
            ):
                if output is None:
                    return body
                if type(output) is dict and output.keys() == _OUTPUT_FIELDS:
                    partitions, size = output["partitions"], output["size"]
                    if (
                        type(partitions) is int
                        and type(size) is int
                        and 0 <= partitions <= _MAX_COUNT
                        and 0 <= size <= _MAX_OFFSET
                    ):
                        return {**body, "output": MapOutputRef(partitions, size)}
        return general(body)

    return convert


def _commit_request_body(general: Converter) -> Converter:
    """CommitRequest's body converter: the usual one in one pass."""

    def convert(body: dict) -> dict:
        if (
            body.keys() == _COMMIT_FIELDS
            and _job_id_fits(body["job_id"])
            and _attempt_fits(body["attempt"])
        ):
            return body
        return general(body)

    return convert


_BODIES[TaskDone] = _task_done_body(_BODIES[TaskDone])
_BODIES[CommitRequest] = _commit_request_body(_BODIES[CommitRequest])

#: each message's shared fields and their converters, in frame order
_SHARED = {
    cls: [(name, converter(typing.get_type_hints(cls, include_extras=True)[name]))
          for name in cls.shared]
    for cls in MESSAGES.values()
}


def encode(message: Message) -> list[bytes]:
    """Turn a message into its frames.

    Args:
        message: any message dataclass of this module.

    Returns:
        ``[header, json_body, *blobs]``.

    Raises:
        ValueError: a field holds a non-finite float (never sent: the peer would refuse it).
    """
    cls = type(message)
    fields = message.__dict__
    frames = [_HEADERS[cls], dumps({name: fields[name] for name in _BODY_FIELDS[cls]})]
    if cls.shared:
        frames.extend(_encoded(fields[name]) for name in cls.shared)
    if cls.blobs:
        frames.extend(fields[name] for name in cls.blobs)
    return frames


def _encoded(record: object) -> bytes:
    """A shared field's JSON: a record's is made at its first message and kept on it (it is
    frozen: its JSON never changes)."""
    if record is None:
        return b"null"
    cached = record.__dict__.get("_json")
    if cached is None:
        cached = dumps(record)
        object.__setattr__(record, "_json", cached)
    return cached


#: messages one batch may hold at most
MAX_BATCH = 10_000
#: frames after its header one message of a batch may have at most (2 today: an ``Assign``'s
#: body and table, a ``Plan``'s body and blob): a bound on the table a peer can make us read
MAX_PARTS = 64
#: a frame this long or longer travels in a message alone, not joined into a batch's body
#: (``transport.py`` sends it without a copy: the same bytes to every worker it goes to)
LARGE_FRAME = 65536
_BATCH_HEADER = _HEADER.pack(MAGIC, VERSION, Command.BATCH)
#: a batch's table at most: ``MAX_BATCH`` entries of ``MAX_PARTS`` lengths and a kind word
MAX_TABLE = 4 * MAX_BATCH * (1 + MAX_PARTS)
#: each message header's command x 65,536, the high half of its kind word in a batch's table
_KIND = {header: cls.command << 16 for cls, header in _HEADERS.items()}
#: each command's header (a batch's messages are given their own again)
_HEADER_OF = {int(cls.command): header for cls, header in _HEADERS.items()}
_HEADER_OF[Command.BATCH] = _BATCH_HEADER


def _kind(header: bytes) -> int:
    """The high half of a message's kind word: its header's command x 65,536 (any command
    number, so that a peer's batch of messages of unknown commands can be made in tests).

    Raises:
        ValueError: ``header`` is not a minimr header of this version.
    """
    kind = _KIND.get(header)
    if kind is not None:
        return kind
    header = bytes(header)
    if len(header) != _HEADER.size or header[:3] != MAGIC or header[3] != VERSION:
        raise ValueError(f"not a minimr header of version {VERSION}: {header[:8]!r}")
    return _HEADER.unpack(header)[2] << 16


def batch(messages: list[list[bytes]]) -> list[bytes]:
    """The three frames of one message that carries ``messages`` (each :func:`encode`'s
    frames) to the same peer; one message stays as it is.

    Raises:
        ValueError: more than ``MAX_BATCH`` messages, a message of more than ``MAX_PARTS``
            frames after its header, or one whose header is not one of this version.
    """
    if len(messages) == 1:
        return messages[0]
    if len(messages) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} messages (got {len(messages)})")
    words: list[int] = []
    parts: list[bytes] = []
    for message in messages:
        count = len(message) - 1
        if count > MAX_PARTS:
            raise ValueError(f"a message of a batch has at most {MAX_PARTS} parts (got {count})")
        words.append(_kind(message[0]) | count)
        rest = message[1:]
        words.extend(map(len, rest))
        parts += rest
    return [_BATCH_HEADER, struct.pack(f"<{len(words)}I", *words), b"".join(parts)]


def deliveries(messages: list[list[bytes]]) -> list[list[bytes]]:
    """The deliveries (each one message's frames) that carry ``messages`` to one peer, in
    order: each run of them as one :func:`batch` of at most ``MAX_BATCH`` (a run of one as it
    is), and a message with a frame of ``LARGE_FRAME`` bytes or more alone, between them."""
    if len(messages) == 1:
        return messages
    sent: list[list[bytes]] = []
    run: list[list[bytes]] = []
    for message in messages:
        if max(map(len, message)) >= LARGE_FRAME:
            if run:
                sent.append(batch(run))
                run = []
            sent.append(message)
            continue
        run.append(message)
        if len(run) == MAX_BATCH:
            sent.append(batch(run))
            run = []
    if run:
        sent.append(batch(run))
    return sent


def unbatch(frames: list[bytes]) -> list[list[bytes]]:
    """The messages ``frames`` carries: a batch's, each as the frames it would have come
    with alone, for :func:`decode`; or ``[frames]``.

    Only the batch's own layout is checked here (see the module's docstring); each message
    is checked as it is decoded, and :func:`decode` refuses a batch inside a batch.

    Raises:
        MalformedBatch: the layout does not add up.
    """
    if not frames or frames[0] != _BATCH_HEADER:
        return [frames]
    if len(frames) != 3:
        raise MalformedBatch(f"takes 3 frames (header, table, body), got {len(frames)}")
    table, body = bytes(frames[1]), bytes(frames[2])
    size = len(table)
    if size % 4 or not 8 <= size <= MAX_TABLE:
        raise MalformedBatch(
            f"its table must be whole 32-bit words, 8 to {MAX_TABLE} bytes (got {size})"
        )
    words = struct.unpack(f"<{size // 4}I", table)
    end = len(words)
    header_of = _HEADER_OF.get
    messages: list[list[bytes]] = []
    at = offset = 0
    while at < end:
        kind = words[at]
        count = kind & 0xFFFF
        at += 1
        if count > MAX_PARTS or at + count > end:
            raise MalformedBatch(
                f"entry {len(messages)} names {count} parts (at most {MAX_PARTS}), "
                f"{end - at} words are left"
            )
        if len(messages) == MAX_BATCH:
            raise MalformedBatch(f"holds more than {MAX_BATCH} messages")
        command = kind >> 16
        message = [header_of(command) or _HEADER.pack(MAGIC, VERSION, command)]
        for length in words[at:at + count]:
            message.append(body[offset:offset + length])
            offset += length
        at += count
        messages.append(message)
    if offset != len(body):
        raise MalformedBatch(
            f"its table's lengths add up to {offset} bytes, its body holds {len(body)}"
        )
    if len(messages) < 2:
        raise MalformedBatch("holds one message (a message alone travels as it is)")
    return messages


def decode_all(frames: list[bytes]) -> list[Message]:
    """The messages of one delivery: a batch's, or the one ``frames`` holds (a peer that
    serves each message on its own calls :func:`unbatch` and :func:`decode` itself).

    Raises:
        ProtocolError: the batch, or one of its messages, is malformed.
    """
    return [decode(part) for part in unbatch(frames)]


def decode(frames: list[bytes]) -> Message:
    """Turn frames into a message, checking every field a peer could get wrong.

    Raises:
        VersionMismatch: the header is minimr's, of another protocol version.
        ProtocolError: anything else that is not a valid message; its ``command``,
            ``job_id`` and ``attempt`` say what it claimed to be, when that much was sound.
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
        raise VersionMismatch(version, number)
    if number == Command.BATCH:
        raise ProtocolError("a batch where a message was expected (a batch inside a batch?)")
    cls = _BY_NUMBER.get(number)
    if cls is None:
        raise ProtocolError(f"unknown command {number}")
    if len(frames) != _FRAMES[cls]:
        raise MalformedMessage(cls, f"takes {_FRAMES[cls]} frames (got {len(frames)})", {})
    try:
        body = loads(bytes(frames[1]))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # "[[[[..." recurses
        raise MalformedMessage(cls, f"body is not JSON fit for the wire: {exc}", {}) from None
    if type(body) is not dict:
        raise MalformedMessage(cls, f"body must be a JSON object (got {type(body).__name__})", {})
    try:  # (typed fields bound their own depth; Plain ones check theirs)
        fields = _BODIES[cls](body)
    except Invalid as exc:
        raise MalformedMessage(cls, str(exc), body) from None
    for index, (name, convert) in enumerate(_SHARED[cls], start=2):  # (most have none)
        try:
            fields[name] = convert(loads(bytes(frames[index])))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # Invalid too
            problem = exc.at(f".{name}") if isinstance(exc, Invalid) else f"{name}: {exc}"
            raise MalformedMessage(cls, str(problem), body) from None
    for index, name in enumerate(cls.blobs, start=2 + len(cls.shared)):
        fields[name] = bytes(frames[index])
    return cls(**fields)
