"""The shuffle without a shared filesystem: workers serve map outputs, reducers fetch them.

Each worker runs a :class:`ShuffleServer` (its own ROUTER socket, in a thread of the
worker process, so user code never blocks it) that answers ``FetchChunk`` requests
with byte ranges of the map output files under the worker's work folder, and
nothing else. Its address travels in the worker's registration; the scheduler puts
it in every reduce assignment beside the map output's path and byte range.

A reduce attempt calls :func:`gather_segments` before reducing:

- a map output on the same host whose file exists is read in place (no copy);
- the others are fetched chunk by chunk (``CHUNK_SIZE``), with up to ``WINDOW``
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
from collections.abc import Sequence
from dataclasses import dataclass

from minimr.cluster import protocol as p
from minimr.cluster.protocol import ReduceInput
from minimr.cluster.security import KeyPair
from minimr.cluster.transport import (
    CurveClient,
    CurveServer,
    Waker,
    ZmqClient,
    ZmqServer,
    wait,
)
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
        self._server = ZmqServer(bind, max_message_size=MAX_REQUEST, curve=curve)
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
                        request = p.decode(frames)
                    except p.ProtocolError as exc:
                        log.warning("dropping a malformed shuffle request: %s", exc)
                        continue
                    if isinstance(request, p.FetchChunk):
                        self._server.send(peer, p.encode(self._answer(request)))
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
        """Answer one request: the bytes, or an error saying why not."""
        path = os.path.realpath(request.path)
        if os.path.commonpath([path, self.root]) != self.root:
            return p.Chunk(request.request, f"{request.path} is not a map output here", b"")
        if request.offset < 0 or not 0 <= request.length <= CHUNK_SIZE:
            return p.Chunk(request.request, f"bad range {request.offset}+{request.length}", b"")
        try:
            with open(path, "rb") as file:
                file.seek(request.offset)
                data = file.read(request.length)
        except OSError as exc:
            return p.Chunk(request.request, f"cannot read {request.path}: {exc}", b"")
        if len(data) != request.length:
            return p.Chunk(request.request, f"{request.path} is shorter than expected", b"")
        if request.codec == "zstd" and zstandard is not None:
            return p.Chunk(request.request, "", _compressor().compress(data), "zstd")
        return p.Chunk(request.request, "", data)


@dataclass
class _Piece:
    """One chunk of one remote segment."""

    input: int
    offset: int  # within the segment
    length: int


def gather_segments(
    inputs: Sequence[ReduceInput],
    scratch: str,
    host: str,
    timeout: float = FETCH_TIMEOUT,
    keys: KeyPair | None = None,
) -> list[Segment]:
    """Make every map output partition of a reduce available as a local segment.

    Args:
        inputs: the reduce assignment's inputs (where each map output's partition is).
        scratch: a folder for fetched copies.
        host: this machine's name.
        timeout: seconds a server may stay silent before its outputs count as lost.
        keys: this worker's key pair, when the cluster has keys (each input's ``key``
            is then its server's public key).

    Returns:
        One segment per input, in input (map index) order.

    Raises:
        FetchError: outputs that could not be fetched.
    """
    segments: list[Segment | None] = [None] * len(inputs)
    remote: list[int] = []
    for i, item in enumerate(inputs):
        if item.host == host and os.path.exists(item.path):
            segments[i] = Segment(item.path, item.offset, item.length)
        else:
            remote.append(i)
    if remote:
        os.makedirs(scratch, exist_ok=True)
        for i in remote:
            path = os.path.join(scratch, f"fetched-{i:05d}.seg")
            segments[i] = Segment(path, 0, inputs[i].length)
        _fetch(inputs, remote, segments, timeout, keys)  # type: ignore[arg-type]
    return segments  # type: ignore[return-value]


def _connect(item: ReduceInput, keys: KeyPair | None) -> ZmqClient:
    """A connection to the shuffle server holding ``item``, with CURVE when there are keys."""
    identity = f"fetch-{os.getpid()}-{secrets.token_hex(4)}".encode()
    if keys is None:
        return ZmqClient(item.address, identity)
    if not item.key:
        raise FetchError(
            [(item.map, item.attempt)],
            f"{item.address} advertised no key, and this cluster takes keys",
        )
    curve = CurveClient(keys.public, keys.secret, item.key.encode("ascii"))
    return ZmqClient(item.address, identity, curve=curve)


def _fetch(
    inputs: Sequence[ReduceInput],
    remote: list[int],
    segments: list[Segment],
    timeout: float,
    keys: KeyPair | None,
) -> None:
    pieces = [
        _Piece(i, offset, min(CHUNK_SIZE, inputs[i].length - offset))
        for i in remote
        for offset in range(0, inputs[i].length, CHUNK_SIZE)
    ]
    pieces.reverse()  # pop() from the end takes them in order
    files = {i: open(segments[i].path, "wb") for i in remote}  # noqa: SIM115
    clients: dict[str, ZmqClient] = {}
    in_flight: dict[int, tuple[_Piece, str]] = {}
    heard: dict[str, float] = {}
    ids = itertools.count()
    try:
        while pieces or in_flight:
            while pieces and len(in_flight) < WINDOW:
                piece = pieces.pop()
                item = inputs[piece.input]
                address = item.address
                if address not in clients:
                    clients[address] = _connect(item, keys)
                    heard[address] = time.monotonic()
                request = next(ids)
                in_flight[request] = (piece, address)
                clients[address].send(
                    p.encode(
                        p.FetchChunk(
                            request, item.path, item.offset + piece.offset, piece.length, CODEC
                        )
                    )
                )
            ready = wait([c.pollable for c in clients.values()], 0.5)
            for address, client in clients.items():
                failure = client.handshake_failure()
                if failure is not None:
                    raise FetchError(
                        _lost_from(address, in_flight, inputs), f"{address}: {failure}"
                    )
                if client.pollable not in ready:
                    continue
                while (frames := client.recv()) is not None:
                    heard[address] = time.monotonic()
                    _receive(frames, in_flight, inputs, files)
            now = time.monotonic()
            silent = {a for _, a in in_flight.values() if now - heard[a] > timeout}
            if silent:
                lost = sorted(
                    {pair for address in silent for pair in _lost_from(address, in_flight, inputs)}
                )
                raise FetchError(
                    lost, f"no answer from {', '.join(sorted(silent))} for {timeout:g} s"
                )
    finally:
        for file in files.values():
            file.close()
        for client in clients.values():
            client.close()


def _lost_from(
    address: str, in_flight: dict, inputs: Sequence[ReduceInput]
) -> list[tuple[int, str]]:
    """The map outputs still awaited from ``address``."""
    return sorted(
        {
            (inputs[piece.input].map, inputs[piece.input].attempt)
            for piece, where in in_flight.values()
            if where == address
        }
    )


def _receive(
    frames: list[bytes], in_flight: dict, inputs: Sequence[ReduceInput], files: dict
) -> None:
    try:
        chunk = p.decode(frames)
    except p.ProtocolError as exc:
        log.warning("dropping a malformed shuffle reply: %s", exc)
        return
    if not isinstance(chunk, p.Chunk) or chunk.request not in in_flight:
        return
    piece, address = in_flight.pop(chunk.request)
    item = inputs[piece.input]
    data = chunk.data if chunk.error else _decoded(chunk, piece.length)
    if chunk.error or data is None:
        raise FetchError(
            [(item.map, item.attempt)],
            f"{address}: {chunk.error or f'a chunk not of the {piece.length} bytes asked for'}",
        )
    files[piece.input].seek(piece.offset)
    files[piece.input].write(data)


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
