"""Real processes over TCP on loopback: a coordinator and workers as fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from minimr.cluster.commands.status import fetch_status
from tests.e2e.support import CANARY_JOB, HEARTBEAT, environment, free_address, stop_processes


class Cluster:
    """A coordinator process and worker processes; stops them all on close."""

    def __init__(self, tmp: Path, state_dir: Path | None = None,
                 log_level: str | None = None, liveness: int | None = None) -> None:
        self.tmp = tmp
        #: missed heartbeats (of 0.2 s) before a worker is dead; HEARTBEAT's when None
        self.heartbeat = HEARTBEAT if liveness is None else [*HEARTBEAT[:3], str(liveness)]
        self.state_dir = state_dir  # the coordinator journals there (--state-dir)
        #: with a log level, the coordinator logs at it into this file (else to stderr)
        self.log = tmp / "coordinator.log" if log_level else None
        self.log_level = log_level or os.environ.get("MINIMR_TEST_LOG", "WARNING")
        self.address = free_address()
        self.coordinator = self.start_coordinator()
        self.workers: list[subprocess.Popen] = []

    def start_coordinator(self) -> subprocess.Popen:
        """Start a coordinator process at this cluster's address."""
        log = open(self.log, "a") if self.log else None  # noqa: SIM115 - closed below
        try:
            return self._popen_coordinator(log)
        finally:
            if log is not None:
                log.close()  # the child has its own copy

    def _popen_coordinator(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from minimr.cli import main; main()",
                "coordinator",
                "--bind",
                self.address,
                *self.heartbeat,
                *(["--state-dir", str(self.state_dir)] if self.state_dir else []),
                "--log-level",
                self.log_level,
            ],
            env=environment(),
            stderr=log,
        )

    def logged(self) -> str:
        """What the coordinator has logged so far (a cluster made with a log level)."""
        return self.log.read_text() if self.log else ""

    def add_worker(
        self,
        hash_seed: str = "0",
        slots: int = 1,
        host: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen:
        """Start a worker process with its own PYTHONHASHSEED (host name, environment)."""
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "minimr.cluster.worker.worker",
                "--coordinator",
                self.address,
                "--slots",
                str(slots),
                "--work-dir",
                str(self.tmp / "work"),
                *(["--host", host] if host else []),
            ],
            env=environment(
                PYTHONHASHSEED=hash_seed,
                MINIMR_LOG=os.environ.get("MINIMR_TEST_LOG", "ERROR"),
                **(env or {}),
            ),
        )
        self.workers.append(process)
        return process

    def wait_for_workers(self, count: int, timeout: float = 20.0) -> None:
        """Block until the coordinator has ``count`` live workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(fetch_status(self.address)["workers"]) >= count:
                    return
            except click.ClickException:  # the coordinator is still starting (a loaded machine)
                pass
            time.sleep(0.1)
        raise AssertionError(f"fewer than {count} workers registered within {timeout} s")

    def close(self) -> None:
        """SIGTERM everything, SIGKILL what lingers."""
        stop_processes([*self.workers, self.coordinator])


@pytest.fixture
def cluster(tmp_path):
    """A fresh coordinator without workers (tests add them)."""
    c = Cluster(tmp_path)
    yield c
    c.close()


@pytest.fixture
def journaled_cluster(tmp_path):
    """A fresh coordinator that journals to ``tmp_path/state`` (restart it to resume jobs)."""
    c = Cluster(tmp_path, state_dir=tmp_path / "state")
    yield c
    c.close()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One long-lived cluster of 3 workers with different PYTHONHASHSEED values."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    for seed in ("1", "2", "3"):
        c.add_worker(hash_seed=seed)
    c.wait_for_workers(3)
    yield c
    c.close()


@pytest.fixture
def canary(tmp_path):
    """A canary job file (``support.CANARY_JOB``), its input, and the file it writes when
    it runs: proof that a job ran, for the tests of who may run one."""
    canary_file = tmp_path / "canary"
    job = tmp_path / "canary_job.py"
    job.write_text(CANARY_JOB.format(canary=str(canary_file)))
    inputs = tmp_path / "in.txt"
    inputs.write_text("alpha beta\ngamma alpha\n")
    return job, inputs, canary_file
