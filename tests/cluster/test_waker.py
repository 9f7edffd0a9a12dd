"""A Waker's pipe is closed by close(), or when the Waker is dropped without it."""

from __future__ import annotations

import gc
import os

from minimr.cluster.wire.memory_transport import MemoryNetwork
from minimr.cluster.wire.transport import Waker
from tests.conftest import pipe_identities, still_open


def test_a_dropped_waker_closes_its_pipe():
    wakers = [Waker() for _ in range(50)]
    pipes = pipe_identities(*(fd for w in wakers for fd in (w.fd, w.write_fd)))
    assert len(still_open(pipes)) == 100
    del wakers
    gc.collect()
    assert still_open(pipes) == set()


def test_close_then_drop_closes_once():
    """close() closes both ends; dropping it later closes nothing more (the numbers may
    belong to another file by then)."""
    waker = Waker()
    waker.close()
    reused = os.open(os.devnull, os.O_RDONLY)  # takes the lowest free number: fd's, likely
    try:
        del waker
        gc.collect()
        os.fstat(reused)  # still open
    finally:
        os.close(reused)


def test_forgotten_fake_networks_release_their_pipes():
    """Tests drive coordinators on fake networks and forget them: none keeps its pipes."""
    pipes = set()
    for _ in range(20):
        network = MemoryNetwork()
        server = network.bind("mem://c")
        client = network.connect("mem://c", b"w")
        client.send([b"x"])
        assert server.recv() is not None
        wakers = [end._inbox._waker for end in (server, client)]
        pipes |= pipe_identities(*(fd for w in wakers for fd in (w.fd, w.write_fd)))
    del network, server, client, wakers
    gc.collect()
    assert len(pipes) == 80
    assert still_open(pipes) == set()
