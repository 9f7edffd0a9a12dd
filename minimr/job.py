"""The job API: what a user writes.

A job is a ``Job`` subclass with generator methods::

    class WordCount(Job):
        def map(self, key, line):            # key: (path, byte offset); line: str
            for word in WORD.findall(line.lower()):
                yield word, 1

        def combine(self, word, counts):     # optional; runs on map output before the shuffle
            yield word, sum(counts)

        def reduce(self, word, counts):      # counts: an iterator, never a list
            yield word, sum(counts)

or a module with top-level ``map``/``reduce`` (and optional ``combine``) functions. ``reduce``
may be left out: each value is then written as it is (an identity reduce, whose output is still
sorted by key).

Declared forms, which the engine runs in C and which mean exactly what the plain forms mean:
``reduce = minimr.fold(sum)`` (``min``, ``max``, ``any``, ``all``) yields ``(key, sum(values))``
for every key and, with no ``combine`` of its own, combines too; ``map_keys(self, key, value)``
returns the keys of a record, each counted as the pair ``(key, 1)``::

    class WordCount(Job):
        def map_keys(self, key, line):
            return WORD.findall(line.lower())

        reduce = minimr.fold(sum)
 A *batch* map, ``map_batch(self, records)``, receives a list of ``(key, value)``
records at once and returns pairs or a mapping (``{key: value}``, a ``Counter``): it lets the
inner loop run at C speed, like Spark's ``mapPartitions``. ``map_final(self)``, called once
at the end of each map task, returns (or yields) pairs too: a map may accumulate into state
of its own (a ``Counter`` made in ``setup``) and hand it on once per task (in-mapper
combining; mrjob's ``mapper_final``, Hadoop's ``cleanup``).

Multi-step jobs return a list of ``Step`` from ``steps()``; each step's output is the next
step's input. Options that shape the data live on the class (``reducers``, ``input_format``,
``output_format``, ``partitioner``) and on each ``Step``; engine settings (split size, sort
buffer, workers) belong to the run. A job's own parameters are declared in ``options``
(``minimr.Option``, see ``minimr/joboptions.py``) and read in tasks from ``self.options``;
the files it needs beside it are named in ``files`` (``minimr/dataflow/sidefiles.py``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from minimr.dataflow import counters as _counters
from minimr.dataflow import storage
from minimr.dataflow.folds import Fold
from minimr.dataflow.format.encodings import OUTPUT_FORMATS
from minimr.dataflow.inputs.inputformats import InputFormat, resolve_input_format
from minimr.dataflow.partition import PARTITIONERS
from minimr.errors import JobDefinitionError
from minimr.joboptions import Option, Options, check_declarations

_MAPS = ("map", "map_keys", "map_batch")


@dataclass
class Step:
    """One map/reduce round of a job.

    Attributes:
        map: ``(key, value) -> iterable of (key, value)``; or None with ``map_keys`` or
            ``map_batch`` (a step has exactly one of the three).
        map_keys: ``(key, value) -> iterable of keys``, each counted as the pair ``(key, 1)``.
        reduce: ``(key, values iterator) -> iterable of (key, value)``, or a declared fold
            (``minimr.fold(sum)``); None writes each value.
        combine: optional map-side pre-reduce with ``reduce``'s signature; it must yield the
            key it was given and may run zero, one or several times per key. A step whose
            reduce is a fold and that has no combine combines with the fold.
        map_batch: ``(list of (key, value)) -> iterable of pairs or a mapping``.
        map_final: ``() -> iterable of pairs, a mapping or None``, called once per map task
            after its last ``map``/``map_batch`` call (before the last combine and teardown).
        reduce_final: ``() -> iterable of pairs, a mapping or None``, called once per reduce
            task after its last ``reduce`` call (mrjob's ``reducer_final``, Hadoop's
            ``cleanup``); what it gives is written to the task's output after the reduce's.
        sort_values: each key's values reach ``reduce`` sorted, in minimr's order (Python's,
            typed as keys are for mixed types): a secondary sort, spilled and merged in
            bounded memory like the keys (None: the job's ``sort_values``). A combiner then
            runs when the map output buffer spills, not when spills merge.
        reducers: this step's number of reduce partitions (wins over the run's ``reducers``);
            ``0`` makes it a *map-only* step: no shuffle, no sort, no reduce; each map task
            writes what its map yields, in the map's order, straight to a part file of its
            own (``part-m-NNNNN``), so the step has no ``reduce``, ``combine``,
            ``reduce_final``, ``sort_values`` or range partitioner (Hadoop's zero-reducer
            jobs, mrjob's mapper-only steps).
        partitioner: ``"hash"`` or ``"range"`` (sampled boundaries: total order across parts).
        setup, teardown: called once per task before and after the step's functions.
    """

    map: Callable[[Any, Any], Iterable[tuple[Any, Any]] | None] | None = None
    map_keys: Callable[[Any, Any], Iterable[Any] | None] | None = None
    reduce: Callable[[Any, Iterator[Any]], Iterable[tuple[Any, Any]]] | None = None
    combine: Callable[[Any, Iterator[Any]], Iterable[tuple[Any, Any]]] | None = None
    map_batch: Callable[[list], Any] | None = None
    map_final: Callable[[], Any] | None = None
    reduce_final: Callable[[], Any] | None = None
    sort_values: bool | None = None
    reducers: int | None = None
    partitioner: str | None = None
    setup: Callable[[], None] | None = None
    teardown: Callable[[], None] | None = None

    def validate(self, where: str) -> None:
        """Check the step's shape.

        Raises:
            JobDefinitionError: naming ``where`` and what is wrong.
        """
        defined = [name for name in _MAPS if getattr(self, name) is not None]
        if len(defined) != 1:
            got = f"it defines {' and '.join(defined)}" if defined else "it defines none"
            raise JobDefinitionError(
                f"{where} must define exactly one of map, map_keys or map_batch ({got})")
        for name in ("map", "map_keys", "reduce", "combine", "map_batch", "map_final",
                     "reduce_final", "setup", "teardown"):
            fn = getattr(self, name)
            if fn is not None and not callable(fn):
                raise JobDefinitionError(f"{where}: {name} must be callable (got {fn!r})")
        if self.sort_values is not None and type(self.sort_values) is not bool:
            raise JobDefinitionError(
                f"{where}: sort_values must be True or False (got {self.sort_values!r})")
        _check_reducers(self.reducers, f"{where}: reducers")
        if self.partitioner is not None and self.partitioner not in PARTITIONERS:
            raise JobDefinitionError(
                f"{where}: partitioner must be one of {', '.join(map(repr, PARTITIONERS))}"
                f" (got {self.partitioner!r})"
            )


class Job:
    """Base class of class-style jobs; override ``map`` (or ``map_batch``) and ``reduce``.

    Class attributes (all optional):
        reducers: default number of reduce partitions (the run's ``--reducers`` overrides it);
            ``0``: map-only, each map task's output is a part file (see ``Step.reducers``).
        input_format: how input files become records: ``"text"`` (lines, the default),
            ``"whole_file"`` (one ``(path, contents)`` a file), ``"jsonl"``, ``"csv"``,
            ``"tsv"``, or an object such as ``minimr.CSV(header=True)`` or an
            ``InputFormat`` of the job's own (docs/formats.md).
        output_format: how the part files are written: ``"repr"`` (the default), ``"jsonl"``,
            ``"tsv"`` or ``"lines"`` (the run's ``--output-format`` overrides it).
        partitioner: ``"hash"`` (default) or ``"range"`` (total order across part files).
        sort_values: ``True`` hands each key's values to ``reduce`` sorted (a secondary
            sort, in bounded memory; a ``Step`` may say otherwise).
        options: the job's own options, a list of ``minimr.Option``; in a running job,
            ``self.options`` holds their values (``self.options.threshold``).
        files: side files shipped with the job, paths relative to the job file's folder;
            each task opens them by base name (``open("stop_words.txt")``).
    """

    reducers: int | None = None
    input_format: str | InputFormat | type[InputFormat] = "text"
    output_format: str | None = None
    partitioner: str = "hash"
    sort_values: bool = False
    options: Sequence[Option] | Options = ()
    files: Sequence[str] = ()

    map: Callable | None = None
    map_keys: Callable | None = None
    map_batch: Callable | None = None
    map_final: Callable | None = None
    combine: Callable | None = None
    reduce: Callable | Fold | None = None
    reduce_final: Callable | None = None

    def setup(self) -> None:
        """Called once in each task before any map, combine or reduce call."""

    def teardown(self) -> None:
        """Called once in each task after its last map, combine or reduce call."""

    def steps(self) -> list[Step]:
        """The job's steps; by default one step made of this class's methods."""
        return [
            Step(
                map=self.map,
                map_keys=self.map_keys,
                map_batch=self.map_batch,
                map_final=self.map_final,
                combine=self.combine,
                reduce=self.reduce,
                reduce_final=self.reduce_final,
                setup=self.setup,
                teardown=self.teardown,
            )
        ]

    def increment_counter(self, group: str, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the user counter ``group/name`` (summed over all tasks)."""
        _counters.increment_counter(group, name, amount)

    @classmethod
    def name(cls) -> str:
        """The job's name, used in job ids and messages."""
        return cls.__name__

    def _declared_options(self) -> object:
        # the class's list: an instance's own ``options`` holds a run's values
        return type(self).options

    def _module(self) -> ModuleType | None:
        """The module of the job's code: what travels to workers, and whose file it is."""
        return sys.modules.get(type(self).__module__)

    def _declared_files(self) -> tuple[object, str]:
        """The ``files`` declared and the folder they are relative to (the job file's)."""
        file = getattr(self._module(), "__file__", None)
        return type(self).files, os.path.dirname(os.path.abspath(file)) if file else os.getcwd()


class ModuleJob(Job):
    """A job made of a module's top-level ``map``/``reduce``/``combine`` (``map_keys``,
    ``map_batch``, ``map_final``, ``reduce_final``, ``setup``, ``teardown``) functions;
    ``reduce`` may be a module-level ``minimr.fold(...)``.

    The module may also set ``reducers``, ``input_format``, ``output_format``,
    ``partitioner``, ``sort_values``, ``options``
    (read in tasks with ``minimr.options()``) and ``files`` globals. Only the functions and
    those values are kept (not the module), so the job pickles by value.

    Attributes:
        source: the module's file, if it has one (what ``minimr replay`` loads again).
    """

    def __init__(self, module: ModuleType) -> None:
        self._name = module.__name__.rsplit(".", 1)[-1].removeprefix("minimr_job_")
        self.source: str | None = getattr(module, "__file__", None)
        self._step = Step(
            map=getattr(module, "map", None),
            map_keys=getattr(module, "map_keys", None),
            map_batch=getattr(module, "map_batch", None),
            map_final=getattr(module, "map_final", None),
            combine=getattr(module, "combine", None),
            reduce=getattr(module, "reduce", None),
            reduce_final=getattr(module, "reduce_final", None),
            setup=getattr(module, "setup", None),
            teardown=getattr(module, "teardown", None),
        )
        self.reducers = getattr(module, "reducers", None)
        self.input_format = getattr(module, "input_format", "text")
        self.output_format = getattr(module, "output_format", None)
        self.partitioner = getattr(module, "partitioner", "hash")
        self.sort_values = getattr(module, "sort_values", False)
        self._options = getattr(module, "options", ())
        self._files = getattr(module, "files", ())

    def steps(self) -> list[Step]:
        return [self._step]

    def _declared_options(self) -> object:
        return self._options

    def _declared_files(self) -> tuple[object, str]:
        folder = os.path.dirname(os.path.abspath(self.source)) if self.source else os.getcwd()
        return self._files, folder

    def name(self) -> str:  # type: ignore[override]
        return self._name


def job_name(job: Job) -> str:
    """The display name of a job instance."""
    return job.name()


def declared_options(job: Job) -> tuple[Option, ...]:
    """The options ``job`` declares, checked (see ``minimr.joboptions``).

    Raises:
        JobDefinitionError: a malformed list, or a flag that clashes with ``minimr submit``'s.
    """
    return check_declarations(job._declared_options(), job_name(job))


def declared_files(job: Job) -> list[str]:
    """The side files ``job`` declares (``files``), relative paths made absolute from the job
    file's folder (URLs as they are).

    Raises:
        JobDefinitionError: ``files`` is not a list of paths.
    """
    files, folder = job._declared_files()
    if isinstance(files, (str, bytes)) or not isinstance(files, (list, tuple)) or not all(
            isinstance(f, (str, os.PathLike)) for f in files):
        raise JobDefinitionError(f"{job_name(job)}.files must be a list of paths"
                                 f" (got {files!r})")
    return [os.fspath(f) if storage.protocol(os.fspath(f)) is not None else
            os.path.join(folder, os.path.expanduser(os.fspath(f))) for f in files]


def resolve_steps(job: Job, reducers: int | None = None, default_reducers: int = 4
                  ) -> list[Step]:
    """The validated steps of ``job``, each with its number of reducers resolved: the
    step's own, else the run's ``reducers``, else the job's, else ``default_reducers``.

    Raises:
        JobDefinitionError: a malformed job or step, with what was expected and received;
            a map-only step (``reducers`` 0) that also declares what only a reduce has.
    """
    resolve_input_format(job.input_format, f"{job_name(job)}.input_format")
    if job.output_format is not None and job.output_format not in OUTPUT_FORMATS:
        raise JobDefinitionError(
            f"{job_name(job)}.output_format must be one of"
            f" {', '.join(map(repr, OUTPUT_FORMATS))} (got {job.output_format!r})"
        )
    _check_reducers(job.reducers, f"{job_name(job)}.reducers")
    steps = job.steps()
    if not isinstance(steps, (list, tuple)) or not steps:
        raise JobDefinitionError(
            f"{job_name(job)}.steps() must return a non-empty list of Step (got {steps!r})"
        )
    resolved = []
    for i, step in enumerate(steps):
        if not isinstance(step, Step):
            raise JobDefinitionError(
                f"{job_name(job)}.steps()[{i}] must be a minimr.Step (got {type(step).__name__})"
            )
        where = f"{job_name(job)} step {i}"
        step.validate(where)
        # The job's own setup/teardown run in every task of every step, unless a step
        # names its own; a declared fold combines too, unless the step has a combine.
        combine = step.combine
        if combine is None and type(step.reduce) is Fold:
            combine = step.reduce
        sort_values = job.sort_values if step.sort_values is None else step.sort_values
        if type(sort_values) is not bool:
            raise JobDefinitionError(f"{job_name(job)}.sort_values must be True or False"
                                     f" (got {sort_values!r})")
        count, source = next((n, name) for n, name in (
            (step.reducers, "the step's reducers"), (reducers, "the run's reducers"),
            (job.reducers, f"{job_name(job)}.reducers"), (default_reducers, "the default"))
            if n is not None)
        step = dataclasses.replace(
            step, combine=combine, setup=step.setup or job.setup,
            teardown=step.teardown or job.teardown, sort_values=sort_values, reducers=count)
        if count == 0:
            _check_map_only(step, step.partitioner or job.partitioner, where, source)
        resolved.append(step)
    return resolved


def _check_reducers(reducers: object, what: str) -> None:
    """A number of reducers is None (not given) or an int >= 0 (0: map-only).

    Raises:
        JobDefinitionError: naming ``what`` and the value.
    """
    if reducers is not None and (type(reducers) is not int or reducers < 0):
        raise JobDefinitionError(
            f"{what} must be an int >= 1, or 0 for a map-only step (got {reducers!r})")


def _check_map_only(step: Step, partitioner: str | None, where: str, source: str) -> None:
    """A map-only step writes its map's output as it is: refuse what only a reduce has.

    Raises:
        JobDefinitionError: naming what the step declares, where its 0 came from, and the
            two ways out.
    """
    declared = [name for name in ("reduce", "combine", "reduce_final")
                if getattr(step, name) is not None
                and not (name == "combine" and step.combine is step.reduce)]  # a fold's
    if step.sort_values:
        declared.append("sort_values=True")
    if partitioner == "range":
        declared.append('partitioner="range"')
    if declared:
        raise JobDefinitionError(
            f"{where} is map-only (reducers=0, from {source}) but declares"
            f" {', '.join(declared)}: a map-only step has no shuffle, sort or reduce (each map"
            " task writes its output as it is). Drop those, or give the step reducers >= 1")
