"""Coordinator cost: N no-op tasks through a real coordinator process and fake workers.

The coordinator is the real one (``minimr coordinator``, a separate process). The workers
are fake: processes that speak the wire protocol and answer every assignment at once
(a prepare task lists N map tasks, each map "finishes" with an empty output, each reduce
asks to commit and finishes). What is left is the coordinator's own cost per task:
decoding, scheduling, encoding, ZeroMQ. The plan blob is a few junk bytes: the
coordinator never unpickles it.

    python scripts/bench_coordinator.py --tasks 10000 --workers 4 --slots 8

Prints tasks per second and the coordinator's CPU time per task (from /proc).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minimr.cluster import protocol as p  # noqa: E402
from minimr.cluster.transport import ZmqClient, wait  # noqa: E402


def fake_worker(address: str, slots: int, tasks: int, reducers: int) -> None:
    """Answer every assignment at once until the coordinator goes quiet."""
    conn = ZmqClient(address, f"fake-{os.getpid()}".encode())
    conn.send(p.encode(p.Ready(f"fake-{os.getpid()}", "bench", os.getpid(), slots, "tcp://x:1")))
    empty = {"path": "/dev/null", "partitions": [[0, 10]] * reducers}  # every reduce reads it
    last_beat = heard = time.monotonic()
    while time.monotonic() - heard < 5:
        wait([conn.pollable], 0.2)
        while (frames := conn.recv()) is not None:
            heard = time.monotonic()
            message = p.decode(frames)
            if isinstance(message, p.Assign):
                if message.kind == "prepare":
                    output = {
                        "map_tasks": [{"index": i} for i in range(tasks)],
                        "reduce_tasks": [{"partition": r} for r in range(reducers)],
                    }
                    conn.send(p.encode(p.TaskDone(message.job_id, message.attempt, output, {}, 0)))
                elif message.kind == "map":
                    conn.send(p.encode(p.TaskDone(message.job_id, message.attempt, empty, {}, 0)))
                elif message.kind == "reduce":
                    conn.send(p.encode(p.CommitRequest(message.job_id, message.attempt)))
                else:
                    conn.send(p.encode(p.TaskDone(message.job_id, message.attempt, None, {}, 0)))
            elif isinstance(message, p.CommitAnswer):
                conn.send(p.encode(p.TaskDone(message.job_id, message.attempt, None, {}, 0)))
        if time.monotonic() - last_beat > 0.5:
            conn.send(p.encode(p.Heartbeat()))
            last_beat = time.monotonic()
    conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--reducers", type=int, default=4)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    coordinator = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from minimr.cli import main; main()",
            "coordinator",
            "--bind",
            address,
            "--log-level",
            "WARNING",
        ],
    )
    workers = [
        multiprocessing.Process(
            target=fake_worker, args=(address, args.slots, args.tasks, args.reducers)
        )
        for _ in range(args.workers)
    ]
    for w in workers:
        w.start()
    time.sleep(1.0)  # let them register
    client = ZmqClient(address, b"bench-client")
    cpu_before = cpu_seconds(coordinator.pid)
    started = time.monotonic()
    client.send(p.encode(p.Submit("bench", "bench", 1, {}, "cloudpickle", b"opaque")))
    result = None
    while result is None:
        wait([client.pollable], 1.0)
        while (frames := client.recv()) is not None:
            message = p.decode(frames)
            if isinstance(message, p.JobResult):
                result = message
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(coordinator.pid) - cpu_before
    total = sum(result.snapshot["attempts"].values())
    print(
        f"job {result.state}: {total} tasks ({args.tasks} maps, {args.reducers} reduces, "
        f"prepare, commit) on {args.workers} fake workers x {args.slots} slots"
    )
    print(f"wall {elapsed:.2f} s -> {total / elapsed:,.0f} tasks/s")
    print(f"coordinator CPU {cpu:.2f} s -> {cpu / total * 1e6:,.0f} us per task")
    client.close()
    coordinator.terminate()
    coordinator.wait()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
