"""The worker-served shuffle: in-place reads on the same host, chunked fetches otherwise."""

from __future__ import annotations

import os

import pytest

from minimr.cluster import protocol as p
from minimr.cluster import shuffle
from minimr.cluster.shuffle import FetchError, ShuffleServer, gather_segments


@pytest.fixture
def server(tmp_path):
    """A shuffle server serving ``tmp_path/root``."""
    root = tmp_path / "root"
    root.mkdir()
    srv = ShuffleServer(str(root), "tcp://127.0.0.1:0").start()
    yield srv
    srv.stop()


def an_input(path, offset: int, length: int, address: str, host: str = "elsewhere") -> dict:
    return {
        "map": 3,
        "attempt": "s0-m00003-a1",
        "host": host,
        "address": address,
        "path": str(path),
        "offset": offset,
        "length": length,
    }


def test_same_host_output_is_read_in_place(tmp_path):
    """A map output on this host whose file exists becomes a segment of that very file."""
    path = tmp_path / "map.out"
    path.write_bytes(b"0123456789")
    (segment,) = gather_segments(
        [an_input(path, 2, 5, "tcp://unused:1", host="me")], str(tmp_path / "scratch"), "me"
    )
    assert (segment.path, segment.offset, segment.length) == (str(path), 2, 5)
    assert not (tmp_path / "scratch").exists()


def test_remote_output_is_fetched_in_chunks_to_a_local_file(server, tmp_path, monkeypatch):
    """A remote segment larger than a chunk arrives byte for byte in a local file."""
    monkeypatch.setattr(shuffle, "CHUNK_SIZE", 1000)
    data = os.urandom(10_500)
    path = tmp_path / "root" / "map.out"
    path.write_bytes(b"head" + data + b"tail")
    inputs = [an_input(path, 4, len(data), server.address), an_input(path, 0, 4, server.address)]
    segments = gather_segments(inputs, str(tmp_path / "scratch"), "me")
    with open(segments[0].path, "rb") as file:
        assert file.read() == data
    with open(segments[1].path, "rb") as file:
        assert file.read() == b"head"


def test_server_refuses_paths_outside_its_folder(server, tmp_path):
    """A request for a file outside the work folder is refused and reported as lost."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"do not serve")
    with pytest.raises(FetchError) as info:
        gather_segments([an_input(secret, 0, 5, server.address)], str(tmp_path / "s"), "me")
    assert info.value.lost == [(3, "s0-m00003-a1")]
    assert "not a map output" in str(info.value)


def test_server_reports_bad_ranges():
    """A negative offset or an oversized length is answered with an error, not data."""
    srv = ShuffleServer("/tmp", "tcp://127.0.0.1:0")
    try:
        assert srv.read(p.FetchChunk(1, "/tmp/x", -1, 10)).error
        assert srv.read(p.FetchChunk(1, "/tmp/x", 0, shuffle.CHUNK_SIZE + 1)).error
    finally:
        srv._server.close()


def test_silent_server_makes_the_fetch_fail_naming_the_lost_outputs(tmp_path):
    """When nobody answers within the timeout, the fetch fails listing the map outputs."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(FetchError) as info:
        gather_segments(
            [an_input(tmp_path / "x", 0, 10, address)], str(tmp_path / "s"), "me", timeout=0.5
        )
    assert info.value.lost == [(3, "s0-m00003-a1")]
