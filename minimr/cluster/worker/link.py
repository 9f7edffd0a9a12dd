"""A worker's link to its coordinator: registration, heartbeats, liveness and reconnects.

The ZeroMQ Guide's ``mdwrkapi.py`` keeps a worker's liveness, heartbeats and reconnects
inside the API object, out of the worker's loop; :class:`CoordinatorLink` does the same
for minimr's worker (``worker.py``), whose loop then only says *what* to do with each
message. Heartbeats are the Paranoid Pirate's:

- the coordinator's ``Welcome`` sets the interval and the liveness (missed beats allowed);
- any message from the coordinator counts as a sign of life;
- after ``interval x liveness`` of silence the link gives the connection up (the worker
  drops its attempts: the coordinator will have given them to others), waits with capped
  exponential backoff plus jitter, and registers again on a new connection with a new
  identity, so the coordinator sees a new worker.

All timing is on ``time.monotonic()``; a message that does not decode is logged and
dropped (never the loop's end). The worker's messages of one loop turn (its results) are
posted and go as one batch at the turn's end (:meth:`CoordinatorLink.flush`); a batch from
the coordinator is taken apart here.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.transport import Client

log = logging.getLogger("minimr.worker")

#: reconnect backoff: first wait, and the cap it doubles up to (seconds)
RECONNECT_INITIAL = 0.25
RECONNECT_MAX = 8.0


class WorkerRejected(Exception):
    """The coordinator turned this worker away (incompatible versions, refused keys)."""


class CoordinatorLink:
    """One worker's connection to its coordinator, kept alive.

    Args:
        address: the coordinator's address.
        connect: the transport factory ``(address, identity) -> Client``.
        name: the worker's name (part of each connection's identity).
        registration: builds the ``Ready`` to send on a new connection with this identity.
        lost: called when the connection is given up (the worker drops its attempts).
        stopped: set when the worker stops (ends a reconnect's backoff at once).
    """

    def __init__(
        self,
        address: str,
        connect: Callable[[str, bytes], Client],
        name: str,
        registration: Callable[[bytes], p.Ready],
        lost: Callable[[], None],
        stopped: threading.Event,
    ) -> None:
        self.address = address
        self._connect = connect
        self._name = name
        self._registration = registration
        self._lost = lost
        self._stopped = stopped
        self.conn: Client | None = None
        self.welcomed = False
        self.interval = p.HEARTBEAT_INTERVAL
        self.liveness = p.HEARTBEAT_LIVENESS
        self.backoff = RECONNECT_INITIAL
        self.heard = self.next_beat = time.monotonic()
        self._posted: list[list[bytes]] = []  # encoded, sent together by flush()

    @property
    def pollable(self) -> object | None:
        """What to wait on for the coordinator's messages (None while disconnected)."""
        return self.conn.pollable if self.conn is not None else None

    def timeout(self, now: float) -> float:
        """Seconds until the next heartbeat is due."""
        return max(0.0, self.next_beat - now)

    # --- connecting -------------------------------------------------------------------------

    def connect(self) -> None:
        """A new connection with a new identity, and this worker's registration on it."""
        identity = f"w-{self._name}-{secrets.token_hex(4)}".encode()
        self.conn = self._connect(self.address, identity)
        self.welcomed = False
        self.send(self._registration(identity))
        self.heard = time.monotonic()

    def reconnect(self, reason: str) -> None:
        """Give the connection up and register again at once (the coordinator asked)."""
        log.warning("coordinator asks to register again: %s", reason)
        self.disconnect()
        self.connect()

    def disconnect(self) -> None:
        """Drop the connection; the worker drops its attempts (nobody will take them)."""
        self.flush()
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._lost()

    def close(self) -> None:
        """Say goodbye and drop the connection (the worker is leaving)."""
        self.send(p.Bye())
        self.disconnect()

    # --- talking ----------------------------------------------------------------------------

    def send(self, message: p.Message) -> None:
        """Send a message now, after those posted (dropped while disconnected: the
        coordinator forgets us then)."""
        self.post(message)
        self.flush()

    def post(self, message: p.Message) -> None:
        """Send a message at the next :meth:`flush`, with the others posted till then."""
        if self.conn is not None:
            self._posted.append(wire.encode(message))

    def flush(self) -> None:
        """Send the messages posted, as one batch (one alone as it is)."""
        posted, self._posted = self._posted, []
        if self.conn is None:
            return
        for frames in wire.deliveries(posted):
            self.conn.send(frames)

    def receive(self) -> Iterator[p.Message]:
        """The coordinator's messages that have arrived, for the worker to handle.

        Each counts as a sign of life. ``Welcome`` and ``Heartbeat`` are the link's own
        business and are not yielded; ``Reject`` raises :class:`WorkerRejected`.
        """
        while self.conn is not None and (frames := self.conn.recv()) is not None:
            self.heard = time.monotonic()
            try:
                parts = wire.unbatch(frames)
            except wire.ProtocolError as exc:
                log.warning("dropping a malformed batch from the coordinator: %s", exc)
                continue
            yield from self._messages(parts)

    def _messages(self, parts: list[list[bytes]]) -> Iterator[p.Message]:
        """The messages of one delivery the worker handles (the link's own taken here); the
        rest of a batch is dropped once its connection is given up (a ``Reconnect`` in it)."""
        conn = self.conn
        for frames in parts:
            if self.conn is not conn:
                return
            try:
                message = wire.decode(frames)
            except wire.VersionMismatch as exc:
                if exc.command == p.Command.REJECT:  # (a Reject's number in every version)
                    raise WorkerRejected(
                        f"the coordinator refused this worker: it speaks minimr protocol "
                        f"version {exc.version}, this worker {wire.VERSION}; upgrade minimr on "
                        "one side"
                    ) from None
                log.warning("dropping a message from the coordinator: %s", exc)
                continue
            except wire.ProtocolError as exc:
                log.warning("dropping a malformed message from the coordinator: %s", exc)
                continue
            if isinstance(message, p.Welcome):
                self.welcomed = True
                self.backoff = RECONNECT_INITIAL
                self.interval = message.heartbeat_interval
                self.liveness = message.heartbeat_liveness
                log.info("registered with %s", self.address)
            elif isinstance(message, p.Reject):
                raise WorkerRejected(f"the coordinator refused this worker: {message.reason}")
            elif not isinstance(message, p.Heartbeat):
                yield message

    def check_handshake(self) -> None:
        """A refused security handshake is as final as a Reject: say why and stop.

        Raises:
            WorkerRejected: the coordinator refused this worker's connection.
        """
        failure = self.conn.handshake_failure() if self.conn is not None else None
        if failure is not None:
            raise WorkerRejected(
                f"the coordinator at {self.address} refused this worker's connection: {failure}"
            )

    # --- liveness ---------------------------------------------------------------------------

    def maintain(self, now: float) -> None:
        """Heartbeat when one is due; after too long a silence, reconnect with backoff."""
        if now >= self.next_beat:
            self.send(p.Heartbeat())
            self.next_beat = now + self.interval
        silence = now - self.heard
        if silence <= self.interval * self.liveness:
            return
        log.warning(
            "coordinator silent for %.1f s; reconnecting in %.2f s", silence, self.backoff
        )
        self.disconnect()
        self._stopped.wait(self.backoff * (1 + random.random() / 2))  # jitter: no herd
        self.backoff = min(self.backoff * 2, RECONNECT_MAX)
        if not self._stopped.is_set():
            self.connect()
        self.heard = time.monotonic()
