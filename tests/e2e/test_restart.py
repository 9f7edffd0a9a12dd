"""Coordinator restart with real processes: kill -9, start again on the same --state-dir.

The job leaves a marker file per map and reduce run, so the tests can check that what the
journal recorded as committed before the kill never runs again, and the output still
equals the inline runner's.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from minimr.cluster.client.client import submit_plan
from minimr.cluster.client.operations import Asker
from minimr.cluster.coordinator.journal import FILE_NAME, read_records
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import security
from minimr.dataflow.format.output import read_output
from tests.e2e.conftest import Cluster
from tests.e2e.support import inline_output, make_plan, read_dir, small_inputs


def markers(folder: Path) -> Counter:
    """How many times each task (``map-<file>`` / ``reduce-<first key>``) ran."""
    return Counter(path.name.rsplit("-", 1)[0] for path in folder.iterdir())


def committed(state_dir: Path) -> dict[str, dict]:
    """The tasks the journal holds as committed: task key -> its record."""
    records = read_records(str(state_dir / FILE_NAME)).records
    return {r.body["task"]: r.body for r in records if r.type == "task"}


def run_with_a_coordinator_kill(cluster, tmp_path, monkeypatch, when, job: str = "marked.py",
                                reducers: int | None = 3) -> tuple[dict, dict]:
    """Run the marked job (``job``) on 2 workers; kill -9 and restart the coordinator at
    ``when``.

    Returns:
        The tasks journaled before the kill, and how many times each task ran (markers).
    """
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = small_inputs(tmp_path / "in", 8)
    inline_output(job, inputs, tmp_path / "inline", reducers=reducers)
    monkeypatch.setenv("MINIMR_MARK_DIR", str(marks))
    monkeypatch.setenv("MINIMR_MARK_SLEEP", "0.3")
    for seed in ("1", "2"):
        cluster.add_worker(hash_seed=seed)
    cluster.wait_for_workers(2)
    before: dict[str, dict] = {}
    killed = threading.Event()

    def kill(progress) -> None:
        if when(progress.snapshot) and not killed.is_set():
            killed.set()
            cluster.coordinator.send_signal(signal.SIGKILL)
            cluster.coordinator.wait()
            before.update(committed(cluster.state_dir))
            cluster.coordinator = cluster.start_coordinator()

    plan = make_plan(job, inputs, tmp_path / "cluster", reducers=reducers)
    submit_plan(plan, cluster.address, progress=kill)
    assert killed.is_set()
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    return before, markers(marks)


def test_coordinator_killed_in_the_map_phase_resumes_without_rerunning_finished_maps(
    journaled_cluster, tmp_path, monkeypatch
):
    """kill -9 mid-map: the job completes, and maps journaled as done never run again."""
    before, runs = run_with_a_coordinator_kill(
        journaled_cluster, tmp_path, monkeypatch, lambda snap: snap["maps_done"] >= 3
    )
    maps = [key for key in before if "-m" in key]
    assert len(maps) >= 3
    for key in maps:
        name = f"in-{int(key[-5:]):02d}.txt"  # map i reads the i-th input file
        assert runs[f"map-{name}"] == 1, (key, runs)


def test_coordinator_killed_in_the_reduce_phase_never_reruns_committed_reduces(
    journaled_cluster, tmp_path, monkeypatch
):
    """kill -9 mid-reduce: committed reduces (and the maps) are not run again."""
    before, runs = run_with_a_coordinator_kill(
        journaled_cluster, tmp_path, monkeypatch, lambda snap: snap["reduces_done"] >= 1
    )
    reduces = [body for key, body in before.items() if "-r" in key]
    assert reduces
    for body in reduces:
        partition = int(body["task"][-5:])
        part = tmp_path / "cluster" / f"part-{partition:05d}"
        first_key, _ = next(read_output(part))
        assert runs[f"reduce-{first_key}"] == 1, (body["task"], runs)
    assert all(count == 1 for name, count in runs.items() if name.startswith("map-")), runs


@pytest.fixture
def patient_cluster(tmp_path):
    """A coordinator that declares a worker dead after 5 s of silence, not 1: a successor
    process started on a loaded machine registers (and adopts) before that."""
    c = Cluster(tmp_path, liveness=25)
    yield c
    c.close()


def test_a_killed_worker_restarted_on_its_folder_hands_its_map_outputs_on(
    patient_cluster, tmp_path, monkeypatch
):
    """SIGKILL a worker mid-map and start another on the same --work-dir: the new one adopts
    the dead one's finished map outputs, so no map runs twice; the output equals inline.
    (Were the victim declared dead first, its maps would rightly run again.)"""
    cluster = patient_cluster
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = small_inputs(tmp_path / "in", 8)
    inline_output("marked.py", inputs, tmp_path / "inline", reducers=2)
    monkeypatch.setenv("MINIMR_MARK_DIR", str(marks))
    monkeypatch.setenv("MINIMR_MARK_SLEEP", "0.3")
    victim = cluster.add_worker(hash_seed="1")
    cluster.add_worker(hash_seed="2")
    cluster.wait_for_workers(2)
    killed = threading.Event()

    def kill(progress) -> None:
        if progress.snapshot["maps_done"] >= 4 and not killed.is_set():
            killed.set()
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            cluster.add_worker(hash_seed="3")

    plan = make_plan("marked.py", inputs, tmp_path / "cluster", reducers=2)
    result = submit_plan(plan, cluster.address, progress=kill)
    assert killed.is_set()
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    with Asker(cluster.address, security.client_keys(cluster.address)) as asker:
        tasks = asker.ask(p.StatusRequest(result.job_id), (p.StatusReply,)).status["job"]["tasks"]
    maps = [t for t in tasks if t["kind"] == "map"]
    finished_on_victim = [t for t in maps if any(
        a["state"] == "succeeded" and a["log"] == "gone" for a in t["attempts"])]
    assert finished_on_victim, "no map had finished on the killed worker: nothing to adopt"
    assert all(len(t["attempts"]) == 1 for t in finished_on_victim), finished_on_victim
    # Only the maps the victim was running when killed ran again (its teardown may have left
    # a map's marker just before the kill, before the map's output was reported: that map
    # ran twice, and rightly so). Every map ran; none ran more often than it had attempts.
    runs = markers(marks)
    attempts = {t["input"]: len(t["attempts"]) for t in maps}
    assert len(attempts) == 8 and sum(v for k, v in runs.items() if k.startswith("map-")) >= 8
    for task in maps:
        ran = [n for name, n in runs.items() if name.startswith("map-") and name[4:] in
               task["input"]]
        assert ran and ran[0] <= len(task["attempts"]), (task, runs)
