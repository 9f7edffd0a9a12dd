#!/usr/bin/env python3
"""Differential fuzzing of minimr: generated jobs run on minimr and on a plain-Python model.

Each job (``scripts/fuzzjobs``) is written as a real job file with its input files and run with
``minimr.run`` on the inline runner, the embedded local cluster, or both, with small splits and
sort buffers (many map tasks, several spills). Its output must equal the model's exactly:
same records, same types, same multiplicity. On a divergence the job and its input are shrunk
to a small case that still diverges, printed, and written to ``--out``/seed-S-job-I-RUNNER/
(job.py, input/, README.txt with the command that reproduces it); the exit code is then 1.
Jobs of one seed are the same on every machine: ``--start I --jobs 1`` runs job I again.

examples:
  python scripts/fuzz_jobs.py --jobs 200 --seed 1
  python scripts/fuzz_jobs.py --jobs 50 --seed 7 --runner local
  python scripts/fuzz_jobs.py --seed 1 --start 37 --jobs 1 --runner inline
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # fuzzjobs lives beside this script
try:
    import minimr  # noqa: F401
except ImportError:  # a fresh clone, not installed: the checkout's own minimr
    sys.path.insert(0, str(HERE.parent))

from fuzzjobs import spec  # noqa: E402
from fuzzjobs.check import InvalidCase, check  # noqa: E402
from fuzzjobs.shrink import show, shrink, write_repro  # noqa: E402

RUNNERS = {"inline": ("inline",), "local": ("local",), "both": ("inline", "local")}


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100, help="generated jobs to run (100)")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed (1)")
    parser.add_argument("--start", type=int, default=0, help="index of the first job (0)")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="both",
                        help="inline, local (an embedded cluster of 2 workers) or both (both)")
    parser.add_argument("--out", default="fuzz-divergences",
                        help="folder for divergent jobs (./fuzz-divergences)")
    parser.add_argument("--max-divergences", type=int, default=3,
                        help="stop after this many divergent jobs (3)")
    parser.add_argument("--no-shrink", action="store_true", help="report divergences whole")
    parser.add_argument("--shrink-budget", type=int, default=300,
                        help="runs the shrinker may make per divergence (300)")
    return parser.parse_args(argv)


def report(case: spec.Case, outcome, args: argparse.Namespace, work: Path,
           runs: Callable | None) -> Path:
    """Shrink a divergent case, print it and write it under ``--out``; return its folder."""
    index = case.label.rsplit(" ", 1)[-1]
    command = (f"python scripts/fuzz_jobs.py --seed {args.seed} --start {index} --jobs 1"
               f" --runner {outcome.runner}")
    print(f"  DIVERGENCE ({outcome.kind}) on {outcome.runner}:\n"
          + "\n".join("    " + line for line in outcome.detail.splitlines()), flush=True)
    if not args.no_shrink:
        print("  shrinking...", flush=True)
        before = time.monotonic()
        case, outcome = shrink(case, outcome, work / "shrink", runs=runs,
                               budget=args.shrink_budget)
        print(f"  shrunk in {time.monotonic() - before:.1f} s", flush=True)
    folder = Path(args.out) / f"seed-{args.seed}-job-{index}-{outcome.runner}"
    if folder.exists():
        shutil.rmtree(folder)
    readme = write_repro(case, outcome, folder, command)
    print(show(case, folder))
    print(readme)
    print(f"  written to {folder}/", flush=True)
    return folder


def main(argv: list[str] | None = None, runs: Callable | None = None) -> int:
    """Run the jobs; 0 when minimr agreed with the model on all of them, 1 on a divergence,
    2 when the generator made a job the model itself cannot run.

    Args:
        runs: what runs a job (``check.run_minimr``); a test may pass a broken one.
    """
    args = parse(argv)
    runners = RUNNERS[args.runner]
    kwargs = {"runs": runs} if runs is not None else {}
    ran: Counter = Counter()
    divergent: list[Path] = []
    work = Path(tempfile.mkdtemp(prefix="minimr-fuzz-"))
    started = time.monotonic()
    try:
        for n, index in enumerate(range(args.start, args.start + args.jobs), 1):
            case = spec.make_case(args.seed, index)
            results = []
            for runner in runners:
                try:
                    outcome = check(case, work / "job", runner, **kwargs)
                except InvalidCase as exc:
                    print(f"generator error: {exc}", file=sys.stderr)
                    return 2
                ran[runner] += 1
                results.append(f"{runner} {outcome.kind}")
                if not outcome.ok:
                    print(f"[{n}/{args.jobs}] {case.label}: {', '.join(results)}", flush=True)
                    divergent.append(report(case, outcome, args, work, runs))
                    break
            else:
                print(f"[{n}/{args.jobs}] {case.label}: {', '.join(results)}", flush=True)
            if len(divergent) >= args.max_divergences:
                print(f"stopping after {len(divergent)} divergent jobs (--max-divergences)")
                break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - started
    summary = ", ".join(f"{count} on {runner}" for runner, count in ran.items())
    print(f"ran {max(ran.values(), default=0)} generated jobs (seed {args.seed}): {summary},"
          f" in {took:.1f} s; {len(divergent)} divergent")
    for folder in divergent:
        print(f"  {folder}/")
    return 1 if divergent else 0


if __name__ == "__main__":
    sys.exit(main())
