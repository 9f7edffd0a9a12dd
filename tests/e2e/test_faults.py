"""Fault tolerance with real processes and real signals: the output never changes.

Workers are killed and restarted at random, paused and resumed (zombies), slowed down
(stragglers), and user code dies or stalls at random; each job's output must equal the
inline runner's.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
import time

import pytest

from minimr.cluster.client.client import submit_plan
from tests.e2e.support import (
    child_processes,
    inline_output,
    make_plan,
    read_dir,
    small_inputs,
)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_worker_kills_with_restarts_leave_the_output_unchanged(
    cluster, tmp_path, monkeypatch, seed
):
    """A random worker is SIGKILLed (and replaced) every 1.5 s; the output equals inline."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0")
    (tmp_path / "probes").mkdir()
    inputs = small_inputs(tmp_path / "in", 16)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=3)
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.25")
    workers = [cluster.add_worker(hash_seed=str(i)) for i in range(3)]
    rng = random.Random(seed)
    done = threading.Event()
    kills = []

    def chaos() -> None:
        while not done.wait(1.5):
            victim = rng.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            kills.append(victim)
            workers[victim] = cluster.add_worker(hash_seed=str(rng.randrange(100)))

    killer = threading.Thread(target=chaos)
    killer.start()
    try:
        plan = make_plan("probe.py", inputs, tmp_path / "cluster", reducers=3)
        submit_plan(plan, cluster.address)
    finally:
        done.set()
        killer.join()
    assert kills
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")


def test_tasks_that_crash_or_stall_at_random_still_give_the_right_output(cluster, tmp_path):
    """The MIT crash test: tasks os._exit or stall at random; the job completes correctly."""
    inline_output("crashy.py", small_inputs(tmp_path / "in", 10), tmp_path / "inline", reducers=3)
    for i in range(3):
        cluster.add_worker(hash_seed=str(i), env={"MINIMR_CRASH": "1"})
    plan = make_plan(
        "crashy.py",
        small_inputs(tmp_path / "in", 10),
        tmp_path / "cluster",
        reducers=3,
        max_attempts=20,
    )
    result = submit_plan(plan, cluster.address)
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    assert result.snapshot["attempts"]["map"] >= 10


def test_paused_worker_that_wakes_up_cannot_corrupt_the_output(cluster, tmp_path, monkeypatch):
    """A worker SIGSTOPped until its task went elsewhere, then SIGCONTed, changes nothing."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0")
    (tmp_path / "probes").mkdir()
    inputs = small_inputs(tmp_path / "in", 10)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=2)
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.3")
    sleeper = cluster.add_worker()
    cluster.add_worker()
    cluster.add_worker()
    cluster.wait_for_workers(3)
    paused = threading.Event()

    def pause(progress) -> None:
        if progress.snapshot["maps_done"] >= 2 and not paused.is_set():
            paused.set()
            sleeper.send_signal(signal.SIGSTOP)
            threading.Timer(2.5, sleeper.send_signal, [signal.SIGCONT]).start()

    plan = make_plan("probe.py", inputs, tmp_path / "cluster", reducers=2)
    submit_plan(plan, cluster.address, progress=pause)
    time.sleep(3)  # the zombie wakes up after the job and reports its stale attempt
    assert paused.is_set()
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    assert sleeper.poll() is None  # it re-registered and lives on


@pytest.mark.parametrize("speculation", [True, False])
def test_straggler_gets_a_backup_only_with_speculation(cluster, tmp_path, monkeypatch, speculation):
    """A worker 20x slower than the others delays the job only without speculation."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.3")
    (tmp_path / "probes").mkdir()
    cluster.add_worker(env={"MINIMR_STRAGGLER": "1"})
    cluster.wait_for_workers(1)
    cluster.add_worker()
    cluster.add_worker()
    cluster.wait_for_workers(3)
    plan = make_plan(
        "probe.py",
        small_inputs(tmp_path / "in", 6),
        tmp_path / "out",
        reducers=2,
        speculation=speculation,
    )
    started = time.monotonic()
    result = submit_plan(plan, cluster.address)
    elapsed = time.monotonic() - started
    if speculation:
        assert elapsed < 5 and result.snapshot["attempts"]["map"] > 6
    else:
        assert elapsed >= 6 and result.snapshot["attempts"]["map"] == 6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_stopped_with_its_executors_gives_its_attempt_back_uncounted(
    cluster, tmp_path, monkeypatch
):
    """SIGTERM to a worker and its executors at once (systemd stopping the unit's cgroup,
    `pkill -f "minimr worker"`) is a worker leaving, not a failed attempt: with one attempt
    allowed per task the job still succeeds on the next worker, and the stopping worker
    starts no new executor."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    (tmp_path / "probes").mkdir()
    inputs = small_inputs(tmp_path / "in", 1)
    inline_output("probe.py", inputs, tmp_path / "inline", reducers=1)
    slow = cluster.add_worker(env={"MINIMR_STRAGGLER": "1"})  # its map sleeps 10 s
    cluster.wait_for_workers(1)
    seen: set[int] = set()

    def stop_the_slow_worker_then_add_another() -> None:
        time.sleep(1.5)  # its map attempt is running
        executors = set(child_processes(slow.pid))
        for pid in [slow.pid, *executors]:
            # an executor may already have exited with its worker: on a loaded machine the
            # worker's own stop can beat this loop to it (and a dead thread here left the job
            # waiting forever for the next worker)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        while slow.poll() is None:
            seen.update(p for p in child_processes(slow.pid) if p not in executors)
            time.sleep(0.01)
        cluster.add_worker()

    threading.Thread(target=stop_the_slow_worker_then_add_another, daemon=True).start()
    plan = make_plan("probe.py", inputs, tmp_path / "out", reducers=1, max_attempts=1)
    submit_plan(plan, cluster.address)
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")
    assert slow.returncode == 0 and not seen
