"""``minimr replay``: run the one task a cluster job failed on again, here, under a debugger.

A job that fails on a cluster ends its message with one command, e.g.::

    minimr replay /home/me/jobs/parse.py:Parse --input /data/logs/day-07.txt --split 0:67108864

It runs exactly that task's input in this process with the inline runner, so the user's
exception comes back with its real traceback; ``--pdb`` stops in the debugger where it was
raised (post-mortem). A map task of the first step is replayed from its split alone (map,
then the reduces of that split's output). Any other task needs what came before it, so the
command names the job's inputs and the task (``--task s1-r00002``): the inline runner runs
the steps before the task's step, then the task's own map, or every map of its step and its
own reduce, and stops. Google's MapReduce could limit a local run to given map tasks; this
is that, in one copy-paste.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
import sys
import tempfile
from types import ModuleType
from typing import Any

import click

from minimr.dataflow import storage
from minimr.dataflow.format import output as out
from minimr.dataflow.inputs.splits import DEFAULT_SPLIT_SIZE, Split, expand_inputs
from minimr.errors import JobFailed, MinimrError, UsageError, format_user_traceback
from minimr.inline import run_inline
from minimr.job import Job, ModuleJob
from minimr.jobcommand import JobCommand, job_options
from minimr.loader import job_file, resolve_job
from minimr.planning import build_plan
from minimr.result import Result

_TASK = re.compile(r"s(?P<step>\d+)-(?P<kind>[mr])(?P<index>\d+)")
_KINDS = {"m": "map", "r": "reduce"}


def job_reference(job: Any, job_obj: Job) -> str | None:
    """What to pass as JOB to load ``job`` again (``file.py`` or ``file.py:Class``), or None."""
    if isinstance(job, (str, os.PathLike)):
        text = os.fspath(job)
        path, _, name = text.rpartition(":") if ":" in os.path.basename(text) else (text, "", "")
        return os.path.abspath(path) + (f":{name}" if name else "")
    if isinstance(job, ModuleType):
        return getattr(job, "__file__", None)
    if isinstance(job_obj, ModuleJob):
        return job_obj.source
    cls = type(job_obj)
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:
        return None
    return f"{os.path.abspath(source)}:{cls.__name__}" if source else None


def replay_command(failure: dict, job_ref: str | None, inputs: list[str],
                   reducers: int | None, split_size: int = DEFAULT_SPLIT_SIZE,
                   combine_files: bool = False, job_args: tuple[str, ...] = ()) -> str:
    """The shell command that replays the task of a cluster failure report.

    Args:
        failure: the coordinator's report (``task``, ``kind``, ``step``, ``input``).
        job_ref: the JOB argument (see :func:`job_reference`); a placeholder if None.
        inputs: the job's ``--input`` arguments.
        reducers: the run's ``--reducers``, if it was given.
        split_size, combine_files: the run's, which decide how tasks are numbered.
        job_args: the run's job options and ``--file`` arguments, as command-line words.
    """
    words = ["minimr", "replay", job_ref or "JOB.py"]
    spec = failure.get("input") or {}
    split = spec.get("split") if isinstance(spec, dict) else None
    packed = isinstance(spec, dict) and bool(spec.get("more"))  # several splits: by task name
    if (failure.get("kind") == "map" and failure.get("step") == 0 and isinstance(split, dict)
            and not packed):
        words += ["--input", str(split["path"]), "--split", f"{split['start']}:{split['end']}"]
    else:
        for item in inputs:
            words += ["--input", storage.normalize(item)]
        if failure.get("kind") in ("map", "reduce") and _TASK.fullmatch(str(failure.get("task"))):
            words += ["--task", str(failure["task"])]
        if split_size != DEFAULT_SPLIT_SIZE:
            words += ["--split-size", str(split_size)]
        if combine_files:
            words += ["--combine-files"]
    if reducers is not None:
        words += ["--reducers", str(reducers)]
    return shlex.join([*words, *job_args])


def with_replay_command(exc: JobFailed, job: Any, job_obj: Job, inputs: list[str],
                        reducers: int | None, split_size: int = DEFAULT_SPLIT_SIZE,
                        combine_files: bool = False, job_args: list[str] | None = None
                        ) -> JobFailed:
    """``exc`` with the replay command of its failed task as the message's last line."""
    if exc.failure is None:
        return exc
    command = replay_command(exc.failure, job_reference(job, job_obj), inputs, reducers,
                             split_size, combine_files, tuple(job_args or ()))
    message = (f"{exc.message}\n\nReplay this task in one local process (add --pdb to stop in "
               f"the debugger at the exception):\n  {command}")
    return JobFailed(message, task=exc.task, remote_traceback=exc.remote_traceback,
                     failure=exc.failure)


def parse_task(task: str) -> tuple[int, str, int]:
    """``s1-r00002`` -> ``(1, "reduce", 2)``.

    Raises:
        UsageError: not a map or reduce task name.
    """
    match = _TASK.fullmatch(task)
    if match is None:
        raise UsageError(f"--task must name a map or reduce task like s0-m00003 or s1-r00002"
                         f" (got {task!r})")
    return int(match["step"]), _KINDS[match["kind"]], int(match["index"])


def parse_split(split: str) -> tuple[int, int]:
    """``START:END`` -> two byte offsets.

    Raises:
        UsageError: not two non-negative integers, START <= END.
    """
    match = re.fullmatch(r"(\d+):(\d+)", split.strip())
    if match is None or int(match[1]) > int(match[2]):
        raise UsageError(f"--split must be START:END byte offsets (got {split!r})")
    return int(match[1]), int(match[2])


def replay(job: Any, inputs: list[str], *, split: str | None = None, task: str | None = None,
           reducers: int | None = None, output: str | None = None,
           split_size: int | str = DEFAULT_SPLIT_SIZE, combine_files: bool = False,
           options: dict[str, Any] | None = None, files: list[str] | None = None,
           input_format: str | None = None) -> Result:
    """Run one task's input with the inline runner (the user's exception propagates).

    Args:
        job: what ``minimr.run`` takes as a job.
        inputs: the input (one file with ``split``), or the job's inputs with ``task``.
        split: ``START:END``: replay the map of this byte range of the one input file.
        task: a task name (``s1-r00002``): run only what it needs, and stop after it.
        reducers: the run's reducers, if it set them.
        output: where to write (default: a new temporary folder).
        split_size, combine_files: the failed run's (they decide how tasks are numbered).
        options, files: the failed run's job options and extra side files.
        input_format: the failed run's ``--input-format``, if it gave one.
    """
    if split is not None and task is not None:
        raise UsageError("give --split (a first-step map) or --task, not both")
    job_obj = resolve_job(job)
    scratch = output is None  # a folder of our own: removed if the replay fails
    output = output or tempfile.mkdtemp(prefix="minimr-replay-")
    prepared = None
    try:
        plan = build_plan(job_obj, list(inputs), output, reducers=reducers,
                          split_size=split_size, combine_files=combine_files and split is None,
                          options=options, files=list(files or ()),
                          input_format=input_format)
        if split is not None:
            found = expand_inputs(list(inputs))
            if len(found) != 1:
                raise UsageError(f"--split needs exactly one --input file (got {len(found)})")
            start, end = parse_split(split)
            plan.splits = [Split(found[0], start, end)]
        only = parse_task(task) if task is not None else None
        prepared = out.prepare_output(plan.output, True,
                                      [*inputs, *(s.path for s in plan.splits)],
                                      job_file=job_file(job, job_obj))
        counters = run_inline(plan, only=only)
    except BaseException:  # the usual end of a replay: it leaves no folder behind
        if prepared is not None:
            out.discard(prepared)
        if scratch:
            storage.remove_empty_folder(output)
        raise
    return Result(output=plan.output, counters=counters, job_id=plan.job_id)


@click.command("replay", cls=JobCommand)
@click.argument("job", metavar="JOB")
@click.option("--input", "-i", "inputs", multiple=True, required=True, metavar="PATH",
              help="The task's input file (with --split), or the job's inputs (with --task).")
@click.option("--split", metavar="START:END", default=None,
              help="Replay the first-step map of these bytes of the one --input file.")
@click.option("--task", metavar="TASK", default=None,
              help="Replay this task (s1-m00003, s0-r00002): what it needs runs first.")
@click.option("--reducers", "-r", type=click.IntRange(min=0), default=None,
              help="The failed run's --reducers, if it gave one.")
@click.option("--split-size", default="64MB", show_default=True, metavar="SIZE",
              help="The failed run's --split-size, if it gave one.")
@click.option("--combine-files", is_flag=True, help="The failed run used --combine-files.")
@click.option("--output", "-o", metavar="DIR", default=None,
              help="Where to write (default: a new temporary folder).")
@click.option("--file", "files", multiple=True, metavar="PATH",
              help="A side file the failed run shipped with --file (repeatable).")
@click.option("--input-format", metavar="FORMAT", default=None,
              help="The failed run's --input-format, if it gave one.")
@click.option("--pdb", "debug", is_flag=True,
              help="Stop in the debugger where the user's exception was raised.")
@click.pass_context
def replay_cli(ctx, job, inputs, split, task, reducers, split_size, combine_files, output,
               files, input_format, debug) -> None:
    """Run one task of a failed job again in this process, with the inline runner.

    A job that fails on a cluster prints the exact command at the end of its message,
    the job's own options (listed below when JOB is given) included.
    """
    job_obj, options = job_options(ctx)
    try:
        result = replay(job_obj, list(inputs), split=split, task=task, reducers=reducers,
                        output=output, split_size=split_size, combine_files=combine_files,
                        options=options, files=list(files), input_format=input_format)
    except MinimrError:
        raise
    except Exception as exc:  # the user's own code failed again: that is the point
        click.echo(format_user_traceback(exc), err=True, nl=False)
        click.echo(f"the task failed again: {type(exc).__name__}: {exc}", err=True)
        if debug:
            import pdb  # only here: every minimr command imports this module (issue 20)

            pdb.post_mortem(exc.__traceback__)
        sys.exit(1)
    click.echo(f"the task ran without an error this time; output: {result.output}")
