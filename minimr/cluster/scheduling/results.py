"""Whether a worker's result fits the task it answers.

``wirecodec.decode`` has already checked every field's type and range; what it cannot
know is the task. A map output of 999 partitions for a step of 3 reducers, a prepare
whose reduce tasks name partition 7 twice, a reduce that claims an output: each is
well-formed and wrong. The scheduler asks :func:`misfit` before it records a success;
a result that does not fit fails that attempt like an exception in user code would, on
that worker (``failures.py`` then blames the worker if the task succeeds elsewhere), so
nothing that does not fit ever reaches the task table, a reduce's assignment or the
journal.

A prepare's task lists are held to more than their shape: a worker lists a step's tasks,
but the submitter says what the job asks for (``Job.layout``, ``dataflow/layout.py``), so
its reducers and the input splits its map tasks read must be the job's. Range boundaries
must be literal texts (``partition.boundary_keys`` reads them here, as the map workers
will: nothing is unpickled), the same for every map task, and only where the step samples.
"""

from __future__ import annotations

from minimr.cluster.scheduling.events import TaskOutput
from minimr.cluster.scheduling.tables import Job, Kind, Task
from minimr.cluster.wire.protocol import MapOutputRef, TaskLists
from minimr.dataflow import layout
from minimr.dataflow.partition import boundary_keys

#: the fields of a task spec the coordinator relies on, and the int range of each
_COUNT = range(0, 2**31)


def misfit(job: Job, task: Task, output: TaskOutput) -> str | None:
    """Why ``output`` cannot be ``task``'s result (None when it fits).

    Args:
        job: the task's job (its reduce tasks say how many partitions a map makes).
        task: the task the attempt ran.
        output: the result the worker reported.
    """
    if task.kind is Kind.MAP:
        return _map_misfit(job, task, output)
    if task.kind is Kind.PREPARE:
        return _prepare_misfit(task, output) or _layout_misfit(job, task, output)
    if output is not None:
        return f"a {task.kind.value} task has no output (got a {type(output).__name__})"
    return None


def _map_misfit(job: Job, task: Task, output: TaskOutput) -> str | None:
    if task.step in job.map_only:  # it committed part files: nothing stays on the worker
        if output is not None:
            return (f"a map task of a map-only step has no map output (got a"
                    f" {type(output).__name__})")
        return None
    if not isinstance(output, MapOutputRef):
        return f"a map task's output must be a map output (got {type(output).__name__})"
    reducers = len(job.reduces.get(task.step, ()))
    if output.partitions != reducers:
        return (
            f"the map output has {output.partitions} partitions, "
            f"the step has {reducers} reducers"
        )
    return None


def _prepare_misfit(task: Task, output: TaskOutput) -> str | None:
    if not isinstance(output, TaskLists):
        return f"a prepare task's output must be task lists (got {type(output).__name__})"
    step = task.step
    reducers = len(output.reduce_tasks)
    for index, spec in enumerate(output.reduce_tasks):
        problem = _spec_misfit(spec, {"step": step, "partition": index})
        if problem:
            return f"reduce task {index}: {problem}"
    for index, spec in enumerate(output.map_tasks):
        problem = _spec_misfit(spec, {"step": step, "index": index, "reducers": reducers})
        if problem:
            return f"map task {index}: {problem}"
    for index, spec in enumerate(output.reduce_tasks + output.map_tasks):
        skip = spec.get("skip", [])
        if not isinstance(skip, list) or not all(type(i) is int and i in _COUNT for i in skip):
            return f"task spec {index}: skip must be a list of record numbers (got {skip!r:.60})"
    return None


def _layout_misfit(job: Job, task: Task, output: TaskLists) -> str | None:
    """Why a prepare's task lists are not what the job asked for (None: they are)."""
    cuts = [spec.get("boundaries") for spec in output.map_tasks]
    for number, texts in enumerate(cuts):
        if texts is None:
            continue
        if not isinstance(texts, list):
            return f"map task {number}: range boundaries must be a list of literal texts"
        try:
            boundary_keys(texts)
        except ValueError as exc:
            return f"map task {number}: its range boundaries are not plain keys: {exc}"
    if any(texts != cuts[0] for texts in cuts):
        return "the map tasks of a step must all cut the partitions at the same boundaries"
    if job.layout is None:
        return None
    step = task.step
    if step >= len(job.layout.steps):
        return f"the job has {len(job.layout.steps)} steps, not a step {step}"
    asked = job.layout.steps[step]
    if len(output.reduce_tasks) != asked.reducers:
        return (
            f"step {step} has {asked.reducers} reducers, the task lists "
            f"{len(output.reduce_tasks)} reduce tasks"
        )
    sampled = asked.sampled and asked.reducers > 1
    if cuts and not sampled and cuts[0] is not None:
        return f"step {step} is not range-partitioned: its map tasks take no boundaries"
    if cuts and sampled and (cuts[0] is None or len(cuts[0]) >= asked.reducers):
        return f"step {step} is range-partitioned: at most {asked.reducers - 1} boundaries"
    if any("skip" in spec for spec in (*output.map_tasks, *output.reduce_tasks)):
        return "a prepare task lists no records to skip (the coordinator adds those)"
    try:
        read = layout.proposed_inputs(output.map_tasks, sized=step == 0)
    except ValueError as exc:
        return str(exc)
    if layout.digest(read) != asked.inputs:
        return (
            f"the map tasks of step {step} do not read the job's input "
            f"({'its splits' if step == 0 else 'the part files of the step before'})"
        )
    return None


def _spec_misfit(spec: dict, expected: dict[str, int]) -> str | None:
    """The first of ``expected``'s fields that ``spec`` does not hold exactly."""
    for name, value in expected.items():
        got = spec.get(name)
        if type(got) is not int or got != value:
            return f"{name} must be {value} (got {got!r:.60})"
    return None
