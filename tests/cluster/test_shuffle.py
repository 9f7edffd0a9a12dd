"""The worker-served shuffle: in-place reads on the same host, chunked fetches otherwise."""

from __future__ import annotations

import os
import time

import pytest

from minimr.cluster import protocol as p
from minimr.cluster import shuffle
from minimr.cluster.security import Keys, keygen
from minimr.cluster.shuffle import FetchError, ShuffleServer, gather_segments


@pytest.fixture
def server(tmp_path):
    """A shuffle server serving ``tmp_path/root``."""
    root = tmp_path / "root"
    root.mkdir()
    srv = ShuffleServer(str(root), "tcp://127.0.0.1:0").start()
    yield srv
    srv.stop()


def an_input(path, offset: int, length: int, address: str, host: str = "elsewhere",
             key: str = "") -> p.ReduceInput:
    return p.ReduceInput(3, "s0-m00003-a1", host, address, key, str(path), offset, length)


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


@pytest.fixture
def keyed_server(tmp_path):
    """A shuffle server with CURVE keys, admitting worker keys only."""
    keygen(str(tmp_path / "keys"))
    keys = Keys(str(tmp_path / "keys"))
    root = tmp_path / "root"
    root.mkdir()
    worker = keys.worker()
    srv = ShuffleServer(str(root), "tcp://127.0.0.1:0", worker.shuffle_server()).start()
    yield srv, keys, worker.pair.public.decode()
    srv.stop()


def test_fetch_with_worker_keys_is_encrypted_and_served(keyed_server, tmp_path):
    """A reducer holding a worker key and the server's public key gets the bytes."""
    srv, keys, server_key = keyed_server
    path = tmp_path / "root" / "map.out"
    path.write_bytes(b"0123456789")
    item = an_input(path, 2, 5, srv.address, key=server_key)
    (segment,) = gather_segments([item], str(tmp_path / "s"), "me", keys=keys.identity("worker"))
    with open(segment.path, "rb") as file:
        assert file.read() == b"23456"


def test_fetch_with_a_non_worker_key_is_refused_at_once(keyed_server, tmp_path):
    """A submitter key cannot read map outputs: the handshake fails well before the timeout."""
    srv, keys, server_key = keyed_server
    path = tmp_path / "root" / "map.out"
    path.write_bytes(b"0123456789")
    item = an_input(path, 0, 5, srv.address, key=server_key)
    started = time.monotonic()
    with pytest.raises(FetchError, match="refused this public key") as info:
        gather_segments([item], str(tmp_path / "s"), "me", keys=keys.identity("submitter"))
    assert info.value.lost == [(3, "s0-m00003-a1")]
    assert time.monotonic() - started < shuffle.FETCH_TIMEOUT / 2


def test_fetch_without_keys_from_a_keyed_server_gets_nothing(keyed_server, tmp_path):
    """A reducer without keys cannot talk to a keyed shuffle server."""
    srv, _, _ = keyed_server
    path = tmp_path / "root" / "map.out"
    path.write_bytes(b"0123456789")
    with pytest.raises(FetchError, match="requires keys"):
        gather_segments([an_input(path, 0, 5, srv.address)], str(tmp_path / "s"), "me")


def test_chunks_travel_compressed_when_both_sides_can(server, tmp_path):
    """With zstandard on both sides a chunk crosses the network compressed (a sort's map
    output shrinks about 7x) and arrives byte for byte."""
    pytest.importorskip("zstandard")
    data = b"".join(b"%010d  NOPQRSTUVWXYZABCDEFGH %d\n" % (i, i % 7) for i in range(5000))
    path = tmp_path / "root" / "map.out"
    path.write_bytes(data)
    answer = server.read(p.FetchChunk(0, str(path), 0, 100_000, codec="zstd"))
    assert answer.codec == "zstd" and len(answer.data) < 100_000 // 3
    assert server.read(p.FetchChunk(0, str(path), 0, 1000)).data == data[:1000]  # not asked
    (segment,) = gather_segments([an_input(path, 0, len(data), server.address)],
                                 str(tmp_path / "scratch"), "me")
    with open(segment.path, "rb") as file:
        assert file.read() == data


def test_a_fetcher_without_the_codec_asks_for_plain_chunks(server, tmp_path, monkeypatch):
    monkeypatch.setattr(shuffle, "CODEC", "")
    data = b"abc" * 10_000
    path = tmp_path / "root" / "map.out"
    path.write_bytes(data)
    (segment,) = gather_segments([an_input(path, 0, len(data), server.address)],
                                 str(tmp_path / "scratch"), "me")
    with open(segment.path, "rb") as file:
        assert file.read() == data


def test_a_compressed_chunk_of_the_wrong_size_fails_the_fetch(tmp_path):
    """A chunk whose compressed frame does not hold the bytes asked for is a lost output."""
    zstandard = pytest.importorskip("zstandard")
    piece = shuffle._Piece(0, 0, 10)
    inputs = [an_input(tmp_path / "x", 0, 10, "tcp://127.0.0.1:1")]
    frames = p.encode(p.Chunk(7, "", zstandard.ZstdCompressor().compress(b"x" * 11), "zstd"))
    with open(tmp_path / "out", "wb") as out, pytest.raises(FetchError, match="chunk"):
        fetch = shuffle._Fetch(inputs, {0: out}, 1.0, None)
        fetch.in_flight[7] = (piece, "tcp://127.0.0.1:1")
        fetch._receive(frames)


def test_a_server_without_the_codec_answers_plain_chunks(server, tmp_path, monkeypatch):
    """A fetcher asking for zstd from a server that cannot compress still gets the bytes."""
    monkeypatch.setattr(shuffle, "CODEC", "zstd")
    monkeypatch.setattr(shuffle, "zstandard", None)
    data = b"xyz" * 10_000
    path = tmp_path / "root" / "map.out"
    path.write_bytes(data)
    assert server.read(p.FetchChunk(0, str(path), 0, 100, codec="zstd")).codec == ""
    (segment,) = gather_segments([an_input(path, 0, len(data), server.address)],
                                 str(tmp_path / "scratch"), "me")
    with open(segment.path, "rb") as file:
        assert file.read() == data


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_a_stopped_server_leaves_no_file_descriptor_open(tmp_path):
    """Starting and stopping servers (a worker each, or a test's) does not leak their
    wake-up pipes: the process's open descriptors come back to what they were."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    ShuffleServer(str(tmp_path), "tcp://127.0.0.1:0").start().stop()  # sockets, context
    before = open_fds()
    for _ in range(20):
        ShuffleServer(str(tmp_path), "tcp://127.0.0.1:0").start().stop()
    assert open_fds() <= before + 2


class DroppingServer:
    """A shuffle server that drops the first reply to some requests, as a full queue does."""

    def __init__(self, root, drop) -> None:
        import threading

        import zmq

        self.root = root
        self.drop = drop  # (offset, last) -> whether to drop the first reply for that offset
        self.asked: dict[int, int] = {}
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind("tcp://127.0.0.1:*")
        self.address = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        server = ShuffleServer(str(self.root), "tcp://127.0.0.1:0")  # for read() only
        server._server.close()
        while not self.stop.is_set():
            if not self.socket.poll(50):
                continue
            peer, *frames = self.socket.recv_multipart()
            request = p.decode(frames)
            times = self.asked[request.offset] = self.asked.get(request.offset, 0) + 1
            if times == 1 and self.drop(request.offset):
                continue
            self.socket.send_multipart([peer, *p.encode(server.read(request))])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close(0)


def fetch_through_drops(tmp_path, drop) -> tuple[DroppingServer, float]:
    """Fetch 41 chunks from a server dropping ``drop``'s first replies; check every byte."""
    (tmp_path / "root").mkdir()
    data = os.urandom(40_500)
    path = tmp_path / "root" / "map.out"
    path.write_bytes(data)
    server = DroppingServer(tmp_path / "root", drop)
    try:
        started = time.monotonic()
        (segment,) = gather_segments(
            [an_input(path, 0, len(data), server.address)], str(tmp_path / "s"), "me", timeout=5
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()
    with open(segment.path, "rb") as file:
        assert file.read() == data
    return server, elapsed


def test_a_reply_dropped_before_a_later_one_is_asked_for_again_at_once(tmp_path, monkeypatch):
    """A server answers in order: a later reply shows the earlier unanswered ones dropped."""
    monkeypatch.setattr(shuffle, "CHUNK_SIZE", 1000)
    server, elapsed = fetch_through_drops(tmp_path, lambda offset: offset in (1000, 20_000))
    assert server.asked[1000] == server.asked[20_000] == 2
    assert elapsed < shuffle.RESEND_AFTER  # no waiting for silence


def test_a_last_reply_dropped_is_asked_for_again_after_a_silence(tmp_path, monkeypatch):
    """A dropped last reply shows only as silence: asked again after RESEND_AFTER, not lost."""
    monkeypatch.setattr(shuffle, "CHUNK_SIZE", 1000)
    monkeypatch.setattr(shuffle, "RESEND_AFTER", 0.3)
    server, elapsed = fetch_through_drops(tmp_path, lambda offset: offset == 40_000)
    assert server.asked[40_000] == 2
    assert elapsed < 3  # not after the 5 s that would declare the output lost
