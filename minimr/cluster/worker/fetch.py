"""A reduce attempt's fetch: its partition of every map output of its step, as local segments.

:func:`gather_segments` runs before the reduce:

- a map output on the same host whose file exists is read in place (no copy), its
  partition's byte range read from the output's index;
- the others are fetched chunk by chunk from their workers' shuffle servers
  (``shuffleserver.py``), ``WINDOW`` chunks in flight across all servers at once, each
  written straight to a local file (:class:`_Fetch`; the sizes and the codec are
  ``shuffle.py``'s);
- a server silent for ``FETCH_TIMEOUT`` seconds, or one that reports an error, makes it raise
  :class:`FetchError` naming the map outputs it could not get: the worker reports them lost
  and the coordinator runs those maps again.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from dataclasses import dataclass

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.protocol import MapInput, ReduceInputs
from minimr.cluster.wire.security import KeyPair
from minimr.cluster.wire.transport import CurveClient, ZmqClient, wait
from minimr.cluster.worker import partindex, shuffle
from minimr.dataflow.format.segments import Segment

log = logging.getLogger("minimr.shuffle")


class FetchError(Exception):
    """Some map outputs could not be fetched.

    Attributes:
        lost: ``[(map_index, map_attempt), ...]`` of the outputs that are gone.
    """

    def __init__(self, lost: list[tuple[int, str]], reason: str) -> None:
        super().__init__(reason)
        self.lost = lost


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
    timeout: float = shuffle.FETCH_TIMEOUT,
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
    sizes = {"max_message_size": shuffle.MAX_CHUNK_MESSAGE,
             "high_water_mark": shuffle.SERVER_QUEUE}
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
        fetch.run([_Piece(i, 0, shuffle.CHUNK_SIZE) for i in paths])
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
        while self.pieces and len(self.in_flight) < shuffle.WINDOW:
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
                                 piece.offset, piece.length, shuffle.CODEC)
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
            data = shuffle.decoded(chunk, expected)
        if chunk.error or data is None:
            raise FetchError(
                [(item.map, item.attempt)],
                f"{address}: {chunk.error or 'a chunk not of the bytes asked for'}",
            )
        if piece.offset == 0:  # the first chunk: now the rest can be asked for, in order
            size = shuffle.CHUNK_SIZE
            self.pieces.extend(
                _Piece(piece.input, offset, min(size, chunk.total - offset))
                for offset in reversed(range(size, chunk.total, size))
            )
        self.files[piece.input].seek(piece.offset)
        self.files[piece.input].write(data)

    def _ask_again(self, request: int, piece: _Piece, address: str) -> None:
        del self.in_flight[request]
        if piece.sends >= shuffle.MAX_SENDS:
            item = self.items[piece.input]
            raise FetchError(
                [(item.map, item.attempt)],
                f"{address} dropped {shuffle.MAX_SENDS} requests for the same chunk of "
                f"{item.attempt}",
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
            if quiet > shuffle.RESEND_AFTER and piece.sends < shuffle.MAX_SENDS:
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
