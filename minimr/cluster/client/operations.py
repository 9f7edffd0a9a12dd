"""Asking a coordinator: the one-request, one-answer exchange (:class:`Asker`, :func:`ask`)
that ``minimr status``, ``cancel`` and ``logs`` (``cluster/commands/``), the dashboard's log
reader and a submitting client share, and the options every command that asks a coordinator
takes (:func:`coordinator_options`).

What the commands show comes from the coordinator's plain-data views (``views.py``): the
same data ``status --json`` prints.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import time

import click

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import security
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.transport import CurveClient, ZmqClient, wait

DEFAULT_ADDRESS = "tcp://127.0.0.1:7070"
#: seconds a command waits for the coordinator's answer
ANSWER_TIMEOUT = 10.0  # a log request waits for a worker too (logrelay.LOG_TIMEOUT)

_KEYS_HELP = "CURVE keys folder (see `minimr keygen --help`): encrypt and authenticate."
_IDENTITY_HELP = "Which key pair of the keys folder to use: DIR/private/NAME.key_secret."


def coordinator_options(command):
    """The options every command that asks a coordinator takes: ``-c/--coordinator``,
    ``--keys``, ``--identity``, ``--insecure`` (as ``minimr submit`` spells them)."""
    for option in reversed([
        click.option("--coordinator", "-c", "address", default=DEFAULT_ADDRESS,
                     show_default=True, metavar="tcp://HOST:PORT",
                     help="The coordinator to ask."),
        click.option("--keys", "keys_dir", default=None, metavar="DIR", help=_KEYS_HELP),
        click.option("--identity", default=security.SUBMITTER, show_default=True,
                     metavar="NAME", help=_IDENTITY_HELP),
        click.option("--insecure", is_flag=True,
                     help="Ask without keys (a coordinator started with --insecure)."),
    ]):
        command = option(command)
    return command


def client_curve(address: str, keys_dir: str | None, identity: str, insecure: bool
                 ) -> CurveClient | None:
    """The submitter keys to ask with: those of ``keys_dir``; else, on loopback and unless
    ``insecure``, this user's local keys (``security.client_keys``)."""
    return security.client_keys(address, keys_dir, identity, insecure)


class Asker:
    """One connection to a coordinator, for requests each answered by one message (use as a
    context manager).

    Raises (from :meth:`ask`):
        click.ClickException: the coordinator refused the connection or the request
            (``Reject``: its reason), answered in another protocol version (both named),
            or did not answer within ``timeout`` seconds.
    """

    def __init__(self, address: str, curve: CurveClient | None = None,
                 timeout: float = ANSWER_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self.conn = ZmqClient(address, f"s-{os.getpid()}-{secrets.token_hex(4)}".encode(),
                              curve=curve)

    def ask(self, request: p.Message, answers: tuple[type[p.Message], ...]) -> p.Message:
        """Send ``request``; return the first answer of one of the ``answers`` types."""
        self.conn.send(wire.encode(request))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            wait([self.conn.pollable], min(0.1, max(0.0, deadline - time.monotonic())))
            failure = self.conn.handshake_failure()
            if failure is not None:
                raise click.ClickException(
                    f"cannot talk to the coordinator at {self.address}: {failure}"
                )
            while (frames := self.conn.recv()) is not None:
                try:
                    message = wire.decode(frames)
                except wire.VersionMismatch as exc:  # (an older one refuses in its own)
                    raise click.ClickException(other_version(self.address, exc)) from None
                except wire.ProtocolError:
                    continue
                if isinstance(message, answers):
                    return message
                if isinstance(message, p.Reject):
                    raise click.ClickException(f"the coordinator refused: {message.reason}")
        raise click.ClickException(
            f"no coordinator answered at {self.address} within {self.timeout:g} s"
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Asker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def ask(
    address: str,
    request: p.Message,
    answers: tuple[type[p.Message], ...],
    timeout: float = ANSWER_TIMEOUT,
    curve: CurveClient | None = None,
) -> p.Message:
    """Send ``request`` to the coordinator at ``address`` and return its first answer of
    one of the ``answers`` types, on a connection of its own (see :class:`Asker`)."""
    with Asker(address, curve, timeout) as asker:
        return asker.ask(request, answers)


def other_version(address: str, mismatch: wire.VersionMismatch) -> str:
    """What a client says when the coordinator answers in another protocol version (an
    older one refuses a newer client in its own version's header, ``version_refusal``):
    nothing else of its will come, so this ends the request."""
    return (f"the coordinator at {address} speaks minimr protocol version "
            f"{mismatch.version}, this client speaks {wire.VERSION}: upgrade minimr on one "
            "side")


def who_am_i(command: str) -> str:
    """How this process names itself to a coordinator it asks to cancel a job."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{command} (user {user} on {socket.gethostname()}, pid {os.getpid()})"[:200]
