"""A cluster's CURVE keys: the files, who holds which, and what each key may do.

Workers run whatever code a job ships, so whoever can talk to the coordinator can run
code on every worker. With keys, every connection is encrypted (CURVE, through pyzmq's
``zmq.auth``) and only holders of authorized keys get through the handshake. The
layout ``minimr keygen DIR`` writes, and every ``--keys DIR`` reads::

    DIR/coordinator.key          the coordinator's public key      every machine
    DIR/coordinator.key_secret   the coordinator's key pair        the coordinator only
    DIR/workers/NAME.key         authorized worker public keys     the coordinator, every worker
    DIR/submitters/NAME.key      authorized submitter public keys  the coordinator
    DIR/admins/NAME.key          authorized admin public keys      the coordinator
    DIR/private/NAME.key_secret  the key pair of identity NAME     the machine acting as NAME

Roles (the threat model is ``docs/security.md``). A key in ``workers/`` may register as
a worker and send a worker's messages, and may fetch map outputs from other workers'
shuffle servers (which admit worker keys only). A key in ``submitters/`` may submit
jobs, and watch and cancel its own. A key in ``admins/`` may do what a submitter does,
and watch and cancel every job. Any key may ask for the cluster's status (a submitter
sees its own jobs in detail, the others' as counts). The coordinator checks the role
of the sender's key on every message (ZeroMQ hands it the key the connection
authenticated with), so a worker key cannot submit a job over its own, authenticated,
connection, and a submitter key cannot register as a worker.

Local keys. Without ``--keys``, processes that talk over loopback TCP use this user's
*local keys* (:func:`local_keys`: a keys folder in the user's private folder, made on
first use), so a loopback coordinator, its workers and its submitters on one machine
authenticate as the user who started them, and other local accounts, which cannot read
that folder, are turned away. ``--insecure`` opts out (keyless, as on a trusted network).

Revoking a key: delete its ``.key`` file and send the coordinator (and the workers,
for ``workers/``) ``SIGHUP``, or restart them. New connections with that key fail the
handshake; messages on connections already open are refused by the per-message check.

This module reads and writes key files and answers "may this key do that"; applying
keys to sockets is ``transport.py``'s job.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import zmq
import zmq.auth

from minimr.cluster.wire import private
from minimr.cluster.wire.transport import CurveClient, CurveServer, check_bind_address, is_loopback
from minimr.errors import KeysError

log = logging.getLogger("minimr.security")

WORKER = "worker"
SUBMITTER = "submitter"
ADMIN = "admin"
#: the folder of each role's authorized public keys
ROLE_FOLDERS = {WORKER: "workers", SUBMITTER: "submitters", ADMIN: "admins"}
#: roles whose folder may be missing (a keys folder made before admins existed)
OPTIONAL_ROLES = frozenset({ADMIN})
#: the folder of this user's local keys, inside its private state folder (``private.py``)
LOCAL_KEYS = "local-keys"
COORDINATOR = "coordinator"
PRIVATE = "private"
#: ZAP domains: the coordinator and the workers' shuffle servers admit different keys
COORDINATOR_DOMAIN = "minimr-coordinator"
SHUFFLE_DOMAIN = "minimr-shuffle"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair, Z85-encoded (40 bytes each)."""

    public: bytes
    secret: bytes


def keygen(
    folder: str,
    workers: Sequence[str] = (),
    submitters: Sequence[str] = (),
    admins: Sequence[str] = (),
) -> list[str]:
    """Create a cluster's keys in ``folder``, or add identities to it.

    The coordinator's key pair is made if the folder has none. Each worker (submitter,
    admin) NAME gets ``private/NAME.key_secret`` and its public key in ``workers/NAME.key``
    (``submitters/NAME.key``, ``admins/NAME.key``). A new folder with no names given gets
    one identity of each of the first two roles, named ``worker`` and ``submitter``.

    Returns:
        The paths written.

    Raises:
        KeysError: a bad name, or an identity of that name already exists.
    """
    names = [*workers, *submitters, *admins]
    for name in names:
        if not _NAME.fullmatch(name):
            raise KeysError(
                f"key names are letters, digits, '.', '_' and '-', starting with a letter "
                f"or digit, at most 64 characters (got {name!r})"
            )
    roles_of: dict[str, list[str]] = {}
    for role, role_names in ((WORKER, workers), (SUBMITTER, submitters), (ADMIN, admins)):
        for name in dict.fromkeys(role_names):
            roles_of.setdefault(name, []).append(role)
    for name, roles in sorted(roles_of.items()):
        if len(roles) > 1:
            raise KeysError(f"{name!r} is both a {roles[0]} and a {roles[1]} name")
    written: list[str] = []
    new = not os.path.exists(os.path.join(folder, f"{COORDINATOR}.key_secret"))
    if new and not names:
        workers, submitters = [WORKER], [SUBMITTER]
    private_dir = os.path.join(folder, PRIVATE)
    for name in [*workers, *submitters, *admins]:
        if os.path.exists(os.path.join(private_dir, f"{name}.key_secret")):
            raise KeysError(f"identity {name!r} exists already ({private_dir}/{name}.key_secret)")
    os.makedirs(folder, exist_ok=True)
    os.makedirs(private_dir, mode=0o700, exist_ok=True)
    for sub in ROLE_FOLDERS.values():
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    if new:
        public, secret = zmq.auth.create_certificates(folder, COORDINATOR)
        os.chmod(secret, 0o600)
        written += [public, secret]
    for role, role_names in ((WORKER, workers), (SUBMITTER, submitters), (ADMIN, admins)):
        for name in role_names:
            public, secret = zmq.auth.create_certificates(private_dir, name)
            os.chmod(secret, 0o600)
            authorized = os.path.join(folder, ROLE_FOLDERS[role], f"{name}.key")
            os.replace(public, authorized)
            written += [authorized, secret]
    return written


def load_pair(path: str) -> KeyPair:
    """Read a ``.key_secret`` file.

    Raises:
        KeysError: the file is missing or holds no secret key.
    """
    public, secret = _load(path)
    if secret is None:
        raise KeysError(f"{path} holds no secret key (a .key_secret file was expected)")
    return KeyPair(public, secret)


def load_public(path: str) -> bytes:
    """Read the public key of a ``.key`` (or ``.key_secret``) file.

    Raises:
        KeysError: the file is missing or malformed.
    """
    return _load(path)[0]


def _load(path: str) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeysError(f"cannot read the key file {path}: {exc}") from None
    if public is None or len(public) != 40:
        raise KeysError(f"{path} is not a CURVE key file (no 40-character public-key line)")
    return public, secret


class AccessList:
    """The roles of each authorized public key, read from ``DIR/workers``, ``DIR/submitters``
    and ``DIR/admins`` (which may be missing: no admin).

    Thread-safe: the ZAP thread asks while the main thread may :meth:`reload`.

    Raises:
        KeysError: a role folder is missing or holds a malformed key file.
    """

    def __init__(self, folder: str, roles: tuple[str, ...] = (WORKER, SUBMITTER, ADMIN)) -> None:
        self.folder = folder
        self.role_names = roles
        self._lock = threading.Lock()
        self._roles: dict[str, frozenset[str]] = self._read()

    def _read(self) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        for role in self.role_names:
            sub = os.path.join(self.folder, ROLE_FOLDERS[role])
            if not os.path.isdir(sub) and role in OPTIONAL_ROLES:
                continue
            if not os.path.isdir(sub):
                raise KeysError(
                    f"{sub} is missing: it holds the public keys of authorized {role}s "
                    "(`minimr keygen` makes it)"
                )
            for entry in sorted(os.listdir(sub)):
                if entry.endswith(".key"):
                    key = load_public(os.path.join(sub, entry)).decode("ascii")
                    found.setdefault(key, set()).add(role)
        return {key: frozenset(roles) for key, roles in found.items()}

    def reload(self) -> bool:
        """Read the folders again (``SIGHUP``); on a bad file keep the old lists.

        Returns:
            Whether the new lists are in force.
        """
        try:
            roles = self._read()
        except KeysError as exc:
            log.error("keeping the authorized keys as they were: %s", exc)
            return False
        with self._lock:
            self._roles = roles
        log.info("authorized keys reloaded: %s", self.describe())
        return True

    def roles(self, key: str) -> frozenset[str]:
        """The roles of a Z85 public key (empty if it is not authorized)."""
        with self._lock:
            return self._roles.get(key, frozenset())

    def admits(self, key: str) -> bool:
        """Whether the key may connect at all (it has some role)."""
        return bool(self.roles(key))

    def describe(self) -> str:
        """How many keys each role has, for a log line."""
        with self._lock:
            counts = {r: sum(r in roles for roles in self._roles.values()) for r in self.role_names}
        return ", ".join(f"{n} {role} key{'s' if n != 1 else ''}" for role, n in counts.items())


@dataclass(frozen=True)
class WorkerKeys:
    """What a worker holds: its key pair, the coordinator's key, the worker keys.

    Its key pair serves three ways: as the client key to the coordinator, as the
    client key to other workers' shuffle servers, and as its own shuffle server's key
    (which it advertises at registration, so reducers can check they reach it).
    """

    pair: KeyPair
    coordinator_key: bytes
    workers: AccessList

    def coordinator_client(self) -> CurveClient:
        """CURVE for the connection to the coordinator."""
        return CurveClient(self.pair.public, self.pair.secret, self.coordinator_key)

    def shuffle_server(self) -> CurveServer:
        """CURVE for this worker's shuffle server: worker keys only."""
        return CurveServer(self.pair.public, self.pair.secret, SHUFFLE_DOMAIN, self.workers.admits)


class Keys:
    """A keys folder (``--keys DIR``) as one process uses it.

    Raises (from each method):
        KeysError: a file the role needs is missing or malformed; the message names it.
    """

    def __init__(self, folder: str) -> None:
        if not os.path.isdir(folder):
            raise KeysError(f"the keys folder {folder} does not exist (`minimr keygen {folder}`)")
        self.folder = folder

    def path(self, *parts: str) -> str:
        """A path inside the folder."""
        return os.path.join(self.folder, *parts)

    def identity(self, name: str) -> KeyPair:
        """The key pair of identity ``name`` (``private/NAME.key_secret``)."""
        path = self.path(PRIVATE, f"{name}.key_secret")
        if not os.path.exists(path):
            raise KeysError(
                f"{path} is missing: no key pair for identity {name!r} "
                f"(`minimr keygen {self.folder} --worker/--submitter {name}` makes one)"
            )
        return load_pair(path)

    def coordinator_key(self) -> bytes:
        """The coordinator's public key (``coordinator.key``)."""
        return load_public(self.path(f"{COORDINATOR}.key"))

    def coordinator(self) -> tuple[CurveServer, AccessList]:
        """The coordinator's CURVE and the access list it authorizes messages by."""
        pair = load_pair(self.path(f"{COORDINATOR}.key_secret"))
        access = AccessList(self.folder)
        return CurveServer(pair.public, pair.secret, COORDINATOR_DOMAIN, access.admits), access

    def client(self, name: str = SUBMITTER) -> CurveClient:
        """CURVE for a submitter's (or ``status``'s) connection to the coordinator."""
        pair = self.identity(name)
        return CurveClient(pair.public, pair.secret, self.coordinator_key())

    def worker(self, name: str = WORKER) -> WorkerKeys:
        """What a worker of identity ``name`` needs."""
        return WorkerKeys(
            self.identity(name), self.coordinator_key(), AccessList(self.folder, (WORKER,))
        )


# --- which keys a process uses when it is given none ----------------------------------------


def local_keys() -> Keys:
    """This user's local keys: a keys folder in its private state folder (``private.py``),
    made on first use.

    It holds the usual identities ``worker`` and ``submitter``, and ``submitter`` is also an
    admin (the one user of a local cluster may watch and cancel all of its jobs). Only this
    user (and root) can read it, which is what keeps other local accounts out of a loopback
    cluster started without ``--keys``.

    Raises:
        NotPrivate: the private folder is not this user's alone (``private.py``).
    """
    base = private.state_dir()
    folder = os.path.join(base, LOCAL_KEYS)
    if not os.path.exists(os.path.join(folder, ROLE_FOLDERS[ADMIN], f"{SUBMITTER}.key")):
        draft = tempfile.mkdtemp(prefix=".keys-", dir=base)
        keygen(draft)
        with open(os.path.join(draft, ROLE_FOLDERS[SUBMITTER], f"{SUBMITTER}.key"), "rb") as file:
            public = file.read()
        with open(os.path.join(draft, ROLE_FOLDERS[ADMIN], f"{SUBMITTER}.key"), "wb") as file:
            file.write(public)
        try:
            os.rename(draft, folder)  # atomic: processes starting together agree on one folder
        except OSError:  # another process made it first
            shutil.rmtree(draft, ignore_errors=True)
    return Keys(folder)


def uses_local_keys(address: str, keys_dir: str | None, insecure: bool) -> bool:
    """Whether a process given ``keys_dir`` and ``insecure`` uses its user's local keys to
    reach (or serve) ``address``: loopback TCP, no keys folder, no ``--insecure``."""
    return (
        keys_dir is None and not insecure and address.startswith("tcp://") and is_loopback(address)
    )


def keys_for(address: str, keys_dir: str | None, insecure: bool) -> Keys | None:
    """The keys folder a process uses to reach (or serve) ``address``: ``keys_dir``; else,
    on loopback TCP and unless ``insecure``, this user's local keys; else none."""
    if keys_dir is not None:
        return Keys(keys_dir)
    return local_keys() if uses_local_keys(address, keys_dir, insecure) else None


def client_keys(
    address: str, keys_dir: str | None = None, identity: str = SUBMITTER, insecure: bool = False
) -> CurveClient | None:
    """CURVE for a client (``submit``, ``status``) of the coordinator at ``address``.

    The keys of ``keys_dir``; else, on loopback TCP and unless ``insecure``, this user's
    local keys; else none.

    Raises:
        KeysError: the keys lack the identity or the coordinator's public key.
    """
    keys = keys_for(address, keys_dir, insecure)
    return keys.client(identity) if keys is not None else None


def worker_keys(
    address: str, keys_dir: str | None = None, identity: str = WORKER, insecure: bool = False
) -> WorkerKeys | None:
    """What a worker of the coordinator at ``address`` holds, by the rule of
    :func:`client_keys`."""
    keys = keys_for(address, keys_dir, insecure)
    return keys.worker(identity) if keys is not None else None


def coordinator_keys(
    bind: str, keys_dir: str | None = None, insecure: bool = False
) -> tuple[CurveServer, AccessList] | tuple[None, None]:
    """A coordinator's CURVE and access list for ``bind``, by the rule of :func:`client_keys`.

    Raises:
        InsecureBind: ``bind`` is reachable from other machines, with neither keys nor
            ``insecure``.
        KeysError: a file of the keys folder is missing or malformed.
    """
    keys = keys_for(bind, keys_dir, insecure)
    if keys is not None:
        return keys.coordinator()
    check_bind_address(bind, insecure)
    return None, None
