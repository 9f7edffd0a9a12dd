"""The embedded local cluster's workers: forked from the client when that is safe, else spawned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from minimr.cluster.client import launch, localcluster
from tests.e2e.support import environment

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is Linux's")

JOB = """
import os
import signal
from pathlib import Path

from minimr import Job

SEEN = Path(os.environ["SEEN_DIR"])


def status(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split()[1]


class Seen(Job):
    def map(self, key, line):
        worker = os.getppid()  # an executor's parent is its worker
        (SEEN / f"executor-{os.getpid()}").write_text(
            f"{worker} {status(worker, 'Name')} {status(worker, 'PPid')}")
        if line == "die" and not (SEEN / "died").exists():
            (SEEN / "died").touch()
            os._exit(1)  # the worker replaces this executor, by spawning a new Python
        yield line, 1

    def reduce(self, key, values):
        yield key, sum(values)
"""

# no `if __name__ == "__main__"`: a new Python that imported this file would run the job again
CLIENT = """
import os
import signal
import sys

import minimr

with open(sys.argv[2], "a") as log:
    log.write(f"{os.getpid()}\\n")
result = minimr.run(sys.argv[1], inputs=[sys.argv[3]], output=sys.argv[4], reducers=2,
                    runner="local", workers=1, split_size=8)
print(sorted(result.records()))
"""


def test_local_workers_are_forked_from_the_client_and_spawn_replacements_safely(tmp_path):
    """The worker is the client's child, named minimr-worker; an executor that dies is
    replaced by a new Python that does not run the client's script (which has no main
    guard), and the job's output is right."""
    seen = tmp_path / "seen"
    seen.mkdir()
    (tmp_path / "seen_job.py").write_text(JOB)
    (tmp_path / "client.py").write_text(CLIENT)
    (tmp_path / "input.txt").write_text("a\nb\ndie\na\nc\nb\na\n")
    log = tmp_path / "client.log"
    done = subprocess.run(
        [sys.executable, str(tmp_path / "client.py"), str(tmp_path / "seen_job.py"), str(log),
         str(tmp_path / "input.txt"), str(tmp_path / "out")],
        env=environment(SEEN_DIR=str(seen)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('a', 3), ('b', 2), ('c', 1), ('die', 1)]"
    (client_pid,) = log.read_text().split()  # the script ran once: in the client only
    assert (seen / "died").exists()
    workers = {tuple(p.read_text().split()) for p in seen.glob("executor-*")}
    assert workers and all(name == "minimr-worker" and parent == client_pid
                           for _, name, parent in workers)


def test_forked_workers_leave_when_the_coordinator_cannot_start(monkeypatch):
    """Workers forked before a coordinator that fails to bind end with the cluster: none is
    left waiting for an address."""
    forked: list[launch.ForkedWorker] = []
    fork_workers = launch.fork_workers

    def fork(*args):
        forked.extend(fork_workers(*args))
        return forked

    def no_server(*args, **kwargs):
        raise OSError("no port for you")

    monkeypatch.setattr(launch, "can_fork", lambda: True)  # whatever threads pytest has
    monkeypatch.setattr(launch, "fork_workers", fork)
    monkeypatch.setattr(localcluster, "ZmqServer", no_server)
    with pytest.raises(OSError, match="no port"):
        localcluster.LocalCluster(2)
    assert len(forked) == 2
    assert all(worker.poll() is not None for worker in forked)  # ended, and reaped
    assert all(not Path(f"/proc/{worker.pid}").exists() for worker in forked)


def test_a_client_with_another_thread_spawns_its_workers():
    """Forking a process with threads is not safe: then every worker is a new Python."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with localcluster.LocalCluster(1) as cluster:
            (worker,) = cluster.workers
            assert isinstance(worker, subprocess.Popen)
            deadline = time.monotonic() + 10
            # read while the new Python execs, the command line can still be empty
            while not (cmdline := Path(f"/proc/{worker.pid}/cmdline").read_bytes()):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert b"minimr.cluster.worker.worker" in cmdline
    finally:
        stop.set()
        other.join()


def test_a_worker_never_started_reads_no_address_and_leaves():
    """A forked worker whose client drops it before start (its pipe closed) exits at once,
    with status 0, and runs none of the client's code."""
    worker = launch.ForkedWorker(1, dict(os.environ))
    assert worker.wait(timeout=10) == 0


def test_forked_workers_keep_no_sibling_waiting():
    """A worker holds no other worker's end of its pipe: the first one given its address
    goes on while its siblings still wait for theirs."""
    workers: list[launch.ForkedWorker] = []
    for _ in range(3):
        workers.append(launch.ForkedWorker(1, dict(os.environ), siblings=workers))
    workers[0].start("")  # an empty address: it leaves as soon as it has read it all
    assert workers[0].wait(timeout=10) == 0
    assert workers[1].poll() is None and workers[2].poll() is None
    for worker in workers[1:]:
        worker.start("")
    assert [worker.wait(timeout=10) for worker in workers[1:]] == [0, 0]


SIGNALLED_AT_ONCE = """
import os, signal
from minimr.cluster.client import launch

def cancel(signum, frame):  # the client's own handler, as submit's SIGTERM
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, cancel)
for _ in range(40):
    worker = launch.ForkedWorker(1, dict(os.environ))
    os.kill(worker.pid, signal.SIGTERM)
    print(worker.wait(timeout=10))
"""


def test_a_forked_worker_signalled_at_once_never_runs_the_clients_handler():
    """SIGTERM sent the moment a worker is forked (a cluster that fails to start) ends it
    with the default action: the client's handler, inherited by the fork, never runs there
    (it printed the traceback of the client's exception)."""
    done = subprocess.run([sys.executable, "-c", SIGNALLED_AT_ONCE], capture_output=True,
                          text=True, env=environment(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert set(done.stdout.split()) <= {"0", str(-signal.SIGTERM)}


UNSHIPPABLE = """
import threading
from minimr import Job
LOCK = threading.Lock()
class Locked(Job):
    def map(self, key, line):
        yield line, LOCK
"""


def test_a_job_that_cannot_be_shipped_ends_its_forked_workers_quietly(tmp_path):
    """Workers forked before the plan turns out unshippable are stopped without a traceback
    of the client's SIGTERM handler, which a forked child must not inherit."""
    job = tmp_path / "locked.py"
    job.write_text(UNSHIPPABLE)
    (tmp_path / "in.txt").write_text("a\nb\n")
    script = Path(sys.executable).with_name("minimr")  # `python -m minimr` spawns instead
    done = subprocess.run(
        [str(script), "submit", str(job), "-i", str(tmp_path / "in.txt"),
         "-o", str(tmp_path / "out"), "--workers", "2"],
        capture_output=True, text=True, env=environment(), timeout=60)
    assert done.returncode != 0
    assert "cannot be shipped" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_spawned_worker_imports_the_clients_minimr_not_the_current_folders(
        tmp_path, monkeypatch):
    """`python -m` puts the current folder first on the import path: run from a checkout of
    another minimr (as when timing two trees), a spawned worker would run that one's code. It
    imports what its client imported."""
    shadow = tmp_path / "minimr"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(tmp_path / 'shadow-imported')!r}).touch()\n"
        "raise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # forking is unsafe: the worker is spawned
    other.start()
    try:
        with localcluster.LocalCluster(1) as cluster:
            (worker,) = cluster.workers
            assert isinstance(worker, subprocess.Popen)
            time.sleep(2)  # long enough for a new Python to import minimr and register
            assert worker.poll() is None
    finally:
        stop.set()
        other.join()
    assert not (tmp_path / "shadow-imported").exists()
