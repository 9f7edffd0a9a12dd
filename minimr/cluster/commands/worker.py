"""``minimr worker``: join a cluster and run its tasks."""

from __future__ import annotations

import os

import click

from minimr.cluster.client.operations import _IDENTITY_HELP, _KEYS_HELP, DEFAULT_ADDRESS
from minimr.cluster.commands.daemon import LOG_LEVELS, configure
from minimr.cluster.wire import security
from minimr.cluster.wire.transport import is_loopback
from minimr.cluster.worker.tasklogs import HEAD, TAIL
from minimr.cluster.worker.worker import run_worker


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
    configure(log_level)
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
