"""Task logs and cluster operations with real processes: minimr logs, status, cancel, and
what the coordinator logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import minimr
from minimr.cluster.commands.status import fetch_status
from minimr.cluster.worker.tasklogs import HEAD, TAIL
from tests.e2e.conftest import Cluster
from tests.e2e.support import JOBS, environment

CHATTY = str(JOBS / "chatty.py")


@pytest.fixture
def words(tmp_path) -> Path:
    """Two small text files: 60 lines each, 'common' on every line."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        lines = [f"common word{i % 7} line{i} {name}" for i in range(60)]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def logged_cluster(tmp_path):
    """A coordinator logging at INFO into a file (``logged()``), without workers."""
    c = Cluster(tmp_path, log_level="INFO")
    yield c
    c.close()


def minimr_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``minimr ARGS`` as a process."""
    return subprocess.run([sys.executable, "-m", "minimr", *args], env=environment(),
                          capture_output=True, text=True, timeout=timeout)


def submit_process(address: str, words: Path, out: Path, *args: str) -> subprocess.Popen:
    """``minimr submit chatty.py`` to a cluster, as a process."""
    return subprocess.Popen(
        [sys.executable, "-m", "minimr", "submit", CHATTY, "-i", str(words), "-o", str(out),
         "-c", address, "-r", "2", *args],
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def job_id_of(stderr: str) -> str:
    """The job id ``minimr submit`` says first."""
    first = stderr.splitlines()[0]
    assert first.startswith("job: "), stderr
    return first.removeprefix("job: ")


def wait_for(condition, timeout: float = 30.0, what: str = "a condition"):
    """Poll ``condition()`` until it is truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {what}")


def test_prints_and_logging_of_map_and_reduce_reach_minimr_logs_on_a_cluster(cluster, words,
                                                                              tmp_path):
    """On a standalone cluster, `minimr logs JOB` shows every attempt's prints (stdout and
    stderr) and logging, map's and reduce's, with minimr's own lines; a task or an attempt
    can be asked for alone, and the library's Result.logs() reads the same."""
    cluster.add_worker()
    cluster.add_worker()
    cluster.wait_for_workers(2)
    run = submit_process(cluster.address, words, tmp_path / "out")
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    job = job_id_of(stderr)
    shown = minimr_cli("logs", job, "-c", cluster.address)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "==> s0-m00000-a1 on worker" in text and "succeeded <==" in text
    for said in ("map print: 4 words at 0", "map stderr: 0", "map logging: line at 0",
                 "reduce print: common 120", "reduce logging: common",
                 f"minimr.task: attempt s0-m00001-a1 of job {job} (map) starts"):
        assert said in text, said
    one = minimr_cli("logs", job, "s0-m00001", "-c", cluster.address).stdout
    assert "map print" in one and "reduce print" not in one and "==>" not in one
    result = minimr.run(CHATTY, [str(words)], str(tmp_path / "again"), reducers=2,
                        coordinator=cluster.address)
    reduces = result.logs("s0-r00000")
    assert list(reduces) == ["s0-r00000-a1"]
    assert "minimr.task: attempt s0-r00000-a1" in reduces["s0-r00000-a1"]
    assert len(result.logs()) == 1 + 2 + 2 + 1  # prepare, 2 maps, 2 reduces, commit


def test_follow_prints_a_running_tasks_output_as_it_comes_and_ends_with_it(cluster, words,
                                                                           tmp_path):
    """`minimr logs JOB TASK --follow` started while the map runs prints its lines as they
    come, all of them once, and returns when the task is done."""
    cluster.add_worker()
    cluster.wait_for_workers(1)
    run = submit_process(cluster.address, words, tmp_path / "out", "--sleep", "0.04")
    job = wait_for(lambda: [j["job_id"] for j in fetch_status(cluster.address)["jobs"]
                            if j["maps_total"]], what="the maps")[0]
    follow = subprocess.Popen(
        [sys.executable, "-m", "minimr", "logs", job, "s0-m00001", "--follow", "-c",
         cluster.address], env=environment(), stdout=subprocess.PIPE, text=True)
    first = follow.stdout.readline()
    assert first.startswith("==> s0-m00001-a1 on worker"), first
    rest, _ = follow.communicate(timeout=60)
    assert follow.returncode == 0
    printed = [line for line in rest.splitlines() if line.startswith("map print")]
    assert len(printed) == 60 and len(set(printed)) == 60
    assert "attempt s0-m00001-a1 done in" in rest
    run.communicate(timeout=60)
    assert run.returncode == 0


def test_an_embedded_run_keeps_each_attempts_log_under_logs(words, tmp_path):
    """An embedded cluster's task logs are copied to OUTPUT/_logs/, one file per attempt,
    and Result.logs() reads them; the inline runner keeps none (its prints are the
    terminal's) and says so."""
    result = minimr.run(CHATTY, [str(words)], str(tmp_path / "out"), reducers=2, workers=2)
    logs = tmp_path / "out" / "_logs"
    assert sorted(os.listdir(logs)) == [
        "s0-c00000-a1.log", "s0-m00000-a1.log", "s0-m00001-a1.log", "s0-p00000-a1.log",
        "s0-r00000-a1.log", "s0-r00001-a1.log"]
    mapped = (logs / "s0-m00000-a1.log").read_text()
    assert "map print: 4 words at 0" in mapped and "map logging: line at 0" in mapped
    assert "map stderr: 0" in mapped
    reduced = (logs / "s0-r00000-a1.log").read_text() + (logs / "s0-r00001-a1.log").read_text()
    assert "reduce print: common 120" in reduced
    assert result.logs("s0-m00000") == {"s0-m00000-a1": mapped}
    inline = minimr.run(CHATTY, [str(words)], str(tmp_path / "inline"), runner="inline")
    with pytest.raises(minimr.MinimrError, match="inline runner keeps no task logs"):
        inline.logs()


def test_a_map_printing_10_mb_keeps_head_and_tail_with_the_cut_marked(words, tmp_path):
    """A map that prints 10 MB leaves a log of the first and last bytes only: its first and
    last lines are there, the middle is cut, and the cut says how much."""
    minimr.run(CHATTY, [str(words / "a.txt")], str(tmp_path / "out"), workers=1,
               options={"flood": 10_000_000})
    log = (tmp_path / "out" / "_logs" / "s0-m00000-a1.log").read_bytes()
    assert len(log) < HEAD + TAIL + 300
    assert b"flood line 000000000 " in log[:HEAD]
    assert b"flood line 000099999 " in log  # the flood's last line, in the tail
    assert b"flood line 000050000 " not in log
    assert b"bytes cut here; this log keeps the first 65536 and the last 196608 bytes" in log
    assert log.rstrip().endswith(b"spilled records 240")  # minimr's last line survives


def test_a_failed_jobs_message_names_its_log_and_the_coordinator_says_why(logged_cluster,
                                                                          words, tmp_path):
    """A job that fails on a cluster names the failed attempt's `minimr logs` command, which
    shows the traceback; the coordinator logs each failed attempt with the user's exception
    line and the job's failure with why."""
    logged_cluster.add_worker()
    logged_cluster.wait_for_workers(1)
    run = submit_process(logged_cluster.address, words, tmp_path / "out", "--fail-on",
                         "line7", "--max-attempts", "2")
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 1
    job = job_id_of(stderr)
    command = f"minimr logs {job} s0-m00000-a2 -c {logged_cluster.address}"
    assert f"its log: {command}" in stderr
    shown = minimr_cli(*command.split()[1:])
    assert "ValueError: chatty cannot take 'line7'" in shown.stdout
    assert "map print: 4 words at 0" in shown.stdout  # the lines before the failure
    logged = wait_for(lambda: "failed after" in logged_cluster.logged()
                      and logged_cluster.logged(), what="the job's failure in the log")
    assert (f"attempt s0-m00000-a1 of job {job} failed on" in logged
            and "(1 of 2): ValueError: chatty cannot take 'line7'" in logged)
    assert f"job {job} (Chatty) failed after" in logged
    assert "task s0-m00000 (map of step 0) failed 2 times" in logged


def test_a_killed_workers_logs_are_said_gone_and_the_coordinator_says_it_died(
        logged_cluster, words, tmp_path):
    """SIGKILL a worker mid-job: the coordinator logs it declared dead (silent, how long)
    and what runs again; the job finishes elsewhere; `minimr logs` says the dead worker's
    logs went with it, and shows the others."""
    doomed = logged_cluster.add_worker()
    logged_cluster.add_worker()
    logged_cluster.wait_for_workers(2)
    run = submit_process(logged_cluster.address, words, tmp_path / "out", "--sleep", "0.05")
    status = wait_for(lambda: [j for j in fetch_status(logged_cluster.address)["jobs"]
                               if j["maps_total"] and j["running"] == 2], what="maps running")
    job = status[0]["job_id"]
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    logged = logged_cluster.logged()
    assert "declared dead: silent for" in logged and "running attempt" in logged
    shown = minimr_cli("logs", job, "-c", logged_cluster.address).stdout
    assert "lost: its worker was declared dead" in shown
    assert "(no log: worker" in shown
    assert "is gone (it left or died): its logs went with it" in shown
    assert "map print" in shown  # the attempts that ran again, on the live worker


def test_a_job_whose_client_was_killed_can_be_cancelled(logged_cluster, words, tmp_path):
    """Kill -9 a `minimr submit` mid-job: the job runs on; `minimr cancel JOB` ends it,
    `minimr status` shows it cancelled, and the coordinator logs who cancelled it."""
    logged_cluster.add_worker()
    logged_cluster.wait_for_workers(1)
    run = submit_process(logged_cluster.address, words, tmp_path / "out", "--sleep", "0.2")
    jobs = wait_for(lambda: [j for j in fetch_status(logged_cluster.address)["jobs"]
                             if j["state"] == "running" and j["maps_total"]], what="the job")
    job = jobs[0]["job_id"]
    run.kill()
    run.communicate(timeout=30)
    time.sleep(0.5)
    assert fetch_status(logged_cluster.address)["jobs"][0]["state"] == "running"
    done = minimr_cli("cancel", job, "-c", logged_cluster.address)
    assert done.returncode == 0 and done.stdout.strip() == f"job {job} cancelled", done.stderr
    assert fetch_status(logged_cluster.address)["jobs"][0]["state"] == "cancelled"
    again = minimr_cli("cancel", job, "-c", logged_cluster.address)
    assert again.returncode == 1 and "had already ended: cancelled" in again.stderr
    assert f"job {job} (Chatty) cancelled by minimr cancel (user" in logged_cluster.logged()


def test_status_shows_queued_jobs_one_job_in_detail_and_a_bounded_history(tmp_path, words):
    """A job waiting behind another is queued (not running map 0/0); status JOB_ID shows its
    phases, attempts and counters; past --keep-finished the oldest finished job leaves the
    list, and status --all still lists it from the --state-dir history."""
    cluster = Cluster(tmp_path, state_dir=tmp_path / "state")
    try:
        cluster.coordinator.terminate()
        cluster.coordinator.wait()
        cluster.coordinator = subprocess.Popen(
            [sys.executable, "-m", "minimr", "coordinator", "--bind", cluster.address,
             "--state-dir", str(tmp_path / "state"), "--keep-finished", "1",
             "--log-level", "WARNING"], env=environment())
        cluster.add_worker()
        cluster.wait_for_workers(1)
        first = submit_process(cluster.address, words, tmp_path / "one", "--sleep", "0.1")
        wait_for(lambda: fetch_status(cluster.address)["jobs"], what="the first job")
        second = submit_process(cluster.address, words, tmp_path / "two")
        wait_for(lambda: [j for j in fetch_status(cluster.address)["jobs"]
                          if j["state"] == "queued"], what="a queued job")
        shown = minimr_cli("status", "-c", cluster.address).stdout  # the first runs 12 s
        queued = next(line for line in shown.splitlines() if "queued" in line)
        assert "1st in line" in queued and "map 0/0" not in queued
        _, err1 = first.communicate(timeout=120)
        _, err2 = second.communicate(timeout=120)
        one, two = job_id_of(err1), job_id_of(err2)
        listed = fetch_status(cluster.address)["jobs"]
        assert [j["job_id"] for j in listed] == [two]  # --keep-finished 1
        detail = minimr_cli("status", two, "-c", cluster.address).stdout
        assert f"job {two} (Chatty): succeeded" in detail
        assert "step 1 map      2/2 done" in detail and "attempts: 6 (6 succeeded)" in detail
        assert "map output records" in detail
        every = minimr_cli("status", "--all", "-c", cluster.address).stdout
        history = every[every.index("history"):]
        assert one in history and two in history
        old = json.loads(minimr_cli("status", one, "-c", cluster.address, "--json").stdout)
        assert old["from_history"] and old["job"]["state"] == "succeeded"
    finally:
        cluster.close()
