"""Another local account cannot reach this user's cluster: the embedded one, or a loopback one.

A second account (made with ``useradd`` when the tests run as root, else the module is
skipped) runs a hand-made ZeroMQ client against a live cluster of this user: it sends a
*canary* job whose map writes a file, and asks the workers' shuffle servers for bytes.
Nothing may answer it and the canary must never appear; the same job submitted by this
user does write the canary, so the canary would have shown a leak. The attacker holds no
keys: it cannot read this user's private folder, which it also tries.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minimr.cluster.client.client import submit_message, submit_plan
from minimr.cluster.client.localcluster import LocalCluster
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.private import state_dir
from minimr.cluster.wire.security import local_keys
from tests.e2e.support import environment, free_address, make_plan, stop_processes

OTHER = "minimr-other"

#: run as root up to the privilege drop (the interpreter lives where only root may read),
#: then as the other account: read some files, open the socket, send one message, listen
ATTACKER = r"""
import json, os, socket, sys, time
import zmq

args = json.loads(sys.argv[1])
with open(args["frames"]) as file:
    frames = [bytes.fromhex(frame) for frame in json.load(file)]
os.setgroups([])
os.setgid(args["gid"])
os.setuid(args["uid"])
result = {"uid": os.getuid(), "files": {}}
for path in args["files"]:
    try:
        open(path, "rb").close()
        result["files"][path] = "read"
    except OSError as exc:
        result["files"][path] = type(exc).__name__
if args["address"].startswith("ipc://"):
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(args["address"][len("ipc://"):])
        result["unix_connect"] = "connected"
    except OSError as exc:
        result["unix_connect"] = type(exc).__name__
    finally:
        probe.close()
context = zmq.Context()
dealer = context.socket(zmq.DEALER)
dealer.setsockopt(zmq.LINGER, 0)
dealer.connect(args["address"])
dealer.send_multipart(frames)
replies = []
deadline = time.monotonic() + args["wait"]
while time.monotonic() < deadline:
    if dealer.poll(100):
        replies.append([frame.hex()[:80] for frame in dealer.recv_multipart()])
dealer.close()
context.term()
print(json.dumps(result | {"replies": replies}))
"""


@pytest.fixture(scope="module")
def other_account() -> tuple[int, int]:
    """The uid and gid of a second local account (made once, kept: a nologin system user)."""
    if os.getuid() != 0:
        pytest.skip("acting as a second local account needs root (useradd, setuid)")
    if shutil.which("useradd") is None:
        pytest.skip("no useradd on this machine to make a second local account")
    try:
        entry = pwd.getpwnam(OTHER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
            capture_output=True,
        )  # a concurrent run may have made it first: look again either way
        entry = pwd.getpwnam(OTHER)
    return entry.pw_uid, entry.pw_gid


def attack(
    account: tuple[int, int],
    address: str,
    frames: list[bytes],
    folder: Path,
    files: list[str] = (),
    wait: float = 3.0,
) -> dict:
    """Send ``frames`` to ``address`` as the other account; what it could read and heard."""
    frames_file = folder / f"frames-{len(list(folder.glob('frames-*')))}.json"
    frames_file.write_text(json.dumps([frame.hex() for frame in frames]))
    args = {
        "uid": account[0],
        "gid": account[1],
        "address": address,
        "frames": str(frames_file),
        "files": list(files),
        "wait": wait,
    }
    done = subprocess.run(
        [sys.executable, "-c", ATTACKER, json.dumps(args)],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["uid"] == account[0]
    return result


def canary_submit(canary, output: Path) -> list[bytes]:
    """The frames of a ``Submit`` of the canary job."""
    job, inputs, _ = canary
    return wire.encode(submit_message(make_plan(str(job), [inputs], output, reducers=1)))


def fetch_request() -> list[bytes]:
    """The frames of a shuffle request for the first bytes of a map output."""
    return wire.encode(p.FetchChunk(1, "j", "s0-m00000-a1", 0, 0, 4))


def test_another_account_cannot_submit_to_the_embedded_cluster(other_account, canary, tmp_path):
    """The embedded cluster's socket is closed to another account: no reply, no canary."""
    with LocalCluster(1) as cluster:
        assert cluster.address.startswith("ipc://")
        result = attack(other_account, cluster.address, canary_submit(canary, tmp_path / "x"),
                        tmp_path)
        assert result["unix_connect"] == "PermissionError"
        assert result["replies"] == []
        assert not canary[2].exists()
        job, inputs, _ = canary
        plan = make_plan(str(job), [inputs], tmp_path / "mine", reducers=1)
        submit_plan(plan, cluster.address)
        assert canary[2].exists()  # the canary works: this user's job did write it


def test_another_account_cannot_fetch_from_the_embedded_workers(other_account, tmp_path):
    """An embedded worker's shuffle socket is closed to another account: nothing is served."""
    with LocalCluster(1) as cluster:
        folder = os.path.dirname(cluster.address[len("ipc://") :])
        for _ in range(100):  # the worker binds its shuffle socket as it starts
            sockets = glob.glob(os.path.join(folder, "shuffle-*"))
            if sockets:
                break
            time.sleep(0.05)
        assert sockets, "the embedded worker made no shuffle socket"
        result = attack(other_account, f"ipc://{sockets[0]}", fetch_request(), tmp_path)
        assert result["unix_connect"] == "PermissionError"
        assert result["replies"] == []


def test_another_account_cannot_submit_to_a_loopback_coordinator(
    other_account, canary, tmp_path, cluster
):
    """A coordinator on loopback without --keys takes this user's local keys: the other
    account, which cannot read them, gets no answer and its canary job never runs."""
    cluster.add_worker()
    cluster.wait_for_workers(1)
    secret = os.path.join(local_keys().folder, "private", "submitter.key_secret")
    result = attack(
        other_account, cluster.address, canary_submit(canary, tmp_path / "x"), tmp_path,
        files=[secret, state_dir()],
    )
    assert result["files"] == {secret: "PermissionError", state_dir(): "PermissionError"}
    assert result["replies"] == []
    assert not canary[2].exists()
    job, inputs, _ = canary
    submit_plan(make_plan(str(job), [inputs], tmp_path / "mine", reducers=1), cluster.address)
    assert canary[2].exists()


def test_another_account_cannot_fetch_from_a_loopback_worker(other_account, cluster, tmp_path):
    """A loopback worker's shuffle port takes worker keys only: the other account gets nothing."""
    shuffle = free_address()
    worker = subprocess.Popen(
        [sys.executable, "-m", "minimr", "worker", "--coordinator", cluster.address,
         "--shuffle-port", shuffle.rsplit(":", 1)[1], "--work-dir", str(tmp_path / "work"),
         "--log-level", "WARNING"],
        env=environment(),
    )
    try:
        cluster.wait_for_workers(1)
        result = attack(other_account, shuffle, fetch_request(), tmp_path)
        assert result["replies"] == []
    finally:
        stop_processes([worker])


def test_insecure_loopback_coordinator_is_keyless_on_purpose(tmp_path):
    """--insecure serves without keys; a client must say --insecure too, and is told so."""
    address = free_address()
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "minimr", "coordinator", "--bind", address, "--insecure",
         "--log-level", "WARNING"],
        env=environment(),
    )
    try:
        from minimr.cluster.commands.status import fetch_status

        status = None
        for _ in range(100):
            try:
                status = fetch_status(address, timeout=0.2, insecure=True)
                break
            except Exception:  # still starting
                continue
        assert status == {"workers": [], "jobs": []} or status["workers"] == []
        with pytest.raises(Exception, match="pass --insecure"):
            fetch_status(address, timeout=15)
    finally:
        stop_processes([coordinator])
