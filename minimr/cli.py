"""The ``minimr`` command: ``submit`` a job; the cluster commands come from ``cluster.commands``."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

import click

from minimr import runner
from minimr.cluster import commands as cluster_commands
from minimr.dataflow import skips
from minimr.dataflow.counters import BUILTIN, INVALID_UTF8_RECORDS
from minimr.dataflow.format.encodings import OUTPUT_FORMATS
from minimr.dataflow.format.overwrite import FORCE
from minimr.errors import MinimrError, format_user_traceback
from minimr.jobcommand import JobCommand, job_options
from minimr.planning import DEFAULT_REDUCERS
from minimr.progress import reporter
from minimr.replay import replay_cli

SUBMIT_HELP = """Run the map/reduce job in JOB (a .py file; JOB.py:ClassName picks one class).

\b
Examples:
  minimr submit jobs/wordcount.py --input data/text --output out/wc
  minimr submit jobs/wordcount.py --input 'logs/*.gz' --output out/wc --reducers 8 --overwrite
  minimr submit jobs/grep.py --input data/text --output out/grep --pattern 'whale|ship'

A job's own options (declared with minimr.Option) follow; `minimr submit JOB.py --help`
lists them after these.

Output: OUTPUT/part-00000 ... one per reduce partition, each line `repr(key) TAB repr(value)`
(or --output-format jsonl, tsv), keys sorted within a part (a map-only job: part-m-00000 ...
one per map task, in the map's order); OUTPUT/_SUCCESS is written last, only when every part
is committed.
A run that fails or is cancelled (Ctrl-C, SIGTERM) removes what it wrote, so the same command
can run again.
"""


def _check_dashboard(address: str, inline: bool, coordinator: str | None) -> None:
    """``--dashboard`` is the embedded cluster's, and takes ``[HOST:]PORT``."""
    from minimr.cluster.dashboard.server import DashboardAddressError, parse_address

    if inline or coordinator:
        raise click.UsageError("--dashboard serves the embedded cluster's dashboard: a running"
                               " coordinator serves its own (minimr coordinator --dashboard),"
                               " and --inline has none")
    try:
        parse_address(address)
    except DashboardAddressError as exc:
        raise click.BadParameter(str(exc), param_hint="--dashboard-address") from None


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be: the same cancellation."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While the job runs, SIGTERM cancels it as Ctrl-C does (the job is cancelled on the
    cluster, the embedded cluster stopped, the output cleaned up) instead of ending the
    process where it stands. A second SIGTERM, during that clean-up, ends it at once."""

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (an embedding program): leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Main(click.Group):
    """The ``minimr`` group: ``submit`` and ``replay`` are here; a cluster command's module is
    imported only when that command is asked for (``cluster.commands.load``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *cluster_commands.COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in cluster_commands.COMMANDS and name not in self.commands:
            self.add_command(cluster_commands.load(name))
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        if args and args[0] not in self.list_commands(ctx):  # so "Did you mean" knows them all
            for name in cluster_commands.COMMANDS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="minimr")
def main() -> None:
    """minimr: MapReduce for Python. Write map and reduce in a file, then `minimr submit` it."""


@main.command(cls=JobCommand, help=SUBMIT_HELP)
@click.argument("job", metavar="JOB")
@click.option("--input", "-i", "inputs", multiple=True, required=True, metavar="PATH",
              help="A file, folder (its files, skipping names that start with _ or .) or glob;"
                   " local or a URL such as s3://bucket/logs (pip install 'minimr[s3]')."
                   " Repeatable. .gz, .bz2 and .xz are read transparently, .zst with"
                   " pip install 'minimr[zstd]' (one task per compressed file).")
@click.option("--output", "-o", required=True, metavar="DIR",
              help="The output folder, local or a URL such as s3://bucket/out.")
@click.option("--reducers", "-r", type=click.IntRange(min=0), default=None,
              help=f"Reduce partitions (default: the job's, else {DEFAULT_REDUCERS});"
                   " 0: map-only, each map task writes its output, unsorted, to a part file"
                   " (part-m-00000 ...) with no shuffle (a job with a reduce is refused).")
@click.option("--inline", is_flag=True,
              help="Run every task in this process, in order (the debugger: real tracebacks).")
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None,
              help="Local worker processes of an embedded cluster (default: one per core).")
@click.option("--coordinator", "-c", metavar="tcp://HOST:PORT", default=None,
              help="Ship the job to a running cluster instead of running it here.")
@click.option("--keys", metavar="DIR", default=None,
              help="The cluster's keys folder (minimr keygen --help): uses DIR/coordinator.key"
                   " and the key pair DIR/private/IDENTITY.key_secret.")
@click.option("--identity", metavar="NAME", default="submitter", show_default=True,
              help="Which submitter key pair of --keys to use.")
@click.option("--insecure", is_flag=True,
              help="Reach --coordinator without keys (one started with --insecure). Without"
                   " --keys, a loopback coordinator is reached with this user's local keys.")
@click.option("--split-size", default="64MB", show_default=True, metavar="SIZE",
              help="Bytes of input per map task: 64MB, 256KB or a byte count.")
@click.option("--combine-files", is_flag=True,
              help="Pack small input files into map tasks of up to --split-size: the fewest"
                   " tasks. Without it small files are packed into at least 32 tasks, so"
                   " every worker gets work.")
@click.option("--sort-buffer", default="64MB", show_default=True, metavar="SIZE",
              help="Map-side buffer before output is combined and spilled to disk.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=4, show_default=True,
              help="Attempts per task before the job fails (cluster runs).")
@click.option("--no-speculation", "speculation", flag_value=False, default=True,
              help="No backup attempts for stragglers (cluster runs).")
@click.option("--task-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="An attempt running longer counts as failed.")
@click.option("--worker-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Fail the job after waiting this long with no worker.")
@click.option("--skip-bad-records", is_flag=True,
              help="Skip a record (or key group) that made two attempts fail; each is reported"
                   " under OUTPUT/_skipped/.")
@click.option("--max-skips", type=click.IntRange(min=0), default=skips.MAX_SKIPS,
              show_default=True, help="Records a job may skip in all with --skip-bad-records.")
@click.option("--serializer", type=click.Choice(["cloudpickle", "dill"]), default="cloudpickle",
              show_default=True,
              help="How the job is shipped to workers. dill pickles what cloudpickle refuses;"
                   " with it, each worker imports the job file (and the modules beside it)"
                   " again from the source sent with the job.")
@click.option("--max-message-size", type=click.IntRange(min=1024), default=None, metavar="BYTES",
              help="Largest plan sent to the coordinator (64 MiB, the default of its own"
                   " --max-message-size); raise both together.")
@click.option("--file", "files", multiple=True, metavar="PATH",
              help="A side file (or a folder of files) to ship with the job (repeatable):"
                   " each task opens it by its base name in its working directory. Local or"
                   " a URL.")
@click.option("--input-format", metavar="FORMAT", default=None,
              help="How input files become records, instead of the job's: text, whole_file,"
                   " jsonl, csv, tsv, or a call such as \"CSV(header=True, delimiter=';')\""
                   " (docs/formats.md).")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default=None,
              help="How part files are written, instead of the job's (repr): repr (typed"
                   " Python literals), jsonl ([key, value] JSON a line) or tsv (str(key) TAB"
                   " str(value)).")
@click.option("--compress", type=click.Choice(["gzip", "zstd"]), default=None,
              help="Compress the part files (part-00000.gz, part-00000.zst; zstd needs"
                   " pip install 'minimr[zstd]').")
@click.option("--overwrite", count=True,
              help="Replace an old output: delete what the output folder holds before the job"
                   " starts, if it looks like a minimr output (_SUCCESS, _temporary, _logs,"
                   " part-* files). Twice (--overwrite --overwrite): empty any folder. Never /, a"
                   " home or the current folder, or one holding an input or the job file.")
@click.option("--dashboard", is_flag=True,
              help="Serve the embedded cluster's web dashboard while the job runs, on a free"
                   " loopback port, and print its address first. See docs/dashboard.md.")
@click.option("--dashboard-address", default=None, metavar="[HOST:]PORT",
              help="Where to serve it instead (implies --dashboard).")
@click.option("--quiet", "-q", is_flag=True,
              help="Print nothing but errors (and the --dashboard address): no progress, no"
                   " counters table.")
@click.pass_context
def submit(ctx, job, inputs, output, reducers, inline, workers, coordinator, keys, identity,
           insecure, split_size, combine_files, sort_buffer, max_attempts, speculation,
           task_timeout, worker_timeout, skip_bad_records, max_skips, serializer,
           max_message_size, files, input_format, output_format, compress, overwrite, dashboard,
           dashboard_address, quiet) -> None:
    job, options = job_options(ctx)
    if inline and (workers or coordinator):
        raise click.UsageError("--inline runs in this process: drop --workers/--coordinator")
    dashboard = dashboard_address or ("0" if dashboard else None)
    if dashboard is not None:
        _check_dashboard(dashboard, inline, coordinator)
    progress = reporter(quiet)
    kind = "inline" if inline else None
    try:
        with _terminate_as_interrupt():
            result = runner.run(
                job, list(inputs), output, reducers, runner=kind, coordinator=coordinator,
                keys=keys, identity=identity, insecure=insecure,
                workers=workers, split_size=split_size, combine_files=combine_files,
                sort_buffer=sort_buffer,
                overwrite={0: False, 1: True}.get(overwrite, FORCE), max_attempts=max_attempts,
                serializer=serializer, speculation=speculation, task_timeout=task_timeout,
                worker_timeout=worker_timeout, skip_bad_records=skip_bad_records,
                max_skips=max_skips, max_message_size=max_message_size, progress=progress,
                options=options, files=list(files), dashboard=dashboard,
                input_format=input_format, output_format=output_format, compress=compress,
            )
    except MinimrError:
        progress.done()
        raise
    except KeyboardInterrupt as stop:
        progress.done()
        click.echo(f"{'terminated' if isinstance(stop, _Terminated) else 'interrupted'}: the job"
                   " was cancelled and what it wrote was removed"
                   f"{'' if inline or coordinator else ' (its task logs stay in _logs/)'}",
                   err=True)
        sys.exit(128 + (signal.SIGTERM if isinstance(stop, _Terminated) else signal.SIGINT))
    except Exception as exc:  # the user's own code failed (inline runner)
        progress.done()
        click.echo(format_user_traceback(exc), err=True, nl=False)
        click.echo(f"job failed: {type(exc).__name__}: {exc} (no _SUCCESS written)", err=True)
        sys.exit(1)
    progress.done()
    if not quiet:  # -q: the exit status says it succeeded
        click.echo(result.counters.format_table())
        click.echo(f"output: {result.output} ({result.elapsed:.1f}s)")
    invalid = result.counters.get(BUILTIN, INVALID_UTF8_RECORDS)
    if invalid:  # replaced, never fatal: but the user should know their input has some
        click.echo(f"note: {invalid:,} input record{'s' * (invalid > 1)} held invalid UTF-8;"
                   " their bad bytes were read as U+FFFD, the replacement character",
                   err=True)


main.add_command(replay_cli)  # minimr replay: one failed task again, here, under a debugger
