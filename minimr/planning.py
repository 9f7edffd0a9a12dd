"""Planning a run: :func:`build_plan` turns a job, its inputs and the run's options into the
``JobPlan`` (``dataflow/plan.py``) that every runner runs, inline or on a cluster."""

from __future__ import annotations

import os
import re
import secrets
import time
from typing import Any

from minimr.dataflow import sidefiles, storage
from minimr.dataflow.format.partformats import PartFormat
from minimr.dataflow.inputs.inputformats import resolve_input_format
from minimr.dataflow.inputs.splits import (
    DEFAULT_SPLIT_SIZE,
    default_pack_size,
    expand_inputs,
    parse_size,
    plan_splits,
)
from minimr.dataflow.plan import JobPlan, StepPlan
from minimr.errors import UsageError
from minimr.job import Job, declared_files, declared_options, job_name, resolve_steps
from minimr.joboptions import resolve

DEFAULT_REDUCERS = 4
DEFAULT_SORT_BUFFER = 64 * 2**20


def positive(name: str, value: Any, zero: str = "") -> int | None:
    """``value`` if None or an int >= 1 (or 0, when ``zero`` says what 0 means)."""
    if value is None:
        return None
    if type(value) is not int or value < (0 if zero else 1):
        expected = f"an int >= 1, or 0 {zero}" if zero else "a positive int"
        raise UsageError(f"{name} must be {expected} (got {value!r})")
    return value


def build_plan(
    job: Job,
    inputs: list[str],
    output: str,
    *,
    reducers: int | None = None,
    split_size: int | str = DEFAULT_SPLIT_SIZE,
    sort_buffer: int | str = DEFAULT_SORT_BUFFER,
    settings: dict | None = None,
    combine_files: bool = False,
    options: dict[str, Any] | None = None,
    files: list[str] | tuple[str, ...] = (),
    input_format: Any = None,
    output_format: str | None = None,
    compress: str | None = None,
) -> JobPlan:
    """Resolve the job's steps and options, expand the inputs and cut them into splits.

    Consecutive small splits share a map task: up to ``split_size`` bytes with
    ``combine_files``, and otherwise up to ``default_pack_size`` (small enough that every
    worker gets work).
    ``options`` are the values of the job's own options (by name); they are checked here
    and set on the job (``job.options``) before its ``steps()`` runs. ``files`` are side
    files shipped beside those the job declares.

    Raises:
        UsageError, InputError, JobDefinitionError: bad options, inputs or job.
    """
    values = resolve(declared_options(job), options or {}, job_name(job))
    job.options = values  # before steps(): a job may shape its steps by its options
    run_reducers = positive("reducers", reducers, zero="for a map-only job")
    steps = resolve_steps(job, run_reducers, DEFAULT_REDUCERS)
    reading = resolve_input_format(job.input_format if input_format is None else input_format,
                                   f"{job_name(job)}.input_format" if input_format is None
                                   else "input format")
    writing = PartFormat.of(output_format or job.output_format, compress)
    side = sidefiles.collect([*declared_files(job), *map(os.fspath, files)])
    files = expand_inputs(inputs)
    size = parse_size(split_size)
    plans = []
    for i, step in enumerate(steps):
        plans.append(StepPlan(
            index=i, step=step, reducers=step.reducers,
            partitioner=step.partitioner or job.partitioner or "hash",
            input_format=reading if i == 0 else "records",
            is_last=i == len(steps) - 1,
        ))
    name = job_name(job)
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:100] or "job"  # a folder name on workers
    job_id = f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    splits = plan_splits(files, size, reading.splittable)
    pack = size if combine_files else default_pack_size(splits, size)
    return JobPlan(job_id=job_id, job_name=name, steps=plans, splits=splits,
                   output=storage.normalize(output), sort_buffer=parse_size(sort_buffer),
                   settings=dict(settings or {}), split_size=pack,
                   options=values.as_dict(), files=side, part_format=writing)
