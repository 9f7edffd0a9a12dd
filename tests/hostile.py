"""A generator of hostile messages: every way a peer could bend a valid message.

Starting from one valid sample of each message, :func:`cases` yields, for every field at
every depth (a map output's partitions, a reduce input's offset...), the same message
with that one value replaced by something a peer should not send: a value of the wrong
type, a huge or negative integer, a non-finite number (as raw JSON, since Python's
``json`` would write ``Infinity``), a NUL byte, a lone surrogate, deep nesting; and, per
message, a field missing, a field extra, or the wrong number of blob frames. Each case is
the raw frames a peer would put on the wire, so the decoder, a coordinator, a worker or a
shuffle server can be fed it as is.

Used by the decoder's unit tests (all cases), the coordinator's and worker's unit tests
(through the in-memory transport) and the end-to-end suite (a sample, at real processes).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire

#: one valid message of each command, with every optional nested record filled in
SAMPLES: tuple[p.Message, ...] = (
    p.Ready(
        "w",
        "host",
        12,
        2,
        "tcp://127.0.0.1:5000",
        folder="/w",
        outputs=(p.HeldOutput("j", "s0-m00000-a1", p.MapOutputRef(2, 7)),),
        replaces=("w-old",),
    ),
    p.Heartbeat(),
    p.TaskDone(
        "j", "s0-m00001-a1", p.MapOutputRef(2, 3), {"g": {"n": 1}}, 0.5
    ),
    p.TaskDone(
        "j",
        "s0-p00000-a1",
        p.TaskLists(({"step": 0, "index": 0, "reducers": 1},), ({"step": 0, "partition": 0},)),
        {},
        0.1,
    ),
    p.TaskFailed(
        "j", "s0-m00001-a1", "Traceback...", "stderr", record=p.RecordLocation(3, "r 3", "k", "v")
    ),
    p.FetchFailed("j", "s0-r00000-a1", ((1, "s0-m00001-a1"),), "timeout"),
    p.CommitRequest("j", "s0-r00000-a1"),
    p.PlanRequest("j"),
    p.Bye(),
    p.Welcome(1.0, 3),
    p.Reject("no", "version"),
    p.Assign(
        "j",
        "s0-r00000-a1",
        "reduce",
        {"step": 0, "partition": 0},
        p.ReduceInputs((p.Holder("h", "tcp://h:1", "", "/w"),), (0, 0), (1, 2)),
    ),
    p.Plan("j", "cloudpickle", b"\x80\x05opaque"),
    p.CommitAnswer("j", "s0-r00000-a1", True),
    p.CancelAttempt("j", "s0-r00000-a1"),
    p.Reconnect("unknown worker"),
    p.ForgetJob("j"),
    p.Submit(
        "j",
        "wc",
        1,
        p.Options(max_attempts=4, task_timeout=30.0, worker_timeout=5.0),
        "cloudpickle",
        b"blob",
    ),
    p.Watch("j"),
    p.CancelJob("j", "minimr cancel"),
    p.StatusRequest("j", history=True),
    p.LogRequest("j", "s0-m00001-a1", 10),
    p.LogReply("j", "s0-m00001-a1", 15, True, "", b"hello"),
    p.FetchLog(3, "j", "s0-m00001-a1", 10),
    p.LogData(3, "j", "s0-m00001-a1", 15, False, "no log here", b""),
    p.Submitted("j"),
    p.Progress("j", {"maps_done": 1}),
    p.JobResult("j", "succeeded", {}, ({"g": {"n": 1}},), {"message": "m"}),
    p.StatusReply({"workers": []}),
    p.FetchChunk(7, "j", "s0-m00001-a1", 1, 0, 1 << 20),
    p.Chunk(7, "", b"\x00data", total=5),
)

#: values a peer may put where any JSON value goes (raw JSON text, spliced in)
REPLACEMENTS: dict[str, str] = {
    "wrong type: string": '"x"',
    "wrong type: bool": "true",
    "wrong type: null": "null",
    "wrong type: list": "[1, 2]",
    "wrong type: object": '{"a": 1}',
    "wrong type: float": "1.5",
    "huge int": str(10**30),
    "int64 max + 1": str(2**63),
    "int64 min": str(-(2**63)),
    "negative": "-1",
    "big partition": "999",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "NaN": "NaN",
    "1e400": "1e400",
    "NUL": '"a\\u0000b"',
    "lone surrogate": '"\\ud800"',
    "path up": '"../../etc/passwd"',
    "long string": json.dumps("x" * 5000),
    "deep nesting": "[" * 200 + "]" * 200,
    "deep objects": '{"a":' * 100 + "1" + "}" * 100,
    "many digits": "1" * 5000,
}


@dataclass(frozen=True)
class Case:
    """One hostile message: its frames, what it is based on, and what was bent."""

    name: str
    base: type[p.Message]
    frames: list[bytes]
    where: tuple  # the path of the bent value in the body (() for the whole message)


def header(command: int, version: int = wire.VERSION, magic: bytes = wire.MAGIC) -> bytes:
    """A message header, possibly with the wrong version or magic."""
    return struct.pack(">3sBH", magic, version, command)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """The path of every value inside a JSON body, containers included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


_MARK = "\x01HOSTILE\x01"


def _at(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


def _splice(body: Any, path: tuple, raw: str | None) -> bytes:
    """The body as JSON with the value at ``path`` replaced by ``raw`` (removed if None)."""
    body = json.loads(json.dumps(body))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if raw is None:
        del parent[path[-1]]
        return json.dumps(body).encode()
    parent[path[-1]] = _MARK
    return json.dumps(body).replace(json.dumps(_MARK), raw).encode()


def cases(samples: tuple[p.Message, ...] = SAMPLES) -> Iterator[Case]:
    """Every hostile variant of every sample (several thousand): the values of its body
    bent, and those of each shared field's frame (``where`` then starts with its name)."""
    for sample in samples:
        cls = type(sample)
        head, body_bytes, *rest = wire.encode(sample)
        shared, blobs = rest[: len(cls.shared)], rest[len(cls.shared) :]
        documents = [((), body_bytes), *(((name,), frame) for name, frame
                                          in zip(cls.shared, shared, strict=True))]
        for number, (prefix, document) in enumerate(documents):
            framed = partial(_framed, head, [body_bytes, *shared], number, blobs)
            yield from _bent(cls, json.loads(document), framed, prefix)
        yield Case("extra field", cls, [head, json.dumps({**json.loads(body_bytes), "zz": 1})
                                        .encode(), *shared, *blobs], ())
        for count in (0, 1, len(blobs) + 1, 40):
            if count != len(blobs):
                frames = [head, body_bytes, *shared, *[b"x"] * count]
                yield Case(f"{count} blob frames", cls, frames, ())
        yield Case("body not an object", cls, [head, b"[]", *shared, *blobs], ())
        yield Case("body not JSON", cls, [head, b"\xff{", *shared, *blobs], ())
        for name in cls.shared:
            bent = [head, body_bytes, *[b"\xff{" if n == name else f for n, f
                                        in zip(cls.shared, shared, strict=True)], *blobs]
            yield Case("shared frame not JSON", cls, bent, (name,))
        yield Case("header alone", cls, [head], ())
        yield Case("other version", cls, [header(cls.command, version=wire.VERSION + 1), body_bytes,
                                          *shared, *blobs], ())


def _framed(head: bytes, jsons: list[bytes], number: int, blobs: list[bytes],
            bent: bytes) -> list[bytes]:
    """A message's frames with its JSON document ``number`` (0: the body) replaced."""
    return [head, *jsons[:number], bent, *jsons[number + 1 :], *blobs]


def _bent(cls: type[p.Message], body: Any, framed, prefix: tuple) -> Iterator[Case]:
    """Every value of one JSON document (a body, or a shared field's frame) bent."""
    for path in _paths(body):
        where = (*prefix, *path)
        for name, raw in REPLACEMENTS.items():
            yield Case(name, cls, framed(_splice(body, path, raw)), where)
        if isinstance(path[-1], str):
            yield Case("missing", cls, framed(_splice(body, path, None)), where)
        value = _at(body, path)
        if isinstance(value, list) and value:  # a list one longer, one shorter
            longer = json.dumps([*value, value[-1]])
            yield Case("one item more", cls, framed(_splice(body, path, longer)), where)
            shorter = json.dumps(value[:-1])
            yield Case("one item fewer", cls, framed(_splice(body, path, shorter)), where)


def fields(message: p.Message) -> dict:
    """A message's fields as JSON sees them: its body's, and each shared field's frame (what
    a case's ``where`` walks)."""
    head, body, *rest = wire.encode(message)
    shared = zip(type(message).shared, rest, strict=False)
    return {**json.loads(body), **{name: json.loads(frame) for name, frame in shared}}


def sample(of: type[p.Message]) -> p.Message:
    """The valid sample of a message class."""
    return next(m for m in SAMPLES if type(m) is of)


# --- batches ------------------------------------------------------------------------------
#
# A batch is three frames: its header, a table of little-endian 32-bit words (for each
# message its kind word, command x 65,536 + its number of parts, then each part's length)
# and a body of the parts end to end (``wirecodec.py``). The batches below are laid out by
# hand from *entries* (a message as its table names it: its command and its parts, the
# frames after its header), so that every word of a table and every byte of a body can be
# bent.

#: a batch's header, as a peer puts it on the wire
BATCH_HEADER = header(p.Command.BATCH)

Entry = tuple[int, list[bytes]]  # (command, parts)


def entry(frames: list[bytes]) -> Entry:
    """A message's frames (a header of this version first) as a batch's entry."""
    return struct.unpack(">3sBH", frames[0])[2], list(frames[1:])


def table(entries: list[Entry]) -> list[int]:
    """The words of the table of a batch of ``entries``."""
    words = []
    for command, parts in entries:
        words += [command << 16 | len(parts), *map(len, parts)]
    return words


def laid_out(entries: list[Entry], words: list[int] | None = None,
             body: bytes | None = None) -> list[bytes]:
    """The three frames of a batch of ``entries``, its table's ``words`` or its ``body``
    replaced when given (a layout a peer bent)."""
    words = table(entries) if words is None else words
    body = b"".join(part for _, parts in entries for part in parts) if body is None else body
    return [BATCH_HEADER, struct.pack(f"<{len(words)}I", *words), body]


@dataclass(frozen=True)
class BatchCase:
    """One hostile batch: its frames; the frames of each message it carries (``None``: its
    layout does not add up, and it is dropped whole); and the replies a coordinator owes
    the submitter that sent it, in order (a reply's class name, a ``Reject``'s code after a
    colon): a batch dropped whole is owed nothing."""

    name: str
    frames: list[bytes]
    messages: list[list[bytes]] | None
    answers: tuple[str, ...]


def _bent_status() -> list[bytes]:
    head, body = wire.encode(p.StatusRequest("j"))
    return [head, body.replace(b'"history":false', b'"history":"yes"')]


def _bent_submit() -> list[bytes]:
    head, body, blob = wire.encode(p.Submit("bent", "wc", 1, p.Options(), "cloudpickle", b"x"))
    return [head, body.replace(b'"task_timeout":', b'"task_timeout":1e400,"x":'), blob]


_STATUS = wire.encode(p.StatusRequest())

#: the messages batches are made of (each as an entry), each with what a coordinator answers
#: a submitter sending it alone ("" when it owes nothing: a message that is not one, or not
#: its to take)
PIECES: dict[str, tuple[Entry, str]] = {
    "status": (entry(_STATUS), "StatusReply"),
    "bent status": (entry(_bent_status()), "Reject:malformed"),
    "bent submit": (entry(_bent_submit()), "Reject:malformed"),
    "status body not JSON": ((p.Command.STATUS_REQUEST, [b"\xff{"]), "Reject:malformed"),
    "status with a part too many": ((p.Command.STATUS_REQUEST, [_STATUS[1], b"x"]),
                                    "Reject:malformed"),
    "a status request's body as a submit": ((p.Command.SUBMIT, [_STATUS[1]]),
                                            "Reject:malformed"),
    "heartbeat": (entry(wire.encode(p.Heartbeat())), "Reject:unauthorized"),
    "ready": (entry(wire.encode(sample(p.Ready))), "Reject:unauthorized"),
    "task done": (entry(wire.encode(p.TaskDone("j", "s0-m00000-a1", p.MapOutputRef(2, 3), {},
                                                0.1))), "Reject:unauthorized"),
    "assign": (entry(wire.encode(sample(p.Assign))), ""),  # a coordinator's own: dropped
    "no parts": ((p.Command.STATUS_REQUEST, []), ""),  # a header alone: not a message
    "unknown command": ((65535, [b"{}"]), ""),
    "command zero": ((0, [b"{}"]), ""),
    "batch": (entry(wire.batch([_STATUS] * 2)), ""),  # none nests: dropped
}


def _made(name: str, *pieces: str) -> BatchCase:
    """A batch of the named pieces, owed their answers."""
    entries = [PIECES[piece][0] for piece in pieces]
    frames = laid_out(entries)
    messages = [[header(command), *parts] for command, parts in entries]
    return BatchCase(name, frames, messages,
                     tuple(a for piece in pieces if (a := PIECES[piece][1])))


def _refused(name: str, frames: list[bytes]) -> BatchCase:
    """A batch whose layout does not add up: dropped whole, owed nothing."""
    return BatchCase(name, frames, None, ())


def _u32(words: list[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def batch_cases() -> Iterator[BatchCase]:
    """Batches a peer should not send, or may send only to be answered as if each of their
    messages had come alone. Layouts that do not add up, each dropped whole: too few or too
    many frames; a table that is empty, not whole words, truncated (inside an entry, inside
    a word), past its bound, all ones; a part count past the table, past ``MAX_PARTS``,
    huge; a length past the body's end, the largest, one more than the body; a body
    truncated or with bytes left over; a batch of one; more messages than a batch holds
    (declared, and sent). Layouts that add up, each message then served on its own: lengths
    shifted between two messages (both bent), a message of no parts, of an unknown command,
    of command 0, a batch's kind inside a batch, the wrong parts for its command, a valid
    message beside malformed ones, client and worker messages mixed, and as many messages
    as a batch holds."""
    status = PIECES["status"][0]
    two = [status, status]
    good = laid_out(two)
    words = table(two)
    body = good[2]
    yield _refused("batch header alone", [BATCH_HEADER])
    yield _refused("header and table, no body", good[:2])
    yield _refused("a frame after the body", [*good, b""])
    yield _refused("each message's frames after the header (protocol 4's layout)",
                   [BATCH_HEADER, b"[2,2]", *_STATUS, *_STATUS])
    yield _refused("empty table", [BATCH_HEADER, b"", b""])
    for cut in (1, 2, 3):
        yield _refused(f"table not whole words ({cut} byte(s) cut)",
                       [BATCH_HEADER, good[1][:-cut], body])
    yield _refused("table ends inside an entry", laid_out(two, words=words[:-1]))
    yield _refused("table of one word", laid_out(two, words=words[:1]))
    yield _refused("table past its bound", [BATCH_HEADER, bytes(wire.MAX_TABLE + 4), b""])
    yield _refused("table all ones", [BATCH_HEADER, b"\xff" * 64, body])
    yield _refused("parts counted past the table",
                   laid_out(two, words=[words[0] + 5, *words[1:]]))
    yield _refused("a huge part count", laid_out(two, words=[words[0] | 0xFFFF, *words[1:]]))
    many = [(p.Command.STATUS_REQUEST, [b"{}"] * (wire.MAX_PARTS + 1)), status]
    yield _refused("more parts than a message may have", laid_out(many))
    yield _refused("a length past the body's end", laid_out(two, words=[*words[:-1],
                                                                       words[-1] + 1]))
    yield _refused("the largest length", laid_out(two, words=[*words[:-1], 2**32 - 1]))
    yield _refused("a length of the whole body, then more",
                   laid_out(two, words=[words[0], len(body), *words[2:]]))
    yield _refused("body truncated", laid_out(two, body=body[:-1]))
    yield _refused("body empty", laid_out(two, body=b""))
    yield _refused("bytes left after the last part", laid_out(two, body=body + b"x"))
    yield _refused("a batch of one", laid_out([status]))
    yield _refused("a batch of none", laid_out([], words=[]))
    yield _refused("huge declared number of messages",
                   laid_out([], words=[p.Command.STATUS_REQUEST << 16] * (wire.MAX_BATCH + 1)))
    yield _refused("too many messages", laid_out([status] * (wire.MAX_BATCH + 1)))
    # layouts that add up: each message is then decoded, checked and served on its own
    shifted = [words[0], words[1] - 1, words[2], words[3] + 1]
    split = words[1] - 1
    yield BatchCase("lengths shifted between two messages", laid_out(two, words=shifted),
                    [[_STATUS[0], body[:split]], [_STATUS[0], body[split:]]],
                    ("Reject:malformed", "Reject:malformed"))
    for name in ("no parts", "unknown command", "command zero", "batch", "assign",
                 "status body not JSON", "status with a part too many",
                 "a status request's body as a submit"):
        yield _made(f"{name} beside a valid request", name, "status")
    inner = PIECES["batch"][0]
    outer = entry(wire.batch([[header(inner[0]), *inner[1]], _STATUS]))
    yield BatchCase("a batch inside a batch inside a batch", laid_out([outer, status]),
                    [[header(outer[0]), *outer[1]], _STATUS], ("StatusReply",))
    yield _made("a valid message beside a malformed one", "status", "bent status")
    yield _made("a malformed message before a valid one", "bent status", "status")
    yield _made("a malformed submit beside a valid request", "bent submit", "status")
    yield _made("a submitter's batch of worker messages", "ready", "heartbeat", "task done",
                "status")
    yield _made("every kind of piece", *PIECES)
    yield _made("as many messages of no parts as a batch holds",
                *["no parts"] * wire.MAX_BATCH)
