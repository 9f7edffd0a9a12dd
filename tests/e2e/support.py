"""Helpers of the end-to-end suite: paths, free ports, plans, inline references."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from minimr.dataflow.format import output as out
from minimr.loader import resolve_job
from minimr.runner import build_plan, run_inline

ROOT = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).resolve().parent / "jobs"
TEXT = ROOT / "data" / "text"
#: fast failure detection for tests: a silent worker is dead after 1 s
HEARTBEAT = ["--heartbeat-interval", "0.2", "--heartbeat-liveness", "5"]


#: a job whose every map task appends to the file CANARY names: proof that the job ran
CANARY_JOB = '''
"""Writes a canary file from every map task: proof that a job ran on a worker."""

CANARY = {canary!r}


def map(key, line):
    with open(CANARY, "a") as file:
        file.write("ran\\n")
    for word in line.split():
        yield word, 1


def reduce(word, counts):
    yield word, sum(counts)
'''


def free_address() -> str:
    """A loopback TCP address with a port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def environment(**extra: str) -> dict[str, str]:
    """The test's environment with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *sys.path])
    env.update(extra)
    return env


def make_plan(
    job: str, inputs: list, output: Path, reducers: int = 3, split_size: str = "64KB", **settings
):
    """A plan for ``job`` (a file under tests/e2e/jobs, optionally ``:Class``)."""
    plan = build_plan(
        resolve_job(str(JOBS / job)),
        [str(i) for i in inputs],
        str(output),
        reducers=reducers,
        split_size=split_size,
        settings=settings,
    )
    out.prepare_output(plan.output, True, [s.path for s in plan.splits])
    return plan


def inline_output(job: str, inputs: list, output: Path, **kwargs):
    """Run the job with the inline runner; returns its counters."""
    return run_inline(make_plan(job, inputs, output, **kwargs))


def read_dir(path: Path) -> dict[str, bytes]:
    """Every file of an output folder by name (``_temporary`` must be gone), the task logs
    an embedded run keeps in ``_logs/`` aside: they differ from run to run."""
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.name != "_logs"}


def probe_records(folder: Path, kind: str) -> list[tuple[int, float, float]]:
    """(pid, start, end) of every probed task of ``kind``."""
    rows = []
    for path in folder.iterdir():
        name, pid, start, end = path.read_text().split()
        if name == kind:
            rows.append((int(pid), float(start), float(end)))
    return rows


def overlapped(rows: list[tuple[int, float, float]]) -> bool:
    """Whether two tasks in different processes ran at the same time."""
    return any(
        a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in rows for b in rows if a is not b
    )


def small_inputs(folder: Path, files: int) -> list[Path]:
    """``files`` one-line input files (one map task each)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        path = folder / f"in-{i:02d}.txt"
        path.write_text(f"alpha beta gamma {i}\n")
        paths.append(path)
    return paths


def stop_processes(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    """SIGTERM every process still running, then SIGKILL what lingers past ``timeout``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def child_processes(pid: int, proc: Path = Path("/proc")) -> dict[int, str]:
    """A process's child processes and their command lines (Linux).

    What exits while it is listed is skipped, not an error: a thread of ``pid`` (its
    ``children`` file gone, or read as ESRCH), a child (its ``cmdline``), ``pid`` itself
    (no children then). ``proc`` is where procfs is mounted (a test's fake one).
    """
    found = {}
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:  # FileNotFoundError, ProcessLookupError: pid is gone
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:  # the thread exited
            continue
        for child in children:
            try:
                cmdline = (proc / child / "cmdline").read_bytes()
            except OSError:  # the child exited and was reaped
                continue
            found[int(child)] = cmdline.replace(b"\0", b" ").decode()
    return found


def finish(run: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    """Wait for a process (a submit) to end: its exit code and stderr (``run`` has its
    stderr piped, as text). One still running after ``timeout`` is made to print every
    thread's stack (SIGABRT: start it with ``python -X faulthandler``), which the failure
    shows, then killed (not left running, and warned about, into later tests)."""
    try:
        _, stderr = run.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGABRT)
        try:
            _, stderr = run.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            run.kill()
            _, stderr = run.communicate()
        raise AssertionError(f"the process still ran after {timeout:g} s; its stacks:\n"
                             f"{stderr[-6000:]}") from None
    return run.returncode, stderr


def handles(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``sig`` (Linux: its
    ``SigCgt`` mask), rather than the default action or ignoring it (a non-interactive
    shell's background job ignores SIGINT, and a Python started so keeps it ignored)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    raise AssertionError(f"no SigCgt in /proc/{pid}/status")


def process_name(pid: int) -> str:
    """A process's name, as ps and top show it (Linux)."""
    return Path(f"/proc/{pid}/comm").read_text().strip()


def hand_made_dealer(
    address: str,
    role: str = "submitter",
    identity: bytes | None = None,
    shuffle: bool = False,
    options: dict[int, int] | None = None,
):
    """A raw DEALER socket on ``address``, what a hostile peer holding a key uses: on
    loopback TCP it carries this user's local keys (those a default cluster authorizes),
    as a worker (``role="worker"``; ``shuffle``: to a worker's shuffle server) or a
    submitter. ``options`` are socket options set before it connects."""
    import zmq

    from minimr.cluster.wire.security import local_keys, uses_local_keys

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    for option, value in (options or {}).items():
        sock.setsockopt(option, value)
    if uses_local_keys(address, None, False):
        keys = local_keys()
        if role == "worker":
            pair = keys.identity("worker")
            server = pair.public if shuffle else keys.coordinator_key()
        else:
            pair, server = keys.identity(role), keys.coordinator_key()
        sock.curve_secretkey = pair.secret
        sock.curve_publickey = pair.public
        sock.curve_serverkey = server
    sock.connect(address)
    return sock
