"""The distributed runtime end to end: real coordinator and worker processes on loopback.

Scenarios after the MIT 6.824 lab 1 tests: equal output to the inline runner, parallel
maps and reduces, each map run exactly once, late-joining workers, a long-lived cluster
serving jobs in a row, and workers with different PYTHONHASHSEED values.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from minimr.cluster.client.client import submit_plan
from minimr.cluster.commands.status import fetch_status, format_status
from minimr.errors import JobFailed
from tests.e2e.support import (
    ROOT,
    TEXT,
    child_processes,
    environment,
    finish,
    free_address,
    handles,
    inline_output,
    make_plan,
    overlapped,
    probe_records,
    process_name,
    read_dir,
    small_inputs,
    stop_processes,
)


def test_wordcount_on_three_workers_equals_inline(shared_cluster, tmp_path):
    """Word count with 3 workers (different hash seeds) writes the inline runner's bytes."""
    expected = inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    plan = make_plan("wordcount.py", [TEXT], tmp_path / "cluster")
    result = submit_plan(plan, shared_cluster.address)
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    assert result.counters == expected
    assert result.snapshot["attempts"]["map"] == len(plan.splits)  # each map ran once


def test_inverted_index_on_three_workers_equals_inline(shared_cluster, tmp_path):
    """The inverted index with 3 workers writes the inline runner's bytes."""
    inline_output("inverted_index.py", [TEXT], tmp_path / "inline")
    submit_plan(
        make_plan("inverted_index.py", [TEXT], tmp_path / "cluster"), shared_cluster.address
    )
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def test_shuffle_over_the_network_equals_inline(cluster, tmp_path):
    """Workers that claim different hosts fetch map outputs over ZeroMQ; output equals inline."""
    inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    for host in ("host-a", "host-b", "host-c"):
        cluster.add_worker(host=host)
    cluster.wait_for_workers(3)
    submit_plan(make_plan("wordcount.py", [TEXT], tmp_path / "cluster"), cluster.address)
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def test_two_jobs_in_a_row_on_one_cluster(shared_cluster, tmp_path):
    """A long-lived cluster runs one job after another, both correctly."""
    for n in range(2):
        inline_output("wordcount.py", [TEXT], tmp_path / f"inline{n}", reducers=2 + n)
        plan = make_plan("wordcount.py", [TEXT], tmp_path / f"cluster{n}", reducers=2 + n)
        submit_plan(plan, shared_cluster.address)
        assert read_dir(tmp_path / f"cluster{n}") == read_dir(tmp_path / f"inline{n}")


def test_status_lists_workers_and_jobs(shared_cluster):
    """`status` shows the live workers and the jobs the cluster ran."""
    status = fetch_status(shared_cluster.address)
    assert len(status["workers"]) == 3
    assert "workers: 3" in format_status(status)


def test_maps_and_reduces_run_in_parallel(cluster, tmp_path, monkeypatch):
    """On 2 workers, map tasks overlap in time, and so do reduce tasks."""
    probes = tmp_path / "probes"
    probes.mkdir()
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(probes))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.6")
    for _ in range(2):
        cluster.add_worker()
    cluster.wait_for_workers(2)
    plan = make_plan("probe.py", small_inputs(tmp_path / "in", 4), tmp_path / "out", reducers=2)
    result = submit_plan(plan, cluster.address)
    assert overlapped(probe_records(probes, "map"))
    assert overlapped(probe_records(probes, "reduce"))
    assert result.snapshot["attempts"] == {"prepare": 1, "map": 4, "reduce": 2, "commit": 1}


def test_late_workers_get_tasks_and_each_map_still_runs_once(cluster, tmp_path, monkeypatch):
    """Two workers joining mid-job take tasks, and no map task runs twice."""
    probes = tmp_path / "probes"
    probes.mkdir()
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(probes))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.4")
    cluster.add_worker()
    plan = make_plan("probe.py", small_inputs(tmp_path / "in", 10), tmp_path / "out", reducers=2)
    joined = threading.Event()

    def join_late(progress) -> None:
        if progress.snapshot["maps_done"] >= 1 and not joined.is_set():
            joined.set()
            cluster.add_worker(hash_seed="7")
            cluster.add_worker(hash_seed="8")

    result = submit_plan(plan, cluster.address, progress=join_late)
    maps = probe_records(probes, "map")
    assert len(maps) == 10 and result.snapshot["attempts"]["map"] == 10
    assert len({pid for pid, _, _ in maps}) >= 2  # the late workers' executors took some


def test_job_waits_for_workers_that_start_after_it(cluster, tmp_path):
    """A job submitted to a cluster with no workers completes once one joins."""
    inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    plan = make_plan("wordcount.py", [TEXT], tmp_path / "cluster")
    threading.Timer(1.0, cluster.add_worker).start()
    submit_plan(plan, cluster.address)
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def test_sigkill_of_a_worker_mid_job_still_completes_correctly(cluster, tmp_path, monkeypatch):
    """A worker killed with SIGKILL mid-job loses nothing: output equals inline."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0")  # read when the job file loads
    (tmp_path / "probes").mkdir()
    inputs = small_inputs(tmp_path / "in", 12)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=2)
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.3")
    victims = [cluster.add_worker(hash_seed=str(i)) for i in range(3)]
    cluster.wait_for_workers(3)
    killed = threading.Event()

    def kill_one(progress) -> None:
        if progress.snapshot["maps_done"] >= 4 and not killed.is_set():
            killed.set()
            victims[0].send_signal(signal.SIGKILL)

    plan = make_plan("probe.py", inputs, tmp_path / "cluster", reducers=2)
    submit_plan(plan, cluster.address, progress=kill_one)
    assert killed.is_set()
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def poisoned_input(tmp_path: Path) -> list[Path]:
    """Three input files, the second with a poisoned line."""
    paths = small_inputs(tmp_path / "in", 3)
    paths[1].write_text("fine line\npoison here\n")
    return paths


def test_task_failing_every_time_fails_the_job_after_max_attempts(cluster, tmp_path):
    """A map that always raises fails the job after max attempts, with the user's traceback."""
    cluster.add_worker()
    cluster.add_worker()
    plan = make_plan(
        "failing.py:RaiseOnBad", poisoned_input(tmp_path), tmp_path / "out", max_attempts=2
    )
    with pytest.raises(JobFailed) as info:
        submit_plan(plan, cluster.address)
    message = str(info.value)
    assert "failed 2 times" in message and "in-01.txt" in message
    assert "ValueError: poisoned record at 10" in info.value.remote_traceback
    assert "about to fail on" in message  # the attempt's stderr tail
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_executor_that_exits_is_a_failed_attempt_not_a_dead_worker(cluster, tmp_path):
    """A mapper calling os._exit fails its attempt (reported at once); the worker lives on."""
    worker = cluster.add_worker()
    plan = make_plan(
        "failing.py:ExitOnBad", poisoned_input(tmp_path), tmp_path / "out", max_attempts=2
    )
    with pytest.raises(JobFailed) as info:
        submit_plan(plan, cluster.address)
    assert "exited with code 3" in str(info.value)
    assert worker.poll() is None
    assert len(fetch_status(cluster.address)["workers"]) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")
def test_first_executors_are_forked_and_their_replacements_spawned(cluster, tmp_path):
    """A worker's executors start as forks of it (no Python to start before the first task),
    named so that ps tells them apart; one that dies is replaced by a spawned process, and the
    worker goes on serving jobs."""
    worker = cluster.add_worker(slots=2)
    cluster.wait_for_workers(1)
    worker_cmdline = Path(f"/proc/{worker.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    first = child_processes(worker.pid)
    assert len(first) == 2 and set(first.values()) == {worker_cmdline.decode()}
    assert {process_name(pid) for pid in first} == {"minimr-executor"}  # what ps and top show
    plan = make_plan(
        "failing.py:ExitOnBad", poisoned_input(tmp_path), tmp_path / "out", max_attempts=1
    )
    with pytest.raises(JobFailed, match="exited with code 3"):
        submit_plan(plan, cluster.address)
    deadline = time.monotonic() + 10
    while True:
        children = child_processes(worker.pid)
        replaced = {pid: line for pid, line in children.items() if pid not in first}
        if any("spawn_main" in line for line in replaced.values()):
            break
        assert time.monotonic() < deadline, f"no spawned replacement: {replaced}"
        time.sleep(0.05)
    spawned = [pid for pid, line in replaced.items() if "spawn_main" in line]
    deadline = time.monotonic() + 10
    while process_name(spawned[0]) != "minimr-executor":  # named once its Python has started
        assert time.monotonic() < deadline, process_name(spawned[0])
        time.sleep(0.05)
    inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    submit_plan(make_plan("wordcount.py", [TEXT], tmp_path / "again"), cluster.address)
    assert read_dir(tmp_path / "again") == read_dir(tmp_path / "inline")


def test_mapper_holding_the_gil_does_not_make_its_worker_look_dead(cluster, tmp_path, monkeypatch):
    """A task spinning in Python for 2 s, past the 1 s liveness budget, is not re-run."""
    monkeypatch.setenv("MINIMR_HOLD_SECONDS", "2")
    cluster.add_worker()
    plan = make_plan(
        "failing.py:HoldGil", small_inputs(tmp_path / "in", 1), tmp_path / "out", reducers=1
    )
    result = submit_plan(plan, cluster.address)
    assert result.snapshot["attempts"]["map"] == 1


def test_submit_command_runs_an_embedded_cluster(tmp_path):
    """`minimr submit --workers 2` runs the job on a local cluster and commits it."""
    inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from minimr.cli import main; main()",
            "submit",
            str(ROOT / "tests" / "e2e" / "jobs" / "wordcount.py"),
            "--input",
            str(TEXT),
            "--output",
            str(tmp_path / "cluster"),
            "--reducers",
            "3",
            "--split-size",
            "64KB",
            "--workers",
            "2",
            "--quiet",
        ],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def test_a_lone_slot_takes_the_largest_input_first(tmp_path):
    """Maps are offered the most bytes first: with one slot, the map of the large file named
    last starts before the small ones, and the output is the same as ever."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text("small a\n" * 300)  # each over 1/32 of the input: unpacked
    (inputs / "b.txt").write_text("small b\n" * 300)
    (inputs / "c.txt").write_text("the large one\n" * 3000)
    done = subprocess.run(
        [sys.executable, "-c", "from minimr.cli import main; main()", "submit",
         str(ROOT / "jobs" / "wordcount.py"), "--input", str(inputs), "--output",
         str(tmp_path / "out"), "--workers", "1", "--quiet"],
        env=environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    logs = tmp_path / "out" / "_logs"
    started = {path.name.split("-a")[0]: path.read_text().split(" INFO")[0]
               for path in logs.glob("s0-m*.log")}
    assert sorted(started, key=started.get) == ["s0-m00002", "s0-m00000", "s0-m00001"]
    counts = dict(line.split("\t") for part in sorted((tmp_path / "out").glob("part-*"))
                  for line in part.read_text().splitlines())
    assert counts == {"'a'": "300", "'b'": "300", "'large'": "3000", "'one'": "3000",
                      "'small'": "600", "'the'": "3000"}


def test_non_loopback_bind_is_refused_without_insecure():
    """The coordinator refuses to listen on a reachable address unless told --insecure."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from minimr.cli import main; main()",
            "coordinator",
            "--bind",
            "tcp://0.0.0.0:0",
        ],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "--insecure" in done.stderr


def test_workers_reconnect_to_a_restarted_coordinator(cluster, tmp_path):
    """After the coordinator is killed and restarted, the same workers run the next job."""
    inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    workers = [cluster.add_worker(), cluster.add_worker()]
    cluster.wait_for_workers(2)
    cluster.coordinator.send_signal(signal.SIGKILL)
    cluster.coordinator.wait()
    cluster.coordinator = cluster.start_coordinator()
    cluster.wait_for_workers(2)
    submit_plan(make_plan("wordcount.py", [TEXT], tmp_path / "cluster"), cluster.address)
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    assert all(w.poll() is None for w in workers)


def test_waiting_client_resubmits_to_a_restarted_coordinator(cluster, tmp_path, monkeypatch):
    """A coordinator killed mid-job and restarted gets the job again; the output is right."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0")
    (tmp_path / "probes").mkdir()
    inputs = small_inputs(tmp_path / "in", 8)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=2)
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.3")
    cluster.add_worker()
    cluster.add_worker()
    restarted = threading.Event()

    def restart(progress) -> None:
        if progress.snapshot["maps_done"] >= 2 and not restarted.is_set():
            restarted.set()
            cluster.coordinator.send_signal(signal.SIGKILL)
            cluster.coordinator.wait()
            cluster.coordinator = cluster.start_coordinator()

    plan = make_plan("probe.py", inputs, tmp_path / "cluster", reducers=2)
    submit_plan(plan, cluster.address, progress=restart)
    assert restarted.is_set()
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_on_submit_cancels_the_job_on_the_cluster(cluster, tmp_path):
    """SIGINT to `minimr submit --coordinator` cancels the job there and exits 130."""
    probes = tmp_path / "probes"
    probes.mkdir()
    cluster.add_worker()
    cluster.wait_for_workers(1)
    submit = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "faulthandler",  # a stack of every thread if it outlives its time-out (finish)
            "-c",
            "from minimr.cli import main; main()",
            "submit",
            str(ROOT / "tests" / "e2e" / "jobs" / "probe.py"),
            "--input",
            str(small_inputs(tmp_path / "in", 20)[0].parent),
            "--output",
            str(tmp_path / "out"),
            "--coordinator",
            cluster.address,
            "--quiet",
        ],
        # 2 s a task: the 19 maps left after the first probe outlast any delay in signalling
        env=environment(MINIMR_PROBE_DIR=str(probes), MINIMR_PROBE_SLEEP="2"),
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job (`pytest &`) ignores SIGINT, and so would this child.
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 30
    while not any(probes.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert submit.poll() is None, "the job ended before it could be cancelled"
    assert handles(submit.pid, signal.SIGINT), "the submit does not handle SIGINT"
    submit.send_signal(signal.SIGINT)
    code, stderr = finish(submit, timeout=60)
    assert code == 130, stderr
    jobs = fetch_status(cluster.address)["jobs"]
    assert [j["state"] for j in jobs] == ["cancelled"]
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_sigterm_stops_a_waiting_worker_at_once(tmp_path):
    """A worker idle between heartbeats (10 s apart) exits on SIGTERM at once, not at the
    next message: ``minimr submit`` tears its workers down this way after every job."""
    address = free_address()
    coordinator = subprocess.Popen(
        [sys.executable, "-c", "from minimr.cli import main; main()", "coordinator",
         "--bind", address, "--heartbeat-interval", "10", "--log-level", "WARNING"],
        env=environment(),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "minimr.cluster.worker.worker", "--coordinator", address,
         "--work-dir", str(tmp_path / "work")],
        env=environment(MINIMR_LOG="ERROR"),
    )
    try:
        deadline = time.monotonic() + 20
        while not fetch_status(address)["workers"]:
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.1)
        time.sleep(2.0)  # past its first beat (1 s), into a 10 s wait for the next
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        assert time.monotonic() - signalled < 1.0
    finally:
        stop_processes([worker, coordinator])
