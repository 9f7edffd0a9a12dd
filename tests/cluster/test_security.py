"""Cluster keys: the folder keygen writes, who is authorized for what, CURVE on real sockets."""

from __future__ import annotations

import os
import stat
import time

import pytest

from minimr.cluster.wire import security
from minimr.cluster.wire.security import SUBMITTER, WORKER, AccessList, Keys, keygen
from minimr.cluster.wire.transport import CurveClient, ZmqClient, ZmqServer, wait
from minimr.errors import KeysError


def test_keygen_writes_the_documented_layout(tmp_path):
    """A new folder gets the coordinator pair and one worker and one submitter identity."""
    keygen(str(tmp_path / "k"))
    found = sorted(str(p.relative_to(tmp_path / "k")) for p in (tmp_path / "k").rglob("*.key*"))
    assert found == [
        "coordinator.key",
        "coordinator.key_secret",
        "private/submitter.key_secret",
        "private/worker.key_secret",
        "submitters/submitter.key",
        "workers/worker.key",
    ]
    for secret in (tmp_path / "k").rglob("*.key_secret"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "k" / "private").stat().st_mode) == 0o700


def test_keygen_adds_named_identities_and_keeps_the_coordinator_pair(tmp_path):
    """Adding identities to a folder leaves the coordinator's key pair as it was."""
    folder = str(tmp_path / "k")
    keygen(folder)
    before = (tmp_path / "k" / "coordinator.key_secret").read_bytes()
    written = keygen(folder, workers=["w1", "w2"], submitters=["alice"])
    assert len(written) == 6
    assert (tmp_path / "k" / "coordinator.key_secret").read_bytes() == before
    access = AccessList(folder)
    alice = security.load_public(str(tmp_path / "k" / "submitters" / "alice.key")).decode()
    assert access.roles(alice) == {SUBMITTER}


@pytest.mark.parametrize(
    ("workers", "submitters", "message"),
    [
        (["../evil"], [], "key names are"),
        (["x"], ["x"], "both a worker and a submitter"),
        (["worker"], [], "exists already"),
    ],
)
def test_keygen_refuses_bad_or_clashing_names(tmp_path, workers, submitters, message):
    """Path-like names, a name in both roles and an existing identity are refused."""
    keygen(str(tmp_path))
    with pytest.raises(KeysError, match=message):
        keygen(str(tmp_path), workers, submitters)


def test_access_list_gives_each_key_its_roles_and_reloads(tmp_path):
    """Roles come from the folder a key is in; a removed key loses them on reload."""
    folder = str(tmp_path)
    keygen(folder)
    keys = Keys(folder)
    worker = keys.identity(WORKER).public.decode()
    submitter = keys.identity(SUBMITTER).public.decode()
    access = AccessList(folder)
    assert access.roles(worker) == {WORKER} and access.roles(submitter) == {SUBMITTER}
    assert not access.admits("x" * 40)
    os.unlink(tmp_path / "submitters" / "submitter.key")
    assert access.admits(submitter)  # until reloaded
    assert access.reload()
    assert not access.admits(submitter) and access.admits(worker)


def test_reload_with_a_bad_key_file_keeps_the_old_list(tmp_path):
    """A malformed key file dropped in a role folder does not empty the list on reload."""
    keygen(str(tmp_path))
    access = AccessList(str(tmp_path))
    (tmp_path / "workers" / "bad.key").write_text("not a key\n")
    assert not access.reload()
    assert "1 worker key" in access.describe()


def test_missing_files_are_named_in_the_error(tmp_path):
    """Each role's missing file is named, with the command that makes it."""
    with pytest.raises(KeysError, match="does not exist"):
        Keys(str(tmp_path / "nowhere"))
    keygen(str(tmp_path))
    with pytest.raises(KeysError, match="private/bob.key_secret is missing"):
        Keys(str(tmp_path)).client("bob")
    os.unlink(tmp_path / "coordinator.key_secret")
    with pytest.raises(KeysError, match="coordinator.key_secret"):
        Keys(str(tmp_path)).coordinator()


# --- CURVE on real sockets ----------------------------------------------------------------


def _exchange(client: ZmqClient, server: ZmqServer, timeout: float = 3.0):
    """Send one message; return (what the server got, the client's handshake failure)."""
    client.send([b"hello"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait([server.pollable], 0.05)
        received = server.recv()
        failure = client.handshake_failure()
        if received is not None or failure is not None:
            return received, failure
    return None, None


@pytest.fixture
def curve_server(tmp_path):
    """A CURVE ROUTER admitting the folder's worker and submitter keys."""
    keygen(str(tmp_path))
    curve, access = Keys(str(tmp_path)).coordinator()
    server = ZmqServer("tcp://127.0.0.1:0", curve=curve)
    yield server, Keys(str(tmp_path))
    server.close()


def test_authorized_key_gets_through_and_messages_carry_it(curve_server):
    """A message from an authorized key arrives with that key as its user id."""
    server, keys = curve_server
    client = ZmqClient(server.address, b"c1", curve=keys.client(SUBMITTER))
    try:
        received, failure = _exchange(client, server)
    finally:
        client.close()
    assert failure is None
    peer, frames, user = received
    assert frames == [b"hello"] and user == keys.identity(SUBMITTER).public.decode()


def test_unknown_key_fails_the_handshake_with_a_reason(curve_server, tmp_path):
    """A key of another cluster is refused at the handshake; the client learns why."""
    server, keys = curve_server
    keygen(str(tmp_path / "other"))
    stranger = Keys(str(tmp_path / "other")).identity(SUBMITTER)
    curve = CurveClient(stranger.public, stranger.secret, keys.coordinator_key())
    client = ZmqClient(server.address, b"c2", curve=curve)
    try:
        received, failure = _exchange(client, server)
    finally:
        client.close()
    assert received is None and "refused this public key" in failure


def test_client_without_keys_is_told_the_server_requires_them(curve_server):
    """A plain client reaching a CURVE server gets no message through, and a clear reason."""
    server, _ = curve_server
    client = ZmqClient(server.address, b"c3")
    try:
        received, failure = _exchange(client, server)
    finally:
        client.close()
    assert received is None and "requires keys" in failure


def test_client_with_keys_is_told_the_server_has_none(tmp_path):
    """A keyed client reaching a server without keys learns that the server has none."""
    keygen(str(tmp_path))
    keys = Keys(str(tmp_path))
    server = ZmqServer("tcp://127.0.0.1:0")
    client = ZmqClient(server.address, b"c5", curve=keys.client(SUBMITTER))
    try:
        received, failure = _exchange(client, server)
    finally:
        client.close()
        server.close()
    assert received is None and "server" in failure and "keys" in failure


def test_wrong_server_key_fails_the_handshake(curve_server, tmp_path):
    """A client holding another coordinator's public key never gets a message through."""
    server, keys = curve_server
    keygen(str(tmp_path / "other"))
    pair = keys.identity(SUBMITTER)
    wrong = Keys(str(tmp_path / "other")).coordinator_key()
    client = ZmqClient(server.address, b"c4", curve=CurveClient(pair.public, pair.secret, wrong))
    try:
        received, failure = _exchange(client, server)
    finally:
        client.close()
    assert received is None and "handshake failed" in failure


def test_two_servers_in_one_process_keep_their_own_admission(tmp_path):
    """Two ZAP domains in one context: each server admits only its own keys."""
    keygen(str(tmp_path))
    keys = Keys(str(tmp_path))
    coordinator_curve, _ = keys.coordinator()
    worker = keys.worker()
    coordinator = ZmqServer("tcp://127.0.0.1:0", curve=coordinator_curve)
    shuffle = ZmqServer("tcp://127.0.0.1:0", curve=worker.shuffle_server())
    submitter = keys.identity(SUBMITTER)
    to_shuffle = CurveClient(submitter.public, submitter.secret, worker.pair.public)
    clients = [
        ZmqClient(coordinator.address, b"a", curve=keys.client(SUBMITTER)),
        ZmqClient(shuffle.address, b"b", curve=to_shuffle),
    ]
    try:
        assert _exchange(clients[0], coordinator)[0] is not None
        received, failure = _exchange(clients[1], shuffle)
        assert received is None and "refused this public key" in failure
    finally:
        for c in clients:
            c.close()
        coordinator.close()
        shuffle.close()
