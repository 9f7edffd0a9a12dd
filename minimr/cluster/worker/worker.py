"""A worker: registers with the coordinator, heartbeats, runs tasks in executor slots.

:meth:`Worker.work` is the whole life of a worker, read top to bottom (rq's
``work()`` is the model): :meth:`~Worker.start`, then :meth:`~Worker.turn` after turn,
each a few named steps (wait; serve the coordinator's messages; serve the executors'
replies and deaths; start queued attempts; keep the link alive), under one last-resort
guard that logs a failed turn and goes on, and :meth:`~Worker.close` in ``finally``. A
message whose handler fails is that message's problem, logged, never the loop's end.

The link to the coordinator (``link.py``) is an object beside the loop, as in the ZeroMQ
Guide's ``mdwrkapi.py``: it registers, heartbeats (Paranoid Pirate), notices silence and
reconnects with backoff; when it gives a connection up, the worker drops its attempts.
The executors, the attempts waiting for them and each attempt's log are its ``Slots``
(``slots.py``); executors talk to it in typed messages (``pipe.py``), dispatched by type as
the coordinator's are.

Its map outputs live in a folder of its own (``workdir.py``), locked while it lives; a
worker started on the same ``--work-dir`` adopts the outputs a dead one left there and
registers them, as it registers what it holds after a coordinator restart.

Each attempt's output (its stdout, stderr and ``logging``) comes from its executor's output
pipe into a bounded log that the worker keeps, in ``.logs/`` of that folder or in
``--log-dir`` (``tasklogs.py``), and serves to the coordinator when ``minimr logs`` asks.

The pull model: a worker registers with N slots; the coordinator never assigns more
than N attempts at once, and each reported result frees a slot. Assignments wait in
a local queue while the job's plan is fetched (once per job, then cached) or while
an executor is being replaced.

With keys (``security.py``) the worker talks CURVE to the coordinator with its own key
pair, serves map outputs with that same pair to worker keys only, and advertises the
public key at registration; ``SIGHUP`` re-reads the authorized worker keys. A
coordinator that refuses the handshake (unknown key, wrong coordinator key, keys on
one side only) ends the worker with exit code 2 and the reason, as a version mismatch
does.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from functools import partial

from minimr.cluster.wire import private
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.security import WorkerKeys
from minimr.cluster.wire.transport import Client, Waker, ZmqClient, is_loopback, local_host, wait
from minimr.cluster.wire.wiretypes import Invalid, parse
from minimr.cluster.worker.executor import Executor, can_fork
from minimr.cluster.worker.inputtables import InputTables, MissingTable
from minimr.cluster.worker.link import CoordinatorLink, WorkerRejected
from minimr.cluster.worker.shuffleserver import ShuffleServer
from minimr.cluster.worker.slots import Slots
from minimr.cluster.worker.tasklogs import HEAD, TAIL, AttemptLogs
from minimr.cluster.worker.workdir import WorkDir

log = logging.getLogger("minimr.worker")

__all__ = ["Worker", "WorkerRejected", "held_outputs", "run_worker"]

#: the environment variable that gives a worker started by a local cluster its --log-dir
LOG_DIR_ENV = "MINIMR_WORKER_LOG_DIR"
#: the folder of attempt logs in a worker's work folder (hidden: no job is named so)
LOGS = ".logs"


class Worker:
    """One worker process's state and loop.

    Args:
        coordinator: ``tcp://HOST:PORT`` of the coordinator.
        slots: attempts run at once (one executor process each).
        work_dir: under which the worker makes its private folder for map outputs
            (removed when it stops): a folder only this user can write, by default
            ``$TMPDIR/minimr-<uid>`` (``workdir.private_base``).
        name: how the worker shows in ``status`` (default ``host:pid``).
        connect: the transport factory ``(address, identity) -> Client`` (tests pass a
            fake; the shuffle server always uses ZeroMQ); by default ZeroMQ, with
            CURVE when there are ``keys``.
        parent_pid: stop when this process is no longer our parent (a local cluster's
            workers must not outlive the command that started them).
        host: the host name reducers compare to decide whether a map output can be
            read in place (default: this machine's name).
        keys: the worker's keys when the cluster has keys (``Keys.worker()``).
        shuffle_port: the port the shuffle server listens on (0: any free port).
        executor: makes slot N's executor ``(N, fork) -> Executor`` (tests pass one that
            runs in a thread); by default a child process.
        shuffle: starts the shuffle server ``() -> ShuffleServer`` (tests pass a fake); by
            default one in a thread of this process on a ZeroMQ socket.
        log_dir: where attempt logs go (``log_dir/JOB/ATTEMPT.log``, kept when the worker
            stops); by default ``.logs/`` in its work folder, which goes with it.
        log_head, log_tail: bytes kept of the start and of the end of each attempt's output.
    """

    def __init__(
        self,
        coordinator: str,
        *,
        slots: int = 1,
        work_dir: str | None = None,
        name: str | None = None,
        connect: Callable[[str, bytes], Client] | None = None,
        parent_pid: int | None = None,
        host: str | None = None,
        keys: WorkerKeys | None = None,
        shuffle_port: int = 0,
        executor: Callable[[int, bool], Executor] | None = None,
        shuffle: Callable[[], ShuffleServer] | None = None,
        log_dir: str | None = None,
        log_head: int = HEAD,
        log_tail: int = TAIL,
    ) -> None:
        self.coordinator = coordinator
        self.keys = keys
        self.shuffle_port = shuffle_port
        self.parent_pid = parent_pid
        self.host = host or local_host()
        self.name = name or f"{self.host}:{os.getpid()}"
        self.workdir = WorkDir(work_dir)
        self.work_dir = self.workdir.path
        self.logs = AttemptLogs(log_dir or os.path.join(self.work_dir, LOGS), log_head, log_tail)
        #: the executors, the attempts waiting for them and each attempt's log
        self.slots = Slots(max(1, slots), executor or self._executor, self.logs, self.name,
                           self._send)
        #: the tables of map output holders its reduces read, kept per step
        self.tables = InputTables()
        self.stopping = False
        self._stopped = threading.Event()  # wakes a reconnect backoff on SIGTERM
        # Wakes the loop's wait on SIGTERM or stop(); without it a worker stopped only at its
        # next message, up to a heartbeat interval later (every `minimr submit` waited).
        self._waker = Waker()
        self._signals_installed = False
        self.shuffle: ShuffleServer | None = None
        self.shuffle_address = ""
        self._shuffle_factory = shuffle or self._shuffle_server
        self.link = CoordinatorLink(
            coordinator,
            connect or partial(ZmqClient, curve=keys.coordinator_client() if keys else None),
            self.name,
            self._registration,
            self._abandon_attempts,
            self._stopped,
        )
        self._handlers: dict[type, Callable] = {
            p.Assign: self._on_assign,
            p.Plan: self.slots.take_plan,
            p.CommitAnswer: self.slots.answer_commit,
            p.CancelAttempt: self.slots.cancel,
            p.Reconnect: lambda message: self.link.reconnect(message.reason),
            p.ForgetJob: self._on_forget_job,
            p.FetchLog: self._on_fetch_log,
        }

    # --- the loop -----------------------------------------------------------------------

    def work(self) -> int:
        """Serve the coordinator until SIGTERM/Ctrl-C; returns the exit code."""
        try:
            self.start()
            while not self.stopping:
                try:
                    self.turn()
                except WorkerRejected:
                    raise
                except Exception:  # the last-resort guard: a failed turn, not the end
                    log.exception("a worker turn failed; working on")
            return 0
        except WorkerRejected as exc:
            log.error("%s", exc)
            return 2
        finally:
            self.close()

    def start(self) -> None:
        """Start the executors, the shuffle server and the link (registration)."""
        # The executors first: forked while this process has one thread and no socket yet
        # (see executor.py), spawned if it already has more.
        self.slots.start(can_fork())
        self._install_signal_handlers()
        self.shuffle = self._shuffle_factory()
        self.shuffle_address = _advertised(self.shuffle.address, self.coordinator)
        self.link.connect()

    def turn(self) -> None:
        """One loop turn, in named steps."""
        ready = wait(self._pollables(), self.link.timeout(time.monotonic()))
        if self._waker.fd in ready:
            self._waker.clear()
        if self.link.pollable is not None and self.link.pollable in ready:
            self._serve_coordinator()
        self.link.check_handshake()
        self.slots.serve(ready)
        self.slots.start_queued()
        self._keep_alive()
        self.link.flush()  # this turn's results, as one batch

    def close(self) -> None:
        """Tear everything down: goodbye, attempts' logs, executors, shuffle server, work
        folder."""
        self.link.close()
        self.slots.close()
        if self.shuffle is not None:
            self.shuffle.stop()
        self.workdir.close()
        if self._signals_installed:
            signal.set_wakeup_fd(-1)
        self._waker.close()

    def _serve_coordinator(self) -> None:
        """Handle each message that arrived; one whose handler fails is logged and dropped."""
        for message in self.link.receive():
            handler = self._handlers.get(type(message))
            if handler is None:
                log.warning("dropping unexpected %s from the coordinator", type(message).__name__)
                continue
            try:
                handler(message)
            except WorkerRejected:
                raise
            except Exception:
                log.exception("handling %s from the coordinator failed", type(message).__name__)

    def _keep_alive(self) -> None:
        """Stop if our parent is gone; let the link heartbeat or reconnect."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            log.warning("the process that started this worker is gone: stopping")
            self.stop()
            return
        self.link.maintain(time.monotonic())

    def stop(self) -> None:
        """End the loop after the current turn (what SIGTERM and Ctrl-C do)."""
        self.stopping = True
        self.slots.stopping = True
        self._stopped.set()
        self._waker.wake()

    def _install_signal_handlers(self) -> None:
        def handler(signum, frame) -> None:
            log.info("signal %d: stopping", signum)
            self.stop()

        def reload(signum, frame) -> None:
            if self.keys is not None:
                self.keys.workers.reload()

        try:
            signal.signal(signal.SIGTERM, handler)
            signal.signal(signal.SIGINT, handler)
            signal.signal(signal.SIGHUP, reload)
            # a signal wakes the wait whichever thread it lands on
            signal.set_wakeup_fd(self._waker.write_fd, warn_on_full_buffer=False)
            self._signals_installed = True
        except ValueError:
            pass  # not the main thread (tests): stop() is called directly

    def _pollables(self) -> list:
        items: list = [self._waker.fd]
        if self.link.pollable is not None:
            items.append(self.link.pollable)
        return items + self.slots.pollables()

    # --- coordinator connection ---------------------------------------------------------

    def _registration(self, identity: bytes) -> p.Ready:
        """This worker's Ready for a new connection (the link registers with it)."""
        replaces = self.workdir.adopt_orphans()  # dead workers' map outputs become ours
        self.tables.clear()  # sent to the registration that is gone: it is sent again
        self.workdir.record_identity(identity)
        shuffle_key = self.keys.pair.public.decode("ascii") if self.keys else ""
        return p.Ready(
            self.name,
            self.host,
            os.getpid(),
            self.slots.count,
            self.shuffle_address,
            shuffle_key,
            folder=self.work_dir,
            outputs=held_outputs(self.workdir.map_outputs()),
            replaces=tuple(replaces),
        )

    def _abandon_attempts(self) -> None:
        self.slots.abandon()

    def _send(self, message: p.Message) -> None:
        self.link.post(message)  # sent at the turn's end, with the turn's others

    def _on_assign(self, message: p.Assign) -> None:
        try:
            message = self.tables.resolve(message)
        except MissingTable as exc:  # never when the coordinator keeps the protocol
            log.warning("%s", exc)
            self._send(p.TaskFailed(message.job_id, message.attempt, str(exc)))
            return
        self.slots.assign(message)

    def _on_forget_job(self, message: p.ForgetJob) -> None:
        job_id = message.job_id
        self.tables.forget_job(job_id)
        self.slots.forget_job(job_id)
        shutil.rmtree(os.path.join(self.work_dir, job_id), ignore_errors=True)

    # --- attempt logs, shuffle server, executors ----------------------------------------

    def _on_fetch_log(self, message: p.FetchLog) -> None:
        """Send the coordinator an attempt's log from ``offset``: a running one's from
        memory, an ended one's from its file, or why there is none here."""
        wanted = (message.job_id, message.attempt)
        running = self.slots.running_log(*wanted)
        kept = running if running is not None else self.logs.load(*wanted)
        if kept is None:
            error = (f"worker {self.name} has no log of {message.attempt} (it keeps the logs "
                     f"of its last {self.logs.jobs_kept} jobs)")
            answer = p.LogData(message.request, *wanted, 0, False, error, b"")
        else:
            data, offset = kept.read(message.offset)
            answer = p.LogData(message.request, *wanted, offset, running is not None, "", data)
        self._send(answer)

    def _shuffle_server(self) -> ShuffleServer:
        """This worker's shuffle server, serving its work folder (started)."""
        return ShuffleServer(
            self.work_dir,
            _shuffle_bind(self.coordinator, self.shuffle_port),
            self.keys.shuffle_server() if self.keys else None,
        ).start()

    def _executor(self, index: int, fork: bool = False) -> Executor:
        return Executor(index, self.work_dir, self.host, self.keys.pair if self.keys else None,
                        fork=fork)


def held_outputs(found: list[list]) -> tuple[p.HeldOutput, ...]:
    """The map outputs a work folder lists (``[[job_id, attempt, output], ...]``), as the
    records a registration carries; an entry that does not fit one is left out (logged)."""
    held = []
    for job_id, attempt, output in found:
        try:
            held.append(
                parse(p.HeldOutput, {"job_id": job_id, "attempt": attempt, "output": output})
            )
        except Invalid as exc:
            log.warning("not registering the map output %s of job %s: %s", attempt, job_id, exc)
    return tuple(held)


def _shuffle_bind(coordinator: str, port: int) -> str:
    """Where the shuffle server listens: beside a coordinator on a Unix socket (an embedded
    cluster: only this user may fetch), on loopback beside a loopback one, else everywhere."""
    folder = private.socket_folder(coordinator)
    if folder is not None:
        return private.socket_address(folder, f"shuffle-{os.getpid()}")
    return f"tcp://{'127.0.0.1' if is_loopback(coordinator) else '0.0.0.0'}:{port}"


def _advertised(bound: str, coordinator: str) -> str:
    """The shuffle address peers should use: a wildcard bind becomes a reachable host."""
    if "0.0.0.0" not in bound:
        return bound
    host = coordinator.partition("://")[2].rsplit(":", 1)[0].strip("[]")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((host, 9))  # no packet is sent; this picks the outgoing interface
            address = probe.getsockname()[0]
        except OSError:
            address = socket.gethostbyname(socket.gethostname())
    return bound.replace("0.0.0.0", address)


def configure_logging() -> None:
    """A local worker's logging: to stderr, at the level ``MINIMR_LOG`` names."""
    logging.basicConfig(
        level=os.environ.get("MINIMR_LOG", "WARNING"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,  # a forked worker drops the handlers of the client it was forked from
    )


def run_worker(
    coordinator: str,
    slots: int = 1,
    work_dir: str | None = None,
    name: str | None = None,
    parent_pid: int | None = None,
    host: str | None = None,
    keys: WorkerKeys | None = None,
    shuffle_port: int = 0,
    log_dir: str | None = None,
    log_head: int = HEAD,
    log_tail: int = TAIL,
) -> int:
    """Run a worker until SIGTERM/Ctrl-C (the ``minimr worker`` command)."""
    worker = Worker(
        coordinator,
        slots=slots,
        work_dir=work_dir,
        name=name,
        parent_pid=parent_pid,
        host=host,
        keys=keys,
        shuffle_port=shuffle_port,
        log_dir=log_dir,
        log_head=log_head,
        log_tail=log_tail,
    )
    return worker.work()


if __name__ == "__main__":  # python -m minimr.cluster.worker.worker, used by the local cluster
    import argparse

    parser = argparse.ArgumentParser(description="a minimr worker")
    parser.add_argument("--coordinator", required=True)
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--host", default=None)
    args = parser.parse_args()
    configure_logging()
    from minimr.cluster.wire.security import worker_keys

    raise SystemExit(
        run_worker(
            args.coordinator,
            args.slots,
            args.work_dir,
            args.name,
            args.parent_pid,
            args.host,
            keys=worker_keys(args.coordinator),  # a loopback coordinator: this user's keys
            log_dir=os.environ.get(LOG_DIR_ENV),  # a local cluster's
        )
    )
