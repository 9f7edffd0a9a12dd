"""Asking a coordinator (``client/operations.py``): what ``minimr status``, ``cancel`` and
``logs`` say when the coordinator at the address cannot answer in this client's protocol."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner

from minimr.cli import main
from minimr.cluster.client.operations import Asker
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire

REPO = Path(__file__).resolve().parents[2]


class ForeignCoordinator:
    """A ROUTER on loopback that answers every request as a coordinator of protocol
    ``version`` would: with a Reject in that version's header (``reply`` frames)."""

    def __init__(self, reply: list[bytes]) -> None:
        self.reply = reply
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if self.socket.poll(50):
                peer, *_ = self.socket.recv_multipart()
                self.requests += 1
                self.socket.send_multipart([peer, *self.reply])

    def __enter__(self) -> ForeignCoordinator:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def _refusal(version: int) -> list[bytes]:
    """A coordinator of ``version`` refusing a request of this version (a Reject's layout
    is the same in every version; only its header's version differs)."""
    frames = wire.encode(p.Reject(f"peer speaks minimr protocol version {wire.VERSION}, "
                                  f"this process speaks {version}", "version"))
    frames[0] = wire._HEADER.pack(wire.MAGIC, version, p.Command.REJECT)
    return frames


@pytest.mark.parametrize("version", [wire.VERSION - 1, wire.VERSION + 1])
def test_a_coordinator_of_another_version_is_named_at_once_not_timed_out(version):
    """An older coordinator turns a newer client away with a Reject in its own version's
    header: the client says which versions differ, at once, instead of waiting out its
    timeout and saying nobody answered."""
    with ForeignCoordinator(_refusal(version)) as coordinator:
        started = time.monotonic()
        with Asker(coordinator.address, timeout=5.0) as asker, \
                pytest.raises(Exception) as refused:
            asker.ask(p.StatusRequest(), (p.StatusReply,))
    assert time.monotonic() - started < 2.0
    text = str(refused.value)
    assert f"speaks minimr protocol version {version}" in text
    assert f"this client speaks {wire.VERSION}" in text and "upgrade minimr" in text


def test_minimr_status_against_an_older_coordinator_says_so():
    """The same through the command a user types."""
    with ForeignCoordinator(_refusal(wire.VERSION - 1)) as coordinator:
        result = CliRunner().invoke(
            main, ["status", "-c", coordinator.address, "--insecure"])
    assert result.exit_code == 1, result.output
    assert f"protocol version {wire.VERSION - 1}" in result.output
    assert "no coordinator answered" not in result.output


def test_another_versions_non_reject_is_still_named():
    """Whatever else a coordinator of another version sends back names the versions too
    (it is not this client's to decode, and nothing else will come)."""
    frames = [wire._HEADER.pack(wire.MAGIC, wire.VERSION - 1, p.Command.HEARTBEAT), b"{}"]
    with ForeignCoordinator(frames) as coordinator, \
            Asker(coordinator.address, timeout=5.0) as asker, \
            pytest.raises(Exception, match=f"protocol version {wire.VERSION - 1}"):
        asker.ask(p.StatusRequest(), (p.StatusReply,))


def test_submit_to_an_older_coordinator_says_so_at_once(tmp_path):
    """A job submitted to a coordinator of another version fails at once naming both
    versions, rather than warn of a malformed message and wait to say nobody answered."""
    (tmp_path / "in.txt").write_text("a b\n")
    with ForeignCoordinator(_refusal(wire.VERSION - 1)) as coordinator:
        started = time.monotonic()
        result = CliRunner().invoke(main, [
            "submit", str(REPO / "jobs" / "wordcount.py"), "--input", str(tmp_path / "in.txt"),
            "--output", str(tmp_path / "out"), "-c", coordinator.address, "--insecure"])
    assert time.monotonic() - started < 5.0
    assert result.exit_code != 0
    assert f"speaks minimr protocol version {wire.VERSION - 1}" in result.output, result.output
