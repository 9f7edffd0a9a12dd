#!/usr/bin/env python3
"""What compressing the shuffle buys: a sort across two "machines" joined by a shaped link.

A coordinator, two workers and a submitter each run in a network namespace of their own
(``tests/e2e/netns.py``); each worker's link to the bridge is shaped with ``tc`` to --rate, and
the workers claim different host names, so every map output a reducer needs from the other
worker crosses that link. The same sort runs with the shuffle as it is
(``MINIMR_SHUFFLE_CODEC=none``) and compressed with zstd (the default when ``zstandard`` is
installed), --runs times each, and one line per rate and codec is printed: wall median
(min-max) and the ratio of zstd to plain.

Needs root, iproute2 (``ip``, ``tc``) and ``zstandard``. The input is any folder of 100-byte
records, e.g. ``python scripts/gen_corpus.py sort /tmp/sort-256m --size 256MB``.

usage: python scripts/bench_shuffle.py INPUT [--rate 1gbit,200mbit,none] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.e2e.netns import Network, limit_rate, skip_reason  # noqa: E402

SUBNET = "10.78.0"
COORDINATOR = f"{SUBNET}.1:7070"
WORKERS = {"w1": f"{SUBNET}.11", "w2": f"{SUBNET}.12"}
CODECS = {"plain": {"MINIMR_SHUFFLE_CODEC": "none"}, "zstd": {}}


def minimr(*args: str) -> list[str]:
    return [sys.executable, "-m", "minimr", *args]


def sort_times(source: str, rate: str, codec_env: dict, runs: int, work: str) -> list[float]:
    """Wall seconds of ``runs`` sorts on a fresh two-worker namespaced cluster."""
    net = Network(f"mbs{os.getpid() % 10000}")
    address = f"tcp://{COORDINATOR}"
    try:
        net.add_bridge()
        net.add_node("c", COORDINATOR.split(":")[0])
        net.add_node("s", f"{SUBNET}.20")
        for name, ip_address in WORKERS.items():
            net.add_node(name, ip_address)
            if rate != "none":
                limit_rate(net, name, rate)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        net.popen("c", minimr("coordinator", "--bind", address, "--insecure"), **quiet)
        for name in WORKERS:
            folder = os.path.join(work, name)
            shutil.rmtree(folder, ignore_errors=True)
            process = subprocess.Popen(
                ["ip", "netns", "exec", f"{net.prefix}{name}",
                 *minimr("worker", "--coordinator", address, "--host", name,
                         "--work-dir", folder, "--insecure")],
                env={**os.environ, "PYTHONPATH": REPO, **codec_env}, **quiet)
            net.processes.append(process)
        times = []
        for _ in range(runs):
            started = time.monotonic()
            done = net.run("s", minimr("submit", os.path.join(REPO, "jobs", "sort.py"),
                                       "--input", source, "--output",
                                       os.path.join(work, "out"), "--overwrite", "--quiet",
                                       "--coordinator", address), timeout=1800)
            if done.returncode != 0:
                raise SystemExit(f"the sort failed:\n{done.stderr[-3000:]}")
            times.append(time.monotonic() - started)
        return times
    finally:
        net.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="a folder of sort records")
    parser.add_argument("--rate", default="1gbit,200mbit,none",
                        help="link rates to try, tc units, comma-separated (none: unshaped)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    try:
        import zstandard  # noqa: F401
    except ImportError:
        raise SystemExit("needs zstandard: pip install 'minimr[zstd]'") from None
    work = tempfile.mkdtemp(prefix="minimr-bench-shuffle-")
    try:
        print("| link | shuffle | wall s median (min-max) | zstd / plain |")
        print("| --- | --- | --- | --- |")
        for rate in args.rate.split(","):
            medians = {}
            for codec, env in CODECS.items():
                times = sort_times(args.input, rate, env, args.runs, work)
                medians[codec] = statistics.median(times)
                ratio = f"{medians['zstd'] / medians['plain']:.2f}" if codec == "zstd" else ""
                print(f"| {rate} | {codec} | {medians[codec]:.2f} "
                      f"({min(times):.2f}-{max(times):.2f}) | {ratio} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
