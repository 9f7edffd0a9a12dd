"""``minimr.run``: check a run's options, plan the job, and run it inline, on a local
cluster, or on a running cluster.

All runners take the same ``JobPlan`` (``planning.build_plan``) and the same task functions
(``dataflow.tasks``); they differ only in where the tasks run. The inline runner
(``inline.py``) is the reference every other runner is tested against, and the debugger.
What a run returns is a ``Result`` (``result.py``).
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import cloudpickle

from minimr.dataflow import sidefiles, skips, storage
from minimr.dataflow.counters import Counters
from minimr.dataflow.format import output as out
from minimr.dataflow.format.overwrite import overwrite_mode
from minimr.dataflow.inputs.inputformats import resolve_input_format
from minimr.dataflow.inputs.splits import DEFAULT_SPLIT_SIZE, parse_size
from minimr.dataflow.plan import JobPlan
from minimr.errors import JobFailed, MinimrError, UsageError, unknown_options
from minimr.inline import run_inline
from minimr.job import Job, declared_files, declared_options
from minimr.joboptions import command_args
from minimr.loader import SHIPPED, job_file, resolve_job
from minimr.planning import DEFAULT_SORT_BUFFER, build_plan, positive
from minimr.result import JobStarting, Result, read_log_folder

RUNNERS = ("inline", "local")




def _ship_job_module(job: Job) -> None:
    """Make sure the job's own module travels by value (not installed on workers)."""
    module = job._module()
    file = getattr(module, "__file__", None)
    if module is None or module.__name__ == "__main__" or not file:
        return
    if "site-packages" in file or "dist-packages" in file or module.__name__.startswith("minimr."):
        return
    try:
        cloudpickle.register_pickle_by_value(module)
        SHIPPED.add(module.__name__)
    except ValueError:
        pass


def _run_plan(plan: JobPlan, job: Any, job_obj: Job, inputs: list[str], *, runner: str | None,
              coordinator: str | None, curve: Any, workers: int | None, reducers: int | None,
              split_size: int | str, combine_files: bool, max_message_size: int | None,
              progress: Callable[[Any], None] | None, files: list[str],
              dashboard: str | None = None, input_format: Any = None) -> Counters:
    """Run a prepared plan on the runner asked for; returns the job's counters.

    ``files`` and ``input_format`` are the run's own (for the replay command of a failed
    task).
    """
    if runner == "inline":
        return run_inline(plan, progress)
    _ship_job_module(job_obj)
    from minimr.cluster import shipping  # only needed here
    from minimr.cluster.client import client, localcluster  # only needed here

    if progress is not None:
        progress(JobStarting(plan.job_id))

    plan.settings["sources"] = shipping.job_sources(sorted(SHIPPED | {"__main__"}))
    words = [*command_args(declared_options(job_obj), job_obj.options),
             *(word for f in files for word in ("--file", storage.normalize(f))),
             *_input_format_words(input_format)]
    plan.settings["replay"] = _replay_recipe(job, job_obj, inputs, reducers, split_size,
                                             combine_files, words)
    if coordinator is not None:  # its workers may be elsewhere: they reach the output
        plan.files = sidefiles.stage(plan.files,
                                     storage.join(plan.output, out.TEMPORARY, "files"))
    sizes = {} if max_message_size is None else {"max_message_size": max_message_size}
    try:
        if coordinator is not None:
            status = client.submit_plan(plan, coordinator, progress=progress, curve=curve,
                                        insecure=curve is None, **sizes)
        else:
            status = localcluster.run_local_cluster(plan, workers=workers or os.cpu_count() or 1,
                                                   progress=progress, dashboard=dashboard,
                                                   **sizes)
    except JobFailed as exc:  # end the message with the command that replays the task
        from minimr.replay import with_replay_command

        raise with_replay_command(exc, job, job_obj, inputs, reducers,
                                  parse_size(split_size), combine_files, words) from None
    return status.counters


def _input_format_words(input_format: Any) -> list[str]:
    """``--input-format SPEC`` for a replay command, when the run gave one that the command
    line can say (a name, or a built-in format such as ``CSV(header=True)``)."""
    if input_format is None:
        return []
    spec = input_format if isinstance(input_format, str) else repr(input_format)
    try:
        resolve_input_format(spec)
    except MinimrError:  # a job's own format object: the command line cannot name it
        return []
    return ["--input-format", spec]


def _replay_recipe(job: Any, job_obj: Job, inputs: list[str], reducers: int | None,
                   split_size: int | str, combine_files: bool, words: list[str]) -> dict | None:
    """How to replay one task of this run (``protocol.ReplayRecipe``), for a dashboard that
    shows a failed task; None when the job cannot be named on a command line."""
    from minimr.replay import job_reference

    reference = job_reference(job, job_obj)
    if reference is None:
        return None
    return {"job": reference, "inputs": list(inputs), "reducers": reducers,
            "split_size": parse_size(split_size), "combine_files": combine_files,
            "job_args": words}


def run(
    job: Any,
    inputs: list[str] | str,
    output: str,
    reducers: int | None = None,
    *,
    runner: str | None = None,
    coordinator: str | None = None,
    keys: str | None = None,
    identity: str | None = None,
    insecure: bool = False,
    workers: int | None = None,
    split_size: int | str = DEFAULT_SPLIT_SIZE,
    sort_buffer: int | str = DEFAULT_SORT_BUFFER,
    combine_files: bool = False,
    overwrite: bool | str = False,
    max_attempts: int = 4,
    serializer: str = "cloudpickle",
    speculation: bool = True,
    task_timeout: float | None = None,
    worker_timeout: float | None = None,
    skip_bad_records: bool = False,
    max_skips: int = skips.MAX_SKIPS,
    max_message_size: int | None = None,
    progress: Callable[[Any], None] | None = None,
    options: dict[str, Any] | None = None,
    files: list[str] | tuple[str, ...] = (),
    dashboard: str | None = None,
    input_format: Any = None,
    output_format: str | None = None,
    compress: str | None = None,
    **unknown: Any,
) -> Result:
    """Run a job and return its ``Result``.

    Args:
        job: a Job subclass or instance, a job module, or a path to a job file.
        inputs: files, folders or globs (one string or a list); local paths or fsspec URLs
            such as ``s3://bucket/logs/*.gz`` (``pip install 'minimr[s3]'``).
        output: the output folder, a path or a URL: a new or empty folder, or an old output
            with ``overwrite``. Never ``/``, a home or the current folder, nor one holding
            an input or the job file (``dataflow/format/overwrite.py``). A run that fails or
            is cancelled removes what it wrote, and the folder if it made it.
        reducers: the number of reduce partitions (steps may fix their own); 0 runs the
            job map-only (each map task writes a part file, ``part-m-NNNNN``: no shuffle,
            no sort; a step with a reduce is refused).
        runner: ``"local"`` (the default: an embedded coordinator and ``workers`` local
            worker processes) or ``"inline"`` (every task in this process, in order: the
            debugger, which lets the user's exception through with its real traceback).
        coordinator: ``tcp://HOST:PORT`` of a running cluster to ship the job to.
        keys, identity: for a cluster with keys, its keys folder (``minimr keygen``) and
            which submitter key pair in it to use (``private/IDENTITY.key_secret``,
            ``submitter`` by default). Without ``keys``, a loopback ``coordinator`` is reached
            with this user's local keys (``docs/security.md``).
        insecure: reach ``coordinator`` without keys (one started with ``--insecure``).
        workers: local worker processes for the ``local`` runner (default: one per core).
        split_size, sort_buffer: sizes such as ``"64MB"`` or byte counts.
        combine_files: pack small input files (and the ends of big ones) into map tasks of up
            to ``split_size`` bytes, the fewest tasks. Without it small files are packed too,
            into tasks small enough that there are at least 32 (``splits.PACK_TASKS``) when
            the input has that many files, so every worker gets work.
        overwrite: ``True`` replaces an old output (a folder with ``_SUCCESS``,
            ``_temporary`` or ``part-*`` files): its contents are deleted before the job
            starts. ``"force"`` empties any non-empty folder (``--overwrite`` twice).
        max_attempts: attempts per task before the job fails (cluster runners).
        serializer: ``"cloudpickle"`` or ``"dill"`` for shipping the job.
        speculation: backup attempts for stragglers near the end of a phase (cluster runners).
        task_timeout: seconds an attempt may run before it counts as failed (cluster runners).
        worker_timeout: seconds a job may wait with no worker before it fails (cluster runners).
        skip_bad_records: skip a record (or a reduce's key group) once it has made two
            attempts fail (the inline runner: one); each is reported under
            ``OUTPUT/_skipped/`` and counted in the ``skipped records`` counter.
        max_skips: records a job may skip in all; past it, failures count as usual.
        max_message_size: the largest plan sent to a coordinator, in bytes (64 MiB, the
            default of `minimr coordinator --max-message-size`; see docs/limits.md).
        progress: called with progress updates while the job runs; on a cluster, first
            with a ``JobStarting`` that names the job's id.
        options: values of the job's own options by name (``{"threshold": 5}``), checked
            against its declarations before any task runs (``minimr.Option``).
        files: side files to ship with the job (paths or URLs), beside those the job
            declares; each task opens them by base name in its working directory, or
            through ``minimr.side_file(name)``.
        dashboard: ``[HOST:]PORT`` (``"0"``: any free loopback port) to serve the embedded
            cluster's web dashboard on while the job runs; its address, with its token,
            comes first to ``progress`` (``docs/dashboard.md``). Not with ``coordinator``
            (a coordinator serves its own) or the inline runner.
        input_format: how input files become records, overriding the job's: a name
            (``"jsonl"``), ``"CSV(header=True)"``, or an ``InputFormat`` (docs/formats.md).
        output_format: ``"repr"``, ``"jsonl"``, ``"tsv"`` or ``"lines"``, overriding the job's.
        compress: ``"gzip"`` or ``"zstd"``: the part files compressed (``part-00000.gz``).

    These are all the options a run takes; what shapes the data (reducers by default, the
    input and output formats, the partitioner) may also live on the job class.

    Raises:
        UnknownOptionError: a keyword argument not listed above (a typo such as
            ``reducer=2``), named with the closest known one; also a ``TypeError``.
        MinimrError: bad arguments, inputs, job, or a task that failed for good (cluster runners);
        the user's own exception, unchanged, with the inline runner.
    """
    if unknown:
        raise unknown_options("minimr.run()", unknown, _RUN_OPTIONS)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [os.fspath(inputs)]
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    if runner is not None and runner not in RUNNERS:
        raise UsageError(f"runner must be one of {', '.join(map(repr, RUNNERS))} (got {runner!r})")
    if coordinator is not None and runner == "inline":
        raise UsageError("runner='inline' and coordinator=... exclude each other")
    if dashboard is not None and (coordinator is not None or runner == "inline"):
        raise UsageError("dashboard=... is the embedded cluster's: a running coordinator serves"
                         " its own (minimr coordinator --dashboard), the inline runner none")
    if keys is not None and coordinator is None:
        raise UsageError("keys=... are for a running cluster: give coordinator=... too")
    positive("workers", workers)
    positive("max_attempts", max_attempts)
    for name, seconds in (("task_timeout", task_timeout), ("worker_timeout", worker_timeout)):
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(
                seconds, (int, float)) or seconds <= 0):
            raise UsageError(f"{name} must be a positive number of seconds (got {seconds!r})")
    if type(max_skips) is not int or max_skips < 0:
        raise UsageError(f"max_skips must be an int >= 0 (got {max_skips!r})")
    positive("max_message_size", max_message_size)
    if serializer not in ("cloudpickle", "dill"):
        raise UsageError(f"serializer must be 'cloudpickle' or 'dill' (got {serializer!r})")
    overwrite_mode(overwrite)
    curve = None
    if coordinator is not None:
        from minimr.cluster.wire.security import SUBMITTER, client_keys

        # fails before any output is touched
        curve = client_keys(coordinator, keys, identity or SUBMITTER, insecure)
    job_obj = resolve_job(job)
    plan = build_plan(job_obj, list(inputs), output, reducers=reducers, split_size=split_size,
                      combine_files=combine_files,
                      sort_buffer=sort_buffer,
                      settings={"max_attempts": max_attempts, "serializer": serializer,
                                "speculation": speculation, "task_timeout": task_timeout,
                                "worker_timeout": worker_timeout,
                                "skip_bad_records": skip_bad_records, "max_skips": max_skips},
                      options=options, files=files, input_format=input_format,
                      output_format=output_format, compress=compress)
    stored = [f.path for f in plan.files if isinstance(f, sidefiles.StoredFile)]
    paths = [plan.output, *(s.path for s in plan.splits), *stored]
    if runner != "inline" and any(storage.is_process_local(p) for p in paths):
        raise UsageError("memory:// storage lives in this process only, where workers cannot"
                         " reach it: use runner='inline' (or --inline), or s3://, gs://, a path")
    # the inputs as given guard folders whose files all start with _ or . (none expanded);
    # side files are the user's too, even those already copied into the plan
    side = [*declared_files(job_obj), *files]
    guarded = [*inputs, *(s.path for s in plan.splits), *side]
    prepared = out.prepare_output(os.fspath(output), overwrite, guarded,  # as spelled, for
                                  job_file=job_file(job, job_obj))        # the messages
    started = time.monotonic()
    try:
        counters = _run_plan(plan, job, job_obj, list(inputs), runner=runner,
                             coordinator=coordinator, curve=curve, workers=workers,
                             reducers=reducers, split_size=split_size,
                             combine_files=combine_files, max_message_size=max_message_size,
                             progress=progress, files=list(files), dashboard=dashboard,
                             input_format=input_format)
    except BaseException:  # failed, cancelled (Ctrl-C, SIGTERM) or never started
        out.discard(prepared)  # nothing left in the way of running the same command again
        raise
    return Result(output=plan.output, counters=counters, job_id=plan.job_id,
                  elapsed=time.monotonic() - started,
                  logs_from=_log_source(plan, runner, coordinator, curve))


def _log_source(plan: JobPlan, runner: str | None, coordinator: str | None, curve: Any
                ) -> Callable[[str | None], dict[str, str]] | None:
    """Where ``Result.logs`` reads a run's task logs: none inline, the coordinator of a
    cluster, an embedded run's ``OUTPUT/_logs/``."""
    if runner == "inline":
        return None
    if coordinator is not None:
        from minimr.cluster.commands.logs import fetch_logs

        return partial(fetch_logs, coordinator, plan.job_id, curve)
    return partial(read_log_folder, storage.join(plan.output, out.LOGS))






#: the keyword arguments ``run`` takes (``**unknown`` only catches the others, to name them)
_RUN_OPTIONS = [name for name, parameter in inspect.signature(run).parameters.items()
                if parameter.kind is not inspect.Parameter.VAR_KEYWORD and name != "job"]
