"""``minimr coordinator``: a long-lived coordinator, with its journal resumed (``--state-dir``)
and its dashboard served (``--dashboard``)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import click

from minimr.cluster.client.operations import DEFAULT_ADDRESS
from minimr.cluster.commands.daemon import LOG_LEVELS, configure
from minimr.cluster.coordinator import limits
from minimr.cluster.coordinator.coordinator import Coordinator, tune_gc
from minimr.cluster.coordinator.journal import Journal, JournalDamaged, JournalError
from minimr.cluster.coordinator.journal import move_aside as move_aside_journal
from minimr.cluster.dashboard.logs import coordinator_logs
from minimr.cluster.dashboard.server import DashboardAddressError, DashboardServer
from minimr.cluster.dashboard.server import parse_address as parse_dashboard_address
from minimr.cluster.dashboard.window import Window
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import security
from minimr.cluster.wire.transport import COORDINATOR_MAX_MESSAGE, InsecureBind, ZmqServer
from minimr.errors import KeysError


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
    configure(log_level)
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
        signal.signal(signum, lambda *_: coord.stop_from_signal())
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
