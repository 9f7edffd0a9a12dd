"""The transport seam: the only module that knows about ZeroMQ sockets.

Two roles, each a small interface:

- a *server* (the coordinator; a worker's shuffle service) receives ``(peer, frames)``
  from many peers and sends frames to one peer by its identity;
- a *client* (a worker, a submitting client, a shuffle fetch) exchanges frames with
  one server.

``ZmqServer``/``ZmqClient`` implement them with a ROUTER and a DEALER socket;
``memory_transport.MemoryNetwork`` hands out in-memory fakes with the same interface, so
the coordinator and worker loops can be tested without sockets. Both expose
``pollable``, something ``zmq.Poller`` can wait on (a socket, or the read end of a
self-pipe for the fakes), so an event loop waits on sockets, executor pipes and fakes
alike.

Socket choices:

- ``ROUTER_MANDATORY``: a send to a peer that is gone (or whose queue is full) fails
  loudly instead of being dropped silently; ``send`` returns ``False`` and the caller
  treats the peer as unreachable.
- ``LINGER 0``: closing never blocks on undelivered messages (a dead peer must not
  hang a shutdown).
- ``MAXMSGSIZE``: a peer cannot make us allocate unbounded memory with one message.
- high-water marks raised above the default 1,000 so a burst of assignments to
  hundreds of workers is not refused; a server whose replies are big (a shuffle server's
  chunks) sets them low instead, so a peer that does not read gets its replies dropped
  rather than making the server queue them (ZeroMQ counts the mark per peer, in messages).

Security (CURVE, pyzmq's ``zmq.auth``): a server given a :class:`CurveServer` encrypts
every connection with its key pair and lets a ZAP handler (one ``ThreadAuthenticator``
per context, one ZAP domain per kind of server) admit only the client public keys its
``admit`` callable accepts; each message it receives then carries the sender's public key
(ZeroMQ's ``User-Id`` property), so the application can authorize per message. A client
given a :class:`CurveClient` encrypts with its own key pair and checks the server's.
Key files and who may do what live in ``security.py``; this module only applies keys to
sockets. Without keys, binding anything but loopback needs ``insecure=True`` (see
:func:`check_bind_address`).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket as _socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import zmq

from minimr.cluster.coordinator.limits import MAX_MESSAGE_SIZE

if TYPE_CHECKING:  # imported when first needed: zmq.auth.thread and zmq.utils.monitor bring
    # in asyncio, ~30 ms of every process's start, for CURVE servers and failed handshakes only
    from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger("minimr.transport")

#: largest message a coordinator accepts (job plans travel in one message; see limits.py)
COORDINATOR_MAX_MESSAGE = MAX_MESSAGE_SIZE
#: largest message a worker or client accepts
PEER_MAX_MESSAGE = 1 << 30
HIGH_WATER_MARK = 100_000
#: messages a server queues unread per peer: past it ZeroMQ stops reading that peer's
#: connection (TCP pushes back on the sender; nothing is dropped), so one peer flooding a
#: server holds at most this many of its messages in the server's memory
RECEIVE_QUEUE = 1_000
#: a frame shorter than this is copied into ZeroMQ, a longer one handed over without a copy
#: (a reduce's table of map output holders): an uncopied frame costs a Python object and a
#: tracker, several times a short frame's copy (pyzmq's own threshold, ``zmq.COPY_THRESHOLD``)
COPY_THRESHOLD = 65536
# pyzmq's flags as plain ints: each of its Flag enums costs an enum operation per frame, and
# ``send_multipart`` combines one per frame (``SNDMORE | flags``): 4x the cost of the sends
# of a batch of small frames, measured
_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)
_RCVMORE = int(zmq.RCVMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
#: the Cython ``send`` that pyzmq's own ``Socket.send`` ends in, after a Python layer for
#: routing ids and groups (draft sockets, not ours): called directly, a short frame's send
#: costs half as much (2.7 -> 1.3 us measured), and every frame of a message is one call
_SEND = zmq.backend.Socket.send


def send_frames(socket: zmq.Socket, frames: list) -> None:
    """Send ``frames`` as one message without blocking (``send_multipart``, cheaper).

    Raises:
        zmq.ZMQError: as ``send_multipart`` (``zmq.Again`` for a full queue).
    """
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        _SEND(socket, frame, _MORE if index < last else _LAST, len(frame) < COPY_THRESHOLD)


def recv_frames(socket: zmq.Socket) -> list[bytes]:
    """The next message's frames as bytes without blocking (``recv_multipart``, cheaper).

    Raises:
        zmq.Again: no message is waiting.
    """
    recv = socket.recv
    frames = [recv(_LAST)]
    while socket.getsockopt(_RCVMORE):
        frames.append(recv(_LAST))
    return frames


class InsecureBind(Exception):
    """Binding a reachable address without security was refused."""


@dataclass(frozen=True)
class CurveServer:
    """CURVE for a server socket.

    Attributes:
        public, secret: the server's key pair (Z85, 40 bytes each).
        domain: the ZAP domain of this kind of server ("minimr-coordinator"...).
        admit: called (in the ZAP thread) with a connecting client's Z85 public key;
            ``True`` lets the connection through the handshake.
    """

    public: bytes
    secret: bytes
    domain: str
    admit: Callable[[str], bool]


@dataclass(frozen=True)
class CurveClient:
    """CURVE for a client socket: its own key pair and the server's public key (Z85)."""

    public: bytes
    secret: bytes
    server_key: bytes


class Server(Protocol):
    """Receives from many peers, replies to one by identity."""

    address: str
    pollable: object

    def recv(self) -> tuple[bytes, list[bytes], str] | None:
        """Return the next ``(peer, frames, user)`` without blocking, or ``None``.

        ``user`` is the sender's authenticated public key (Z85), ``""`` on a server
        without CURVE.
        """

    def send(self, peer: bytes, frames: list[bytes]) -> bool:
        """Send to ``peer``; ``False`` when it is unknown or unreachable."""

    def close(self) -> None:
        """Release the socket; pending messages are dropped."""


class Client(Protocol):
    """Talks to one server."""

    pollable: object

    def recv(self) -> list[bytes] | None:
        """Return the next message's frames without blocking, or ``None``."""

    def send(self, frames: list[bytes]) -> bool:
        """Queue a message to the server; ``False`` if it cannot be queued."""

    def handshake_failure(self) -> str | None:
        """Why the security handshake with the server failed, if it did (never blocks)."""

    def close(self) -> None:
        """Release the socket; pending messages are dropped."""


def is_loopback(address: str) -> bool:
    """Whether a ``tcp://HOST:PORT`` (or ipc/inproc/mem) address is reachable only locally."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return True
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname or "*": reachable from elsewhere


def check_bind_address(address: str, insecure: bool, keys: bool = False) -> None:
    """Refuse to listen on a non-loopback address without keys unless told it is on purpose.

    Raises:
        InsecureBind: the address is reachable from other machines, there are no keys
            and ``insecure`` is false.
    """
    if insecure or keys or is_loopback(address):
        return
    raise InsecureBind(
        f"refusing to bind {address} without keys: workers run whatever code a submitted "
        "job ships, so an open port without authentication lets anyone who reaches it run "
        "code on every worker. Make keys with `minimr keygen DIR` and pass --keys DIR, bind "
        "a loopback address (tcp://127.0.0.1:PORT), or pass --insecure if the network is "
        "trusted."
    )


def _endpoint(address: str) -> str:
    # ZeroMQ spells "any free port" as "*"
    return (
        address[:-2] + ":*" if address.startswith("tcp://") and address.endswith(":0") else address
    )


class ZmqServer:
    """A ROUTER socket bound to ``address`` (``tcp://HOST:0`` picks a free port).

    ``max_message_size`` bounds one inbound message; ``high_water_mark`` the messages queued
    per peer each way (a send past it fails: ``send`` returns ``False``).
    """

    def __init__(
        self,
        address: str,
        *,
        max_message_size: int = COORDINATOR_MAX_MESSAGE,
        curve: CurveServer | None = None,
        context: zmq.Context | None = None,
        high_water_mark: int = HIGH_WATER_MARK,
    ) -> None:
        context = context or zmq.Context.instance()
        self._socket = context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, max_message_size)
        self._socket.setsockopt(zmq.SNDHWM, high_water_mark)  # messages queued per peer
        self._socket.setsockopt(zmq.RCVHWM, min(high_water_mark, RECEIVE_QUEUE))
        self.curve = curve
        if curve is not None:
            _zap_domain(context, curve.domain, curve.admit)
            self._socket.curve_secretkey = curve.secret
            self._socket.curve_publickey = curve.public
            self._socket.curve_server = True
            self._socket.zap_domain = curve.domain.encode()
        self._socket.bind(_endpoint(address))
        self.address: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.pollable = self._socket

    def recv(self) -> tuple[bytes, list[bytes], str] | None:
        """Return the next ``(peer, frames, user)`` without blocking, or ``None``.

        With CURVE, ``user`` is the public key the sender authenticated with (its
        ``User-Id``, set by the ZAP handler); without, ``""``.
        """
        if not self._socket.getsockopt(_EVENTS) & _POLLIN:
            return None  # asked first: an empty queue is the usual end of a drain, and
            # ending it with zmq.Again cost the coordinator's loop an exception per turn
        try:
            if self.curve is None:
                frames = recv_frames(self._socket)
                return frames[0], frames[1:], ""
            parts = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None
        user = parts[-1].get("User-Id") or ""
        return parts[0].bytes, [part.bytes for part in parts[1:]], user

    def send(self, peer: bytes, frames: list[bytes]) -> bool:
        """Send to ``peer``; ``False`` when it is unknown or its queue is full."""
        try:
            send_frames(self._socket, [peer, *frames])
        except zmq.ZMQError as exc:
            if exc.errno in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                return False
            raise
        return True

    def close(self) -> None:
        """Close the socket without lingering."""
        self._socket.close(linger=0)


class ZmqClient:
    """A DEALER socket connected to ``address`` with a chosen routing identity.

    A fresh identity per connection (as the Paranoid Pirate worker does on reconnect)
    means the server never confuses an old connection with a new one.
    """

    def __init__(
        self,
        address: str,
        identity: bytes,
        *,
        max_message_size: int = PEER_MAX_MESSAGE,
        curve: CurveClient | None = None,
        context: zmq.Context | None = None,
        high_water_mark: int = HIGH_WATER_MARK,
    ) -> None:
        self._socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self._socket.setsockopt(zmq.IDENTITY, identity)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, max_message_size)
        self._socket.setsockopt(zmq.SNDHWM, high_water_mark)
        self._socket.setsockopt(zmq.RCVHWM, high_water_mark)
        if curve is not None:
            self._socket.curve_secretkey = curve.secret
            self._socket.curve_publickey = curve.public
            self._socket.curve_serverkey = curve.server_key
        # only handshake failures: they say why a server never answers (wrong keys)
        self._monitor = self._socket.get_monitor_socket(_HANDSHAKE_FAILURES)
        self._vague_failures = 0
        self._has_keys = curve is not None
        self._socket.connect(address)
        self.pollable = self._socket

    def recv(self) -> list[bytes] | None:
        """Return the next message's frames without blocking, or ``None``."""
        try:
            return recv_frames(self._socket)
        except zmq.Again:
            return None

    def send(self, frames: list[bytes]) -> bool:
        """Queue a message; ``False`` if the queue is full."""
        try:
            send_frames(self._socket, frames)
        except zmq.Again:
            return False
        return True

    def handshake_failure(self) -> str | None:
        """Why the security handshake keeps failing, if it does (never blocks).

        Without keys, any failure means the server wants keys. With keys, a refused key
        or a server without keys is reported at once; a failure without detail (what a
        wrong server key looks like, but also a mismatch whose detail has not arrived
        yet) only after ``VAGUE_FAILURES`` in a row, so the precise reason wins.
        """
        failure = None
        while self._monitor.poll(0):
            from zmq.utils.monitor import recv_monitor_message

            event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            if self._has_keys and event["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                self._vague_failures += 1
                if self._vague_failures < VAGUE_FAILURES:
                    continue
            failure = failure or _describe_handshake_failure(
                event["event"], event["value"], self._has_keys
            )
        return failure

    def close(self) -> None:
        """Close the socket without lingering."""
        self._socket.disable_monitor()
        self._monitor.close(linger=0)
        self._socket.close(linger=0)


#: handshake failures without detail in a row before one is reported (about 0.1 s apart)
VAGUE_FAILURES = 5
_HANDSHAKE_FAILURES = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


def _describe_handshake_failure(event: int, value: int, has_keys: bool) -> str:
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (
            "the server refused this public key (it is not among the keys it authorizes, "
            f"ZAP status {value})"
        )
    if not has_keys:
        return (
            "the server requires keys (CURVE) and this process has none: pass --keys DIR (a "
            "loopback coordinator of this user takes this user's local keys: drop --insecure)"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and (
        value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
    ):
        return (
            "this process uses keys (--keys, or on loopback this user's local keys) but the "
            "server does not: pass --insecure to reach a coordinator started with --insecure"
        )
    return (
        "the security handshake failed: is coordinator.key this server's public key, and "
        "does the server use keys? (one started with --insecure has none: pass --insecure)"
    )


# --- CURVE authentication: one ZAP handler per context, one domain per kind of server -----


class _Admission:
    """The ZAP credentials provider of one domain (pyzmq calls ``callback`` per handshake)."""

    def __init__(self, admit: Callable[[str], bool]) -> None:
        self.admit = admit

    def callback(self, domain: str, key: bytes) -> bool:
        try:
            allowed = bool(self.admit(key.decode("ascii")))
        except Exception:  # a bug in a policy must refuse, never open the door
            log.exception("key check of ZAP domain %s failed; refusing", domain)
            return False
        if not allowed:
            log.warning("refused a connection to %s: key %s is not authorized", domain, key)
        return allowed


_authenticators: dict[int, ThreadAuthenticator] = {}
_authenticators_lock = threading.Lock()


def _zap_domain(context: zmq.Context, domain: str, admit: Callable[[str], bool]) -> None:
    """Start this context's ZAP handler if needed and route ``domain`` to ``admit``."""
    with _authenticators_lock:
        authenticator = _authenticators.get(id(context))
        if authenticator is None:
            from zmq.auth.thread import ThreadAuthenticator

            authenticator = ThreadAuthenticator(context, log=logging.getLogger("minimr.zap"))
            authenticator.start()
            _authenticators[id(context)] = authenticator
        authenticator.configure_curve_callback(domain, _Admission(admit))


class Poll:
    """Waits on a fixed set of pollables, its poller built once (a loop's wait).

    Accepts ZeroMQ sockets and file descriptors (or objects with ``fileno()``).
    """

    def __init__(self, pollables: list[object]) -> None:
        self._poller = zmq.Poller()
        self._by_fd: dict[int, object] = {}  # the poller answers with file numbers
        for item in pollables:
            self._poller.register(item, zmq.POLLIN)
            if not isinstance(item, zmq.Socket):
                fd = item if isinstance(item, int) else item.fileno()  # type: ignore[attr-defined]
                self._by_fd[fd] = item

    def wait(self, timeout: float) -> set[object]:
        """Block up to ``timeout`` seconds until some of the pollables are readable."""
        ready = self._poller.poll(max(0.0, timeout) * 1000)
        return {self._by_fd.get(item, item) for item, _ in ready}


def wait(pollables: list[object], timeout: float) -> set[object]:
    """Block up to ``timeout`` seconds until some of ``pollables`` are readable (a
    :class:`Poll` for one wait)."""
    return Poll(pollables).wait(timeout)


class Waker:
    """Ends a :func:`wait` from another thread or a signal handler: a non-blocking pipe.

    Put ``fd`` among the pollables; ``wake()`` makes it readable, ``clear()`` empties it.
    A loop that checks a stop flag only after its wait returns needs one: pyzmq's poll
    resumes waiting after a signal handler has run, and a signal may land on another thread.
    ``write_fd`` is for ``signal.set_wakeup_fd``.
    """

    def __init__(self) -> None:
        self.fd, self.write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self.write_fd, False)
        # a Waker dropped without close() (a test's forgotten fake network) closes its pipe
        self._closer = weakref.finalize(self, _close_pipe, self.fd, self.write_fd)

    def wake(self) -> None:
        if self.write_fd < 0:  # closed: nothing waits any more
            return
        try:
            os.write(self.write_fd, b"\0")
        except OSError:  # the pipe is full: a wake-up is pending already
            pass

    def clear(self) -> None:
        try:
            while os.read(self.fd, 512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Close both ends once nothing waits on ``fd`` (a later ``wake()`` does nothing)."""
        if self.write_fd >= 0:
            self._closer()  # runs once: never again when the Waker is dropped
            self.fd = self.write_fd = -1


def _close_pipe(read_fd: int, write_fd: int) -> None:
    os.close(read_fd)
    os.close(write_fd)


def local_host() -> str:
    """This machine's name as peers compare it (same host ⇒ read map outputs directly)."""
    return _socket.gethostname()
