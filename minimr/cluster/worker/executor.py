"""Executors: one long-lived child process per worker slot, where user code runs.

The worker's protocol loop never runs user code. It hands each attempt to an
executor over a pipe and goes back to heartbeating, so a mapper that holds the GIL
for a minute cannot make a live worker look dead. An executor that dies
(``os._exit``, a signal, the OOM killer) is noticed at once through its process
sentinel; the worker reports the attempt failed and starts a fresh executor.

The conversation on the pipe is typed messages (``pipe.py``): the worker sends
``LoadPlan``, ``ForgetPlan``, ``Run``, ``Commit`` and ``Discard``; the executor answers a
``Run`` with ``Done``, ``ReadyToCommit`` (a reduce, a map-only map: may it commit?),
``FetchLost`` or
``Failed``, and a ``Commit`` with ``Committed`` or ``Failed``. :func:`serve` is the
executor's loop, dispatching by message type; it needs only a pipe, so tests run it in a
thread. A failure's ``record`` is skip mode's location of the record user code failed on;
``final`` says no new attempt can succeed (``errors.FINAL``: a mistake in the job's code, a
plan this host cannot load), and the coordinator fails the job at once.

Everything the executor writes to its stdout and stderr (file descriptors 1 and 2: user
code's prints, C code, child processes) and its ``logging`` output (a root handler on
stderr: the user's lines, and minimr's own about each attempt, under ``minimr.task``) goes
into a pipe whose other end is :attr:`Executor.output`: the worker reads it into the
attempt's bounded log (``tasklogs.py``) and sends its tail with a failure.

A worker's first executors are forked, before it starts a thread or opens a socket: they
are ready at once, where a spawned one spends ~0.2 s starting Python and importing minimr,
and every job's first task waited for that (a small job took 0.8 s instead of 0.6 s).
Replacements are spawned: by then the worker has threads and ZeroMQ sockets, which a fork
would copy in an unusable state.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from minimr.cluster import shipping
from minimr.cluster.wire.protocol import MapOutputRef, RecordLocation, ReduceInputs, TaskLists
from minimr.cluster.wire.security import KeyPair
from minimr.cluster.worker import partindex, pipe
from minimr.cluster.worker.fetch import FetchError, gather_segments
from minimr.dataflow import storage, taskenv
from minimr.dataflow.counters import BUILTIN, BUILTIN_ORDER, Counters
from minimr.dataflow.plan import MapTask, ReduceTask
from minimr.dataflow.sidefiles import FileCache
from minimr.dataflow.skips import RecordFailed, write_report
from minimr.dataflow.tasks import (
    commit_output,
    run_map_only_task,
    run_map_task,
    run_reduce_task,
    run_sample_task,
    task_from_dict,
)
from minimr.errors import FINAL, format_user_traceback

#: bytes of the end of an attempt's output sent with its failure
STDERR_TAIL = 4096
#: what an executor logs, and how (its root logger: the user's lines and minimr's)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: the folder of side files: in the worker's folder, its cache by content hash (shared by its
#: executors, kept for its life); in a job's folder, the job's files by name (tasks' cwd)
SIDE_FILES = ".side-files"
#: an executor's process name (``/proc/PID/comm``; 15 bytes at most)
EXECUTOR_NAME = b"minimr-executor"

#: a reduce of a step without maps reads nothing
NO_INPUTS = ReduceInputs((), (), ())

_SPAWN = multiprocessing.get_context("spawn")  # no inherited sockets or threads
#: minimr's lines about each attempt, in the attempt's log
task_log = logging.getLogger("minimr.task")


class Executor:
    """The worker's handle on one executor process.

    Attributes:
        output: the read end of the pipe the process's stdout and stderr write to
            (non-blocking; :meth:`read_output` drains it).

    Args:
        slot: the slot number.
        work_dir: the worker's work folder (map outputs go to ``work_dir/JOB``).
        host: the worker's host name (a map output on this host is read in place).
        keys: the worker's key pair when the cluster has keys (for shuffle fetches).
        fork: fork this process instead of spawning a new one; only while it has a single
            thread and no ZeroMQ context (``can_fork``).
    """

    def __init__(self, slot: int, work_dir: str, host: str, keys: KeyPair | None = None,
                 fork: bool = False) -> None:
        self.slot = slot
        context = multiprocessing.get_context("fork") if fork else _SPAWN
        self.conn, child = context.Pipe()
        self._output, child_output = context.Pipe(duplex=False)  # raw bytes, not messages
        self.process = context.Process(
            target=main,
            args=(child, child_output, work_dir, host, keys),
            daemon=True,
            name=f"minimr-executor-{slot}",
        )
        self.process.start()
        child.close()
        child_output.close()
        self.output = self._output.fileno()
        os.set_blocking(self.output, False)
        self.jobs: set[str] = set()  # plans this executor has loaded

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable when the process ends."""
        return self.process.sentinel

    def send(self, message: pipe.Command) -> bool:
        """Send a command; ``False`` if the executor is gone."""
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    def read_output(self) -> bytes:
        """What the process wrote to stdout and stderr since the last read (without
        waiting)."""
        return read_available(self.output)

    def describe_death(self) -> str:
        """Why the process ended, for a failure message."""
        self.process.join(timeout=1)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"the executor process was killed by signal {name}"
        return f"the executor process exited with code {code} (os._exit or a crash in user code)"

    def kill(self) -> None:
        """Stop the process now (user code may ignore anything gentler)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()
        self._output.close()


def read_available(fd: int) -> bytes:
    """Every byte a non-blocking pipe holds now (until it is empty or closed)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def can_fork() -> bool:
    """True when a minimr process (an executor, a local worker) may be forked from this one:
    Linux (the platform whose ``fork`` minimr relies on, with children that die with their
    parent) and no other thread. The caller must also not have made a ZeroMQ context yet."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def name_process(name: bytes) -> None:
    """Set the name ``ps`` and ``top`` show for this process (``/proc/PID/comm``, Linux; 15
    bytes at most): a forked process keeps its parent's command line, its name tells it
    apart. Elsewhere nothing."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name))  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


# --- the executor process ---------------------------------------------------------------


def main(
    conn: Connection, output: Connection, work_dir: str, host: str, keys: KeyPair | None = None
) -> None:
    """The executor process: set it apart from the worker, send its output (file descriptors
    1 and 2, and ``logging``) to the worker's end of ``output``, then :func:`serve` the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
    _die_with_worker()
    # ps and top tell executors from their worker, whose command line a forked executor
    # keeps (as `pkill -f` does not: it matches both)
    name_process(EXECUTOR_NAME)
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    # sys.stdout and sys.stderr anew on those descriptors (a forked executor keeps whatever
    # objects its parents had there: a Jupyter kernel's, pytest's), line-buffered so that a
    # line printed is a line in the log at once
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      buffering=1, closefd=False)
    # the user's logging and minimr's lines about each attempt (a forked executor drops the
    # worker's handlers, which wrote to the worker's own stderr)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr, force=True)
    serve(conn, work_dir, host, keys)


def serve(
    conn: Connection,
    work_dir: str,
    host: str,
    keys: KeyPair | None = None,
) -> None:
    """Answer the worker's commands on ``conn`` until the pipe closes.

    Args:
        conn: this end of the pipe to the worker.
        work_dir: the worker's work folder.
        host: the worker's host name.
        keys: the worker's key pair, with keys.
    """
    state = _State(os.path.abspath(work_dir), host, keys)
    handlers: dict[type, Callable[[Any], pipe.Reply | None]] = {
        pipe.LoadPlan: state.load_plan,
        pipe.ForgetPlan: state.forget_plan,
        pipe.Run: state.run,
        pipe.Commit: state.commit,
        pipe.Discard: state.discard,
    }
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        handler = handlers.get(type(message))
        if handler is None:
            print(f"minimr executor: ignoring {type(message).__name__}", file=sys.stderr)
            continue
        try:
            reply = handler(message)
        except Exception as exc:  # a command's failure is its attempt's, not the executor's
            attempt = getattr(message, "attempt", None)
            reply = pipe.Failed(attempt, format_user_traceback(exc)) if attempt else None
            traceback.print_exc()
        if reply is not None:
            try:
                conn.send(reply)
            except OSError:  # the worker closed the pipe (it replaced this executor): done
                return


class _State:
    """What an executor keeps between commands: plans, where it works, the file cache."""

    def __init__(self, work_dir: str, host: str, keys: KeyPair | None) -> None:
        self.work_dir = work_dir  # a task runs in its job's folder of side files
        self.host = host
        self.keys = keys
        self.cache = FileCache(os.path.join(work_dir, SIDE_FILES))
        self.plans: dict[str, Any] = {}
        self.blobs: dict[str, tuple[str, bytes]] = {}

    def load_plan(self, message: pipe.LoadPlan) -> None:
        self.blobs[message.job_id] = (message.serializer, message.blob)

    def forget_plan(self, message: pipe.ForgetPlan) -> None:
        self.plans.pop(message.job_id, None)
        self.blobs.pop(message.job_id, None)

    def run(self, message: pipe.Run) -> pipe.Reply:
        task_log.info("attempt %s of job %s (%s) starts in executor pid %d on host %s",
                      message.attempt, message.job_id, message.kind, os.getpid(), self.host)
        reply = _run(self.plans, self.blobs, self.work_dir, self.host, message, self.keys,
                     self.cache)
        _log_outcome(reply)
        return reply

    def commit(self, message: pipe.Commit) -> pipe.Reply:
        try:
            plan = self.plans[message.job_id]
            commit_output(plan, task_from_dict(message.kind, message.task), message.temp_path)
        except Exception:
            return pipe.Failed(message.attempt, traceback.format_exc())
        return pipe.Committed(message.attempt)

    def discard(self, message: pipe.Discard) -> None:
        storage.remove(message.temp_path)  # a refused attempt's part, local or remote


def _die_with_worker() -> None:
    """Have the kernel SIGKILL this process when its worker dies, however it dies (Linux).

    A worker killed with SIGKILL cannot stop its executors; without this their user code
    would run on, orphaned: burning a CPU its successor needs and repeating side effects
    of an attempt that is already being run again elsewhere.
    """
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pipe's EOF ends the executor later
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)  # the worker died before the request was in place


def _run(
    plans: dict,
    blobs: dict,
    work_dir: str,
    host: str,
    message: pipe.Run,
    keys: KeyPair | None,
    cache: FileCache,
) -> pipe.Reply:
    """Run one attempt; every outcome becomes a reply."""
    job_id, attempt, kind, task, inputs = (
        message.job_id, message.attempt, message.kind, message.task, message.inputs
    )
    started = time.monotonic()
    counters = Counters()
    try:
        if job_id not in plans:
            serializer, blob = blobs[job_id]
            plans[job_id] = shipping.loads(blob, serializer)
        plan = plans[job_id]
        job_dir = os.path.join(work_dir, job_id)
        user_code = taskenv.entered(plan, os.path.join(job_dir, SIDE_FILES), cache, counters)
        if kind == "prepare":
            with user_code:
                output = _prepare(plan, task["step"], counters)
        elif kind == "map" and task.get("reducers") == 0:  # map-only: commits as a reduce
            with user_code:
                temp = run_map_only_task(plan, MapTask.from_dict(task), attempt, counters)
            return pipe.ReadyToCommit(attempt, temp, counters.to_dict(), time.monotonic() - started)
        elif kind == "map":
            with user_code:
                result = run_map_task(plan, MapTask.from_dict(task), job_dir, attempt, counters)
            partindex.write_ranges(result.path, result.partitions)  # what the shuffle reads
            output = MapOutputRef(len(result.partitions), sum(n for _, n in result.partitions))
        elif kind == "reduce":
            scratch = os.path.join(job_dir, attempt)
            try:
                segments = gather_segments(inputs or NO_INPUTS, job_id, task["step"],
                                           task["partition"], scratch, host, keys=keys)
                with user_code:
                    temp = run_reduce_task(
                        plan, ReduceTask.from_dict(task), segments, attempt, counters, scratch
                    )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return pipe.ReadyToCommit(attempt, temp, counters.to_dict(), time.monotonic() - started)
        elif kind == "commit":
            if task.get("skipped"):  # skip mode: report what was skipped, before _SUCCESS
                write_report(plan.output, task["skipped"])
            plan.commit_job()
            output = None
        else:
            raise ValueError(f"unknown task kind {kind!r}")
    except FetchError as exc:
        return pipe.FetchLost(attempt, tuple((m, a) for m, a in exc.lost), str(exc))
    except RecordFailed as exc:  # skip mode: the user's traceback, and which record
        error = format_user_traceback(exc.__cause__ or exc)
        return pipe.Failed(attempt, error, RecordLocation(**exc.location))
    except FINAL as exc:  # its message says it all; minimr's frames would only hide it
        return pipe.Failed(attempt, f"{type(exc).__name__}: {exc}\n", final=True)
    except Exception as exc:
        return pipe.Failed(attempt, format_user_traceback(exc))
    finally:
        sys_flush()
    return pipe.Done(attempt, output, counters.to_dict(), time.monotonic() - started)


def _log_outcome(reply: pipe.Reply) -> None:
    """minimr's last line in an attempt's log: how it ended (a failure with its traceback)."""
    if isinstance(reply, pipe.Failed):
        task_log.warning("attempt %s failed:\n%s", reply.attempt, reply.error.rstrip())
    elif isinstance(reply, pipe.FetchLost):
        task_log.warning("attempt %s could not fetch map outputs: %s", reply.attempt,
                         reply.reason)
    elif isinstance(reply, (pipe.Done, pipe.ReadyToCommit)):
        builtin = reply.counters.get(BUILTIN, {})
        shown = ", ".join(f"{name} {builtin[name]:,}" for name in BUILTIN_ORDER
                          if name in builtin)
        task_log.info("attempt %s %s in %.2f s%s", reply.attempt,
                      "done" if isinstance(reply, pipe.Done) else "wrote its output",
                      reply.elapsed, f": {shown}" if shown else "")
    sys_flush()


def _prepare(plan: Any, step: int, counters: Counters) -> TaskLists:
    """List a step's tasks: sample range boundaries if needed, then maps and reduces."""
    boundaries = None
    if plan.steps[step].needs_sample:
        boundaries = run_sample_task(plan, plan.sample_task(step), counters)
    return TaskLists(
        tuple(t.to_dict() for t in plan.map_tasks(step, boundaries)),
        tuple(t.to_dict() for t in plan.reduce_tasks(step)),
    )


def sys_flush() -> None:
    """Push buffered user output into the pipe before the worker is told the attempt ended."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
