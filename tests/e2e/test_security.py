"""CURVE keys end to end: real coordinator, worker and submit processes on loopback.

A keyed cluster with a live worker is sent a *canary* job whose map writes a file: with
no keys, another cluster's keys, a revoked key, or a worker's key, the submission is
refused and the canary file never appears. With the right keys the same job runs, so
the canary would have shown any leak. Workers with the wrong keys, or with a submitter
key, are turned away; an authorized cluster shuffles over CURVE and matches inline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from minimr.cli import main
from minimr.cluster.client.client import submit_plan
from minimr.cluster.commands.status import fetch_status
from minimr.cluster.wire.security import Keys, keygen
from minimr.cluster.wire.transport import InsecureBind, check_bind_address
from tests.e2e.support import (
    HEARTBEAT,
    TEXT,
    environment,
    free_address,
    inline_output,
    make_plan,
    read_dir,
    stop_processes,
)


def minimr(*args: str) -> list[str]:
    """The command line of ``minimr ARGS`` in a subprocess."""
    return [sys.executable, "-m", "minimr", *args]


class KeyedCluster:
    """A coordinator with ``--keys`` and workers started with keys; stops them on close."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.keys = tmp / "keys"
        keygen(str(self.keys))
        self.address = free_address()
        self.processes: list[subprocess.Popen] = []
        self.coordinator = self.start_coordinator()

    def start_coordinator(self) -> subprocess.Popen:
        """Start (or restart) the coordinator on this cluster's address and keys."""
        process = self._start(
            "coordinator", "--bind", self.address, "--keys", str(self.keys), *HEARTBEAT
        )
        self.coordinator = process
        return process

    def add_worker(self, host: str, keys: Path | None = None, identity: str = "worker"):
        """Start a worker claiming ``host`` (so map outputs are fetched over the network)."""
        return self._start(
            "worker",
            "--coordinator",
            self.address,
            "--keys",
            str(keys or self.keys),
            "--identity",
            identity,
            "--host",
            host,
            "--slots",
            "2",
            "--work-dir",
            str(self.tmp / f"work-{host}"),
            stderr=subprocess.PIPE,
        )

    def _start(self, *args: str, stderr=None) -> subprocess.Popen:
        process = subprocess.Popen(
            minimr(*args, "--log-level", "WARNING"),
            env=environment(),
            stderr=stderr,
            text=True,
        )
        self.processes.append(process)
        return process

    def status(self) -> dict:
        """The coordinator's status, asked with the submitter key."""
        return fetch_status(self.address, curve=Keys(str(self.keys)).client())

    def wait_for_workers(self, count: int, timeout: float = 20.0) -> None:
        """Block until ``count`` workers are registered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(self.status()["workers"]) >= count:
                    return
            except Exception:  # the coordinator may still be starting
                pass
            time.sleep(0.1)
        exited = {p.args[3]: (p.returncode, p.stderr.read()) for p in self.processes
                  if p.poll() is not None and p.stderr}  # fmt: skip
        raise AssertionError(
            f"fewer than {count} workers registered within {timeout} s; exited: {exited}"
        )

    def close(self) -> None:
        """SIGTERM everything, SIGKILL what lingers."""
        stop_processes(self.processes)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A keyed cluster with one authorized worker, shared by the rejection tests."""
    cluster = KeyedCluster(tmp_path_factory.mktemp("keyed"))
    cluster.add_worker("host-a")
    cluster.wait_for_workers(1)
    yield cluster
    cluster.close()


def submit(keyed: KeyedCluster, canary, out: Path, *keys_args: str) -> subprocess.CompletedProcess:
    """``minimr submit`` the canary job to the keyed cluster with ``keys_args``."""
    job, inputs, _ = canary
    return subprocess.run(
        minimr(
            "submit",
            str(job),
            "-i",
            str(inputs),
            "-o",
            str(out),
            "-c",
            keyed.address,
            "-q",
            *keys_args,
        ),
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_submission_without_keys_is_refused_and_the_canary_never_runs(keyed, canary, tmp_path):
    """A client without keys cannot get a job in: told why, nothing runs."""
    result = submit(keyed, canary, tmp_path / "out", "--insecure")
    assert result.returncode != 0
    assert "requires keys" in result.stderr
    assert not canary[2].exists()


def test_submission_with_another_clusters_keys_is_refused(keyed, canary, tmp_path):
    """A submitter key the coordinator never authorized fails the handshake."""
    other = tmp_path / "other"
    keygen(str(other))
    (other / "coordinator.key").write_bytes((keyed.keys / "coordinator.key").read_bytes())
    result = submit(keyed, canary, tmp_path / "out", "--keys", str(other))
    assert result.returncode != 0
    assert "refused this public key" in result.stderr
    assert not canary[2].exists()


def test_submission_to_an_impostor_coordinator_key_is_refused(keyed, canary, tmp_path):
    """A client whose coordinator.key is not this coordinator's never talks to it."""
    other = tmp_path / "other"
    keygen(str(other))
    (other / "private" / "submitter.key_secret").write_bytes(
        (keyed.keys / "private" / "submitter.key_secret").read_bytes()
    )
    result = submit(keyed, canary, tmp_path / "out", "--keys", str(other))
    assert result.returncode != 0 and "handshake failed" in result.stderr
    assert not canary[2].exists()


def test_worker_key_cannot_submit_a_job(keyed, canary, tmp_path):
    """A worker's key passes the handshake but its Submit is refused by role."""
    result = submit(
        keyed, canary, tmp_path / "out", "--keys", str(keyed.keys), "--identity", "worker"
    )
    assert result.returncode != 0
    assert "may not send Submit" in result.stderr
    assert not canary[2].exists()
    assert all(job["state"] != "running" for job in keyed.status()["jobs"])


def test_revoked_submitter_key_is_refused_after_sighup_and_authorized_one_runs(
    keyed, canary, tmp_path
):
    """Removing a submitter's key file and SIGHUP revokes it; a kept key still runs jobs."""
    keygen(str(keyed.keys), submitters=["mallory"])
    os.kill(keyed.coordinator.pid, signal.SIGHUP)
    time.sleep(0.5)
    ok = submit(
        keyed, canary, tmp_path / "first", "--keys", str(keyed.keys), "--identity", "mallory"
    )
    assert ok.returncode == 0, ok.stderr
    assert canary[2].exists()  # the canary works: an accepted job does write it
    canary[2].unlink()
    (keyed.keys / "submitters" / "mallory.key").unlink()
    os.kill(keyed.coordinator.pid, signal.SIGHUP)
    time.sleep(0.5)
    refused = submit(
        keyed, canary, tmp_path / "second", "--keys", str(keyed.keys), "--identity", "mallory"
    )
    assert refused.returncode != 0 and "refused this public key" in refused.stderr
    assert not canary[2].exists()


def test_submitter_key_cannot_join_as_a_worker(keyed):
    """A worker started with a submitter key is turned away with exit code 2 and the reason."""
    worker = keyed.add_worker("host-x", identity="submitter")
    _, stderr = worker.communicate(timeout=20)
    assert worker.returncode == 2
    assert "may not send Ready" in stderr
    assert {w["host"] for w in keyed.status()["workers"]} == {"host-a"}


def test_worker_with_unknown_keys_is_turned_away(keyed, tmp_path):
    """A worker key of another cluster fails the handshake: exit code 2, the reason."""
    other = tmp_path / "other"
    keygen(str(other))
    (other / "coordinator.key").write_bytes((keyed.keys / "coordinator.key").read_bytes())
    worker = keyed.add_worker("host-y", keys=other)
    _, stderr = worker.communicate(timeout=20)
    assert worker.returncode == 2 and "refused this public key" in stderr


def test_removed_worker_key_cannot_rejoin_a_restarted_coordinator(tmp_path):
    """A coordinator restarted without a worker's key file refuses that worker."""
    cluster = KeyedCluster(tmp_path)
    try:
        keygen(str(cluster.keys), workers=["old"])
        worker = cluster.add_worker("host-old", identity="old")
        cluster.wait_for_workers(1)
        (cluster.keys / "workers" / "old.key").unlink()
        cluster.coordinator.send_signal(signal.SIGTERM)
        cluster.coordinator.wait(timeout=10)
        cluster.start_coordinator()
        _, stderr = worker.communicate(timeout=30)
        assert worker.returncode == 2 and "refused this public key" in stderr
        assert cluster.status()["workers"] == []
    finally:
        cluster.close()


def test_authorized_cluster_shuffles_over_curve_and_equals_inline(tmp_path):
    """Three keyed workers on different 'hosts' run a word count equal to the inline run."""
    cluster = KeyedCluster(tmp_path)
    try:
        for host in ("host-a", "host-b", "host-c"):
            cluster.add_worker(host)
        cluster.wait_for_workers(3)
        inline_output("wordcount.py", [TEXT], tmp_path / "inline")
        plan = make_plan("wordcount.py", [TEXT], tmp_path / "cluster", split_size="32KB")
        result = submit_plan(plan, cluster.address, curve=Keys(str(cluster.keys)).client())
        assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
        assert result.snapshot["attempts"]["map"] == len(plan.splits)
    finally:
        cluster.close()


def test_reachable_bind_needs_keys_or_insecure(tmp_path):
    """A non-loopback bind is refused without keys, allowed with keys or --insecure."""
    result = CliRunner().invoke(main, ["coordinator", "--bind", "tcp://0.0.0.0:7070"])
    assert result.exit_code == 2 and "minimr keygen" in result.output
    with pytest.raises(InsecureBind):
        check_bind_address("tcp://10.1.2.3:7070", insecure=False)
    check_bind_address("tcp://10.1.2.3:7070", insecure=False, keys=True)
    check_bind_address("tcp://10.1.2.3:7070", insecure=True)


def test_worker_refuses_a_remote_coordinator_without_keys():
    """Joining a non-loopback coordinator without keys needs --insecure."""
    result = CliRunner().invoke(main, ["worker", "--coordinator", "tcp://10.1.2.3:7070"])
    assert result.exit_code == 2 and "--keys" in result.output


def test_keygen_command_prints_what_it_wrote(tmp_path):
    """`minimr keygen DIR` lists the files; --help documents the layout."""
    result = CliRunner().invoke(main, ["keygen", str(tmp_path / "k")])
    assert result.exit_code == 0 and "private/worker.key_secret" in result.output
    help_text = CliRunner().invoke(main, ["keygen", "--help"]).output
    assert "DIR/workers/NAME.key" in help_text and "DIR/submitters/NAME.key" in help_text
