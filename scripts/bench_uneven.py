#!/usr/bin/env python3
"""Files of uneven sizes, the largest last in name order: minimr's word count against a
hand-written Pool script, in one run.

Inputs are rarely of one size: a day's logs beside a quiet day's, a gzip file that is one
split whatever its size. A pool of workers that takes the files in name order ends with the
large one running alone. This makes --files text files of --size bytes in all, one of them
holding --large of the bytes and named last, the rest of equal size (scripts/gen_corpus.py,
reused while the arguments and the generator are unchanged), warms the page cache, then
times, in turns and --runs times each:

  pool          scripts/baselines/wc_pool.py: multiprocessing.Pool(W), a task per file,
                taken in name order
  minimr        minimr submit jobs/wordcount.py --workers W, from this tree
  minimr@TREE   the same from another source tree (--tree DIR, repeatable: another
                checkout, its compiled helpers built, to compare commits in one run)

checks that every output holds the same word counts, and prints the median wall seconds of
each and its ratio to the Pool script's, and the same of the CPU seconds of the process tree.
Exit status 1 if an output differs. Run it alone (2 cores are shared with other benchmarks):

    flock /tmp/minimr-bench.lock python scripts/bench_uneven.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable

import bench  # scripts/bench.py: corpora
import zoo  # scripts/zoo.py: the zoo's paths and text corpus
from bench_smallfiles import print_timed, time_systems, timing_arguments


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=9, help="number of input files (default 9)")
    p.add_argument("--size", default="96MB", help="total input size (default 96MB)")
    p.add_argument("--large", type=float, default=0.6,
                   help="the last file's share of the bytes (default 0.6), under the split "
                        "size so that it is one task")
    p.add_argument("--tree", action="append", default=[], metavar="DIR",
                   help="another minimr source tree to time too (repeatable)")
    timing_arguments(p, "/tmp/minimr-bench-uneven")
    args = p.parse_args(argv)
    args.size = bench._load_parse_size()(args.size)
    if args.files < 2 or not 0 < args.large < 1:
        p.error("--files must be at least 2 and --large a share between 0 and 1")
    return args


def uneven_corpus(args: argparse.Namespace) -> str:
    """The input folder: the small files, then the large one, linked from two corpora."""
    data = os.path.join(args.work, "data")
    large_bytes = int(args.size * args.large)
    small = bench.ensure_corpus(zoo.TEXT, args.size - large_bytes, args.files - 1, 1,
                                os.path.join(data, "small"))
    large = bench.ensure_corpus(zoo.TEXT, large_bytes, 1, 2, os.path.join(data, "large"))
    paths = [*(os.path.join(small, n) for n in sorted(os.listdir(small))),
             *(os.path.join(large, n) for n in os.listdir(large))]
    indir = os.path.join(data, "uneven")
    os.makedirs(indir, exist_ok=True)
    for name in os.listdir(indir):
        os.remove(os.path.join(indir, name))
    for number, path in enumerate(paths):
        os.link(path, os.path.join(indir, f"part-{number:05d}.txt"))
    return indir


def commands(args: argparse.Namespace, indir: str) -> dict[str, Callable[[str], list[str]]]:
    """Each system's command line, given its output path."""
    def minimr(tree: str):
        # -P: no current folder first on the path, whose minimr (this checkout's, where
        # measure() runs) would shadow the tree's
        return lambda out: ["env", f"PYTHONPATH={tree}", sys.executable, "-P", "-c",
                            "from minimr.cli import main; main()", "submit",
                            os.path.join(tree, "jobs/wordcount.py"), "--input", indir,
                            "--output", out, "--overwrite", "--quiet",
                            "--workers", str(args.workers)]
    systems = {"pool": lambda out: [sys.executable, os.path.join(zoo.BASELINES, "wc_pool.py"),
                                    indir, out, str(args.workers)],
               "minimr": minimr(bench.REPO)}
    for tree in args.tree:
        tree = os.path.abspath(tree)
        commit = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        systems[f"minimr@{commit or os.path.basename(tree)}"] = minimr(tree)
    return systems


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 1 when an output differs from the Pool script's."""
    args = parse_args(argv)
    for sub in ("data", "out", "logs", "tmp"):
        os.makedirs(os.path.join(args.work, sub), exist_ok=True)
    indir = uneven_corpus(args)
    input_bytes = bench.warm_page_cache([indir])
    sizes = sorted(os.path.getsize(os.path.join(indir, n)) for n in os.listdir(indir))
    env = {**os.environ, "TMPDIR": os.path.join(args.work, "tmp")}
    timed = time_systems(commands(args, indir), env, args.work, args.runs, args.timeout)
    if timed is None:
        return 1
    print(f"\n{args.files} files, {input_bytes:,} bytes ({sizes[0]:,} to {sizes[-1]:,}, the "
          f"largest last), {args.workers} workers, median of {args.runs} run(s), commit "
          f"{bench._git_commit() or '?'}")
    return 0 if print_timed(timed) else 1


if __name__ == "__main__":
    sys.exit(main())
