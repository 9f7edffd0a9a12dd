"""An in-memory fake of the transport seam (``transport.py``): the same server and client
interface, no sockets, as httpx's ``MockTransport`` or dask's ``comm/inproc``.

Tests drive the real coordinator loop over it. Each end exposes ``pollable``, the read end of a
self-pipe, so a ``zmq.Poller`` waits on fakes as on sockets.
"""

from __future__ import annotations

import collections
import threading

from minimr.cluster.wire.transport import Waker


class _Inbox:
    """A thread-safe queue whose readiness a poller can wait on: ``pollable`` is readable
    while it holds an item (a ``Waker``'s pipe)."""

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()
        self._waker = Waker()
        self.pollable = self._waker.fd

    def put(self, item: object) -> None:
        self._items.append(item)
        self._waker.wake()

    def get(self) -> object | None:
        # cleared before taking, woken again if items remain: a put racing with this get
        # leaves the pipe readable (at worst once too often, never too rarely)
        self._waker.clear()
        try:
            item = self._items.popleft()
        except IndexError:
            return None
        if self._items:
            self._waker.wake()
        return item

    def close(self) -> None:
        self._waker.close()


class MemoryNetwork:
    """A registry of in-memory servers: ``bind``/``connect`` like ZeroMQ, no sockets.

    Messages sent before the server binds wait, as ZeroMQ's do for a DEALER whose
    peer is not up yet.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, MemoryServer] = {}
        self._waiting: dict[str, list[tuple[MemoryClient, list[bytes]]]] = {}

    def bind(self, address: str) -> MemoryServer:
        """Start a server at ``address``."""
        server = MemoryServer(self, address)
        with self._lock:
            self._servers[address] = server
            waiting = self._waiting.pop(address, [])
        for client, frames in waiting:
            server._deliver(client, frames)
        return server

    def connect(self, address: str, identity: bytes, user: str = "") -> MemoryClient:
        """Connect a client with routing identity ``identity`` to ``address``.

        ``user`` plays the public key a CURVE server would have authenticated.
        """
        return MemoryClient(self, address, identity, user)

    def _route(self, client: MemoryClient, frames: list[bytes]) -> None:
        with self._lock:
            server = self._servers.get(client.address)
            if server is None:
                self._waiting.setdefault(client.address, []).append((client, frames))
                return
        server._deliver(client, frames)

    def _unbind(self, address: str) -> None:
        with self._lock:
            self._servers.pop(address, None)


class MemoryServer:
    """The fake ROUTER."""

    def __init__(self, network: MemoryNetwork, address: str) -> None:
        self._network = network
        self.address = address
        self._inbox = _Inbox()
        self._peers: dict[bytes, MemoryClient] = {}
        self.pollable = self._inbox.pollable

    def _deliver(self, client: MemoryClient, frames: list[bytes]) -> None:
        self._peers[client.identity] = client
        self._inbox.put((client.identity, list(frames), client.user))

    def recv(self) -> tuple[bytes, list[bytes], str] | None:
        """Return the next ``(peer, frames, user)`` without blocking, or ``None``."""
        return self._inbox.get()  # type: ignore[return-value]

    def send(self, peer: bytes, frames: list[bytes]) -> bool:
        """Deliver to ``peer``; ``False`` if it never connected or has closed."""
        client = self._peers.get(peer)
        if client is None or client.closed:
            return False
        client._inbox.put(list(frames))
        return True

    def close(self) -> None:
        """Stop serving."""
        self._network._unbind(self.address)
        self._inbox.close()


class MemoryClient:
    """The fake DEALER."""

    def __init__(
        self, network: MemoryNetwork, address: str, identity: bytes, user: str = ""
    ) -> None:
        self._network = network
        self.address = address
        self.identity = identity
        self.user = user
        self.closed = False
        self._inbox = _Inbox()
        self.pollable = self._inbox.pollable

    def recv(self) -> list[bytes] | None:
        """Return the next message's frames without blocking, or ``None``."""
        return self._inbox.get()  # type: ignore[return-value]

    def send(self, frames: list[bytes]) -> bool:
        """Send to the server (queued until it binds)."""
        if self.closed:
            return False
        self._network._route(self, list(frames))
        return True

    def handshake_failure(self) -> str | None:
        """Never: the fake has no security handshake."""
        return None

    def close(self) -> None:
        """Disconnect; later sends to this client fail."""
        self.closed = True
        self._inbox.close()
