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

#: a batch's header, as a peer puts it on the wire
BATCH_HEADER = header(p.Command.BATCH)


@dataclass(frozen=True)
class BatchCase:
    """One hostile batch: its frames, and the replies a coordinator owes the submitter that
    sent it, in order (a reply's class name, a ``Reject``'s code after a colon). A batch
    whose layout does not add up is dropped whole: it is owed nothing."""

    name: str
    frames: list[bytes]
    answers: tuple[str, ...]


def _bent_status() -> list[bytes]:
    head, body = wire.encode(p.StatusRequest("j"))
    return [head, body.replace(b'"history":false', b'"history":"yes"')]


def _bent_submit() -> list[bytes]:
    head, body, blob = wire.encode(p.Submit("bent", "wc", 1, p.Options(), "cloudpickle", b"x"))
    return [head, body.replace(b'"task_timeout":', b'"task_timeout":1e400,"x":'), blob]


#: the messages batches are made of, each with what a coordinator answers a submitter
#: sending it alone ("" when it owes nothing: a message that is not one, or not its to take)
PIECES: dict[str, tuple[list[bytes], str]] = {
    "status": (wire.encode(p.StatusRequest()), "StatusReply"),
    "bent status": (_bent_status(), "Reject:malformed"),
    "bent submit": (_bent_submit(), "Reject:malformed"),
    "heartbeat": (wire.encode(p.Heartbeat()), "Reject:unauthorized"),
    "ready": (wire.encode(sample(p.Ready)), "Reject:unauthorized"),
    "task done": (wire.encode(p.TaskDone("j", "s0-m00000-a1", p.MapOutputRef(2, 3), {}, 0.1)),
                  "Reject:unauthorized"),
    "assign": (wire.encode(sample(p.Assign)), ""),  # a coordinator's own message: dropped
    "other version": ([header(p.Command.STATUS_REQUEST, version=wire.VERSION + 1),
                       wire.encode(p.StatusRequest())[1]], "Reject:version"),
    "garbage": ([b"x", b"y"], ""),
    "batch": (wire.batch([wire.encode(p.StatusRequest())] * 2), ""),  # none nests: dropped
}


def _made(name: str, *pieces: str) -> BatchCase:
    """A batch of the named pieces, owed their answers."""
    frames = wire.batch([PIECES[piece][0] for piece in pieces])
    return BatchCase(name, frames, tuple(a for piece in pieces if (a := PIECES[piece][1])))


def _laid_out(name: str, body: bytes, *messages: list[bytes]) -> BatchCase:
    """A batch of ``messages`` whose body is ``body``: one that does not add up (owed nothing)."""
    return BatchCase(name, [BATCH_HEADER, body, *(f for m in messages for f in m)], ())


def batch_cases() -> Iterator[BatchCase]:
    """Batches a peer should not send, or may send only to be answered as if each of their
    messages had come alone: layouts that do not add up (counts truncated, overrunning,
    short, of the wrong type, huge, too many; an empty batch; a body that is not JSON), a
    batch inside a batch, a valid message beside a malformed one, client and worker
    messages mixed, and a batch of as many messages as one may hold."""
    status, _ = PIECES["status"]
    two = (status, status)
    yield _laid_out("empty batch", b"[]")
    yield BatchCase("batch header alone", [BATCH_HEADER], ())
    yield _laid_out("a batch of one", b"[2]", status)
    yield _laid_out("counts truncated", b"[2,", *two)
    yield _laid_out("frames truncated", b"[2,2]", status, status[:1])
    yield _laid_out("a count overruns", b"[2,3]", *two)
    yield _laid_out("counts short of the frames", b"[2,2]", *two, status)
    yield _laid_out("a count of one", b"[1,3]", *two)
    yield _laid_out("a count of zero", b"[0,2,2]", *two)
    yield _laid_out("a negative count", b"[-2,6]", *two)
    yield _laid_out("a huge count", b"[2," + str(10**30).encode() + b"]", *two)
    yield _laid_out("int64 max counts", b"[9223372036854775807,9223372036854775807]", *two)
    yield _laid_out("huge declared number of messages", json.dumps([2] * (wire.MAX_BATCH + 1))
                    .encode(), *two)
    yield _laid_out("too many messages", json.dumps([2] * (wire.MAX_BATCH + 1)).encode(),
                    *[status] * (wire.MAX_BATCH + 1))
    for name in ("wrong type: string", "wrong type: bool", "wrong type: null",
                 "wrong type: float", "Infinity", "NaN", "1e400", "many digits",
                 "deep nesting", "wrong type: object"):
        yield _laid_out(f"a count of {name}", f"[2,{REPLACEMENTS[name]}]".encode(), *two)
    yield _laid_out("counts an object", b'{"counts":[2,2]}', *two)
    yield _laid_out("counts a string", b'"2,2"', *two)
    yield _laid_out("body not JSON", b"\xff[", *two)
    yield _laid_out("body not UTF-8", b"[2,\xc3(]", *two)
    yield _laid_out("body empty", b"", *two)
    yield _made("a batch inside a batch", "batch", "status")
    inner = wire.batch([PIECES["batch"][0], status])
    yield BatchCase("a batch inside a batch inside a batch", wire.batch([inner, status]),
                    ("StatusReply",))
    yield _made("a valid message beside a malformed one", "status", "bent status")
    yield _made("a malformed message before a valid one", "bent status", "status")
    yield _made("a malformed submit beside a valid request", "bent submit", "status")
    yield _made("a submitter's batch of worker messages", "ready", "heartbeat", "task done",
                "status")
    yield _made("a coordinator's message and garbage", "assign", "garbage", "status")
    yield _made("a message of another version", "other version", "status")
    yield _made("every kind of piece", *PIECES)
    yield BatchCase("as many garbage messages as a batch holds",
                    wire.batch([PIECES["garbage"][0]] * wire.MAX_BATCH), ())
