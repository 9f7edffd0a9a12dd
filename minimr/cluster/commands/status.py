"""``minimr status``: a cluster's workers and jobs, or one job; :func:`fetch_status` asks, and
:func:`format_status` draws the tables."""

from __future__ import annotations

import json
import time

import click

from minimr.cluster.client.operations import ask, client_curve, coordinator_options
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import security
from minimr.cluster.wire.transport import CurveClient

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
