"""The cluster's click commands: ``minimr coordinator``, ``minimr worker``, ``minimr status``.

``minimr.cli`` registers :data:`COMMANDS` on the ``minimr`` group.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import time

import click

from minimr.cluster import protocol as p
from minimr.cluster import scheduler as s
from minimr.cluster.coordinator import Coordinator
from minimr.cluster.transport import InsecureBind, ZmqClient, ZmqServer, check_bind_address, wait
from minimr.cluster.worker import run_worker

DEFAULT_ADDRESS = "tcp://127.0.0.1:7070"
STATUS_TIMEOUT = 5.0


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


@click.command()
@click.option(
    "--bind",
    default=DEFAULT_ADDRESS,
    show_default=True,
    metavar="tcp://HOST:PORT",
    help="Where to listen for workers and clients (loopback unless --insecure).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow a non-loopback --bind without authentication (trusted networks only).",
)
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(min=0.01),
    show_default=True,
    default=s.HEARTBEAT_INTERVAL,
    help="Seconds between heartbeats.",
)
@click.option(
    "--heartbeat-liveness",
    type=click.IntRange(min=1),
    show_default=True,
    default=s.HEARTBEAT_LIVENESS,
    help="Missed heartbeats before a worker is dead.",
)
@click.option("--log-level", default="INFO", show_default=True)
def coordinator(bind, insecure, heartbeat_interval, heartbeat_liveness, log_level) -> None:
    """Run a long-lived coordinator: takes jobs from clients, hands tasks to workers."""
    _logging(log_level)
    try:
        check_bind_address(bind, insecure)
    except InsecureBind as exc:
        raise click.UsageError(str(exc)) from None
    server = ZmqServer(bind)
    scheduler = s.Scheduler(
        heartbeat_interval=heartbeat_interval, heartbeat_liveness=heartbeat_liveness
    )
    coord = Coordinator(server, scheduler)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: coord.stop())
    click.echo(f"coordinator listening on {server.address}", err=True)
    try:
        coord.serve_forever()
    finally:
        server.close()


@click.command()
@click.option(
    "--coordinator",
    "address",
    default=DEFAULT_ADDRESS,
    show_default=True,
    metavar="tcp://HOST:PORT",
    help="The coordinator to join.",
)
@click.option(
    "--slots",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks run at once (default: one per core).",
)
@click.option(
    "--work-dir",
    default=None,
    metavar="DIR",
    help="Where map outputs are kept (default: the system's temporary folder).",
)
@click.option("--name", default=None, help="How this worker shows in `minimr status`.")
@click.option(
    "--host",
    default=None,
    help="The host name reducers compare to read map outputs in place "
    "(default: this machine's name).",
)
@click.option("--log-level", default="INFO", show_default=True)
def worker(address, slots, work_dir, name, host, log_level) -> None:
    """Join a cluster: register, pull tasks, run them until SIGTERM or Ctrl-C."""
    _logging(log_level)
    code = run_worker(address, slots or os.cpu_count() or 1, work_dir, name, host=host)
    if code:
        raise SystemExit(code)


@click.command()
@click.option(
    "--coordinator",
    "address",
    default=DEFAULT_ADDRESS,
    show_default=True,
    metavar="tcp://HOST:PORT",
    help="The coordinator to ask.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
def status(address, as_json) -> None:
    """Show a cluster's workers and jobs."""
    reply = fetch_status(address)
    if as_json:
        click.echo(json.dumps(reply, indent=2))
    else:
        click.echo(format_status(reply))


def fetch_status(address: str, timeout: float = STATUS_TIMEOUT) -> dict:
    """Ask the coordinator at ``address`` for its status.

    Raises:
        click.ClickException: no answer within ``timeout`` seconds.
    """
    conn = ZmqClient(address, f"s-{os.getpid()}-{secrets.token_hex(4)}".encode())
    try:
        conn.send(p.encode(p.StatusRequest()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait([conn.pollable], deadline - time.monotonic())
            while (frames := conn.recv()) is not None:
                try:
                    message = p.decode(frames)
                except p.ProtocolError:
                    continue
                if isinstance(message, p.StatusReply):
                    return message.status
                if isinstance(message, p.Reject):
                    raise click.ClickException(f"the coordinator refused: {message.reason}")
    finally:
        conn.close()
    raise click.ClickException(f"no coordinator answered at {address} within {timeout:g} s")


def format_status(status_: dict) -> str:
    """The status as human-readable tables."""
    lines = [f"workers: {len(status_['workers'])}"]
    for w in status_["workers"]:
        running = ", ".join(w["running"]) or "idle"
        lines.append(
            f"  {w['name']:<24} host {w['host']:<16} slots {w['slots']}  "
            f"heartbeat {w['last_heartbeat']:.1f}s ago  running: {running}"
        )
    lines.append(f"jobs: {len(status_['jobs'])}")
    for j in status_["jobs"]:
        lines.append(
            f"  {j['job_id']:<40} {j['state']:<10} step {j['step'] + 1}/{j['steps']}  "
            f"map {j['maps_done']}/{j['maps_total']}  reduce {j['reduces_done']}/"
            f"{j['reduces_total']}  {j['elapsed']:.1f}s"
        )
        for failure in j["failures"]:
            first = (failure["error"].strip().splitlines() or [""])[-1]
            lines.append(f"    failed: {failure['task']} on {failure['name']}: {first}")
            if failure.get("stderr"):
                tail = failure["stderr"].rstrip().splitlines()[-5:]
                lines += [f"      | {line}" for line in tail]
    return "\n".join(lines)


COMMANDS = [coordinator, worker, status]
