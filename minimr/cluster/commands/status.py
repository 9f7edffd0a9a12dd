"""``minimr status``: a cluster's workers and jobs, or one job; :func:`fetch_status` asks, and
:func:`format_status` draws the tables."""

from __future__ import annotations

import time

import click

from minimr.cluster import protocol as p
from minimr.cluster import scheduler as s
from minimr.cluster import security
from minimr.cluster.operations import ask, client_curve, coordinator_options, echo_json, format_job
from minimr.cluster.transport import CurveClient

STATUS_TIMEOUT = 5.0


@click.command()
@click.argument("job_id", required=False, metavar="[JOB_ID]")
@coordinator_options
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Also list the finished jobs the coordinator remembers in its --state-dir (beyond "
    f"the last {s.FINISHED_JOBS_KEPT} of the last day it keeps in memory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
def status(job_id, address, keys_dir, identity, insecure, show_all, as_json) -> None:
    """Show a cluster's workers and jobs (another submitter's jobs only as counts), or one job
    in detail (JOB_ID, as `minimr submit` printed it): its phases, tasks done of total,
    failed attempts, counters and failure.

    Queued jobs wait for a free slot behind earlier ones (first come, first served). The
    coordinator keeps the last 50 finished jobs, none older than a day; with --state-dir it
    also remembers the summaries of the last 10,000 (--all lists the newest 1,000).
    """
    curve = client_curve(address, keys_dir, identity, insecure)
    reply = fetch_status(address, curve=curve, insecure=curve is None, job_id=job_id,
                         history=show_all)
    if as_json:
        echo_json(reply)
    elif job_id is not None:
        click.echo(format_job(reply["job"], reply.get("from_history", False)))
    else:
        click.echo(format_status(reply))


def fetch_status(
    address: str,
    timeout: float = STATUS_TIMEOUT,
    curve: CurveClient | None = None,
    insecure: bool = False,
    job_id: str | None = None,
    history: bool = False,
) -> dict:
    """Ask the coordinator at ``address`` for its status (with CURVE keys if given; else,
    on loopback, with this user's local keys unless ``insecure``): the workers and jobs,
    with ``history`` the finished jobs of its ``--state-dir`` too; or, with ``job_id``,
    ``{"job": views.job_detail(...)}``.

    Raises:
        click.ClickException: no answer within ``timeout`` seconds, or the coordinator
            refused the connection or the request (an unknown job).
    """
    if curve is None:
        curve = security.client_keys(address, insecure=insecure)
    request = p.StatusRequest(job_id, history)
    return ask(address, request, (p.StatusReply,), timeout, curve).status  # type: ignore[attr-defined]


def format_status(status_: dict) -> str:
    """The status as human-readable tables."""
    lines = [f"workers: {len(status_['workers'])}"]
    for w in status_["workers"]:
        others = w.get("busy", len(w["running"])) - len(w["running"])
        running = ", ".join([*w["running"], *([f"{others} of other jobs"] if others else [])])
        running = running or "idle"
        lines.append(
            f"  {w['name']:<24} host {w['host']:<16} slots {w['slots']}  "
            f"heartbeat {w['last_heartbeat']:.1f}s ago  running: {running}"
        )
    if "journal" in status_:
        lines.append(f"journal: {status_['journal']['message']}")
    other = status_.get("other_jobs")
    if other is None:
        lines.append(f"jobs: {len(status_['jobs'])}")
    else:  # a submitter sees its own jobs; of the others, how many
        lines.append(
            f"jobs: {len(status_['jobs'])} of yours; other submitters': "
            f"{other['running']} running, {other['finished']} finished"
        )
    for j in status_["jobs"]:
        if j["state"] == "queued":
            lines.append(
                f"  {j['job_id']:<40} {'queued':<10} {_ordinal(j.get('queue_position', 1))} "
                f"in line, waiting {j['elapsed']:.1f}s"
            )
            continue
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
    if "history" in status_:
        lines += _format_history(status_["history"])
    return "\n".join(lines)


def _format_history(history: list[dict] | None) -> list[str]:
    if history is None:
        return ["history: none kept (the coordinator runs without --state-dir)"]
    lines = [f"history ({len(history)} finished jobs, oldest first):"]
    for entry in history:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.get("submitted_at", 0)))
        why = entry.get("error") or ""
        lines.append(
            f"  {entry.get('job_id', '?'):<40} {entry.get('state', '?'):<10} {when}  "
            f"{entry.get('elapsed', 0):.1f}s{'  ' + why[:120] if why else ''}"
        )
    return lines


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
