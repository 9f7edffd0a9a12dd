"""Several "machines": a coordinator and three workers, each in its own network namespace.

Every node gets a network namespace with one veth link into a bridge that lives in a
namespace of its own, and a private address (10.77.0.x) that exists only inside the
namespaces this test creates; nothing is added to the root namespace. Workers claim
different host names and have their own work folders, so each map output a reducer
needs from another worker crosses the bridge (with CURVE keys, as a real cluster
would). The job is submitted from a fifth namespace. Mid-job, one worker's link is cut
(``ip link set ... down``): the job still completes with the inline runner's output.

Needs root and iproute2 (``ip netns``); skipped, saying why, where namespaces cannot be
made. Everything made is removed in teardown, even on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minimr.cluster.wire.security import keygen
from tests.e2e.netns import Network, skip_reason
from tests.e2e.support import (
    inline_output,
    read_dir,
    small_inputs,
)

SUBNET = "10.77.0"
COORDINATOR = f"{SUBNET}.1"
PORT = 7070
WORKERS = {"w1": f"{SUBNET}.11", "w2": f"{SUBNET}.12", "w3": f"{SUBNET}.13"}
SUBMITTER = f"{SUBNET}.20"
#: fast failure detection: a silent worker is dead after 1 s
HEARTBEAT = ["--heartbeat-interval", "0.2", "--heartbeat-liveness", "5"]


@pytest.fixture
def network():
    """A fresh set of namespaces (coordinator, 3 workers, submitter), removed afterwards."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    net = Network(f"mmr{os.getpid() % 100000}")
    try:
        try:
            net.add_bridge()
            net.add_node("c", COORDINATOR)
            for name, address in WORKERS.items():
                net.add_node(name, address)
            net.add_node("s", SUBMITTER)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot make network namespaces here: {' '.join(exc.cmd)}: {exc.stderr}")
        yield net
    finally:
        net.close()


def minimr(*args: str) -> list[str]:
    """The command line of ``minimr ARGS``."""
    return [sys.executable, "-m", "minimr", *args]


def executor_parent(pid: int) -> int | None:
    """The parent of a (possibly finished) process, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def test_job_crosses_namespaces_and_survives_a_cut_link(network, tmp_path, monkeypatch):
    """Shuffle over a bridge between namespaces; one worker's link cut mid-job; output = inline."""
    probes = tmp_path / "probes"
    probes.mkdir()
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(probes))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0")
    inputs = small_inputs(tmp_path / "in", 18)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=3)
    for path in probes.iterdir():
        path.unlink()
    keys = tmp_path / "keys"
    keygen(str(keys), workers=list(WORKERS), submitters=["alice"])
    address = f"tcp://{COORDINATOR}:{PORT}"
    with open(tmp_path / "coordinator.log", "w") as log:
        network.popen(
            "c",
            minimr("coordinator", "--bind", address, "--keys", str(keys), *HEARTBEAT),
            stderr=log,
        )
    workers = {
        name: network.popen(
            name,
            minimr(
                "worker",
                "--coordinator",
                address,
                "--keys",
                str(keys),
                "--identity",
                name,
                "--host",
                name,
                "--slots",
                "2",
                "--work-dir",
                str(tmp_path / f"work-{name}"),
                "--log-level",
                "WARNING",
            ),
        )
        for name in WORKERS
    }
    status = minimr(
        "status", "--coordinator", address, "--keys", str(keys), "--identity", "alice", "--json"
    )
    deadline = time.monotonic() + 30
    while True:
        answer = network.run("s", status, timeout=15)
        if answer.returncode == 0 and len(json.loads(answer.stdout)["workers"]) == 3:
            break
        assert time.monotonic() < deadline, f"workers did not register: {answer.stderr}"
        time.sleep(0.3)
    advertised = {w["host"] for w in json.loads(answer.stdout)["workers"]}
    assert advertised == set(WORKERS)

    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.4")  # read when the job loads: travels with it
    job = Path(__file__).parent / "jobs" / "probe.py"
    submit = network.popen(
        "s",
        minimr(
            "submit",
            str(job),
            *[a for i in inputs for a in ("-i", str(i))],
            "-o",
            str(tmp_path / "cluster"),
            "-r",
            "3",
            "--split-size",
            "64KB",
            "-c",
            address,
            "--keys",
            str(keys),
            "--identity",
            "alice",
            "-q",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # cut w2 once it has finished a map (its output then lives only behind the cut link)
    deadline = time.monotonic() + 30
    while True:
        done_by = {
            executor_parent(int(path.read_text().split()[1]))
            for path in probes.iterdir()
            if path.name.startswith("map-")
        }
        if workers["w2"].pid in done_by:
            break
        assert submit.poll() is None, "the job ended before w2 ran a map"
        assert time.monotonic() < deadline, "w2 never finished a map"
        time.sleep(0.05)
    network.cut("w2")
    cut_at = time.monotonic()
    out, err = submit.communicate(timeout=90)
    elapsed = time.monotonic() - cut_at
    assert submit.returncode == 0, f"submit failed:\n{out}\n{err}"
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    final = json.loads(network.run("s", status, timeout=15).stdout)
    assert {w["host"] for w in final["workers"]} == {"w1", "w3"}  # w2 was declared dead
    maps = final["jobs"][0]["attempts"]["map"]
    assert maps > len(inputs)  # w2's finished maps ran again: their outputs were cut off
    print(f"job completed {elapsed:.1f} s after w2's link was cut; {maps} map attempts")
