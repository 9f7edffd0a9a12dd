"""`minimr coordinator --dashboard` as an operator starts it: real processes, real HTTP.

A coordinator process serves its dashboard on a free loopback port and prints the address
with its token; a worker process joins; `minimr submit -c` runs a job through it. The
dashboard's API then shows the worker and the job as succeeded, its pages load with the
token, and every request without the token (or with a wrong one) is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import (
    HEARTBEAT,
    JOBS,
    environment,
    free_address,
    small_inputs,
    stop_processes,
)


def _printed_url(log: Path, coordinator: subprocess.Popen, timeout: float = 30) -> str:
    """The ``dashboard: URL`` line the coordinator prints once it serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("dashboard: "):
                return line.removeprefix("dashboard: ").strip()
        assert coordinator.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"no dashboard address printed:\n{log.read_text()}")


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    """The status and body of a GET, with the token as a Bearer header if given."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.fixture
def cluster(tmp_path):
    """A coordinator with ``--dashboard 0`` and one worker: (address, dashboard base, token)."""
    address = free_address()
    log = tmp_path / "coordinator.log"
    with open(log, "w") as stderr:
        coordinator = subprocess.Popen(
            [sys.executable, "-m", "minimr", "coordinator", "--bind", address, *HEARTBEAT,
             "--dashboard", "0"],
            env=environment(), stderr=stderr, stdout=subprocess.DEVNULL,
        )
    processes = [coordinator]
    try:
        url = urlsplit(_printed_url(log, coordinator))
        assert url.hostname == "127.0.0.1"  # loopback unless a host is given
        token = dict(part.split("=", 1) for part in url.query.split("&"))["token"]
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "minimr.cluster.worker.worker", "--coordinator", address,
             "--work-dir", str(tmp_path / "work")],
            env=environment(),
        ))
        yield address, f"{url.scheme}://{url.netloc}", token
    finally:
        stop_processes(processes)


def test_the_coordinators_dashboard_shows_a_job_submitted_to_it(cluster, tmp_path):
    """The worker and the finished job are in /api/...; the pages load with the token."""
    address, base, token = cluster
    done = subprocess.run(
        [sys.executable, "-m", "minimr", "submit", str(JOBS / "wordcount.py"), "--input",
         str(small_inputs(tmp_path / "in", 3)[0].parent), "--output", str(tmp_path / "out"),
         "-c", address, "--quiet"],
        env=environment(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr

    status, body = _get(f"{base}/api/cluster", token)
    assert status == 200 and len(json.loads(body)["workers"]) == 1
    status, body = _get(f"{base}/api/jobs", token)
    (job,) = json.loads(body)["jobs"]
    assert status == 200 and job["state"] == "succeeded"
    assert job["maps_done"] == job["maps_total"] == 3
    status, body = _get(f"{base}/api/jobs/{job['job_id']}/attempts", token)
    attempts = json.loads(body)["attempts"]
    assert status == 200 and {a["state"] for a in attempts} == {"succeeded"}
    for page in ("/", f"/jobs/{job['job_id']}"):
        status, body = _get(base + page, token)
        assert status == 200 and b"<html" in body.lower(), page


def test_the_coordinators_dashboard_refuses_requests_without_its_token(cluster):
    """No token, a wrong token, and a cancel without the token are all refused."""
    _address, base, token = cluster
    for path in ("/", "/api/cluster", "/api/jobs"):
        assert _get(base + path)[0] == 401, path
        assert _get(base + path, token + "x")[0] == 401, path
    cancel = urllib.request.Request(f"{base}/api/jobs/none/cancel", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(cancel, timeout=10)
    with refused.value:
        assert refused.value.code == 401
