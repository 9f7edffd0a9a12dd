"""Tests for scripts/start_workers.py, run as the command it is, with a stand-in for ssh.

The fake ``ssh`` runs the remote command with bash in a folder of its own per host (its
"home"), so the real script copies keys and starts real workers that join a real keyed
coordinator on loopback, then stops them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from minimr.cluster.commands.status import fetch_status
from minimr.cluster.wire.security import Keys, keygen
from tests.e2e.support import environment, free_address

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "start_workers.py"
FAKE_SSH = """#!/usr/bin/env bash
# ssh stand-in: skip options, take the host, run the command in $FAKE_HOMES/HOST
while [[ "$1" == -* ]]; do shift; done
host="${1#*@}"; shift
mkdir -p "$FAKE_HOMES/$host" && cd "$FAKE_HOMES/$host" && exec bash -c "$*"
"""


def start_workers(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run start_workers.py with ``args``; return the finished process."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_dry_run_prints_the_key_copy_and_the_start_per_host(tmp_path):
    """--dry-run shows, per host, which key files go where and the worker command line."""
    keygen(str(tmp_path / "keys"))  # the shared "worker" identity, and one for node2
    keygen(str(tmp_path / "keys"), workers=["node2"])
    (tmp_path / "hosts").write_text("node1\nbob@node2   # its own key pair\n\n# done\n")
    result = start_workers(
        "--hosts", tmp_path / "hosts", "--coordinator", "tcp://10.0.0.5:7070",
        "--keys", tmp_path / "keys", "--slots", "4", "--dry-run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "node1: worker with identity worker" in lines
    assert "bob@node2: worker with identity node2" in lines
    copies = [line for line in lines if line.startswith("+ tar")]
    assert "private/worker.key_secret" in copies[0] and "private/node2.key_secret" in copies[1]
    assert all("coordinator.key_secret" not in c and "submitter" not in c for c in copies)
    starts = [line for line in lines if "nohup" in line]
    assert "bob@node2" in starts[1] and "--slots 4" in starts[1]
    assert "--keys .minimr/keys --identity node2" in starts[1]


def test_missing_keys_and_missing_choices_are_refused(tmp_path):
    """No --keys and no --insecure, or an identity without its key pair, stop the script."""
    keygen(str(tmp_path / "keys"))
    (tmp_path / "hosts").write_text("node1 nobody\n")
    common = ["--hosts", tmp_path / "hosts", "--coordinator", "tcp://10.0.0.5:7070"]
    assert "--keys DIR" in start_workers(*common, "--dry-run").stderr
    missing = start_workers(*common, "--keys", tmp_path / "keys", "--dry-run")
    assert missing.returncode != 0 and "private/nobody.key_secret is missing" in missing.stderr


def test_starts_real_workers_that_join_a_keyed_coordinator_and_stops_them(tmp_path):
    """Through the ssh stand-in, two workers start, register with keys, and stop on --stop."""
    keys = tmp_path / "keys"
    keygen(str(keys))
    keygen(str(keys), workers=["node1", "node2"])
    fake_ssh = tmp_path / "ssh"
    fake_ssh.write_text(FAKE_SSH)
    fake_ssh.chmod(0o755)
    (tmp_path / "hosts").write_text("node1\nnode2\n")
    address = free_address()
    env = environment(FAKE_HOMES=str(tmp_path / "homes"))
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "minimr", "coordinator", "--bind", address, "--keys", str(keys)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    common = [
        "--hosts", tmp_path / "hosts", "--ssh", fake_ssh, "--work-dir", "work",
        "--minimr", f"{sys.executable} -m minimr",
    ]  # fmt: skip
    pids: list[int] = []
    try:
        started = start_workers(
            *common, "--coordinator", address, "--keys", keys, "--slots", "1", env=env
        )
        assert started.returncode == 0, started.stdout + started.stderr
        pids = [int(line.split("pid ")[1].split(",")[0]) for line in started.stdout.splitlines()
                if "started, pid" in line]  # fmt: skip
        assert len(pids) == 2
        secret = tmp_path / "homes" / "node1" / ".minimr" / "keys" / "private"
        assert [p.name for p in secret.iterdir()] == ["node1.key_secret"]  # only its own
        curve = Keys(str(keys)).client()
        deadline = time.monotonic() + 20
        while sorted(w["name"] for w in fetch_status(address, curve=curve)["workers"]) != [
            "node1",
            "node2",
        ]:
            assert time.monotonic() < deadline, "the workers did not register"
            time.sleep(0.2)
        stopped = start_workers(*common, "--stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in pids):
            assert time.monotonic() < deadline, "the workers did not stop"
            time.sleep(0.1)
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, 9)
        coordinator.terminate()
        coordinator.wait(timeout=10)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
