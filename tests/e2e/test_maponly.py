"""Map-only jobs on real coordinator and worker processes: a map's committed output is the
job's, so a lost worker or a restarted coordinator never runs a committed map again, and
nothing is lost or written twice."""

from __future__ import annotations

import signal
import threading

from minimr.cluster.client.client import submit_plan
from minimr.cluster.commands.status import fetch_status
from tests.e2e.support import inline_output, make_plan, read_dir, small_inputs
from tests.e2e.test_restart import markers, run_with_a_coordinator_kill


def setup_marks(tmp_path, monkeypatch, files: int = 10):
    """The inputs, the inline reference output, and the marker folder for the cluster run."""
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = small_inputs(tmp_path / "in", files)
    inline_output("marked_maponly.py", inputs, tmp_path / "inline", reducers=None)
    monkeypatch.setenv("MINIMR_MARK_DIR", str(marks))
    monkeypatch.setenv("MINIMR_MARK_SLEEP", "0.3")
    return inputs, marks


def map_file(task: str) -> str:
    """The marker name of a map task (map i reads the i-th input file)."""
    return f"map-in-{int(task[-5:]):02d}.txt"


def test_a_worker_killed_mid_job_loses_and_repeats_nothing(cluster, tmp_path, monkeypatch):
    """SIGKILL a worker once some maps committed: the output equals inline's (one part a map,
    none missing, none twice), and no committed map ran again."""
    inputs, marks = setup_marks(tmp_path, monkeypatch)
    workers = [cluster.add_worker(hash_seed=str(i)) for i in range(3)]
    cluster.wait_for_workers(3)
    done_before: list[str] = []
    killed = threading.Event()

    def kill(progress) -> None:
        if progress.snapshot["maps_done"] >= 3 and not killed.is_set():
            killed.set()
            detail = fetch_status(cluster.address, job_id=progress.snapshot["job_id"])["job"]
            done_before.extend(t["task"] for t in detail["tasks"]
                               if t["kind"] == "map" and t["state"] == "done")
            workers[0].send_signal(signal.SIGKILL)
            cluster.add_worker(hash_seed="9")

    plan = make_plan("marked_maponly.py", inputs, tmp_path / "cluster", reducers=None)
    result = submit_plan(plan, cluster.address, progress=kill)
    assert killed.is_set() and len(done_before) >= 3
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "inline")
    assert len([n for n in read_dir(tmp_path / "cluster") if n.startswith("part-m-")]) == 10
    runs = markers(marks)
    assert all(runs[map_file(task)] == 1 for task in done_before), (done_before, runs)
    assert result.snapshot["reduces_total"] == 0


def test_a_restarted_coordinator_never_reruns_committed_map_only_maps(
    journaled_cluster, tmp_path, monkeypatch
):
    """kill -9 the coordinator mid-job: it resumes from its journal, the maps journaled as
    committed never run again, and the output equals inline's."""
    before, runs = run_with_a_coordinator_kill(
        journaled_cluster, tmp_path, monkeypatch, lambda snap: snap["maps_done"] >= 3,
        job="marked_maponly.py", reducers=None)
    maps = [key for key in before if "-m" in key]
    assert len(maps) >= 3
    assert all(runs[map_file(key)] == 1 for key in maps), (maps, runs)
