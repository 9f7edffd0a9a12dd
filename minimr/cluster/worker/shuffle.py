"""The shuffle without a shared filesystem: workers serve map outputs, reducers fetch them.

Each worker runs a :class:`ShuffleServer` (its own ROUTER socket, in a thread of the
worker process, so user code never blocks it) that answers ``FetchChunk`` requests
with the bytes of one partition of one of its map outputs, named by job and attempt (the
partition's byte range is in the output's index, ``partindex.py``), and nothing else. Its
address travels in the worker's registration; the scheduler puts it in the table of map
output holders that every reduce of a step gets (``protocol.ReduceInputs``).

A reduce attempt calls :func:`gather_segments` before reducing:

- a map output on the same host whose file exists is read in place (no copy), its
  partition's byte range read from the output's index;
- the others are fetched chunk by chunk (``CHUNK_SIZE``; the first chunk's reply says how
  long the partition is, an empty one ends there), with up to ``WINDOW``
  chunks in flight across all servers at once, each written straight to a local
  file. Memory stays at ``WINDOW x CHUNK_SIZE`` whatever the segment sizes (the
  credit-based flow control of the ZeroMQ Guide's file-transfer example);
- with ``zstandard`` installed on both sides (``pip install 'minimr[zstd]'``) chunks travel
  compressed with zstd level 1: 1.3 GB/s to compress, 1.7 GB/s to decompress and about 7x
  smaller on a sort's map output, so it pays on any network slower than about 5 Gbit/s. A
  fetcher asks for it (``MINIMR_SHUFFLE_CODEC=none`` in its environment says not to); a
  server that cannot compress answers with the bytes as they are;
- a server that answers nothing for ``FETCH_TIMEOUT`` seconds, or reports an error,
  makes the fetch raise :class:`FetchError` naming the map outputs it could not get;
  the worker reports them lost and the coordinator runs those maps again.

Whatever peers ask, a server's memory stays bounded: a request is at most ``MAX_REQUEST``
bytes, asks for at most ``CHUNK_SIZE`` (more is refused), and at most ``SERVER_QUEUE``
replies wait per connection; past that a reply is dropped, not queued (1,000 unread 1 MiB
requests took a worker to 1 GiB before). An honest fetcher never has that many in flight,
and asks again for a reply that does not come (:class:`_Fetch`).

With keys, a shuffle server speaks CURVE with its worker's key pair and admits worker
keys only (checked at the handshake and again on every request, so a revoked key stops
at once); a reducer connects with its own worker's key pair and the serving worker's
public key, which came with the assignment.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.protocol import MapInput, ReduceInputs
from minimr.cluster.wire.security import KeyPair
from minimr.cluster.wire.transport import (
    CurveClient,
    CurveServer,
    Waker,
    ZmqClient,
    ZmqServer,
    wait,
)
from minimr.cluster.worker import partindex
from minimr.dataflow.format.segments import Segment

log = logging.getLogger("minimr.shuffle")

CHUNK_SIZE = 1 << 20
WINDOW = 16
try:
    import zstandard
except ImportError:  # optional: chunks then travel as they are
    zstandard = None
#: the codec this process asks shuffle servers for ("" for none)
CODEC = "zstd" if zstandard and os.environ.get("MINIMR_SHUFFLE_CODEC") != "none" else ""
FETCH_TIMEOUT = 10.0
#: a fetch request is small; anything bigger is not one
MAX_REQUEST = 64 * 1024
#: replies (and requests) a server queues per connection; past it, a reply is dropped. One
#: peer that asks and never reads can make a server hold this many chunks at most; an
#: honest fetcher has at most ``WINDOW`` in flight, so it never reaches it
SERVER_QUEUE = 2 * WINDOW
#: the largest chunk message a fetcher takes (a zstd frame of a chunk is barely larger)
MAX_CHUNK_MESSAGE = 2 * CHUNK_SIZE
#: seconds of silence from a server after which a fetcher asks again for what it owes
RESEND_AFTER = 2.0
#: times a fetcher asks for one chunk before it counts as lost
MAX_SENDS = 3


class FetchError(Exception):
    """Some map outputs could not be fetched.

    Attributes:
        lost: ``[(map_index, map_attempt), ...]`` of the outputs that are gone.
    """

    def __init__(self, lost: list[tuple[int, str]], reason: str) -> None:
        super().__init__(reason)
        self.lost = lost


class ShuffleServer:
    """Serves byte ranges of files under ``root`` to reducers, in a background thread.

    Args:
        root: the worker's work folder; requests outside it are refused.
        bind: where to listen, e.g. ``tcp://127.0.0.1:0``.
        curve: the worker's CURVE server keys and who may fetch (worker keys).
    """

    def __init__(self, root: str, bind: str, curve: CurveServer | None = None) -> None:
        self.root = os.path.realpath(root)
        self.curve = curve
        self._server = ZmqServer(
            bind, max_message_size=MAX_REQUEST, curve=curve, high_water_mark=SERVER_QUEUE
        )
        self.address = self._server.address
        self._stop = threading.Event()
        self._waker = Waker()  # stop() ends the wait at once, not after up to 0.2 s
        self._thread = threading.Thread(target=self._serve, name="minimr-shuffle", daemon=True)

    def start(self) -> ShuffleServer:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stop.set()
        self._waker.wake()
        self._thread.join(timeout=2)
        if not self._thread.is_alive():  # else it may still wait on the pipe: leave it open
            self._waker.close()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                wait([self._server.pollable, self._waker.fd], 0.2)
                while (received := self._server.recv()) is not None:
                    peer, frames, user = received
                    if self.curve is not None and not self.curve.admit(user):
                        log.warning("dropping a shuffle request from revoked key %s", user)
                        continue
                    try:
                        request = wire.decode(frames)
                    except wire.ProtocolError as exc:
                        log.warning("dropping a malformed shuffle request: %s", exc)
                        continue
                    if isinstance(request, p.FetchChunk) and not self._server.send(
                        peer, wire.encode(self._answer(request))
                    ):  # gone, or past SERVER_QUEUE unread replies: it asks again if it cares
                        log.debug("dropped the reply to shuffle request %d", request.request)
        finally:
            self._server.close()

    def _answer(self, request: p.FetchChunk) -> p.Chunk:
        """:meth:`read`, whose failure is that request's, never the server's end."""
        try:
            return self.read(request)
        except Exception as exc:  # the last-resort guard: one request, not the thread
            log.exception("shuffle request %d for %s failed", request.request, request.path)
            return p.Chunk(request.request, f"the shuffle server failed: {exc!r:.200}", b"")

    def read(self, request: p.FetchChunk) -> p.Chunk:
        """Answer one request: the bytes, or an error saying why not.

        The file is the map output of the request's job and attempt in this worker's folder
        (both names are checked on the wire: no path comes from the fetcher), and the bytes
        are those of its partition, found in the output's partition index.
        """
        path = partindex.output_path(self.root, request.job_id, request.attempt)
        if os.path.commonpath([os.path.realpath(path), self.root]) != self.root:
            return p.Chunk(request.request, f"{request.attempt} is not a map output here", b"")
        if not 0 <= request.length <= CHUNK_SIZE:
            return p.Chunk(request.request, f"bad length {request.length}", b"")
        try:
            start, total = partindex.read_range(path, request.partition)
            if request.offset > total:
                return p.Chunk(request.request, f"bad offset {request.offset} (of {total})", b"")
            length = min(request.length, total - request.offset)
            with open(path, "rb") as file:
                file.seek(start + request.offset)
                data = file.read(length)
        except OSError as exc:
            return p.Chunk(request.request, f"no map output {request.attempt} here: {exc}", b"")
        except ValueError as exc:
            return p.Chunk(request.request, str(exc), b"")
        if len(data) != length:
            return p.Chunk(request.request, f"the output of {request.attempt} is cut short", b"")
        if request.codec == "zstd" and zstandard is not None:
            return p.Chunk(request.request, "", _compressor().compress(data), "zstd", total)
        return p.Chunk(request.request, "", data, "", total)


@dataclass
class _Piece:
    """One chunk of one remote segment."""

    input: int
    offset: int  # within the segment
    length: int
    sends: int = 0  # times asked for: a reply the server dropped is asked for again
    sent: float = 0.0  # when last asked for (time.monotonic)


def gather_segments(
    inputs: ReduceInputs,
    job_id: str,
    step: int,
    partition: int,
    scratch: str,
    host: str,
    timeout: float = FETCH_TIMEOUT,
    keys: KeyPair | None = None,
) -> list[Segment]:
    """Make this reduce's partition of every map output of its step a local segment.

    Args:
        inputs: the reduce assignment's table of where the step's map outputs are.
        job_id, step, partition: the reduce's job, step and partition.
        scratch: a folder for fetched copies.
        host: this machine's name.
        timeout: seconds a server may stay silent before its outputs count as lost.
        keys: this worker's key pair, when the cluster has keys (each holder's ``key``
            is then its server's public key).

    Returns:
        One segment per map output, in map index order (an empty partition too).

    Raises:
        FetchError: outputs that could not be fetched.
    """
    items = inputs.listed(step)
    segments: list[Segment | None] = [None] * len(items)
    remote: list[int] = []
    for i, item in enumerate(items):
        segment = _in_place(item, job_id, partition, host)
        if segment is None:
            remote.append(i)
        segments[i] = segment
    if remote:
        os.makedirs(scratch, exist_ok=True)
        paths = {i: os.path.join(scratch, f"fetched-{i:05d}.seg") for i in remote}
        lengths = _fetch(items, job_id, partition, paths, timeout, keys)
        for i in remote:
            segments[i] = Segment(paths[i], 0, lengths[i])
    return segments  # type: ignore[return-value]


def _in_place(item: MapInput, job_id: str, partition: int, host: str) -> Segment | None:
    """The segment of a map output on this host, read where it is (None: fetch it)."""
    if item.holder.host != host or not item.holder.folder:
        return None
    path = partindex.output_path(item.holder.folder, job_id, item.attempt)
    try:
        offset, length = partindex.read_range(path, partition)
    except (OSError, ValueError):
        return None  # not here after all (another host of the same name?): ask its server
    return Segment(path, offset, length)


def _connect(item: MapInput, keys: KeyPair | None) -> ZmqClient:
    """A connection to the shuffle server holding ``item``, with CURVE when there are keys."""
    identity = f"fetch-{os.getpid()}-{secrets.token_hex(4)}".encode()
    sizes = {"max_message_size": MAX_CHUNK_MESSAGE, "high_water_mark": SERVER_QUEUE}
    address = item.holder.address
    if keys is None:
        return ZmqClient(address, identity, **sizes)
    if not item.holder.key:
        raise FetchError(
            [(item.map, item.attempt)],
            f"{address} advertised no key, and this cluster takes keys",
        )
    curve = CurveClient(keys.public, keys.secret, item.holder.key.encode("ascii"))
    return ZmqClient(address, identity, curve=curve, **sizes)


def _fetch(
    items: list[MapInput],
    job_id: str,
    partition: int,
    paths: dict[int, str],
    timeout: float,
    keys: KeyPair | None,
) -> dict[int, int]:
    """Fetch the remote inputs into ``paths``; returns each one's length. A first chunk of
    each says how long its partition is: the rest are asked for then."""
    files = {i: open(path, "wb") for i, path in paths.items()}  # noqa: SIM115
    fetch = _Fetch(items, job_id, partition, files, timeout, keys)
    try:
        fetch.run([_Piece(i, 0, CHUNK_SIZE) for i in paths])
    finally:
        fetch.close()
        for file in files.values():
            file.close()
    return fetch.lengths


class _Fetch:
    """One reduce attempt's fetch of its remote pieces, ``WINDOW`` of them in flight.

    A piece's first chunk is asked for at most ``CHUNK_SIZE`` bytes; its reply says how
    long the partition is, and the other chunks are asked for then. A server drops the
    replies a fetcher leaves unread past its queue (``SERVER_QUEUE``), so a reply may never
    come though the server is alive. A server answers a connection's requests in order, so
    a reply to a later request shows the earlier ones unanswered were dropped: they are
    asked for again at once. A server silent for ``RESEND_AFTER`` is asked again for what
    it owes (a drop at the tail shows no later reply). A piece is asked for at most
    ``MAX_SENDS`` times; a server silent for ``timeout`` has lost its outputs.
    """

    def __init__(
        self,
        items: list[MapInput],
        job_id: str,
        partition: int,
        files: dict,
        timeout: float,
        keys: KeyPair | None,
    ) -> None:
        self.items = items
        self.job_id = job_id
        self.partition = partition
        self.files = files
        self.timeout = timeout
        self.keys = keys
        self.lengths: dict[int, int] = {}  # input -> its partition's length, once known
        self.clients: dict[str, ZmqClient] = {}
        self.in_flight: dict[int, tuple[_Piece, str]] = {}
        self.heard: dict[str, float] = {}
        self.pieces: list[_Piece] = []  # a stack: pop() takes the next one to ask for
        self._ids = itertools.count()

    def run(self, pieces: list[_Piece]) -> None:
        """Fetch ``pieces`` into their files; raises :class:`FetchError` for lost outputs."""
        self.pieces = pieces[::-1]
        while self.pieces or self.in_flight:
            self._ask()
            ready = wait([c.pollable for c in self.clients.values()], 0.5)
            for address, client in self.clients.items():
                failure = client.handshake_failure()
                if failure is not None:
                    raise FetchError(self._lost_from({address}), f"{address}: {failure}")
                if client.pollable not in ready:
                    continue
                while (frames := client.recv()) is not None:
                    self.heard[address] = time.monotonic()
                    self._receive(frames)
            self._ask_silent_servers_again(time.monotonic())

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def _ask(self) -> None:
        """Send requests until ``WINDOW`` are in flight."""
        while self.pieces and len(self.in_flight) < WINDOW:
            piece = self.pieces.pop()
            item = self.items[piece.input]
            address = item.holder.address
            if address not in self.clients:
                self.clients[address] = _connect(item, self.keys)
                self.heard[address] = time.monotonic()
            request = next(self._ids)
            self.in_flight[request] = (piece, address)
            piece.sends += 1
            piece.sent = time.monotonic()
            fetch = p.FetchChunk(request, self.job_id, item.attempt, self.partition,
                                 piece.offset, piece.length, CODEC)
            self.clients[address].send(wire.encode(fetch))

    def _receive(self, frames: list[bytes]) -> None:
        try:
            chunk = wire.decode(frames)
        except wire.ProtocolError as exc:
            log.warning("dropping a malformed shuffle reply: %s", exc)
            return
        if not isinstance(chunk, p.Chunk) or chunk.request not in self.in_flight:
            return  # a reply to a request asked again since, or not ours
        piece, address = self.in_flight.pop(chunk.request)
        for earlier, (other, where) in list(self.in_flight.items()):
            if where == address and earlier < chunk.request:  # its reply was dropped
                self._ask_again(earlier, other, where)
        item = self.items[piece.input]
        known = self.lengths.setdefault(piece.input, chunk.total)
        expected = min(piece.length, chunk.total - piece.offset)
        data = None
        if not chunk.error and known == chunk.total and expected >= 0:
            data = _decoded(chunk, expected)
        if chunk.error or data is None:
            raise FetchError(
                [(item.map, item.attempt)],
                f"{address}: {chunk.error or 'a chunk not of the bytes asked for'}",
            )
        if piece.offset == 0:  # the first chunk: now the rest can be asked for, in order
            self.pieces.extend(
                _Piece(piece.input, offset, min(CHUNK_SIZE, chunk.total - offset))
                for offset in reversed(range(CHUNK_SIZE, chunk.total, CHUNK_SIZE))
            )
        self.files[piece.input].seek(piece.offset)
        self.files[piece.input].write(data)

    def _ask_again(self, request: int, piece: _Piece, address: str) -> None:
        del self.in_flight[request]
        if piece.sends >= MAX_SENDS:
            item = self.items[piece.input]
            raise FetchError(
                [(item.map, item.attempt)],
                f"{address} dropped {MAX_SENDS} requests for the same chunk of {item.attempt}",
            )
        self.pieces.append(piece)

    def _ask_silent_servers_again(self, now: float) -> None:
        """Ask again what a quiet server owes; a server silent for ``timeout`` lost it."""
        silent = {a for _, a in self.in_flight.values() if now - self.heard[a] > self.timeout}
        if silent:
            raise FetchError(
                self._lost_from(silent),
                f"no answer from {', '.join(sorted(silent))} for {self.timeout:g} s",
            )
        for request, (piece, address) in list(self.in_flight.items()):
            quiet = now - max(self.heard[address], piece.sent)
            if quiet > RESEND_AFTER and piece.sends < MAX_SENDS:
                self._ask_again(request, piece, address)

    def _lost_from(self, addresses: set[str]) -> list[tuple[int, str]]:
        """The map outputs still awaited from ``addresses``."""
        return sorted(
            {
                (self.items[piece.input].map, self.items[piece.input].attempt)
                for piece, where in self.in_flight.values()
                if where in addresses
            }
        )


def _compressor():
    return zstandard.ZstdCompressor(level=1)  # writes the content size in the frame


def _decoded(chunk: p.Chunk, length: int) -> bytes | None:
    """A chunk's bytes as they were on disk; None unless they are ``length`` bytes."""
    if chunk.codec == "":
        data = chunk.data
    elif chunk.codec == "zstd" and zstandard is not None:
        try:  # the frame says its size first: nothing larger is ever made
            if zstandard.frame_content_size(chunk.data) != length:
                return None
            data = zstandard.ZstdDecompressor().decompress(chunk.data)
        except zstandard.ZstdError:
            return None
    else:
        return None
    return data if len(data) == length else None
