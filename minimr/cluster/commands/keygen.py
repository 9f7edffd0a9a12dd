"""``minimr keygen``: a cluster's CURVE keys folder, made or added to."""

from __future__ import annotations

import click

from minimr.cluster.wire import security

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
