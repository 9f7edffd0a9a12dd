"""Who may send the coordinator what: the role each message needs, and a worker's identity.

With keys (``security.py``), each message is authorized by the role of the key its sender
authenticated with (``ROLES``): a worker key cannot submit or cancel a job, a submitter key
cannot register as a worker. And a worker's routing identity is bound to the key it
registered with: another key on that identity (a worker whose connection dropped leaves it
free on the socket) is not taken for that worker. ``refusal`` says whether a message is
served and, when not, the ``Reject`` to answer it with; the coordinator sends it. The
access list is passed in at every call, since a SIGHUP reloads it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from minimr.cluster.scheduling.tables import Worker
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.security import ADMIN, ROLE_FOLDERS, SUBMITTER, WORKER, AccessList

log = logging.getLogger("minimr.coordinator")

WORKERS = frozenset({WORKER})
CLIENTS = frozenset({SUBMITTER, ADMIN})
#: the roles whose keys may send each message when the coordinator has keys (an admin is a
#: submitter who may also watch and cancel every job; see docs/security.md)
ROLES: dict[type, frozenset[str]] = {
    p.Ready: WORKERS,
    p.Heartbeat: WORKERS,
    p.TaskDone: WORKERS,
    p.TaskFailed: WORKERS,
    p.FetchFailed: WORKERS,
    p.CommitRequest: WORKERS,
    p.PlanRequest: WORKERS,
    p.Bye: WORKERS,
    p.Submit: CLIENTS,
    p.Watch: CLIENTS,
    p.CancelJob: CLIENTS,
    p.LogData: WORKERS,
    p.LogRequest: CLIENTS,
    p.StatusRequest: WORKERS | CLIENTS,
}
#: the messages a client may send
CLIENT_KINDS = frozenset(kind for kind, roles in ROLES.items() if roles & CLIENTS)
#: the messages a worker sends: its identity must be its own (``_same_key``)
WORKER_KINDS = frozenset(kind for kind, roles in ROLES.items() if WORKER in roles)


def refusal(access: AccessList | None, workers: Mapping[str, Worker], sender: str, user: str,
            kind: type) -> p.Reject | None:
    """None when a message of ``kind`` from ``sender`` (a routing identity) with key ``user``
    is served: its key has the role (with keys), and a worker's identity is its own; else
    the ``Reject`` that says why (logged here)."""
    if access is not None:
        refused = _unauthorized(access, user, kind)
        if refused is not None:
            return refused
    if kind in WORKER_KINDS:
        return _same_key(workers, sender, user, kind)
    return None


def _same_key(workers: Mapping[str, Worker], sender: str, user: str, kind: type
              ) -> p.Reject | None:
    """None unless ``sender`` is a worker registered with another key; then the refusal.

    Without keys every key is "" and this never refuses.
    """
    known = workers.get(sender)
    if known is None or known.key == user:
        return None
    log.warning(
        "refusing %s from key %s on the identity of worker %s, which registered with key %s",
        kind.__name__,
        user,
        known.name,
        known.key,
    )
    return p.Reject(
        f"this connection's identity belongs to worker {known.name}, registered with "
        "another key: a worker's identity is bound to its key",
        "unauthorized",
    )


def _unauthorized(access: AccessList, user: str, kind: type) -> p.Reject | None:
    """None when the sender's key has the role ``kind`` needs; else the refusal."""
    roles = access.roles(user)
    allowed = ROLES[kind]
    if roles & allowed:
        return None
    needed = " or ".join(sorted(allowed))
    log.warning(
        "refusing %s from key %s (roles: %s): it needs a %s key",
        kind.__name__,
        user,
        ", ".join(sorted(roles)) or "none, revoked",
        needed,
    )
    folders = " or ".join(f"{ROLE_FOLDERS[role]}/" for role in sorted(allowed))
    return p.Reject(
        f"this key ({user}) may not send {kind.__name__}: that takes a {needed} key, "
        f"one whose .key file is in {folders} of the coordinator's keys folder",
        "unauthorized",
    )
