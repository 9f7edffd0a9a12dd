"""A worker's shuffle server: the bytes of its map outputs' partitions, to reducers.

One :class:`ShuffleServer` per worker, its own ROUTER socket in a thread of the worker
process, so user code never blocks it. It answers ``FetchChunk`` requests with one chunk of
one partition of one of its map outputs, named by job and attempt (no path comes from the
fetcher; the byte range is in the output's index, ``partindex.py``), and nothing else; its
memory stays bounded whatever peers ask (``shuffle.py`` has the bounds and the codec; the
fetching side is ``fetch.py``).
"""

from __future__ import annotations

import logging
import os
import threading

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.transport import CurveServer, Waker, ZmqServer, wait
from minimr.cluster.worker import partindex, shuffle

log = logging.getLogger("minimr.shuffle")


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
            bind, max_message_size=shuffle.MAX_REQUEST, curve=curve,
            high_water_mark=shuffle.SERVER_QUEUE,
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
        if not 0 <= request.length <= shuffle.CHUNK_SIZE:
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
        sent, codec = shuffle.encoded(data, request.codec)
        return p.Chunk(request.request, "", sent, codec, total)
