"""``minimr logs``: the output of a job's task attempts, asked of a coordinator (which asks
the workers that keep them); :func:`fetch_logs` is ``Result.logs`` on a cluster."""

from __future__ import annotations

import time

import click

from minimr.cluster.client.operations import Asker, client_curve, coordinator_options
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.transport import CurveClient

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
