"""A Waker's pipe is closed by close(), or when the Waker is dropped without it."""

from __future__ import annotations

import gc
import os

from minimr.cluster.wire.memory_transport import MemoryNetwork
from minimr.cluster.wire.transport import Waker


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_dropped_waker_closes_its_pipe():
    before = open_fds()
    wakers = [Waker() for _ in range(50)]
    assert open_fds() == before + 100
    del wakers
    gc.collect()
    assert open_fds() == before


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
    before = open_fds()
    for _ in range(20):
        network = MemoryNetwork()
        server = network.bind("mem://c")
        client = network.connect("mem://c", b"w")
        client.send([b"x"])
        assert server.recv() is not None
    del network, server, client
    gc.collect()
    assert open_fds() == before
