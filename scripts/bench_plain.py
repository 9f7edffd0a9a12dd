#!/usr/bin/env python3
"""Plain class-API jobs beside the hand-written ``multiprocessing.Pool`` script doing the same
work: seconds and the ratio, in one run, on one generated text corpus, outputs checked equal.

usage: bench_plain.py [--size 256MB] [--runs 3] [--jobs filtered,readme] [--workers 2]

jobs
  filtered  jobs/wordcount_filtered.py (a filter in the map loop, combine and reduce written
            as loops: the general path) beside baselines/wc_filtered_pool.py
  readme    jobs/wordcount.py (the README's job) beside baselines/wc_pool.py

Each run times the Pool script, then ``minimr submit JOB --workers W`` (this checkout's code),
one after the other, so both see the same machine; the table gives the median of the runs
(min-max), the median CPU seconds of each process tree, and the ratios of the medians (on a
machine that others load, the CPU ratio is the steadier one). The corpus is
``gen_corpus.py text`` (16 files, seed 1) under --work, made once and reused
(``bench.ensure_corpus``). Run it alone on the machine:

    flock /tmp/minimr-bench.lock python scripts/bench_plain.py --size 256MB --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402
import measuring  # noqa: E402
import zoo  # noqa: E402

JOBS = {
    "filtered": ("wc_filtered_pool.py", "jobs/wordcount_filtered.py"),
    "readme": ("wc_pool.py", "jobs/wordcount.py"),
}
MINIMR = [sys.executable, "-c", "from minimr.cli import main; main()"]


def commands(job: str, indir: str, out: str, workers: int) -> dict[str, list[str]]:
    """The Pool script's and minimr's command lines for ``job``."""
    pool_script, job_file = JOBS[job]
    return {
        "pool": [sys.executable, os.path.join(zoo.BASELINES, pool_script), indir,
                 out + ".pool", str(workers)],
        "minimr": [*MINIMR, "submit", os.path.join(bench.REPO, job_file), "--input", indir,
                   "--output", out + ".minimr", "--overwrite", "--quiet", "--workers",
                   str(workers)],
    }


def run_job(job: str, indir: str, work: str, workers: int, runs: int
            ) -> dict[str, list[tuple[float, float]]]:
    """Time the job's two systems ``runs`` times each: ``(wall, CPU)`` seconds of each run.
    Exits when one fails or their outputs differ."""
    out = os.path.join(work, "out", f"plain-{job}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    env = {**os.environ, "PYTHONPATH": bench.REPO, "TMPDIR": os.path.join(work, "tmp")}
    os.makedirs(env["TMPDIR"], exist_ok=True)
    walls: dict[str, list[tuple[float, float]]] = {"pool": [], "minimr": []}
    for i in range(runs):
        for system, argv in commands(job, indir, out, workers).items():
            target = out + "." + system
            shutil.rmtree(target, ignore_errors=True)
            if os.path.exists(target):
                os.remove(target)
            run = measuring.measure(argv, env,
                                    os.path.join(work, "logs", f"plain-{job}-{system}"),
                                    timeout=3600)
            if run.rc != 0:
                sys.exit(f"{job}/{system} failed (exit {run.rc}):\n{run.stderr_tail}")
            walls[system].append((run.wall, run.cpu_children))
            print(f"bench_plain: {job}/{system} run {i + 1}/{runs}: {run.wall:.2f} s, "
                  f"{run.cpu_children:.1f} s CPU", file=sys.stderr, flush=True)
        pool, minimr = (zoo.COUNTS(out + "." + s, "") for s in ("pool", "minimr"))
        if pool[0] != minimr[0]:
            sys.exit(f"{job}: outputs differ: pool {pool[1]}, minimr {minimr[1]}")
    print(f"bench_plain: {job}: outputs equal ({pool[1]})", file=sys.stderr)
    return walls


def _median(runs: list[tuple[float, float]], column: int) -> float:
    return statistics.median(run[column] for run in runs)


def _cell(runs: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _ in runs]
    return (f"{statistics.median(walls):6.2f} ({min(walls):.2f}-{max(walls):.2f})"
            f" {_median(runs, 1):6.1f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=bench._load_parse_size(), default=256 << 20)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--jobs", type=bench._csv(tuple(JOBS)), default=list(JOBS))
    p.add_argument("--work", default="/tmp/minimr-bench")
    args = p.parse_args(argv)
    indir = bench.ensure_corpus(zoo.TEXT, args.size, 16, 1, os.path.join(args.work, "data"))
    os.makedirs(os.path.join(args.work, "logs"), exist_ok=True)
    bench.warm_page_cache([indir])
    rows = [(job, run_job(job, indir, args.work, args.workers, args.runs)) for job in args.jobs]
    print(f"text corpus {bench.size_tag(args.size)}, {args.workers} workers, {args.runs} runs:"
          " wall seconds, median (min-max), and CPU seconds of the process tree, median")
    print(f"| {'job':8} | {'Pool script: wall, CPU':>28} | {'minimr: wall, CPU':>28} |"
          " wall ratio | CPU ratio |")
    print(f"| {'-' * 8} | {'-' * 28} | {'-' * 28} | ---------- | --------- |")
    for job, runs in rows:
        wall, cpu = (_median(runs["minimr"], c) / _median(runs["pool"], c) for c in (0, 1))
        print(f"| {job:8} | {_cell(runs['pool']):>28} | {_cell(runs['minimr']):>28} |"
              f" {wall:10.2f} | {cpu:9.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
