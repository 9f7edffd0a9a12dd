"""The cluster's click commands: ``minimr coordinator``, ``worker``, ``status``, ``keygen``.

``minimr.cli`` registers :data:`COMMANDS` on the ``minimr`` group.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import time
from collections.abc import Callable

import click

from minimr.cluster import limits, security
from minimr.cluster import protocol as p
from minimr.cluster import scheduler as s
from minimr.cluster.coordinator import Coordinator, tune_gc
from minimr.cluster.dashboard.logs import coordinator_logs
from minimr.cluster.dashboard.server import DashboardAddressError, DashboardServer
from minimr.cluster.dashboard.server import parse_address as parse_dashboard_address
from minimr.cluster.dashboard.window import Window
from minimr.cluster.journal import Journal, JournalDamaged, JournalError
from minimr.cluster.journal import move_aside as move_aside_journal
from minimr.cluster.operations import (
    _IDENTITY_HELP,
    _KEYS_HELP,
    DEFAULT_ADDRESS,
    ask,
    cancel,
    client_curve,
    coordinator_options,
    echo_json,
    format_job,
    logs,
)
from minimr.cluster.tasklogs import HEAD, TAIL
from minimr.cluster.transport import (
    COORDINATOR_MAX_MESSAGE,
    CurveClient,
    InsecureBind,
    ZmqServer,
    is_loopback,
)
from minimr.cluster.worker import run_worker
from minimr.errors import KeysError

STATUS_TIMEOUT = 5.0
#: the choices of --log-level
LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)

KEYS_LAYOUT = """\b
Keys folder layout (what `minimr keygen DIR` writes, what --keys DIR reads):
  DIR/coordinator.key           the coordinator's public key      every machine
  DIR/coordinator.key_secret    the coordinator's key pair        the coordinator only
  DIR/workers/NAME.key          authorized worker public keys     the coordinator, workers
  DIR/submitters/NAME.key       authorized submitter public keys  the coordinator
  DIR/admins/NAME.key           authorized admin public keys      the coordinator
  DIR/private/NAME.key_secret   the key pair of identity NAME     the machine acting as NAME
What each key may do: docs/security.md.
"""



def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    _raise_open_files_limit()


def _raise_open_files_limit() -> None:
    """Lift the soft open-files limit to the hard one.

    A coordinator holds a connection per worker and client, and a worker one per fetch in
    flight: the common default of 1024 made a coordinator die at about a thousand workers.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            logging.getLogger(__name__).warning("could not raise the open-files limit")


@click.command()
@click.option(
    "--bind",
    default=DEFAULT_ADDRESS,
    show_default=True,
    metavar="tcp://HOST:PORT",
    help="Where to listen for workers and clients (loopback unless --insecure).",
)
@click.option(
    "--keys",
    "keys_dir",
    default=None,
    metavar="DIR",
    help="Accept only workers and submitters whose public keys are in DIR/workers and "
    "DIR/submitters, and encrypt all traffic (DIR/coordinator.key_secret is this "
    "coordinator's key pair). SIGHUP re-reads the authorized keys.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="No keys: allow a non-loopback --bind without them (trusted networks only), or, on "
    "loopback, serve without this user's local keys (then every local account may submit).",
)
@click.option(
    "--max-message-size",
    type=click.IntRange(min=1024),
    default=COORDINATOR_MAX_MESSAGE,
    show_default=True,
    metavar="BYTES",
    help="Largest message accepted (a job's plan travels in one); a peer sending more is "
    "disconnected. Submitters of bigger plans need the same option.",
)
@click.option(
    "--max-jobs-per-submitter",
    type=click.IntRange(min=1),
    default=limits.MAX_JOBS_PER_SUBMITTER,
    show_default=True,
    help="Unfinished (queued or running) jobs one submitter key may have; without keys, all "
    "submitters together.",
)
@click.option(
    "--max-plan-bytes",
    type=click.IntRange(min=1024),
    default=limits.MAX_PLAN_BYTES_PER_SUBMITTER,
    show_default=True,
    metavar="BYTES",
    help="Bytes of plans held for one submitter's unfinished jobs (without keys, all "
    "submitters' together).",
)
@click.option(
    "--max-workers-per-key",
    type=click.IntRange(min=1),
    default=limits.MAX_WORKERS_PER_KEY,
    show_default=True,
    help="Workers registered at once with one worker key (with --keys).",
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
@click.option(
    "--backup-after",
    type=click.FloatRange(min=0, min_open=True),
    show_default=True,
    default=s.BACKUP_AFTER,
    metavar="SECONDS",
    help="A running task with no finished task of its phase to compare it with (a lone "
    "prepare or commit, a phase mostly still running) gets a backup attempt after this long, "
    "so a worker that never finishes cannot hold a job (jobs with speculation only).",
)
@click.option(
    "--keep-finished",
    type=click.IntRange(min=1),
    default=s.FINISHED_JOBS_KEPT,
    show_default=True,
    metavar="N",
    help="Finished jobs `minimr status` lists (and `minimr logs` finds), the newest; with "
    "--state-dir, `status --all` lists older ones too.",
)
@click.option(
    "--keep-finished-for",
    type=click.FloatRange(min=0),
    default=s.FINISHED_JOBS_TTL,
    show_default=True,
    metavar="SECONDS",
    help="...and none that ended longer ago than this.",
)
@click.option(
    "--state-dir",
    default=None,
    metavar="DIR",
    help="Journal job submissions and task commits in DIR (fsynced), so that a coordinator "
    "restarted with the same DIR, even after kill -9, resumes unfinished jobs without "
    "re-running finished tasks.",
)
@click.option(
    "--move-aside-damaged-journal",
    is_flag=True,
    help="If the journal in --state-dir is damaged (not just a torn last write), rename it "
    "to journal.damaged-TIME and start with none: its jobs are not resumed. Without this "
    "flag a damaged journal stops the coordinator, naming the byte offset.",
)
@click.option(
    "--dashboard",
    default=None,
    metavar="[HOST:]PORT",
    help="Serve a web dashboard of the cluster and its jobs on this port (loopback unless a "
    "host is given; 0: any free port) and print its address. See docs/dashboard.md.",
)
@click.option(
    "--dashboard-token",
    default=None,
    envvar="MINIMR_DASHBOARD_TOKEN",
    metavar="TOKEN",
    help="The token the dashboard asks of every request (default: a new random one, printed "
    "in its address). Its holder may see every job and log and cancel any job.",
)
@click.option("--log-level", type=LOG_LEVELS, default="INFO", show_default=True,
              help="The least severe lines logged.")
def coordinator(
    bind,
    keys_dir,
    insecure,
    max_message_size,
    max_jobs_per_submitter,
    max_plan_bytes,
    max_workers_per_key,
    heartbeat_interval,
    heartbeat_liveness,
    backup_after,
    keep_finished,
    keep_finished_for,
    state_dir,
    move_aside_damaged_journal,
    dashboard,
    dashboard_token,
    log_level,
) -> None:
    """Run a long-lived coordinator: takes jobs from clients, hands tasks to workers."""
    _logging(log_level)
    if dashboard is not None:
        try:
            parse_dashboard_address(dashboard)
        except DashboardAddressError as exc:
            raise click.BadParameter(str(exc), param_hint="--dashboard") from None
    try:
        curve, access = security.coordinator_keys(bind, keys_dir, insecure)
    except InsecureBind as exc:
        raise click.UsageError(str(exc)) from None
    server = ZmqServer(bind, max_message_size=max_message_size, curve=curve)
    scheduler = s.Scheduler(
        heartbeat_interval=heartbeat_interval,
        heartbeat_liveness=heartbeat_liveness,
        backup_after=backup_after,
        keep_finished=keep_finished,
        keep_finished_for=keep_finished_for,
    )
    bounds = limits.Limits(
        max_message_size, max_jobs_per_submitter, max_plan_bytes, max_workers_per_key
    )
    window = Window() if dashboard is not None else None
    coord = Coordinator(server, scheduler, access=access, limits=bounds, window=window)
    journal = None
    if state_dir is not None:
        try:
            journal = _resume(coord, state_dir, move_aside_damaged_journal)
        except (OSError, JournalError) as exc:
            server.close()
            raise click.ClickException(f"--state-dir {state_dir}: {exc}") from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: coord.stop())
    if access is not None:
        signal.signal(signal.SIGHUP, lambda *_: access.reload())
        whose = "" if keys_dir else f"this user's local keys in {access.folder}, "
        click.echo(f"coordinator keys: {whose}{access.describe()}", err=True)
    click.echo(f"coordinator listening on {server.address}", err=True)
    web = None
    if window is not None:
        try:
            web = DashboardServer(window, dashboard, dashboard_token,
                                  logs=_dashboard_logs(server.address, keys_dir, insecure)
                                  ).start()
        except OSError as exc:
            server.close()
            raise click.ClickException(f"--dashboard {dashboard}: {exc}") from None
        click.echo(f"dashboard: {web.url}", err=True)
    tune_gc()
    try:
        coord.serve_forever()
    finally:
        if web is not None:
            web.close()
        server.close()
        if journal is not None:
            journal.close()


def _dashboard_logs(address: str, keys_dir: str | None, insecure: bool
                    ) -> Callable[[str, str], str | None] | None:
    """The dashboard's log reader: a client of this coordinator with the keys ``minimr logs``
    would use here (none if this machine holds no client key of the cluster's)."""
    try:
        return coordinator_logs(address, security.client_keys(address, keys_dir,
                                                              insecure=insecure))
    except KeysError:
        return None


def _resume(coord: Coordinator, state_dir: str, move_aside: bool) -> Journal:
    """Open the journal in ``state_dir`` and replay it into ``coord``; returns the journal.

    A torn last write (never acknowledged) is cut off and said so. Damage anywhere else
    raises :class:`JournalDamaged` (the file kept as it is), unless ``move_aside``: the
    file is then renamed out of the way, the coordinator starts with no jobs, and both
    the log and ``minimr status`` say so.
    """
    try:
        journal, contents = Journal.open(state_dir)
    except JournalDamaged as exc:
        damaged = exc
    else:
        try:
            resumed = coord.recover(journal, contents.records)
        except JournalDamaged as exc:
            journal.close(sync=False)
            damaged = exc
        else:
            if contents.torn:
                click.echo(
                    f"journal in {state_dir}: cut a torn last write ({contents.torn_bytes} "
                    f"bytes at offset {contents.good_bytes}, never acknowledged)",
                    err=True,
                )
            click.echo(f"journal in {state_dir}: {resumed} unfinished job(s) resume", err=True)
            return journal
    if not move_aside:
        raise JournalError(
            f"{damaged}. Inspect or restore it, or start with --move-aside-damaged-journal "
            "to set it aside and start without its jobs"
        )
    moved = move_aside_journal(damaged.path)
    message = (
        f"the journal was damaged at byte offset {damaged.offset} ({damaged.reason}); it was "
        f"moved to {moved} and this coordinator started without its jobs"
    )
    click.echo(f"journal in {state_dir}: {message}", err=True)
    coord.journal_note = {"damaged": moved, "offset": damaged.offset, "message": message}
    journal, contents = Journal.open(state_dir)
    coord.recover(journal, contents.records)
    return journal


@click.command()
@click.option(
    "--coordinator",
    "-c",
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
    help="Where map outputs are kept: a folder only you can write (not a symlink, no group or"
    " world write); default $TMPDIR/minimr-<uid>, made mode 0700.",
)
@click.option("--name", default=None, help="How this worker shows in `minimr status`.")
@click.option(
    "--log-dir",
    default=None,
    metavar="DIR",
    help="Keep its attempts' logs (stdout, stderr, logging; `minimr logs`) in DIR/JOB/ "
    "ATTEMPT.log, kept when it stops (default: in its work folder, removed with it). It "
    "keeps its last 50 jobs' logs.",
)
@click.option(
    "--log-head",
    type=click.IntRange(min=0, max=1 << 26),
    default=HEAD,
    show_default=True,
    metavar="BYTES",
    help="Bytes kept of the start of each attempt's output...",
)
@click.option(
    "--log-tail",
    type=click.IntRange(min=0, max=1 << 26),
    default=TAIL,
    show_default=True,
    metavar="BYTES",
    help="...and of its end; what lies between is cut, and the cut marked.",
)
@click.option(
    "--host",
    default=None,
    help="The host name reducers compare to read map outputs in place "
    "(default: this machine's name).",
)
@click.option(
    "--shuffle-port",
    type=click.IntRange(min=0, max=65535),
    default=0,
    show_default=True,
    help="The port this worker serves its map outputs on to other workers (0: any free "
    "port; fix one to open it in a firewall).",
)
@click.option("--keys", "keys_dir", default=None, metavar="DIR", help=_KEYS_HELP)
@click.option(
    "--identity", default=security.WORKER, show_default=True, metavar="NAME", help=_IDENTITY_HELP
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Join without keys: a non-loopback coordinator (trusted networks only), or a "
    "loopback one started with --insecure.",
)
@click.option("--log-level", type=LOG_LEVELS, default="INFO", show_default=True,
              help="The least severe lines logged.")
def worker(
    address, slots, work_dir, name, log_dir, log_head, log_tail, host, shuffle_port, keys_dir,
    identity, insecure, log_level
) -> None:
    """Join a cluster: register, pull tasks, run them until SIGTERM or Ctrl-C.

    With --keys DIR it needs DIR/coordinator.key, DIR/private/NAME.key_secret (its
    identity) and DIR/workers/*.key (the workers its shuffle server serves). Without, a
    loopback coordinator is joined with this user's local keys (docs/security.md).

    With zstandard installed (pip install 'minimr[zstd]'), map outputs fetched from
    another machine travel zstd-compressed; MINIMR_SHUFFLE_CODEC=none turns that off.
    """
    _logging(log_level)
    if keys_dir is None and not insecure and not is_loopback(address):
        raise click.UsageError(
            f"refusing to join {address} without keys: this worker would run whatever code "
            "reaches that address and serve its map outputs to anyone. Pass --keys DIR "
            "(`minimr keygen --help`), or --insecure if the network is trusted."
        )
    keys = security.worker_keys(address, keys_dir, identity, insecure)
    code = run_worker(
        address,
        slots or os.cpu_count() or 1,
        work_dir,
        name,
        host=host,
        keys=keys,
        shuffle_port=shuffle_port,
        log_dir=log_dir,
        log_head=log_head,
        log_tail=log_tail,
    )
    if code:
        raise SystemExit(code)


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


@click.command(epilog=KEYS_LAYOUT)
@click.argument("folder", metavar="DIR")
@click.option(
    "--worker",
    "workers",
    multiple=True,
    metavar="NAME",
    help="Add a worker identity NAME (repeatable).",
)
@click.option(
    "--submitter",
    "submitters",
    multiple=True,
    metavar="NAME",
    help="Add a submitter identity NAME (repeatable).",
)
@click.option(
    "--admin",
    "admins",
    multiple=True,
    metavar="NAME",
    help="Add an admin identity NAME (repeatable): a submitter that may also watch, see "
    "and cancel every job.",
)
def keygen(folder, workers, submitters, admins) -> None:
    """Make a cluster's CURVE keys in DIR, or add identities to it.

    A new DIR gets the coordinator's key pair and, unless names are given, one worker
    identity named `worker` and one submitter identity named `submitter`: copy DIR to
    every machine and pass --keys DIR (the defaults of --identity pick them). For a key
    per machine or per person, add identities with --worker NAME / --submitter NAME /
    --admin NAME and give each machine only coordinator.key, workers/ and its own
    private/NAME.key_secret (the coordinator needs coordinator.key_secret, workers/,
    submitters/ and admins/). A submitter watches and cancels its own jobs; an admin, every
    job (docs/security.md).

    To revoke a key, delete its .key file from workers/, submitters/ or admins/ and send
    SIGHUP to the coordinator (and to the workers, for a worker key), or restart them.
    """
    for path in security.keygen(folder, list(workers), list(submitters), list(admins)):
        click.echo(path)


COMMANDS = [coordinator, worker, status, logs, cancel, keygen]
