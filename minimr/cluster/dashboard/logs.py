"""The dashboard's reader of task logs: asks the coordinator, as ``minimr logs`` does.

A log stays on the worker that ran the attempt; the coordinator relays a ``LogRequest`` to
that worker and its answer back (``logrelay.py``). The dashboard's HTTP thread is one more
client of its own coordinator, on a connection of its own, with this user's keys (those
``minimr logs`` would use): it never touches the loop's sockets.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from minimr.cluster.client.operations import Asker
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.transport import CurveClient

#: seconds a page waits for a log before it says there is none
LOG_TIMEOUT = 5.0


def coordinator_logs(address: str, curve: CurveClient | None
                     ) -> Callable[[str, str], str | None]:
    """A log reader (``api.LogReader``) asking the coordinator at ``address``."""

    def read(job_id: str, attempt: str) -> str | None:
        try:
            with Asker(address, curve, timeout=LOG_TIMEOUT) as asker:
                reply = asker.ask(p.LogRequest(job_id, attempt), (p.LogReply,))
        except click.ClickException:
            return None
        if not isinstance(reply, p.LogReply) or reply.error:
            return None
        return reply.data.decode("utf-8", "replace")

    return read
