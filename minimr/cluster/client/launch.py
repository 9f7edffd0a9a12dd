"""Starting a local cluster's worker processes: forked from the client, or spawned.

A worker started as a new Python (``python -m minimr.cluster.worker.worker``) spends about 0.2 s
starting the interpreter and importing minimr before it can register, and a job's first task
waits for it. The client that starts a local cluster has imported all of that already. So on
Linux, while the client still has one thread and no ZeroMQ context of ours (``can_fork``),
the local cluster forks its first workers before it makes its coordinator: each child waits
on a pipe for the coordinator's address (known only once the coordinator has bound), then
runs exactly as ``python -m minimr.cluster.worker.worker`` would, and leaves through ``os._exit``
(none of the client's ``finally`` blocks or ``atexit`` handlers runs in it). A worker added
later, or one the client cannot fork, is spawned.

A forked worker is named ``minimr-worker`` (``ps`` and ``top`` show that; its command line is
still the client's), is in a session of its own (Ctrl-C reaches the client only, which stops
its workers in order) and spawns any replacement executor as the spawned worker does: the
child's ``__main__`` is the worker module, so a new Python never runs the client's script.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import NoReturn

from minimr.cluster.worker.executor import can_fork, name_process

WORKER_NAME = b"minimr-worker"
_WAIT_STEP = 0.01  # seconds between looks at a forked worker that is asked to wait


def worker_command(coordinator: str, slots: int = 1) -> list[str]:
    """The command line of a spawned local worker process.

    ``-P`` (Python 3.11 on): ``-m`` would put the current folder first on the import path, and
    a worker started in a checkout of another minimr would import that one; the worker's path
    is its client's (``worker_environment``).
    """
    return [
        sys.executable,
        *(["-P"] if sys.version_info >= (3, 11) else []),
        "-m",
        "minimr.cluster.worker.worker",
        "--coordinator",
        coordinator,
        "--slots",
        str(slots),
        "--parent-pid",
        str(os.getpid()),
    ]


def worker_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment, with its import path, so workers import what it does."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.setdefault("MINIMR_LOG", "ERROR")
    env.update(extra)
    return env


def spawn_worker(coordinator: str, slots: int, env: dict[str, str]) -> subprocess.Popen:
    """Start a worker as a new Python."""
    return subprocess.Popen(
        worker_command(coordinator, slots),
        env=env,
        start_new_session=True,  # Ctrl-C reaches the client, which tears down in order
    )


def fork_workers(count: int, slots: int, env: dict[str, str]) -> list[ForkedWorker]:
    """Fork up to ``count`` workers that wait for their coordinator's address (``start``);
    none where forking is not safe (see the module docstring) or fails."""
    if not can_fork():
        return []
    sys.stdout.flush()  # or a child could write out what the client had buffered
    sys.stderr.flush()
    forked: list[ForkedWorker] = []
    for _ in range(count):
        try:
            forked.append(ForkedWorker(slots, env, siblings=forked))
        except OSError:  # no memory or no process left: the rest are spawned
            break
    return forked


#: the signals the client handles itself, which a forked worker must not inherit handled
_CLIENT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ForkedWorker:
    """A worker forked from this process, waiting for ``start``; the part of
    ``subprocess.Popen`` a local cluster uses (``pid``, ``poll``, ``wait``, ``send_signal``,
    ``kill``, ``returncode``)."""

    def __init__(self, slots: int, env: dict[str, str],
                 siblings: Sequence[ForkedWorker] = ()) -> None:
        address_pipe, self._go = os.pipe()
        parent = os.getpid()
        # the client's signals held across the fork: one sent to the child before it has
        # put back the default handlers would run the client's (and print its traceback)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _CLIENT_SIGNALS)
        try:
            self.pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(address_pipe)
            os.close(self._go)
            raise
        if self.pid == 0:
            # only the client may hold a worker's end of its pipe, or that worker would
            # never see it closed (by a client that ends before it starts its workers)
            _run_forked(address_pipe, [w._go for w in (*siblings, self)], slots, env, parent,
                        mask)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(address_pipe)
        self.returncode: int | None = None

    def start(self, coordinator: str) -> None:
        """Give the worker its coordinator's address: it starts and registers."""
        os.write(self._go, coordinator.encode())
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self._go >= 0:
            os.close(self._go)  # a worker never started reads nothing and leaves
            self._go = -1

    def poll(self) -> int | None:
        """The exit code (negative: the signal), or None while it runs."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: it is gone
                self.returncode = 0
                return 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the worker to end.

        Raises:
            subprocess.TimeoutExpired: it still runs after ``timeout`` seconds.
        """
        self._close_pipe()
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            time.sleep(_WAIT_STEP)
        return code

    def send_signal(self, sig: int) -> None:
        """Signal the worker, unless it has already ended."""
        self._close_pipe()
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the worker."""
        self.send_signal(signal.SIGKILL)


def _run_forked(address_pipe: int, clients_ends: list[int], slots: int, env: dict[str, str],
                parent: int, mask: set[signal.Signals]) -> NoReturn:
    """The forked child: wait for the address, run the worker, leave without the client's
    cleanup (nothing raised here may reach the client's code: this is another process).
    It starts with the client's signals blocked, and unblocks them (``mask``, the client's
    own mask) once their handlers are the defaults."""
    code = 1
    try:
        # The client's handlers (submit's SIGTERM cancels its job) are not this process's:
        # a cluster that never starts ends its waiting workers with SIGTERM.
        for sig in _CLIENT_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for fd in clients_ends:
            os.close(fd)
        os.setsid()
        chunks = []
        while chunk := os.read(address_pipe, 4096):
            chunks.append(chunk)
        coordinator = b"".join(chunks).decode()
        # no address: the cluster never started
        code = _become_worker(coordinator, slots, env, parent) if coordinator else 0
    except BaseException:  # noqa: BLE001 - reported, and the process ends either way
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _become_worker(coordinator: str, slots: int, env: dict[str, str], parent: int) -> int:
    from minimr.cluster.worker import worker

    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # the client's cached choice: look at this worker's TMPDIR again
    sys.modules["__main__"] = worker  # what a replacement executor's new Python imports
    sys.argv = [worker.__file__, "--coordinator", coordinator]
    name_process(WORKER_NAME)
    worker.configure_logging()
    return worker.run_worker(coordinator, slots, parent_pid=parent,
                             log_dir=os.environ.get(worker.LOG_DIR_ENV))
