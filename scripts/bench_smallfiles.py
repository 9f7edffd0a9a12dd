#!/usr/bin/env python3
"""Many small files: minimr's word count against a hand-written Pool script, in one run.

Logs arrive as many small files. This generates --files text files of --size bytes in all
(10,000 files of about 2 KiB, 23 MiB, by default; scripts/gen_corpus.py, reused while its
arguments and the generator are unchanged), warms the page cache, then times, in turns and
--runs times each:

  pool             scripts/baselines/wc_pool.py: multiprocessing.Pool(W), a task per file
  minimr           minimr submit jobs/wordcount.py --workers W (the default a user gets)
  minimr-combine   the same with --combine-files (pack small files up to --split-size)

checks that every output holds the same word counts, and prints the median wall seconds of
each and its ratio to the Pool script's, and the same of the CPU seconds of the process tree
(steadier than the wall time when others load the machine). Exit status 1 if an output
differs.

Run it alone (2 cores are shared with other benchmarks):

    flock /tmp/minimr-bench.lock python scripts/bench_smallfiles.py
    flock /tmp/minimr-bench.lock python scripts/bench_smallfiles.py --files 1000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from collections.abc import Callable

import bench  # scripts/bench.py: corpora
import measuring  # scripts/measuring.py: a command's wall time, CPU and peak RSS
import zoo  # scripts/zoo.py: the zoo's paths, text corpus and word-count check

MINIMR = [sys.executable, "-c", "from minimr.cli import main; main()"]


def commands(workers: int, indir: str) -> dict[str, Callable[[str], list[str]]]:
    """Each system's command line, given its output path."""
    def minimr(*extra: str):
        return lambda out: [*MINIMR, "submit", os.path.join(bench.REPO, "jobs/wordcount.py"),
                            "--input", indir, "--output", out, "--overwrite", "--quiet",
                            "--workers", str(workers), *extra]
    return {
        "pool": lambda out: [sys.executable, os.path.join(zoo.BASELINES, "wc_pool.py"),
                             indir, out, str(workers)],
        "minimr": minimr(),
        "minimr-combine": minimr("--combine-files"),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=10_000, help="number of input files")
    p.add_argument("--size", default="23MB", help="total input size (default 23MB)")
    p.add_argument("--systems", default="pool,minimr,minimr-combine",
                   help="comma-separated subset of pool, minimr, minimr-combine")
    timing_arguments(p, "/tmp/minimr-bench-smallfiles")
    args = p.parse_args(argv)
    args.size = bench._load_parse_size()(args.size)
    return args


def timing_arguments(p: argparse.ArgumentParser, work: str) -> None:
    """The options of how systems are timed: --runs, --workers, --work (default ``work``)
    and --timeout."""
    p.add_argument("--runs", type=int, default=1, help="runs of each system (median shown)")
    p.add_argument("--workers", type=int, default=2, help="worker processes of each system")
    p.add_argument("--work", default=work,
                   help="where corpora, outputs and logs go (outside the repository)")
    p.add_argument("--timeout", type=float, default=600, help="seconds before a run is killed")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 1 when an output differs from the Pool script's."""
    args = parse_args(argv)
    for sub in ("data", "out", "logs", "tmp"):
        os.makedirs(os.path.join(args.work, sub), exist_ok=True)
    indir = bench.ensure_corpus(zoo.TEXT, args.size, args.files, 1,
                                os.path.join(args.work, "data", f"files-{args.files}"))
    input_bytes = bench.warm_page_cache([indir])
    env = {**os.environ, "PYTHONPATH": bench.REPO, "TMPDIR": os.path.join(args.work, "tmp")}
    wanted = {name: command for name, command in commands(args.workers, indir).items()
              if name in args.systems.split(",")}
    timed = time_systems(wanted, env, args.work, args.runs, args.timeout)
    if timed is None:
        return 1
    print(f"\n{args.files:,} files, {input_bytes:,} bytes, {args.workers} workers, "
          f"median of {args.runs} run(s), commit {bench._git_commit() or '?'}")
    return 0 if print_timed(timed) else 1


def time_systems(systems: dict[str, Callable[[str], list[str]]], env: dict[str, str],
                 work: str, runs: int, timeout: float
                 ) -> dict[str, tuple[float, float, str]] | None:
    """Run each system's command (given its output path under ``work``/out) ``runs`` times,
    the systems in turns: ``{name: (median wall s, median CPU s of the process tree, the
    output's word counts' digest)}``, or None when a run failed (its error printed)."""
    walls: dict[str, list[float]] = {name: [] for name in systems}
    cpus: dict[str, list[float]] = {name: [] for name in systems}
    for i in range(runs):
        for name, command in systems.items():
            out = os.path.join(work, "out", name)
            shutil.rmtree(out, ignore_errors=True)
            if os.path.exists(out):
                os.remove(out)
            run = measuring.measure(command(out), env, os.path.join(work, "logs", f"{name}-{i}"),
                                    timeout)
            if run.rc != 0:
                print(f"{name} failed (exit {run.rc}):\n{run.stderr_tail}", file=sys.stderr)
                return None
            print(f"bench: {name} run {i + 1}/{runs}: {run.wall:.2f} s", file=sys.stderr,
                  flush=True)
            walls[name].append(run.wall)
            cpus[name].append(run.cpu_children)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name]),
                   zoo.COUNTS(os.path.join(work, "out", name), "")[0]) for name in systems}


def print_timed(timed: dict[str, tuple[float, float, str]]) -> bool:
    """Print each system's wall and CPU seconds and their ratios to the Pool script's (the
    first system's when no "pool" ran); False when an output differs from that one's."""
    base_name = "pool" if "pool" in timed else next(iter(timed))
    base, base_cpu, reference = timed[base_name]
    same_everywhere = True
    for name, (wall, cpu, digest) in timed.items():
        same = digest == reference
        same_everywhere &= same
        print(f"  {name:<16}{wall:8.2f} s wall {wall / base:6.2f}x {base_name}  "
              f"{cpu:8.2f} s CPU {cpu / base_cpu:6.2f}x {base_name}  "
              f"{'OK' if same else 'MISMATCH'}")
    return same_everywhere


if __name__ == "__main__":
    sys.exit(main())
