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

from minimr.cluster import protocol as p

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


def header(command: int, version: int = p.VERSION, magic: bytes = p.MAGIC) -> bytes:
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
        head, body_bytes, *rest = p.encode(sample)
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
        yield Case("other version", cls, [header(cls.command, version=p.VERSION + 1), body_bytes,
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
    head, body, *rest = p.encode(message)
    shared = zip(type(message).shared, rest, strict=False)
    return {**json.loads(body), **{name: json.loads(frame) for name, frame in shared}}


def sample(of: type[p.Message]) -> p.Message:
    """The valid sample of a message class."""
    return next(m for m in SAMPLES if type(m) is of)
