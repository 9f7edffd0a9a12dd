"""The embedded local cluster: what ``minimr submit`` runs on without ``--coordinator``.

:func:`run_local_cluster` starts an embedded coordinator (a thread of this process, on a Unix
socket only this user can open) and N worker processes (``launch.py``), the same code path as
a real cluster, submits the plan to it (``client.submit_plan``) and tears it down at the end.
Its workers' task logs, one file per attempt, are copied to ``OUTPUT/_logs/`` once they have
stopped, whether the job succeeded or not; a failed job's message names the failed
attempt's file there.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minimr.cluster.client import client, launch
from minimr.cluster.client.client import ClusterResult, JobProgress
from minimr.cluster.coordinator import limits
from minimr.cluster.coordinator.coordinator import Coordinator
from minimr.cluster.dashboard.window import Window
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import private
from minimr.cluster.wire.transport import ZmqServer
from minimr.cluster.worker.tasklogs import SUFFIX, copy_logs
from minimr.cluster.worker.worker import LOG_DIR_ENV
from minimr.dataflow import storage
from minimr.dataflow.format.output import LOGS

if TYPE_CHECKING:
    from minimr.cluster.dashboard.server import DashboardServer

log = logging.getLogger("minimr.client")


@dataclass(frozen=True)
class DashboardStarted:
    """A progress update: the embedded cluster serves its dashboard at ``url`` (with the
    token)."""

    url: str

    def __str__(self) -> str:
        return f"dashboard: {self.url}"


class LocalCluster:
    """An embedded coordinator thread plus worker processes on this machine.

    The first workers are forked from this process when that is safe, others spawned
    (``launch``). Use as a context manager; :attr:`address` is the coordinator's. With
    ``dashboard`` (``[HOST:]PORT``), the coordinator's dashboard is served there too, from
    another thread (:attr:`dashboard_url`, with its token).

    Only the user who starts it can reach it: the coordinator and the workers' shuffle
    servers listen on Unix sockets (``ipc://``) in the cluster's folder of mode 0700,
    removed on close. Another local account can neither submit a job (which would run as
    this user) nor read map outputs and task output; no keys are needed, and a Unix
    socket costs less than loopback TCP.
    """

    def __init__(
        self,
        workers: int,
        *,
        slots: int = 1,
        heartbeat_interval: float = s.HEARTBEAT_INTERVAL,
        heartbeat_liveness: int = s.HEARTBEAT_LIVENESS,
        worker_env: dict[str, str] | None = None,
        max_message_size: int = limits.MAX_MESSAGE_SIZE,
        dashboard: str | None = None,
        logs_to: str | None = None,
    ) -> None:
        self._slots = slots
        self.logs_to = logs_to
        self.dashboard: DashboardServer | None = None
        # The workers' temporary folder (TMPDIR): their work folders, spills and scratch
        # files all go into this private folder, removed with the cluster, so a run leaves
        # no minimr-* folder behind in the system's temporary folder, however it ends. The
        # cluster's sockets live there too: mode 0700, so only this user can open them.
        self.scratch = tempfile.mkdtemp(prefix="minimr-local-")
        # the workers' attempt logs: copied to ``logs_to`` when they have stopped
        self.log_dir = os.path.join(self.scratch, "logs")
        self._env = {"TMPDIR": self.scratch, LOG_DIR_ENV: self.log_dir, **(worker_env or {})}
        self.server: ZmqServer | None = None
        self._thread: threading.Thread | None = None
        # forked before this process makes a ZeroMQ context or a thread (see launch)
        forked = launch.fork_workers(workers, slots, launch.worker_environment(self._env))
        self.workers: list[subprocess.Popen | launch.ForkedWorker] = list(forked)
        try:
            self.server = ZmqServer(
                private.socket_address(self.scratch, "coordinator"),
                max_message_size=max_message_size,
            )
            self.address = self.server.address
            sched = s.Scheduler(
                heartbeat_interval=heartbeat_interval, heartbeat_liveness=heartbeat_liveness
            )
            window = Window() if dashboard is not None else None
            self.coordinator = Coordinator(self.server, sched, window=window, notices=False)
            if window is not None:
                # imported here: the HTTP server is a twentieth of a second of imports that
                # a job without --dashboard never needs (issue 20)
                from minimr.cluster.dashboard.logs import coordinator_logs
                from minimr.cluster.dashboard.server import DashboardServer

                logs = coordinator_logs(self.address, None)  # a private socket: no keys
                self.dashboard = DashboardServer(window, dashboard, embedded=True,
                                                 logs=logs).start()
            self._thread = threading.Thread(
                target=self.coordinator.serve_forever, name="minimr-coordinator", daemon=True
            )
            self._thread.start()
            for worker in forked:
                worker.start(self.address)
            for _ in range(workers - len(forked)):
                self.add_worker()
        except BaseException:
            self.close()
            raise

    def add_worker(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start one more worker process (it joins whatever job is running)."""
        process = launch.spawn_worker(
            self.address, self._slots, launch.worker_environment({**self._env, **(env or {})})
        )
        self.workers.append(process)
        return process

    def close(self) -> None:
        """Stop the workers (SIGTERM, then SIGKILL) and the coordinator; copy the attempt
        logs to ``logs_to``; remove the workers' temporary folder."""
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in self.workers:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.dashboard is not None:
            self.dashboard.close()
        if self._thread is not None:
            self.coordinator.stop()
            self._thread.join(timeout=5)
        if self.server is not None:
            self.server.close()
        if self.logs_to is not None:  # the workers have stopped: every log is written
            try:
                copy_logs(self.log_dir, self.logs_to)
            except OSError as exc:
                log.warning("could not keep the task logs in %s: %s", self.logs_to, exc)
        shutil.rmtree(self.scratch, ignore_errors=True)

    @property
    def dashboard_url(self) -> str | None:
        """The dashboard's address with its token, if this cluster serves one."""
        return self.dashboard.url if self.dashboard is not None else None

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_local_cluster(
    plan: Any,
    workers: int,
    *,
    progress: Callable[[DashboardStarted | JobProgress], None] | None = None,
    dashboard: str | None = None,
    **options: Any,
) -> ClusterResult:
    """Run ``plan`` on an embedded cluster of ``workers`` local worker processes.

    Args:
        plan: the job plan.
        workers: worker processes to start (one slot each).
        progress: called with a :class:`JobProgress` as the job advances (first with a
            :class:`DashboardStarted` if there is a dashboard).
        dashboard: ``[HOST:]PORT`` to serve the cluster's dashboard on while the job runs.
        options: passed on to :func:`client.submit_plan` (``max_attempts``, ``speculation``...).

    Returns and raises as :func:`client.submit_plan`.
    """
    size = options.get("max_message_size", limits.MAX_MESSAGE_SIZE)
    logs = storage.join(plan.output, LOGS)
    with LocalCluster(workers, max_message_size=size, dashboard=dashboard,
                      logs_to=logs) as cluster:
        if progress is not None and cluster.dashboard_url is not None:
            progress(DashboardStarted(cluster.dashboard_url))
        return client.submit_plan(plan, cluster.address, progress=progress,
                           log_place=lambda attempt: storage.join(logs, attempt + SUFFIX),
                           **options)
