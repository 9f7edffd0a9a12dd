"""What minimr submit prints off a terminal while a real job runs and a worker is killed."""

from __future__ import annotations

import io
import re
import signal

from minimr.cluster.client.client import submit_plan
from minimr.cluster.client.localcluster import LocalCluster
from minimr.progress import PlainProgress
from tests.e2e.support import make_plan, read_dir
from tests.e2e.test_cluster import small_inputs


def test_a_killed_worker_is_said_in_words_and_the_job_still_completes(tmp_path, monkeypatch):
    """SIGKILL of a worker mid-job: plain progress lines say which worker was lost and what
    runs again (no escape codes, no silent step back), and the output is whole."""
    monkeypatch.setenv("MINIMR_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.setenv("MINIMR_PROBE_SLEEP", "0.3")  # read when the job file loads
    (tmp_path / "probes").mkdir()
    inputs = small_inputs(tmp_path / "in", 12)
    out = io.StringIO()
    show = PlainProgress(out, interval=0.5)
    with LocalCluster(2, heartbeat_interval=0.2, heartbeat_liveness=5) as cluster:
        victim = cluster.workers[0]
        killed = []

        def progress(update) -> None:
            show(update)
            if update.snapshot["maps_done"] >= 4 and not killed:
                killed.append(victim.pid)
                victim.send_signal(signal.SIGKILL)

        plan = make_plan("probe.py", inputs, tmp_path / "out", reducers=2)
        submit_plan(plan, cluster.address, progress=progress)
    text = out.getvalue()
    assert killed and "\x1b" not in text and "\r" not in text
    lost = re.search(rf"^\[ *\d+s\] worker \S+:{killed[0]} lost: (.*) will run again$", text,
                     re.MULTILINE)
    assert lost, text
    assert re.fullmatch(r"(\d+ running tasks?)?( and )?(\d+ finished map outputs?)?",
                        lost.group(1)), lost.group(1)
    assert re.search(r"^\[ *\d+s\] Probe; map \d+/12", text, re.MULTILINE), text
    assert "_SUCCESS" in read_dir(tmp_path / "out")
