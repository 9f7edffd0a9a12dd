"""An operator's commands beside ``minimr status``: ``minimr cancel`` (and ``minimr logs``),
with the one-request, one-answer exchange they share with ``status`` (:func:`ask`) and the
text of ``minimr status JOB_ID`` (:func:`format_job`).

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
from minimr.cluster.transport import CurveClient, ZmqClient, wait

DEFAULT_ADDRESS = "tcp://127.0.0.1:7070"
#: seconds a command waits for the coordinator's answer
ANSWER_TIMEOUT = 5.0

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


def ask(
    address: str,
    request: p.Message,
    answers: tuple[type[p.Message], ...],
    timeout: float = ANSWER_TIMEOUT,
    curve: CurveClient | None = None,
) -> p.Message:
    """Send ``request`` to the coordinator at ``address`` and return its first answer of
    one of the ``answers`` types (on a connection of its own).

    Raises:
        click.ClickException: the coordinator refused the connection or the request
            (``Reject``: its reason), or did not answer within ``timeout`` seconds.
    """
    conn = ZmqClient(address, f"s-{os.getpid()}-{secrets.token_hex(4)}".encode(), curve=curve)
    try:
        conn.send(p.encode(request))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait([conn.pollable], min(0.1, max(0.0, deadline - time.monotonic())))
            failure = conn.handshake_failure()
            if failure is not None:
                raise click.ClickException(
                    f"cannot talk to the coordinator at {address}: {failure}"
                )
            while (frames := conn.recv()) is not None:
                try:
                    message = p.decode(frames)
                except p.ProtocolError:
                    continue
                if isinstance(message, answers):
                    return message
                if isinstance(message, p.Reject):
                    raise click.ClickException(f"the coordinator refused: {message.reason}")
    finally:
        conn.close()
    raise click.ClickException(f"no coordinator answered at {address} within {timeout:g} s")


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
    answer = ask(address, p.CancelJob(job_id, who_am_i("minimr cancel")),
                 (p.JobResult,), curve=client_curve(address, keys_dir, identity, insecure))
    if answer.state == "cancelled":
        click.echo(f"job {job_id} cancelled")
    else:
        raise click.ClickException(f"job {job_id} had already ended: {answer.state}")


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
