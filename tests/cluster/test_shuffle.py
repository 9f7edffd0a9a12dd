"""The worker-served shuffle: in-place reads on the same host, chunked fetches otherwise."""

from __future__ import annotations

import os
import time

import pytest

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.security import Keys, keygen
from minimr.cluster.worker import fetch as fetching
from minimr.cluster.worker import partindex, shuffle
from minimr.cluster.worker.fetch import FetchError, gather_segments
from minimr.cluster.worker.shuffleserver import ShuffleServer
from tests.conftest import pipe_identities, still_open


@pytest.fixture
def server(tmp_path):
    """A shuffle server serving ``tmp_path/root``."""
    root = tmp_path / "root"
    root.mkdir()
    srv = ShuffleServer(str(root), "tcp://127.0.0.1:0").start()
    yield srv
    srv.stop()


JOB = "j"
LOST = [(0, "s0-m00000-a1")]  # the one map output of ``inputs``


def an_output(folder, *partitions: bytes, index: int = 0, number: int = 1) -> str:
    """Map ``index``'s output (attempt ``number``) of job ``JOB`` under a worker's ``folder``,
    holding ``partitions`` side by side, with its partition index; returns its path."""
    path = partindex.output_path(str(folder), JOB, p.map_attempt(0, index, number))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ranges, offset = [], 0
    for data in partitions:
        ranges.append((offset, len(data)))
        offset += len(data)
    with open(path, "wb") as file:
        file.write(b"".join(partitions))
    partindex.write_ranges(path, ranges)
    return path


def inputs(address: str, folder="/nowhere", host: str = "elsewhere", key: str = "",
           maps: int = 1) -> p.ReduceInputs:
    """A table of ``maps`` map outputs (attempt 1 each), all held by one worker."""
    return p.ReduceInputs((p.Holder(host, address, key, str(folder)),), (0,) * maps, (1,) * maps)


def gather(table: p.ReduceInputs, tmp_path, partition: int = 0, **options):
    """Partition ``partition`` of every map output in ``table`` (step 0 of job ``JOB``)."""
    return gather_segments(table, JOB, 0, partition, str(tmp_path / "scratch"), "me", **options)


def read(segment) -> bytes:
    with open(segment.path, "rb") as file:
        file.seek(segment.offset)
        return file.read(segment.length)


def fetch(number: int, partition: int, offset: int, length: int, codec: str = "",
          attempt: str = "s0-m00000-a1") -> p.FetchChunk:
    return p.FetchChunk(number, JOB, attempt, partition, offset, length, codec)


def test_same_host_output_is_read_in_place(tmp_path):
    """A map output on this host whose file exists becomes a segment of that very file, its
    partition's byte range read from the output's index."""
    path = an_output(tmp_path / "w", b"01", b"23456", b"789")
    (segment,) = gather(inputs("tcp://unused:1", tmp_path / "w", host="me"), tmp_path, 1)
    assert (segment.path, segment.offset, segment.length) == (path, 2, 5)
    assert not (tmp_path / "scratch").exists()


def test_remote_output_is_fetched_in_chunks_to_a_local_file(server, tmp_path, monkeypatch):
    """A remote partition larger than a chunk arrives byte for byte in a local file, and so
    does an empty one."""
    monkeypatch.setattr(shuffle, "CHUNK_SIZE", 1000)
    data = os.urandom(10_500)
    an_output(tmp_path / "root", b"head", data, b"", b"tail")
    table = inputs(server.address)
    assert read(gather(table, tmp_path, 1)[0]) == data
    assert read(gather(table, tmp_path, 0)[0]) == b"head"
    assert read(gather(table, tmp_path, 2)[0]) == b""


def test_every_map_output_of_the_table_is_read_in_map_order(server, tmp_path):
    """Each map output of the step gives one segment, in map index order, whoever holds it."""
    for index in range(3):
        an_output(tmp_path / "root", b"a%d" % index, b"b%d" % index, index=index, number=2)
        an_output(tmp_path / "local", b"c%d" % index, b"d%d" % index, index=index, number=1)
    table = p.ReduceInputs(
        (p.Holder("elsewhere", server.address, "", "/nowhere"),
         p.Holder("me", "tcp://unused:1", "", str(tmp_path / "local"))),
        (0, 1, 0), (2, 1, 2),
    )
    assert [read(s) for s in gather(table, tmp_path, 1)] == [b"b0", b"d1", b"b2"]


def test_a_missing_output_is_reported_lost(server, tmp_path):
    """A map output the server does not hold is refused and reported as lost."""
    with pytest.raises(FetchError) as info:
        gather(inputs(server.address), tmp_path)
    assert info.value.lost == LOST
    assert "no map output" in str(info.value)


def test_server_serves_map_outputs_only(server, tmp_path):
    """A fetcher names a job and an attempt, never a path: nothing but a map output in the
    server's folder is served, whatever it asks."""
    an_output(tmp_path / "root", b"0123")
    assert server.read(fetch(1, 0, 0, 4)).data == b"0123"
    for attempt in ("s0-m00001-a1", "s0-m00000-a2"):
        assert server.read(fetch(1, 0, 0, 4, attempt=attempt)).error
    for bad in (fetch(1, 1, 0, 4), fetch(1, 0, 5, 4), fetch(1, 0, 0, shuffle.CHUNK_SIZE + 1)):
        answer = server.read(bad)
        assert answer.error and not answer.data


def test_a_chunk_is_cut_at_the_end_of_its_partition(server, tmp_path):
    """Bytes past a partition's end are never served, and the reply says its length."""
    an_output(tmp_path / "root", b"0123", b"4567")
    answer = server.read(fetch(1, 0, 2, 100))
    assert (answer.data, answer.total) == (b"23", 4)


def test_silent_server_makes_the_fetch_fail_naming_the_lost_outputs(tmp_path):
    """When nobody answers within the timeout, the fetch fails listing the map outputs."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(FetchError) as info:
        gather(inputs(address), tmp_path, timeout=0.5)
    assert info.value.lost == LOST


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
    an_output(tmp_path / "root", b"01", b"23456", b"789")
    table = inputs(srv.address, key=server_key)
    (segment,) = gather(table, tmp_path, 1, keys=keys.identity("worker"))
    assert read(segment) == b"23456"


def test_fetch_with_a_non_worker_key_is_refused_at_once(keyed_server, tmp_path):
    """A submitter key cannot read map outputs: the handshake fails well before the timeout."""
    srv, keys, server_key = keyed_server
    an_output(tmp_path / "root", b"0123456789")
    started = time.monotonic()
    with pytest.raises(FetchError, match="refused this public key") as info:
        gather(inputs(srv.address, key=server_key), tmp_path, keys=keys.identity("submitter"))
    assert info.value.lost == LOST
    assert time.monotonic() - started < shuffle.FETCH_TIMEOUT / 2


def test_fetch_without_keys_from_a_keyed_server_gets_nothing(keyed_server, tmp_path):
    """A reducer without keys cannot talk to a keyed shuffle server."""
    srv, _, _ = keyed_server
    an_output(tmp_path / "root", b"0123456789")
    with pytest.raises(FetchError, match="requires keys"):
        gather(inputs(srv.address), tmp_path)


def test_chunks_travel_compressed_when_both_sides_can(server, tmp_path):
    """With zstandard on both sides a chunk crosses the network compressed (a sort's map
    output shrinks about 7x) and arrives byte for byte."""
    pytest.importorskip("zstandard")
    data = b"".join(b"%010d  NOPQRSTUVWXYZABCDEFGH %d\n" % (i, i % 7) for i in range(5000))
    an_output(tmp_path / "root", data)
    answer = server.read(fetch(0, 0, 0, 100_000, codec="zstd"))
    assert answer.codec == "zstd" and len(answer.data) < 100_000 // 3
    assert server.read(fetch(0, 0, 0, 1000)).data == data[:1000]  # not asked
    assert read(gather(inputs(server.address), tmp_path)[0]) == data


def test_a_fetcher_without_the_codec_asks_for_plain_chunks(server, tmp_path, monkeypatch):
    monkeypatch.setattr(shuffle, "CODEC", "")
    data = b"abc" * 10_000
    an_output(tmp_path / "root", data)
    assert read(gather(inputs(server.address), tmp_path)[0]) == data


def test_a_compressed_chunk_of_the_wrong_size_fails_the_fetch(tmp_path):
    """A chunk whose compressed frame does not hold the bytes asked for is a lost output."""
    zstandard = pytest.importorskip("zstandard")
    piece = fetching._Piece(0, 0, 10)
    items = [p.MapInput(0, "s0-m00000-a1", p.Holder("h", "tcp://127.0.0.1:1", "", ""))]
    data = zstandard.ZstdCompressor().compress(b"x" * 11)
    frames = wire.encode(p.Chunk(7, "", data, "zstd", total=10))
    with open(tmp_path / "out", "wb") as out, pytest.raises(FetchError, match="chunk"):
        fetch = fetching._Fetch(items, JOB, 0, {0: out}, 1.0, None)
        fetch.in_flight[7] = (piece, "tcp://127.0.0.1:1")
        fetch._receive(frames)


def test_a_server_without_the_codec_answers_plain_chunks(server, tmp_path, monkeypatch):
    """A fetcher asking for zstd from a server that cannot compress still gets the bytes."""
    monkeypatch.setattr(shuffle, "CODEC", "zstd")
    monkeypatch.setattr(shuffle, "zstandard", None)
    data = b"xyz" * 10_000
    an_output(tmp_path / "root", data)
    assert server.read(fetch(0, 0, 0, 100, codec="zstd")).codec == ""
    assert read(gather(inputs(server.address), tmp_path)[0]) == data


def test_a_stopped_server_leaves_no_file_descriptor_open(tmp_path):
    """Starting and stopping servers (a worker each, or a test's) closes their sockets and
    does not leak their wake-up pipes."""
    pipes = set()
    for _ in range(20):
        server = ShuffleServer(str(tmp_path), "tcp://127.0.0.1:0").start()
        pipes |= pipe_identities(server._waker.fd, server._waker.write_fd)
        server.stop()
        assert server._server._socket.closed  # and its socket
    assert len(pipes) == 40
    assert still_open(pipes) == set()


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
            request = wire.decode(frames)
            times = self.asked[request.offset] = self.asked.get(request.offset, 0) + 1
            if times == 1 and self.drop(request.offset):
                continue
            self.socket.send_multipart([peer, *wire.encode(server.read(request))])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close(0)


def fetch_through_drops(tmp_path, drop) -> tuple[DroppingServer, float]:
    """Fetch 41 chunks from a server dropping ``drop``'s first replies; check every byte."""
    data = os.urandom(40_500)
    an_output(tmp_path / "root", data)
    server = DroppingServer(tmp_path / "root", drop)
    try:
        started = time.monotonic()
        (segment,) = gather(inputs(server.address), tmp_path, timeout=5)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert read(segment) == data
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
