"""The worker's link to its coordinator (``worker/link.py``): batches, and refusals."""

from __future__ import annotations

import struct
import threading

import pytest

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.worker.link import CoordinatorLink, WorkerRejected


class FakeClient:
    """A transport client that keeps what is sent and hands out what is queued."""

    pollable = None

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []
        self.inbox: list[list[bytes]] = []

    def send(self, frames: list[bytes]) -> bool:
        self.sent.append(frames)
        return True

    def recv(self) -> list[bytes] | None:
        return self.inbox.pop(0) if self.inbox else None

    def handshake_failure(self) -> str | None:
        return None

    def close(self) -> None:
        pass


def connected() -> tuple[CoordinatorLink, FakeClient]:
    client = FakeClient()
    link = CoordinatorLink("tcp://c:1", lambda address, identity: client, "w",
                           lambda identity: p.Ready("w", "h", 1, 1, "tcp://h:2"),
                           lambda: None, threading.Event())
    link.connect()
    client.sent.clear()
    return link, client


def test_a_turns_messages_go_as_one_batch_of_three_frames():
    """The messages posted in a turn go at its flush as one delivery of three frames."""
    link, client = connected()
    messages = [p.CommitRequest("j", "s0-r00000-a1"), p.Heartbeat(), p.PlanRequest("j")]
    for message in messages:
        link.post(message)
    link.flush()
    (frames,) = client.sent
    assert len(frames) == 3 and wire.decode_all(frames) == messages


def test_a_reject_of_another_protocol_version_ends_the_worker_saying_why():
    """A coordinator of another version refuses a worker in its own version: the worker
    stops with both versions named, rather than drop the refusal and register forever."""
    link, client = connected()
    client.inbox.append(wire.version_refusal(4, "peer speaks minimr protocol version 5"))
    with pytest.raises(WorkerRejected, match=f"version 4, this worker {wire.VERSION}"):
        list(link.receive())


def test_another_message_of_another_version_is_dropped_and_the_rest_served():
    link, client = connected()
    other = [struct.pack(">3sBH", b"MMR", wire.VERSION + 1, p.Command.FORGET_JOB), b"{}"]
    client.inbox += [other, wire.encode(p.ForgetJob("j"))]
    assert list(link.receive()) == [p.ForgetJob("j")]
