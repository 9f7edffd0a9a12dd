"""`minimr submit` fault-tolerance flags reach the coordinator as the job's options."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.security import local_keys
from minimr.cluster.wire.transport import ZmqServer, wait
from tests.e2e.support import JOBS, environment, small_inputs


def options_of_a_submit(args: list[str], tmp_path) -> dict:
    """Run `minimr submit ARGS` against a stand-in coordinator; return the options it got."""
    server = ZmqServer("tcp://127.0.0.1:0", curve=local_keys().coordinator()[0])  # as a default
    got: dict = {}

    def serve() -> None:
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:
            wait([server.pollable], 0.1)
            while (received := server.recv()) is not None:
                peer, frames = received[0], received[1]
                message = wire.decode(frames)
                if isinstance(message, p.Submit):
                    got.update(message.options.__dict__)
                    error = {"message": "stand-in coordinator"}
                    result = p.JobResult(message.job_id, "failed", {}, [], error)
                    server.send(peer, wire.encode(result))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "minimr", "submit", str(JOBS / "wordcount.py"),
             "--input", str(small_inputs(tmp_path / "in", 1)[0]), "--output",
             str(tmp_path / "out"), "--coordinator", server.address, "--quiet", *args],
            env=environment(), capture_output=True, text=True, timeout=60,
        )
    finally:
        thread.join()
        server.close()
    assert done.returncode == 1 and "stand-in coordinator" in done.stderr, done.stderr
    return got


def test_submit_flags_become_the_jobs_options(tmp_path):
    """--no-speculation, --task-timeout, --worker-timeout, --skip-bad-records, --max-skips."""
    options = options_of_a_submit(
        ["--no-speculation", "--task-timeout", "30", "--worker-timeout", "2.5",
         "--skip-bad-records", "--max-skips", "3", "--max-attempts", "2"],
        tmp_path,
    )
    replay = options.pop("replay")
    assert options == {
        "max_attempts": 2, "speculation": False, "task_timeout": 30.0, "worker_timeout": 2.5,
        "skip_bad_records": True, "max_skips": 3,
    }
    assert replay.job.endswith("wordcount.py:WordCount") and len(replay.inputs) == 1


def test_without_flags_speculation_is_on_and_nothing_times_out(tmp_path):
    """The defaults: speculation on, no timeouts, skip mode off."""
    options = options_of_a_submit([], tmp_path)
    assert options["speculation"] is True and options["skip_bad_records"] is False
    assert options["task_timeout"] is None and options["worker_timeout"] is None
