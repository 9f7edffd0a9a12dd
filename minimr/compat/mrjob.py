"""mrjob's jobs, run unchanged: an ``mrjob.job.MRJob`` subclass as a minimr job.

``minimr submit mr_job.py --input ... --output ...`` (or ``minimr.run("mr_job.py", ...)``,
``minimr.run(MRWordFreqCount, ...)``) finds the ``MRJob`` subclass the file defines
(``minimr.loader``) and wraps it in an :class:`MRJobAdapter`, a ``minimr.Job`` whose steps
run the job's own steps as Hadoop streaming runs them (``mrjob_streaming``), with its
arguments as minimr options (``mrjob_options``) and its files as side files. The output
files hold the lines mrjob's would: the job's ``OUTPUT_PROTOCOL`` lines (``JSON(key) TAB
JSON(value)`` by default), in the ``lines`` part format.

minimr runs the steps that are Python functions of the job (``mapper``, ``combiner``,
``reducer``, their ``_init`` and ``_final`` forms), its protocols and its ``FILES``. What it
does not run is refused when the job is planned, before any task, naming what and why: a
shell-command substep (``mapper_cmd``...) or ``*_pre_filter``, ``mapper_raw``, jar and Spark
steps, Hadoop's own settings (``JOBCONF``/``jobconf()``, an ``MRStep``'s ``jobconf``,
``HADOOP_INPUT_FORMAT``, ``HADOOP_OUTPUT_FORMAT``, ``PARTITIONER``, ``LIBJARS``), ``DIRS``
and ``ARCHIVES``, and a file renamed with ``#name``.

Nothing here imports mrjob: a job file that defines an ``MRJob`` subclass has imported it,
and the classes are recognised through ``sys.modules``.
"""

from __future__ import annotations

import inspect
import os
import sys
from types import ModuleType
from typing import Any

from minimr.compat.mrjob_options import Argument, arguments_of, file_values, task_words
from minimr.compat.mrjob_streaming import StepShape, StreamingStep, raw_text
from minimr.dataflow.taskenv import Options
from minimr.errors import JobDefinitionError, JobLoadError, UsageError
from minimr.job import Job, Step
from minimr.joboptions import Option

__all__ = ["MRJobAdapter", "classes_in", "is_mrjob_class"]

#: what an ``MRStep`` may hold that minimr does not run, and why
_REFUSED_IN_STEP = {
    "mapper_cmd": "a shell command", "combiner_cmd": "a shell command",
    "reducer_cmd": "a shell command", "mapper_pre_filter": "a shell command",
    "combiner_pre_filter": "a shell command", "reducer_pre_filter": "a shell command",
    "mapper_raw": "a mapper of whole input files (mapper_raw)",
    "jobconf": "Hadoop settings (jobconf)",
}
#: the job's methods that return Hadoop's own settings, with what each says
_REFUSED_SETTINGS = {
    "jobconf": "Hadoop settings (JOBCONF or jobconf())",
    "partitioner": "a Hadoop partitioner class (PARTITIONER)",
    "hadoop_input_format": "a Hadoop input format (HADOOP_INPUT_FORMAT)",
    "hadoop_output_format": "a Hadoop output format (HADOOP_OUTPUT_FORMAT)",
    "libjars": "jars (LIBJARS)",
    "dirs": "directories to upload (DIRS)",
    "archives": "archives to upload (ARCHIVES)",
}


def _mrjob_base() -> type | None:
    """``mrjob.job.MRJob`` if something imported it, else None (never imported here)."""
    return getattr(sys.modules.get("mrjob.job"), "MRJob", None)


def is_mrjob_class(obj: Any) -> bool:
    """True when ``obj`` is a subclass of ``mrjob.job.MRJob`` (not ``MRJob`` itself)."""
    base = _mrjob_base()
    return base is not None and inspect.isclass(obj) and issubclass(obj, base) and obj is not base


def classes_in(module: ModuleType) -> list[type]:
    """The ``MRJob`` subclasses ``module`` defines itself (not those it imports)."""
    return [obj for obj in vars(module).values()
            if is_mrjob_class(obj) and obj.__module__ == module.__name__]


class MRJobAdapter(Job):
    """An mrjob job as a minimr job (see the module docstring).

    Args:
        job_cls: the ``MRJob`` subclass.

    Raises:
        JobDefinitionError: an argument of the job's that minimr cannot take.
    """

    input_format = "text"
    output_format = "lines"

    def __init__(self, job_cls: type) -> None:
        base = _mrjob_base()
        if base is None or not is_mrjob_class(job_cls):
            raise JobLoadError(f"{job_cls!r} is not a subclass of mrjob.job.MRJob")
        self.job_cls = job_cls
        self._arguments: list[Argument] = arguments_of(job_cls, base)

    def name(self) -> str:  # type: ignore[override]
        return self.job_cls.__name__

    def _module(self) -> ModuleType | None:
        """The module that defines the mrjob class (what travels with the job)."""
        return sys.modules.get(self.job_cls.__module__)

    def _declared_options(self) -> list[Option]:
        return [argument.option for argument in self._arguments]

    def _declared_files(self) -> tuple[list[str], str]:
        """The job's ``FILES`` (``files()``) and the files its file arguments name."""
        launcher = self._launcher()
        files = list(launcher.files())
        for path in files:
            if "#" in os.path.basename(path):
                raise JobDefinitionError(
                    f"{self.name()}.FILES names {path!r}: minimr ships a side file under its"
                    " own name (no #name): rename the file itself")
        files = [os.path.abspath(os.path.expanduser(os.path.expandvars(p))) for p in files]
        return files + file_values(self._arguments, self._values()), os.getcwd()

    def _values(self) -> dict[str, Any]:
        """The run's values of the job's arguments (defaults before a run sets them)."""
        if isinstance(self.options, Options):
            return self.options.as_dict()
        return {argument.option.dest: argument.option.default for argument in self._arguments}

    def _launcher(self) -> Any:
        """The job made as mrjob's launcher makes it: with the run's arguments, no task's.

        Raises:
            UsageError: the job's argparse refuses the values (a type of its own).
        """
        words = task_words(self._arguments, self._values(), in_task=False)
        try:
            return self.job_cls(args=words)
        except ValueError as exc:  # mrjob makes argparse raise ValueError for given args
            given = f" (given: {' '.join(words)})" if words else ""
            raise UsageError(f"{self.name()}: {exc}{given}") from None

    def steps(self) -> list[Step]:
        """The job's steps (``steps()`` of the job made with the run's arguments), each run
        as Hadoop streaming runs it.

        Raises:
            JobDefinitionError: a step or setting minimr does not run, named.
        """
        launcher = self._launcher()
        self._refuse_settings(launcher)
        mr_steps = launcher.steps()
        if not mr_steps:
            raise JobDefinitionError(f"{self.name()} has no steps: define mapper, reducer or"
                                     " steps()")
        words = task_words(self._arguments, self._values(), in_task=True)
        steps = []
        for index, mr_step in enumerate(mr_steps):
            shape = self._shape(mr_step, index, index == len(mr_steps) - 1)
            raw = index == 0 and raw_text(launcher.pick_protocols(0, "mapper")[0])
            streaming = StreamingStep(self.job_cls, words, shape, raw)
            # a step with no reducer runs map-only, as Hadoop runs it (zero reduce tasks):
            # its lines go to the output (or the next step) as the mapper wrote them
            map_only = not shape.reducer
            steps.append(Step(
                map=streaming.map if shape.mapper else streaming.relay,
                map_final=streaming.map_final if shape.mapper_hooks else None,
                combine=streaming.combine if shape.combiner else None,
                reduce=streaming.reduce if shape.reducer else None,
                reduce_final=streaming.reduce_final if shape.reducer_hooks else None,
                # values sorted by their encoded bytes: Hadoop's order of the lines
                sort_values=bool(launcher.sort_values()) and not map_only,
                reducers=0 if map_only else None,
                setup=streaming.setup, teardown=streaming.teardown))
        return steps

    def _shape(self, mr_step: Any, index: int, last: bool) -> StepShape:
        """What an ``MRStep`` runs.

        Raises:
            JobDefinitionError: a jar or Spark step, or an ``MRStep`` part minimr does not
                run.
        """
        where = f"{self.name()} step {index}"
        step_cls = getattr(sys.modules.get("mrjob.step"), "MRStep", None)
        if step_cls is None or not isinstance(mr_step, step_cls):
            raise JobDefinitionError(
                f"{where} is a {type(mr_step).__name__}, which minimr does not run: it runs"
                " MRStep steps of Python functions (no jar or Spark steps)")
        for part, what in _REFUSED_IN_STEP.items():
            if mr_step[part]:
                raise JobDefinitionError(
                    f"{where} has {part}, {what}, which minimr does not run: write it as a"
                    " Python function of the job (mapper, combiner, reducer)")
        description = mr_step.description(index)
        if "combiner" in description and "reducer" not in description:
            raise JobDefinitionError(f"{where} has a combiner and no reducer: minimr runs a"
                                     " combiner only before a reducer")
        return StepShape(
            index=index, mapper="mapper" in description,
            mapper_hooks=bool(mr_step["mapper_init"] or mr_step["mapper_final"]),
            combiner="combiner" in description, reducer="reducer" in description,
            reducer_hooks=bool(mr_step["reducer_init"] or mr_step["reducer_final"]), last=last)

    def _refuse_settings(self, launcher: Any) -> None:
        """Refuse Hadoop's own settings and what minimr cannot ship.

        Raises:
            JobDefinitionError: naming the setting.
        """
        for method, what in _REFUSED_SETTINGS.items():
            if getattr(launcher, method)():
                raise JobDefinitionError(
                    f"{self.name()} sets {what}, which minimr does not run: it runs the job's"
                    " Python steps on lines of text (ship files with FILES)")
