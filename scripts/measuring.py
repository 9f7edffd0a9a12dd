"""Measuring one run of a command for the benchmarks (scripts/bench.py and its kin): its
wall time, its CPU (its own and the whole machine's) and the peak RSS of its process tree,
sampled as it runs."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from zoo import REPO

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY = 0.1


def stale_helpers(package: str) -> list[str]:
    """The compiled helpers under ``package`` (a minimr package folder) that are not built, or
    older than their ``.pyx`` source: an editable install keeps the old module when a source
    changes, and minimr then runs the pure-Python twin (the same output, slower) without a
    word. Nothing is listed where no ``.pyx`` sits beside the package (a wheel)."""
    stale = []
    for folder, _dirs, names in os.walk(package):
        for name in sorted(n for n in names if n.endswith(".pyx")):
            stem = name[:-4]
            source = os.path.join(folder, name)
            built = [os.path.join(folder, n) for n in names
                     if n.startswith(stem + ".") and n.endswith((".so", ".pyd"))]
            if not built or max(map(os.path.getmtime, built)) < os.path.getmtime(source):
                stale.append(os.path.relpath(source, os.path.dirname(package)))
    return sorted(stale)


def stale_warning(package: str | None) -> str | None:
    """One line saying which compiled helpers are stale, or None when none is."""
    stale = stale_helpers(package) if package else []
    if not stale:
        return None
    return (f"WARNING: compiled helpers not built or older than their source: "
            f"{', '.join(stale)}; their pure-Python twins run, so the figures are slower than "
            f"the code's. Run pip install -e . in that tree again.")


def compile_bytecode(python: str, package: str) -> None:
    """Write the bytecode of ``package`` (a minimr package folder) with ``python``, as
    ``pip install .`` does when it installs minimr.

    An editable install (``pip install -e .``) leaves it to the first import, which writes
    nothing where ``PYTHONDONTWRITEBYTECODE`` is set (as on the benchmark hosts): every
    process of every run then compiles about 120 modules again, 0.2-0.4 s of CPU a job that
    an installed minimr never pays. A folder that cannot be written is left as it is.
    """
    subprocess.run([python, "-m", "compileall", "-q", package], capture_output=True,
                   check=False)


def host_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (user+nice+system+irq+softirq)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:8]]
    return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / TICK


def tree_rss(root: int) -> int:
    """Summed RSS in bytes of ``root``, its descendants, and anything left in its session.

    The session catches daemons that double-forked away from the tree (the root was
    started as a session leader).
    """
    children: dict[int, list[int]] = {}
    rss, session = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:            # exited between listdir and open
            continue
        fields = stat[stat.rindex(b")") + 2:].split()   # the name may hold spaces
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        session[pid], rss[pid] = int(fields[3]), int(fields[21])
    members = {pid for pid, sid in session.items() if sid == root}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        members.add(pid)
        frontier.extend(children.get(pid, ()))
    return sum(rss.get(pid, 0) for pid in members) * PAGE


@dataclass
class Run:
    """Measurements of one run of one command."""

    rc: int
    wall: float
    cpu_children: float
    cpu_host: float
    rss_peak: int
    stderr_tail: str


def measure(argv: list[str], env: dict[str, str], log_prefix: str, timeout: float) -> Run:
    """Run ``argv`` in a new session; measure wall time, CPU and the tree's peak RSS."""
    peak = [0]
    done = threading.Event()
    with open(log_prefix + ".stdout", "wb") as out, open(log_prefix + ".stderr", "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, t0 = host_cpu_seconds(), time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO,
                                start_new_session=True, stdin=subprocess.DEVNULL)

        def sample() -> None:
            while not done.wait(SAMPLE_EVERY):
                peak[0] = max(peak[0], tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            err.write(f"\nbench: killed after {timeout:.0f} s\n".encode())
        wall = time.perf_counter() - t0
        cpu_host = host_cpu_seconds() - cpu0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        done.set()
        sampler.join()
    try:   # daemons left behind (a JVM, a dask worker) would skew the next run
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    with open(log_prefix + ".stderr", "rb") as f:
        tail = f.read()[-2000:].decode(errors="replace")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(rc, wall, cpu, cpu_host, peak[0], tail)
