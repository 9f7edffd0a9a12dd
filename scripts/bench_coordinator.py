"""Coordinator cost: N no-op tasks through a real coordinator process and fake workers.

The coordinator is the real one (``minimr coordinator``, a separate process). The workers
are simulated (``simworkers.py``): each registers as a real worker does and answers every
assignment at once, and a few generator processes (``--generators``) drive many of them
from one poller each. What is left is the coordinator's own cost per task: decoding,
scheduling, encoding, ZeroMQ. The plan blob is a few junk bytes: the coordinator never
unpickles it. This file starts the processes and measures and reports.

    python scripts/bench_coordinator.py --tasks 10000 --workers 4 --slots 8
    python scripts/bench_coordinator.py --tasks 100000 --reducers 1000 --workers 1000 --slots 4

Prints task assignments per second, the coordinator's CPU time per task and its peak
memory (from /proc), and the generators' own CPU.

Heartbeat load (``--heartbeat-workers N``): no job at all, only N simulated idle workers
(``simworkers.SimulatedWorkers``) heartbeating at the coordinator's interval (1 s), their
phases spread evenly over the second, from a few generator processes (``--generators``,
default one per 500 workers). The coordinator's status query checks that it sees N live
workers; the coordinator's and the generators' CPU are read from /proc over ``--seconds``
of steady load.

    python scripts/bench_coordinator.py --heartbeat-workers 1000 --seconds 30

Real local cluster (``--local-cluster N``): ``minimr submit`` of word count over a text file
of N x 100 bytes at ``--split-size 100`` (N tiny map tasks, 4 reduces) on an embedded
cluster of two worker processes, run from the current folder: the end-to-end time of N tasks
through the real coordinator and real workers.

    python scripts/bench_coordinator.py --local-cluster 10000

``--state-dir`` (task mode): the coordinator journals to a fresh folder, as
``minimr coordinator --state-dir`` does (each task commit made durable before it is told).

Prints the live workers the coordinator lists, the coordinator's CPU as a share of one core
(goal, issue 20: under 10% at 1,000 workers), its CPU per heartbeat, its loop's wake-ups
per second and the generators' own CPU. Everything listens on 127.0.0.1 and stops by itself; every
process is stopped at the end (Ctrl-C too). ``--profile FILE`` profiles the coordinator
over the window with cProfile and prints its top entries; the coordinator's pid is printed
too, for ``py-spy top --pid PID``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


from simworkers import (  # noqa: E402
    ASSIGNED,
    COUNTERS,
    HEARD,
    RECONNECTS,
    REJECTS,
    SENT,
    SILENCES,
    WORKERS_PER_GENERATOR,
    heartbeat_generator,
    raise_open_files_limit,
    task_generator,
)

from minimr.cluster.scheduling import scheduler  # noqa: E402
from minimr.cluster.wire import protocol as p  # noqa: E402
from minimr.cluster.wire import wirecodec as wire  # noqa: E402
from minimr.cluster.wire.transport import ZmqClient, wait  # noqa: E402


def job_result(client: ZmqClient) -> p.JobResult:
    """Wait for the coordinator's JobResult of the job ``client`` submitted."""
    while True:
        wait([client.pollable], 1.0)
        while (frames := client.recv()) is not None:
            message = wire.decode(frames)
            if isinstance(message, p.JobResult):
                return message


def cpu_times(pid: int, thread: int | None = None) -> tuple[float, float]:
    """User and system CPU time of a process so far (all its threads, or only ``thread``:
    the main thread's id is the pid), in seconds."""
    with open(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    return sum(cpu_times(pid))


def wakeups(pid: int) -> int:
    """Voluntary context switches of a process's main thread (its loop's sleeps)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


#: runs ``minimr`` under cProfile timed by the main thread's CPU clock (so a function's
#: time is CPU, not waiting), profiling only between SIGUSR1 and SIGUSR2; the stats are
#: written to ``argv[1]`` when the command exits
PROFILED_MAIN = """
import cProfile, signal, sys, time
from minimr.cli import main
out = sys.argv.pop(1)
profiler = cProfile.Profile(time.thread_time)
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
signal.signal(signal.SIGUSR2, lambda *_: profiler.disable())
try:
    main()
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""


def start_coordinator(address: str, profile: str | None = None,
                      state_dir: str | None = None) -> subprocess.Popen:
    """The real coordinator (``minimr coordinator``) in its own process.

    With ``profile``, it runs under cProfile (see :data:`PROFILED_MAIN`), which writes that
    file when the coordinator stops; with ``state_dir``, it journals there.
    """
    if profile:
        run = ["-c", PROFILED_MAIN, profile]
    else:
        run = ["-c", "from minimr.cli import main; main()"]
    return subprocess.Popen(
        [
            sys.executable,
            *run,
            "coordinator",
            "--bind",
            address,
            "--insecure",  # the fake workers and clients hold no keys: measure without CURVE
            "--log-level",
            "WARNING",
            *(["--state-dir", state_dir] if state_dir else []),
        ],
    )


def stop_process(process: subprocess.Popen | multiprocessing.Process, timeout: float = 5) -> None:
    """Terminate one process we started, then kill it if it does not go."""
    if isinstance(process, subprocess.Popen):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return
    if process.pid is None:
        return  # never started
    if process.is_alive():
        process.terminate()
        process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()


def peak_rss(pid: int) -> int:
    """A process's peak resident memory so far (``VmHWM``), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def run_tasks(args: argparse.Namespace) -> None:
    """The default mode: N no-op tasks, tasks/s and coordinator CPU per task."""
    total = args.workers
    generators = args.generators or max(1, math.ceil(total / WORKERS_PER_GENERATOR))
    raise_open_files_limit(total + 1024)
    address = free_address()
    state_dir = tempfile.mkdtemp(prefix="minimr-bench-state-") if args.state_dir else None
    coordinator = start_coordinator(address, args.profile, state_dir)
    counters = [multiprocessing.Array("q", 1, lock=False) for _ in range(generators)]
    share = [total // generators + (g < total % generators) for g in range(generators)]
    firsts = [sum(share[:g]) for g in range(generators)]
    stop = time.monotonic() + args.timeout
    processes = [
        multiprocessing.Process(
            target=task_generator,
            args=(address, firsts[g], share[g], args.slots, args.tasks, args.reducers, stop,
                  counters[g]),
            daemon=True,
        )
        for g in range(generators)
    ]
    client = ZmqClient(address, f"bench-client-{secrets.token_hex(4)}".encode())
    try:
        for process in processes:
            process.start()
        status = query_status(client, coordinator)
        deadline = time.monotonic() + 60
        while live_workers(status, 1e9)[0] < total and time.monotonic() < deadline:
            time.sleep(0.5)
            status = query_status(client, coordinator)
        print(f"coordinator pid {coordinator.pid}: {live_workers(status, 1e9)[0]} of {total} "
              f"simulated workers registered ({generators} generator process(es))")
        rss_before = peak_rss(coordinator.pid)
        if args.profile:
            coordinator.send_signal(signal.SIGUSR1)
        cpu_before = cpu_seconds(coordinator.pid)
        loop_before = sum(cpu_times(coordinator.pid, coordinator.pid))
        generator_before = [cpu_seconds(process.pid) for process in processes]
        started = time.monotonic()
        client.send(wire.encode(p.Submit("bench", "bench", 1, {}, "cloudpickle", b"opaque")))
        result = job_result(client)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(coordinator.pid) - cpu_before
        loop = sum(cpu_times(coordinator.pid, coordinator.pid)) - loop_before
        generator_cpu = sum(cpu_seconds(process.pid) for process in processes)
        generator_cpu -= sum(generator_before)
        if args.profile:
            coordinator.send_signal(signal.SIGUSR2)
        rss = peak_rss(coordinator.pid)
        assigned = sum(c[ASSIGNED] for c in counters)
        total_tasks = sum(result.snapshot["attempts"].values())
        print(
            f"job {result.state}: {total_tasks} tasks ({args.tasks} maps, {args.reducers} "
            f"reduces, prepare, commit) on {total} simulated workers x {args.slots} slots"
        )
        print(f"wall {elapsed:.2f} s -> {assigned / elapsed:,.0f} assignments/s "
              f"({assigned} assignments)")
        print(f"coordinator CPU {cpu:.2f} s -> {cpu / assigned * 1e6:,.0f} us per task "
              f"({loop / assigned * 1e6:,.0f} us its loop's thread, the rest ZeroMQ's I/O)")
        print(f"coordinator peak RSS {rss / 2**20:,.0f} MiB ({rss_before / 2**20:,.0f} MiB "
              "before the job)")
        print(f"generator CPU {generator_cpu:.2f} s ({os.cpu_count()} cores here)")
    finally:
        client.close()
        stop_process(coordinator)
        for process in processes:
            stop_process(process)
        if state_dir is not None:
            shutil.rmtree(state_dir, ignore_errors=True)
    if args.profile:
        print_profile(args.profile)


# --- the real local cluster -----------------------------------------------------------------

WORDS = ("the whale ship sea captain ahab white boat harpoon crew deck wind storm "
         "ocean line").split()


def run_local_cluster(args: argparse.Namespace) -> None:
    """``minimr submit`` of word count over N tiny splits on an embedded two-worker cluster."""
    folder = tempfile.mkdtemp(prefix="minimr-bench-local-")
    try:
        path = os.path.join(folder, "input.txt")
        with open(path, "w") as f:
            line = 0
            while f.tell() < args.local_cluster * 100:
                f.write(" ".join(WORDS[(line + i) % len(WORDS)] for i in range(9)) + "\n")
                line += 1
        command = [
            sys.executable, "-m", "minimr", "submit", "jobs/wordcount.py", "--input", path,
            "--output", os.path.join(folder, "out"), "--split-size", "100", "--workers", "2",
            "--reducers", "4",
        ]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"minimr submit failed ({done.returncode}):\n{done.stderr[-2000:]}")
        parts = sorted(os.listdir(os.path.join(folder, "out")))
        print(f"{args.local_cluster} x 100 bytes at --split-size 100, word count, 4 reduces, "
              f"two local workers: {elapsed:.2f} s end to end "
              f"({elapsed / args.local_cluster * 1e3:.2f} ms a map task); output {parts}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- heartbeat load ------------------------------------------------------------------------

def ensure_running(coordinator: subprocess.Popen) -> None:
    """Stop the benchmark if the coordinator died."""
    if coordinator.poll() is not None:
        raise SystemExit(f"the coordinator exited (code {coordinator.returncode})")


def query_status(
    client: ZmqClient, coordinator: subprocess.Popen, timeout: float = 10.0
) -> dict | None:
    """The coordinator's status, as ``minimr status`` asks for it (``None``: no answer)."""
    client.send(wire.encode(p.StatusRequest()))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ensure_running(coordinator)
        wait([client.pollable], min(0.5, deadline - time.monotonic()))
        while (frames := client.recv()) is not None:
            message = wire.decode(frames)
            if isinstance(message, p.StatusReply):
                return message.status
    return None


def live_workers(status: dict | None, dead_after: float) -> tuple[int, float]:
    """How many workers the coordinator lists as alive, and the oldest heartbeat's age."""
    if status is None:
        return 0, float("nan")
    ages = [w["last_heartbeat"] for w in status["workers"] if w["last_heartbeat"] <= dead_after]
    return len(ages), max(ages, default=0.0)


def sleep_until(moment: float, coordinator: subprocess.Popen) -> None:
    """Sleep until a ``time.monotonic()`` moment, checking on the coordinator twice a second."""
    while (delay := moment - time.monotonic()) > 0:
        ensure_running(coordinator)
        time.sleep(min(delay, 0.5))


def run_heartbeats(args: argparse.Namespace) -> None:
    """Heartbeat mode: the coordinator's CPU with N idle workers heartbeating at 1 Hz."""
    total = args.heartbeat_workers
    generators = args.generators or max(1, math.ceil(total / WORKERS_PER_GENERATOR))
    limit = raise_open_files_limit(total + 1024)  # the coordinator: one socket per worker
    if limit < total + 64:
        print(f"warning: only {limit} open files allowed; the coordinator may refuse workers")
    interval = scheduler.HEARTBEAT_INTERVAL
    dead_after = interval * scheduler.HEARTBEAT_LIVENESS
    address = free_address()
    coordinator = start_coordinator(address, args.profile)
    processes: list[multiprocessing.Process] = []
    client = ZmqClient(address, f"bench-status-{secrets.token_hex(4)}".encode())
    try:
        if query_status(client, coordinator) is None:
            raise SystemExit("the coordinator did not answer a status request")
        print(f"coordinator pid {coordinator.pid} on {address}")
        # idle baseline: the coordinator's own ticks with no worker at all
        idle_cpu, idle_started = cpu_seconds(coordinator.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        idle = (cpu_seconds(coordinator.pid) - idle_cpu) / (time.monotonic() - idle_started)

        start = time.monotonic() + 1.0  # time for the generators to start
        measure_from = start + interval + args.warmup  # all registered, then settled
        measure_to = measure_from + args.seconds
        stop = measure_to + 1.0
        counters = [multiprocessing.Array("q", COUNTERS, lock=False) for _ in range(generators)]
        share = [total // generators + (g < total % generators) for g in range(generators)]
        firsts = [sum(share[:g]) for g in range(generators)]
        processes = [
            multiprocessing.Process(
                target=heartbeat_generator,
                args=(address, firsts[g], share[g], total, start, stop, counters[g]),
                daemon=True,
            )
            for g in range(generators)
        ]
        for process in processes:
            process.start()
        print(
            f"{total} simulated workers in {generators} generator process(es), heartbeating "
            f"every {interval:g} s; warm-up {interval + args.warmup:g} s, "
            f"measuring {args.seconds:g} s"
        )

        sleep_until(measure_from - 0.5, coordinator)
        seen_before, oldest_before = live_workers(query_status(client, coordinator), dead_after)
        sleep_until(measure_from, coordinator)

        def sample() -> tuple[float, tuple[float, float], int, list[float], list[list[int]]]:
            return (
                time.monotonic(),
                cpu_times(coordinator.pid),
                wakeups(coordinator.pid),
                [cpu_seconds(process.pid) for process in processes],
                [list(c) for c in counters],
            )

        if args.profile:
            coordinator.send_signal(signal.SIGUSR1)  # profile the window only
        wall0, (user0, system0), woke0, gen0, count0 = sample()
        sleep_until(measure_to, coordinator)
        wall1, (user1, system1), woke1, gen1, count1 = sample()
        if args.profile:
            coordinator.send_signal(signal.SIGUSR2)
        seen_after, oldest_after = live_workers(query_status(client, coordinator), dead_after)

        wall = wall1 - wall0
        delta = [
            sum(c1[k] - c0[k] for c0, c1 in zip(count0, count1, strict=True))
            for k in range(COUNTERS)
        ]
        sent = delta[SENT]
        cpu = user1 + system1 - user0 - system0
        generator_cpu = [b - a for a, b in zip(gen0, gen1, strict=True)]
        print(
            f"coordinator sees {seen_before} live workers before the window, {seen_after} "
            f"after (oldest heartbeat {max(oldest_before, oldest_after):.2f} s ago)"
        )
        print(
            f"heartbeats: {sent:,} sent to the coordinator in {wall:.1f} s "
            f"({sent / wall:,.0f}/s), {delta[HEARD]:,} received from it "
            f"({delta[HEARD] / wall:,.0f}/s); re-registrations {delta[RECONNECTS]} "
            f"(Reconnect) + {delta[SILENCES]} (silence), rejects {delta[REJECTS]}"
        )
        print(f"coordinator idle (no workers): {100 * idle:.1f}% of one core")
        print(
            f"coordinator CPU {cpu:.2f} s in {wall:.1f} s -> {100 * cpu / wall:.1f}% of one core "
            f"at {total} workers (user {user1 - user0:.2f} s, system {system1 - system0:.2f} s)"
        )
        print("goal: under 10% of one core")
        if sent:
            print(
                f"per heartbeat: {cpu / sent * 1e6:,.0f} us of coordinator CPU "
                f"({(cpu - idle * wall) / sent * 1e6:,.0f} us above idle; each includes the "
                "coordinator's own heartbeat to that worker)"
            )
        print(
            f"coordinator loop wake-ups: {(woke1 - woke0) / wall:,.0f}/s (voluntary context "
            "switches of its main thread)"
        )
        print(
            f"generator CPU {sum(generator_cpu):.2f} s -> {100 * sum(generator_cpu) / wall:.1f}% "
            f"of one core in all ("
            + ", ".join(f"{100 * c / wall:.1f}%" for c in generator_cpu)
            + f"; {os.cpu_count()} cores here)"
        )
        for process in processes:
            process.join(max(0.0, stop - time.monotonic()) + 5)
    finally:
        client.close()
        for process in processes:
            stop_process(process)
        stop_process(coordinator)
    if args.profile:
        print_profile(args.profile)


def print_profile(path: str, top: int = 30) -> None:
    """The coordinator's top functions by own CPU time over the measurement window."""
    import pstats

    print(
        f"\ncoordinator profile over the window (cProfile, main thread CPU time; the CPU "
        f"figures above include the profiler's overhead): {path}"
    )
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--reducers", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds the task mode waits at most"
    )
    parser.add_argument(
        "--state-dir", action="store_true",
        help="the coordinator journals to a fresh folder (minimr coordinator --state-dir)",
    )
    parser.add_argument(
        "--local-cluster", type=int, default=0, metavar="N",
        help="instead: word count of N tiny map tasks through `minimr submit` on two local "
        "workers, end to end",
    )
    heartbeat = parser.add_argument_group("heartbeat load (no job)")
    heartbeat.add_argument(
        "--heartbeat-workers",
        type=int,
        default=0,
        metavar="N",
        help="instead of a job, N idle simulated workers heartbeating at 1 Hz",
    )
    heartbeat.add_argument(
        "--seconds", type=float, default=30.0, help="measurement window (default 30)"
    )
    heartbeat.add_argument(
        "--warmup", type=float, default=3.0, help="seconds after registration before measuring"
    )
    heartbeat.add_argument(
        "--idle-seconds",
        type=float,
        default=2.0,
        help="seconds the coordinator's idle CPU is measured before the workers start",
    )
    heartbeat.add_argument(
        "--generators",
        type=int,
        default=0,
        help=f"load generator processes (default: one per {WORKERS_PER_GENERATOR} workers)",
    )
    heartbeat.add_argument(
        "--profile",
        metavar="FILE",
        default=None,
        help="profile the coordinator (cProfile, CPU time) over the window into FILE and "
        "print its top entries (its CPU figures then include the profiler's cost)",
    )
    args = parser.parse_args()
    if args.local_cluster > 0:
        run_local_cluster(args)
    elif args.heartbeat_workers > 0:
        try:
            run_heartbeats(args)  # stops every process it started, Ctrl-C included
        except KeyboardInterrupt:
            raise SystemExit(130) from None
    else:
        run_tasks(args)


if __name__ == "__main__":
    main()
