"""An operator's commands beside ``minimr status``: ``minimr cancel`` and ``minimr logs``,
with the one-request, one-answer exchange they share with ``status`` (:class:`Asker`) and
the text of ``minimr status JOB_ID`` (:func:`format_job`).

``cluster.commands`` registers the commands on the ``minimr`` group. What they show comes
from the coordinator's plain-data views (``views.py``): the same data ``--json`` prints.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import time

import click

from minimr.cluster import protocol as p
from minimr.cluster import security
from minimr.cluster import wirecodec as wire
from minimr.cluster.transport import CurveClient, ZmqClient, wait

DEFAULT_ADDRESS = "tcp://127.0.0.1:7070"
#: seconds a command waits for the coordinator's answer
ANSWER_TIMEOUT = 10.0  # a log request waits for a worker too (logrelay.LOG_TIMEOUT)

_KEYS_HELP = "CURVE keys folder (see `minimr keygen --help`): encrypt and authenticate."
_IDENTITY_HELP = "Which key pair of the keys folder to use: DIR/private/NAME.key_secret."


def coordinator_options(command):
    """The options every command that asks a coordinator takes: ``-c/--coordinator``,
    ``--keys``, ``--identity``, ``--insecure`` (as ``minimr submit`` spells them)."""
    for option in reversed([
        click.option("--coordinator", "-c", "address", default=DEFAULT_ADDRESS,
                     show_default=True, metavar="tcp://HOST:PORT",
                     help="The coordinator to ask."),
        click.option("--keys", "keys_dir", default=None, metavar="DIR", help=_KEYS_HELP),
        click.option("--identity", default=security.SUBMITTER, show_default=True,
                     metavar="NAME", help=_IDENTITY_HELP),
        click.option("--insecure", is_flag=True,
                     help="Ask without keys (a coordinator started with --insecure)."),
    ]):
        command = option(command)
    return command


def client_curve(address: str, keys_dir: str | None, identity: str, insecure: bool
                 ) -> CurveClient | None:
    """The submitter keys to ask with: those of ``keys_dir``; else, on loopback and unless
    ``insecure``, this user's local keys (``security.client_keys``)."""
    return security.client_keys(address, keys_dir, identity, insecure)


class Asker:
    """One connection to a coordinator, for requests each answered by one message (use as a
    context manager).

    Raises (from :meth:`ask`):
        click.ClickException: the coordinator refused the connection or the request
            (``Reject``: its reason), or did not answer within ``timeout`` seconds.
    """

    def __init__(self, address: str, curve: CurveClient | None = None,
                 timeout: float = ANSWER_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self.conn = ZmqClient(address, f"s-{os.getpid()}-{secrets.token_hex(4)}".encode(),
                              curve=curve)

    def ask(self, request: p.Message, answers: tuple[type[p.Message], ...]) -> p.Message:
        """Send ``request``; return the first answer of one of the ``answers`` types."""
        self.conn.send(wire.encode(request))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            wait([self.conn.pollable], min(0.1, max(0.0, deadline - time.monotonic())))
            failure = self.conn.handshake_failure()
            if failure is not None:
                raise click.ClickException(
                    f"cannot talk to the coordinator at {self.address}: {failure}"
                )
            while (frames := self.conn.recv()) is not None:
                try:
                    message = wire.decode(frames)
                except wire.ProtocolError:
                    continue
                if isinstance(message, answers):
                    return message
                if isinstance(message, p.Reject):
                    raise click.ClickException(f"the coordinator refused: {message.reason}")
        raise click.ClickException(
            f"no coordinator answered at {self.address} within {self.timeout:g} s"
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Asker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def ask(
    address: str,
    request: p.Message,
    answers: tuple[type[p.Message], ...],
    timeout: float = ANSWER_TIMEOUT,
    curve: CurveClient | None = None,
) -> p.Message:
    """Send ``request`` to the coordinator at ``address`` and return its first answer of
    one of the ``answers`` types, on a connection of its own (see :class:`Asker`)."""
    with Asker(address, curve, timeout) as asker:
        return asker.ask(request, answers)


def who_am_i(command: str) -> str:
    """How this process names itself to a coordinator it asks to cancel a job."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{command} (user {user} on {socket.gethostname()}, pid {os.getpid()})"[:200]


# --- minimr cancel ----------------------------------------------------------------------


@click.command()
@click.argument("job_id", metavar="JOB_ID")
@coordinator_options
def cancel(job_id, address, keys_dir, identity, insecure) -> None:
    """Cancel a job on a cluster, whether or not its client is still there.

    JOB_ID is what `minimr submit` printed first (`minimr status` lists them). Its running
    attempts are stopped and it ends as cancelled; what it wrote under OUTPUT/_temporary is
    removed by its client if that is still waiting, else left for `--overwrite`.
    """
    with Asker(address, client_curve(address, keys_dir, identity, insecure)) as asker:
        before = asker.ask(p.StatusRequest(job_id), (p.StatusReply,)).status  # type: ignore[attr-defined]
        state = before["job"]["state"]
        if before.get("from_history") or state not in ("running", "queued"):
            raise click.ClickException(f"job {job_id} had already ended: {state}")
        answer = asker.ask(p.CancelJob(job_id, who_am_i("minimr cancel")), (p.JobResult,))
    if answer.state != "cancelled":  # type: ignore[attr-defined]
        raise click.ClickException(f"job {job_id} ended before the cancel: {answer.state}")  # type: ignore[attr-defined]
    click.echo(f"job {job_id} cancelled")


# --- minimr status JOB_ID -----------------------------------------------------------------


def format_job(job: dict, from_history: bool = False) -> str:
    """``minimr status JOB_ID``: a job's state, its phases, its failed attempts, counters."""
    lines = [f"job {job['job_id']} ({job.get('name', '')}): {job['state']}, "
             f"{job['elapsed']:.1f} s"]
    if from_history:
        lines.append("  (finished: its summary from the coordinator's history; no details)")
        if job.get("error"):
            lines.append(f"  why: {job['error']}")
        return "\n".join(lines)
    if job["state"] == "queued":
        lines.append(f"  queued for {job['queued_for']:.1f} s: it starts when a slot is free")
    if job.get("cancelled_by"):
        lines.append(f"  cancelled by {job['cancelled_by']}")
    lines.append("phases:")
    for phase in job["phases"]:
        more = [f"{phase[k]} {k}" for k in ("running", "pending", "waiting") if phase[k]]
        if phase["failed_attempts"]:
            more.append(f"{phase['failed_attempts']} failed attempts")
        lines.append(f"  step {phase['step'] + 1} {phase['kind']:<8} {phase['done']}/"
                     f"{phase['total']} done{'  (' + ', '.join(more) + ')' if more else ''}")
    attempts = [a for t in job["tasks"] for a in t["attempts"]]
    states = {}
    for attempt in attempts:
        states[attempt["state"]] = states.get(attempt["state"], 0) + 1
    if attempts:
        lines.append(f"attempts: {len(attempts)} (" + ", ".join(
            f"{n} {state}" for state, n in sorted(states.items())) + ")")
    failed = [a for a in attempts if a["state"] in ("failed", "lost")]
    running = [a for a in attempts if a["state"] == "running"]
    if running:
        lines.append(f"running: {len(running)} attempts")
        lines += [f"  {a['attempt']:<16} on {a['worker']} for {a['duration']:.1f} s"
                  for a in running[:20]]
    if failed:
        lines.append(f"failed or lost attempts: {len(failed)}")
        lines += [f"  {a['attempt']:<16} on {a['worker']}: {a['state']}: {a['why']}"
                  for a in failed[-20:]]
    if job.get("error") and job["state"] == "failed":
        lines.append(f"failure: {job['error'].get('message', '')}")
        if job["error"].get("attempt"):
            lines.append(f"  its last attempt's log: minimr logs {job['job_id']} "
                         f"{job['error']['attempt']}")
    counters = job.get("counters") or {}
    if counters:
        from minimr.dataflow.counters import Counters

        lines.append("counters (finished tasks):")
        lines += ["  " + line for line in Counters(counters).format_table().splitlines()]
    return "\n".join(lines)


def echo_json(data: object) -> None:
    """Print plain data as indented JSON (``--json``)."""
    click.echo(json.dumps(data, indent=2))


# --- minimr logs ----------------------------------------------------------------------------

#: seconds between two looks while following
FOLLOW_INTERVAL = 0.5


@click.command()
@click.argument("job_id", metavar="JOB_ID")
@click.argument("which", required=False, metavar="[TASK_OR_ATTEMPT]")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing as the output comes: of an attempt while it runs, of a "
                   "task's attempts in turn, or of a whole job's attempts as each ends, until "
                   "the job ends.")
@coordinator_options
def logs(job_id, which, follow, address, keys_dir, identity, insecure) -> None:
    """The output of a job's task attempts on a cluster: stdout, stderr and logging of the
    job's code, and minimr's own lines (when each attempt started, how it ended, the
    traceback of a failure).

    TASK_OR_ATTEMPT is a task (s0-m00003: each of its attempts) or one attempt
    (s0-m00003-a2), as `minimr status JOB_ID` lists them; without it, every attempt of the
    job. Each attempt's log keeps the first 64 KiB and the last 192 KiB of its output, the
    cut marked. Its worker keeps it for its last 50 jobs; a worker that stopped or died took
    its logs with it, and says so here. An embedded run (`minimr submit` without
    --coordinator) keeps them in OUTPUT/_logs/ instead.
    """
    curve = client_curve(address, keys_dir, identity, insecure)
    with Asker(address, curve) as asker:
        reader = LogReader(asker, job_id)
        if follow and which and "-a" not in which:
            reader.follow_task(which)  # the task may not have started yet
        elif follow and not which:
            reader.follow_job()
        elif follow:
            reader.follow(reader.attempts(which)[0])
        else:
            chosen = reader.attempts(which)
            for attempt in chosen:
                if len(chosen) > 1:
                    click.echo(header(attempt))
                _write(reader.text(attempt))


class LogReader:
    """A job's attempts and their logs, asked of a coordinator (for ``minimr logs`` and
    ``Result.logs``).

    Raises (from its methods):
        click.ClickException: an unknown job, task or attempt, or no answer.
    """

    def __init__(self, asker: Asker, job_id: str) -> None:
        self.asker = asker
        self.job_id = job_id

    def job(self) -> dict:
        """The job's detail (``views.job_detail``)."""
        reply = self.asker.ask(p.StatusRequest(self.job_id), (p.StatusReply,))
        status = reply.status  # type: ignore[attr-defined]
        if status.get("from_history"):
            raise click.ClickException(
                f"job {self.job_id} ended long ago: the coordinator keeps its summary only, "
                "not its attempts (minimr status --all lists it)")
        return status["job"]

    def attempts(self, which: str | None = None, job: dict | None = None) -> list[dict]:
        """The job's attempts (``views.attempt_view``) that ``which`` names: a task's, one,
        or (None) all, in the order they started."""
        job = job if job is not None else self.job()
        found = [a for task in job["tasks"] for a in task["attempts"]
                 if not which or which in (a["task"], a["attempt"])]
        if which and not found:
            raise click.ClickException(
                f"job {self.job_id} has no task or attempt {which} (yet): `minimr status "
                f"{self.job_id}` lists them")
        return sorted(found, key=lambda a: (a["start"], a["attempt"]))

    def read(self, attempt: dict, offset: int = 0) -> p.LogReply:
        """An attempt's log from ``offset`` (of its output stream)."""
        if attempt["log"] == "gone":
            return p.LogReply(self.job_id, attempt["attempt"], offset, False,
                              _gone(attempt), b"")
        reply = self.asker.ask(p.LogRequest(self.job_id, attempt["attempt"], offset),
                               (p.LogReply,))
        return reply  # type: ignore[return-value]

    def text(self, attempt: dict) -> bytes:
        """An attempt's whole log, or a line saying why there is none."""
        reply = self.read(attempt)
        if reply.error:
            return f"(no log: {reply.error})\n".encode()
        return reply.data

    def follow(self, attempt: dict) -> None:
        """Print an attempt's log as it comes, until the attempt ends."""
        offset = 0
        while True:
            reply = self.read(attempt, offset)
            if reply.error:
                _write(f"(no log: {reply.error})\n".encode())
                return
            _write(reply.data)
            offset = reply.offset
            if not reply.running:
                return
            time.sleep(FOLLOW_INTERVAL)

    def follow_task(self, task: str) -> None:
        """Follow a task's attempts one after the other, waiting for the task to start,
        until it is done or failed, or the job ended."""
        done: set[str] = set()
        while True:
            job = self.job()
            found = [t for t in job["tasks"] if t["task"] == task]
            fresh = [a for t in found for a in t["attempts"] if a["attempt"] not in done]
            if not fresh:
                ended = found and found[0]["state"] in ("done", "failed")
                if ended or job["state"] not in ("running", "queued"):
                    return
                time.sleep(FOLLOW_INTERVAL)
                continue
            for attempt in fresh:
                click.echo(header(attempt))
                self.follow(attempt)
                done.add(attempt["attempt"])

    def follow_job(self) -> None:
        """Print each attempt's log once it has ended, until the job has."""
        shown: set[str] = set()
        while True:
            job = self.job()
            for attempt in self.attempts(None, job):
                if attempt["state"] != "running" and attempt["attempt"] not in shown:
                    click.echo(header(attempt))
                    _write(self.text(attempt))
                    shown.add(attempt["attempt"])
            if job["state"] not in ("running", "queued"):
                return
            time.sleep(FOLLOW_INTERVAL)


def header(attempt: dict) -> str:
    """The line above an attempt's log when several are shown (as ``tail`` heads files)."""
    why = f": {attempt['why']}" if attempt.get("why") else ""
    return (f"==> {attempt['attempt']} on worker {attempt['worker']}, "
            f"{attempt['state']}{why} <==")


def _gone(attempt: dict) -> str:
    return (f"worker {attempt['worker']}, which ran {attempt['attempt']}, is gone (it left or "
            "died): its logs went with it")


def _write(data: bytes) -> None:
    stream = click.get_binary_stream("stdout")
    stream.write(data if data.endswith(b"\n") or not data else data + b"\n")
    stream.flush()


def fetch_logs(address: str, job_id: str, curve: CurveClient | None,
               which: str | None = None) -> dict[str, str]:
    """Every log ``which`` names of a job on the cluster at ``address``, by attempt id, as
    text (``Result.logs``); an attempt without one says why."""
    with Asker(address, curve) as asker:
        reader = LogReader(asker, job_id)
        return {a["attempt"]: reader.text(a).decode("utf-8", "replace")
                for a in reader.attempts(which)}
