"""Run a generated case on minimr and on the model, and tell whether they agree.

Only minimr's public API: ``minimr.run`` on the job file, ``Result.records``,
``minimr.read_output`` of each part file, ``Job.steps``/``Step``. A case diverges when the
output records differ as exact multisets (``model.canon``), when a part's keys are out of order
(keys that can all be compared: within each part, and across parts with the range
partitioner), or when minimr fails where the model does not.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import minimr
from fuzzjobs import model
from fuzzjobs.render import render
from fuzzjobs.spec import SORTED_REDUCES, Case

#: the ``Step`` fields a job's functions sit in (``map_keys`` where minimr has it)
FIELDS = ("map", "map_batch", "map_keys", "map_final", "combine", "reduce", "setup", "teardown")
_loaded = itertools.count()
#: what ``minimr.fold(name)`` folds with, by name
FOLDS = {"sum": sum, "min": min, "max": max, "any": any, "all": all}


class InvalidCase(Exception):
    """The model itself failed on a case: the generator made a job that is not valid."""


@dataclass
class Outcome:
    """What checking one case on one runner found."""

    runner: str
    kind: str  # "ok", "output" (records differ), "order", or "error" (minimr raised)
    detail: str = ""
    records: int = 0  # output records the model expects
    counters: minimr.Counters | None = None

    @property
    def ok(self) -> bool:
        """True when minimr agreed with the model."""
        return self.kind == "ok"


def write_case(case: Case, folder: Path) -> tuple[Path, Path]:
    """Write the job file and the input files of ``case`` under ``folder``.

    Returns:
        ``(job file, input folder)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    job = folder / "job.py"
    job.write_text(render(case.spec, case.label), encoding="utf-8")
    inputs = folder / "input"
    if inputs.exists():
        shutil.rmtree(inputs)
    inputs.mkdir()
    for name, data in case.inputs:
        (inputs / name).write_bytes(data)
    return job, inputs


def _load(path: Path) -> ModuleType:
    """Import the job file under a name of its own (the model's copy, apart from minimr's)."""
    spec = importlib.util.spec_from_file_location(f"fuzz_model_job_{next(_loaded)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_steps(module: ModuleType, case: Case) -> tuple[list, list]:
    """The job's steps as the model calls them, and each step's reduce as a function."""
    if case.spec.style == "module":
        raw = [SimpleNamespace(**{f: getattr(module, f, None) for f in FIELDS})]
        job = None
    else:
        job = module.FuzzJob()
        raw = job.steps()
    steps, reducers = [], []
    for step, spec in zip(raw, case.spec.steps, strict=True):
        fields = {f: getattr(step, f, None) for f in FIELDS}
        if job is not None:
            fields["setup"] = fields["setup"] or job.setup
            fields["teardown"] = fields["teardown"] or job.teardown
        steps.append(SimpleNamespace(**fields, map_only=spec.reducers == 0))
        if spec.reduce.startswith("fold_"):  # a declared fold: the builtin it names
            fold = FOLDS[spec.reduce[5:]]
            reducers.append(lambda key, values, fold=fold: [(key, fold(values))])
        elif spec.reduce in SORTED_REDUCES:  # sort_values: the values in Python's order
            reducers.append(lambda key, values, reduce=fields["reduce"]:
                            reduce(key, iter(sorted(values))))
        else:
            reducers.append(fields["reduce"])
    return steps, reducers


def expected(case: Case, job: Path, inputs: Path) -> list:
    """The records the model says the job must output.

    Raises:
        InvalidCase: the job fails in the model too (a generator mistake, not minimr's).
    """
    try:
        steps, reducers = model_steps(_load(job), case)
        data = {os.path.abspath(inputs / name): body for name, body in case.inputs}
        return model.run_model(steps, reducers, data)
    except Exception as exc:
        raise InvalidCase(f"{case.label}: the model failed: {exc!r}\n"
                          + traceback.format_exc()) from exc


def _describe(counter: Counter, limit: int = 8) -> str:
    items = sorted(counter.items())
    lines = [f"    {form!r} x{n}" for form, n in items[:limit]]
    if len(items) > limit:
        lines.append(f"    ... and {len(items) - limit} more")
    return "\n".join(lines)


def compare(want: list, got: list) -> str:
    """'' when ``got`` is ``want`` as an exact multiset; else what is missing and extra."""
    a, b = model.multiset(want), model.multiset(got)
    if a == b:
        return ""
    missing, extra = a - b, b - a
    return (f"expected {sum(a.values())} records, got {sum(b.values())}\n"
            f"  expected but missing ({sum(missing.values())}):\n{_describe(missing)}\n"
            f"  output but not expected ({sum(extra.values())}):\n{_describe(extra)}")


def _disorder(keys: list) -> str:
    """'' when ``keys`` never go down; else the first two that do."""
    for i, (a, b) in enumerate(itertools.pairwise(keys)):
        if b < a:
            return f"key {i + 1} {b!r} comes after {a!r}"
    return ""


def order_problem(output: Path, range_partitioned: bool) -> str:
    """'' when every part's keys are in order (and, with the range partitioner, the parts
    follow each other in order); checked only when all the keys can be compared."""
    parts = sorted(p for p in os.listdir(output) if p.startswith("part-"))
    keyed = [[key for key, _ in minimr.read_output(output / p, trusted=True)] for p in parts]
    every = [key for keys in keyed for key in keys]
    try:
        sorted(every)
    except TypeError:
        return ""  # keys Python cannot compare: their order is minimr's own
    for name, keys in zip(parts, keyed, strict=True):
        if problem := _disorder(keys):
            return f"{name}: keys out of order: {problem}"
    if range_partitioned and (problem := _disorder(every)):
        return f"range partitions out of order (parts in turn): {problem}"
    return ""


def run_minimr(job: Path, inputs: Path, output: Path, runner: str, case: Case,
               workers: int = 2) -> minimr.Result:
    """Run the job file with ``minimr.run`` on ``runner`` with the case's settings."""
    options = {"workers": workers} if runner == "local" else {}
    return minimr.run(str(job), inputs=str(inputs), output=str(output), runner=runner,
                      split_size=case.split_size, sort_buffer=case.sort_buffer,
                      overwrite=True, progress=None, **options)


def check(case: Case, folder: Path, runner: str, runs=run_minimr) -> Outcome:
    """Check ``case`` on ``runner`` in ``folder`` (its job file, inputs and output).

    Args:
        runs: what runs the job (``run_minimr``; a test may pass a broken one).

    Raises:
        InvalidCase: the model failed: the case is not a valid test.
    """
    job, inputs = write_case(case, folder)
    want = expected(case, job, inputs)
    output = folder / f"out-{runner}"
    try:
        result = runs(job, inputs, output, runner, case)
        got = list(result.records())
    except Exception as exc:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Outcome(runner, "error", f"minimr raised {text}", len(want))
    problem = compare(want, got)
    if problem:
        return Outcome(runner, "output", problem, len(want), result.counters)
    last = case.spec.steps[-1]
    # a map-only last step writes its parts in the map's order: no key order to check
    order = "" if last.reducers == 0 else order_problem(Path(result.output),
                                                        last.partitioner == "range")
    if order:
        return Outcome(runner, "order", order, len(want), result.counters)
    return Outcome(runner, "ok", "", len(want), result.counters)
