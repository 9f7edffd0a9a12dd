#!/usr/bin/env python3
"""What failures cost: a word count under worker kills, and a straggler with and without backups.

Two measurements, each on a real cluster of this machine (a `minimr coordinator` process and
`--workers` worker processes), on a text corpus made with scripts/gen_corpus.py (generated
under --corpus unless it is already there):

kills       the same word count twice: failure-free, then with a random worker SIGKILLed
            every --kill-every seconds and a new worker started in its place at once. Prints
            both wall times and their ratio (the goal: at most 1.5x; Google's MapReduce lost
            5% on its 1TB sort with 200 of 1,746 workers killed) and checks that the two
            outputs are byte-identical.
straggler   one of the workers is a 10x straggler (each of its tasks sleeps 9 times its own
            run time before reporting); the same job with speculation (backup attempts near
            the end of a phase) and with --no-speculation.

examples
  python scripts/bench_faults.py                          # 256MB, 3 workers, kill every 5 s
  python scripts/bench_faults.py --size 64MB --only kills
"""

from __future__ import annotations

import argparse
import filecmp
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import minimr  # noqa: E402

STRAGGLER_JOB = '''
"""Word count; on a worker whose environment has MINIMR_BENCH_STRAGGLER, tasks are 10x slower."""
import os
import re
import time

from minimr import Job

WORD = re.compile(r"[a-z]+")


class StragglerWordCount(Job):
    def setup(self):
        self.started = time.monotonic()

    def map(self, key, line):
        for word in WORD.findall(line.lower()):
            yield word, 1

    def combine(self, word, counts):
        yield word, sum(counts)

    def reduce(self, word, counts):
        yield word, sum(counts)

    def teardown(self):
        if os.environ.get("MINIMR_BENCH_STRAGGLER"):
            time.sleep(9 * (time.monotonic() - self.started))
'''


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("MINIMR_LOG", "ERROR")
    env.update(extra)
    return env


class Cluster:
    """A coordinator process and worker processes, stopped on exit."""

    def __init__(self, workers: int, work: Path, heartbeat: list[str]) -> None:
        self.address = free_address()
        self.work = work
        self.coordinator = subprocess.Popen(
            [sys.executable, "-m", "minimr", "coordinator", "--bind", self.address,
             "--log-level", "WARNING", *heartbeat],
            env=environment(),
        )
        self.workers = [self.add_worker() for _ in range(workers)]

    def add_worker(self, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "minimr.cluster.worker.worker", "--coordinator", self.address,
             "--work-dir", str(self.work)],
            env=environment(**env),
        )

    def wait_for_workers(self, count: int) -> None:
        from minimr.cluster.commands.status import fetch_status

        deadline = time.monotonic() + 60
        while len(fetch_status(self.address)["workers"]) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"fewer than {count} workers registered in 60 s")
            time.sleep(0.1)

    def close(self) -> None:
        processes = [*self.workers, self.coordinator]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def corpus(args: argparse.Namespace) -> list[str]:
    folder = Path(args.corpus) / f"text-{args.size.lower()}"
    if not list(folder.glob("part-*.txt")):
        print(f"generating a {args.size} corpus in {folder} ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_corpus.py"), "text",
                        str(folder), "--size", args.size], check=True)
    subprocess.run(["cat", *map(str, folder.glob("part-*.txt"))], stdout=subprocess.DEVNULL,
                   check=True)  # warm the page cache: both runs read from memory
    return [str(folder / "part-*.txt")]


def timed_run(job: str, inputs: list[str], output: Path, address: str,
              split_size: str, **options) -> float:
    started = time.monotonic()
    minimr.run(job, inputs, str(output), coordinator=address, overwrite=True,
               split_size=split_size, **options)
    return time.monotonic() - started


def same_output(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names if (a / n).is_file())


def bench_kills(args: argparse.Namespace, inputs: list[str], work: Path) -> None:
    print(f"\nword count, {args.size}, {args.workers} workers, split size {args.split_size}"
          f"; a worker SIGKILLed every {args.kill_every:g} s (and restarted)")
    ratios = []
    for run in range(1, args.runs + 1):
        clean, chaotic, kills, identical = kills_round(args, inputs, work)
        ratios.append(chaotic / clean)
        print(f"  run {run}: failure-free {clean:6.1f} s, with kills {chaotic:6.1f} s"
              f" ({len(kills)} kills), ratio {chaotic / clean:5.2f}x, outputs"
              f" {'byte-identical' if identical else 'DIFFER'}  [load {os.getloadavg()[0]:.1f}]")
    print(f"  median ratio {statistics.median(ratios):.2f}x (goal <= 1.5x)")


def kills_round(args: argparse.Namespace, inputs: list[str],
                work: Path) -> tuple[float, float, list[float], bool]:
    """One failure-free run and one with kills, on fresh clusters."""
    job = str(ROOT / "jobs" / "wordcount.py")
    with Cluster(args.workers, work / "workers", args.heartbeat) as cluster:
        cluster.wait_for_workers(args.workers)
        clean = timed_run(job, inputs, work / "clean", cluster.address, args.split_size)
    with Cluster(args.workers, work / "workers", args.heartbeat) as cluster:
        cluster.wait_for_workers(args.workers)
        rng = random.Random(args.seed)
        done = threading.Event()
        kills: list[float] = []

        def chaos() -> None:
            started = time.monotonic()
            while not done.wait(args.kill_every):
                victim = rng.randrange(len(cluster.workers))
                cluster.workers[victim].send_signal(signal.SIGKILL)
                cluster.workers[victim].wait()
                cluster.workers[victim] = cluster.add_worker()
                kills.append(time.monotonic() - started)

        killer = threading.Thread(target=chaos, daemon=True)
        killer.start()
        try:
            chaotic = timed_run(job, inputs, work / "killed", cluster.address, args.split_size)
        finally:
            done.set()
            killer.join()
    return clean, chaotic, kills, same_output(work / "clean", work / "killed")


def bench_straggler(args: argparse.Namespace, inputs: list[str], work: Path) -> None:
    job = work / "straggler_wordcount.py"
    job.write_text(STRAGGLER_JOB)
    print(f"\nword count, {args.size}, {args.workers} workers of which one is a 10x straggler")
    for run in range(1, args.runs + 1):
        times = {}
        for speculation in (True, False):
            with Cluster(args.workers - 1, work / "workers", args.heartbeat) as cluster:
                cluster.workers.append(cluster.add_worker(MINIMR_BENCH_STRAGGLER="1"))
                cluster.wait_for_workers(args.workers)
                times[speculation] = timed_run(str(job), inputs, work / f"straggler-{speculation}",
                                               cluster.address, args.split_size,
                                               speculation=speculation)
        print(f"  run {run}: with speculation {times[True]:6.1f} s, --no-speculation"
              f" {times[False]:6.1f} s: {times[False] / times[True]:5.2f}x as long without"
              f"  [load {os.getloadavg()[0]:.1f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 1)[1])
    parser.add_argument("--size", default="256MB", help="corpus size (default 256MB)")
    parser.add_argument("--corpus", default=os.path.join(tempfile.gettempdir(), "minimr-corpus"),
                        help="where corpora are kept (default /tmp/minimr-corpus)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--split-size", default="16MB", help="input bytes per map task (16MB)")
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="which workers get killed")
    parser.add_argument("--runs", type=int, default=1,
                        help="rounds of each measurement (failure-free and disturbed alternate)")
    parser.add_argument("--only", choices=["kills", "straggler"], default=None)
    parser.add_argument("--heartbeat-interval", type=float, default=None,
                        help="the coordinator's heartbeat interval (default: its own, 1 s)")
    args = parser.parse_args()
    args.heartbeat = ([] if args.heartbeat_interval is None
                      else ["--heartbeat-interval", str(args.heartbeat_interval)])
    inputs = corpus(args)
    work = Path(tempfile.mkdtemp(prefix="minimr-bench-faults-"))
    try:
        if args.only in (None, "kills"):
            bench_kills(args, inputs, work)
        if args.only in (None, "straggler"):
            bench_straggler(args, inputs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
