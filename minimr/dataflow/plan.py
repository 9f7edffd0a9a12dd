"""What a job's tasks are: the plan shipped to workers and the task descriptions.

A ``JobPlan`` is everything a task needs: the user's job (its step functions), the values of
the job's own options and its side files (plain data, ``dataflow/sidefiles.py``), and the
run's settings. It is built once by the submitting side (``minimr.planning.build_plan``) and
shipped to workers (cloudpickled); the task descriptions (``MapTask``, ``ReduceTask``,
``SampleTask``) are plain data that the coordinator stores and forwards without ever
unpickling anything.

Per step: an optional sample task (range partitioner: pick boundaries from sampled map output
keys), one map task per split or per pack of small splits (``splits.pack_splits``), then one
reduce task per partition. A step's reduce output is the final ``part-NNNNN`` files for the
last step (in the run's ``PartFormat``: repr, jsonl or tsv, compressed or not), and binary
record files under ``OUTPUT/_temporary/step-K/`` that become the next step's map input
otherwise. A *map-only* step (0 reducers) has no reduce tasks: each map task writes its
output there itself, ``part-m-NNNNN`` numbered by map task, committed as a reduce's is.
``minimr.dataflow.tasks`` runs the tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from minimr.dataflow import storage
from minimr.dataflow.format import output as out
from minimr.dataflow.format.partformats import PartFormat
from minimr.dataflow.inputs.splits import Split, pack_splits
from minimr.dataflow.partition import boundary_keys, boundary_texts
from minimr.dataflow.sidefiles import SideFile


@dataclass(frozen=True)
class MapTask:
    """Map one split of a step's input."""

    step: int
    index: int
    split: Split
    reducers: int
    #: range boundaries (keys that are Python literals), on the wire as their text
    boundaries: tuple | None = None
    skip: frozenset[int] = frozenset()  # skip mode: ordinals of records to pass over
    more: tuple[Split, ...] = ()  # further splits read after ``split`` (small files packed)

    @property
    def splits(self) -> tuple[Split, ...]:
        """Every split the task reads, in order."""
        return (self.split, *self.more)

    def to_dict(self) -> dict:
        """Plain data for the wire (boundaries as literal text, ``partition.boundary_texts``)."""
        return {
            "step": self.step, "index": self.index, "split": self.split.to_dict(),
            "reducers": self.reducers,
            "boundaries": None if self.boundaries is None
            else boundary_texts(list(self.boundaries)),
            **({"skip": sorted(self.skip)} if self.skip else {}),
            **({"more": [s.to_dict() for s in self.more]} if self.more else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> MapTask:
        """Inverse of ``to_dict``; boundaries are read as literals (nothing is unpickled).

        Raises:
            ValueError: the boundaries are not a list of literal texts.
        """
        b = data.get("boundaries")
        if b is not None and not isinstance(b, list):
            raise ValueError(f"boundaries must be a list of literal texts (got {b!r:.60})")
        return cls(int(data["step"]), int(data["index"]), Split.from_dict(data["split"]),
                   int(data["reducers"]), None if b is None else tuple(boundary_keys(b)),
                   frozenset(int(i) for i in data.get("skip", ())),
                   tuple(Split.from_dict(s) for s in data.get("more", ())))

    def with_boundaries(self, boundaries: tuple | None) -> MapTask:
        """The same task with the step's sampled boundaries filled in."""
        return replace(self, boundaries=boundaries)

    def describe(self) -> str:
        """For messages: which input this task reads."""
        return f"map task {self.index} of step {self.step} ({self.describe_input()})"

    def describe_input(self) -> str:
        """The task's input for messages: its first split, and how many more follow."""
        more = f" and {len(self.more)} more split{'s' * (len(self.more) > 1)}" if self.more else ""
        return self.split.describe() + more


@dataclass(frozen=True)
class ReduceTask:
    """Reduce one partition of a step."""

    step: int
    partition: int
    skip: frozenset[int] = frozenset()  # skip mode: ordinals of key groups to pass over

    def to_dict(self) -> dict:
        """Plain data for the wire."""
        return {"step": self.step, "partition": self.partition,
                **({"skip": sorted(self.skip)} if self.skip else {})}

    @classmethod
    def from_dict(cls, data: dict) -> ReduceTask:
        """Inverse of ``to_dict``."""
        return cls(int(data["step"]), int(data["partition"]),
                   frozenset(int(i) for i in data.get("skip", ())))

    def describe(self) -> str:
        """For messages: which partition this task reduces."""
        return f"reduce task {self.partition} of step {self.step}"


@dataclass(frozen=True)
class SampleTask:
    """Sample a step's map output keys to choose range-partition boundaries."""

    step: int

    def to_dict(self) -> dict:
        """Plain data for the wire."""
        return {"step": self.step}

    @classmethod
    def from_dict(cls, data: dict) -> SampleTask:
        """Inverse of ``to_dict``."""
        return cls(int(data["step"]))

    def describe(self) -> str:
        """For messages."""
        return f"sample task of step {self.step}"


@dataclass
class StepPlan:
    """One step of a plan: the user's functions and the resolved options."""

    index: int
    step: Any  # minimr.job.Step (kept untyped: dataflow does not import the user surface)
    reducers: int
    partitioner: str
    input_format: Any  # an InputFormat (inputformats.py), or "records" after the first step
    is_last: bool

    @property
    def needs_sample(self) -> bool:
        """True when the step's partitioner needs sampled boundaries."""
        return self.partitioner == "range" and self.reducers > 1

    @property
    def map_only(self) -> bool:
        """True for a step of 0 reducers: its map tasks write its output (no shuffle)."""
        return self.reducers == 0


@dataclass
class JobPlan:
    """Everything needed to run a job's tasks anywhere; built by ``minimr.planning``."""

    job_id: str
    job_name: str
    steps: list[StepPlan]
    splits: list[Split]  # step 0's input splits
    output: str
    sort_buffer: int
    settings: dict = field(default_factory=dict)
    # step 0's consecutive small splits are packed into tasks of this many bytes at most
    # (the split size with --combine-files, splits.default_pack_size without; None: a task
    # per split)
    split_size: int | None = None
    # the job's option values, checked at submit: {dest: str, int, float, bool or a list}
    options: dict[str, Any] = field(default_factory=dict)
    # side files every task finds in its working directory
    files: tuple[SideFile, ...] = ()
    # how the final part files are written (and what _SUCCESS says of them)
    part_format: PartFormat = field(default_factory=PartFormat)

    # -- tasks ---------------------------------------------------------------------------------
    def input_splits(self, step: int) -> list[Split]:
        """The splits a step reads: the job input, or the previous step's record files."""
        if step == 0:
            return self.splits
        paths = self.input_paths(step)
        return [Split(p, 0, storage.size(p) if storage.exists(p) else 0) for p in paths]

    def input_paths(self, step: int) -> list[str]:
        """The files a step after the first reads: the previous step's record files, one a
        reduce partition (one a map task, after a map-only step)."""
        before = self.steps[step - 1]
        count = self.map_task_count(step - 1) if before.map_only else before.reducers
        return [storage.join(self.intermediate_dir(step - 1), out.part_name(p, before.map_only))
                for p in range(count)]

    def map_task_count(self, step: int) -> int:
        """How many map tasks a step has, known before the steps before it ran: one a pack
        of step 0's splits, one an input file after that."""
        if step == 0:
            return len(self._split_groups())
        return len(self.input_paths(step))

    def _split_groups(self) -> list[tuple[Split, ...]]:
        """Step 0's splits as its map tasks read them (small ones packed together)."""
        if self.split_size is not None:
            return pack_splits(self.splits, self.split_size)
        return [(s,) for s in self.splits]

    def map_tasks(self, step: int, boundaries: list | None = None) -> list[MapTask]:
        """The map tasks of a step (for step > 0, only once the previous step committed)."""
        reducers = self.steps[step].reducers
        if step == 0:
            groups = self._split_groups()
        else:
            groups = [(s,) for s in self.input_splits(step)]
        cuts = None if boundaries is None else tuple(boundaries)
        return [MapTask(step, i, group[0], reducers, cuts, more=group[1:])
                for i, group in enumerate(groups)]

    def sample_task(self, step: int) -> SampleTask:
        """The sample task of a range-partitioned step."""
        return SampleTask(step)

    def reduce_tasks(self, step: int) -> list[ReduceTask]:
        """One reduce task per partition of the step."""
        return [ReduceTask(step, p) for p in range(self.steps[step].reducers)]

    # -- places --------------------------------------------------------------------------------
    def intermediate_dir(self, step: int) -> str:
        """Where a non-final step's committed output lives."""
        return storage.join(self.output, out.TEMPORARY, f"step-{step}")

    def final_path(self, task: ReduceTask | MapTask) -> str:
        """Where a reduce task's committed output lives (a map-only step's map task's)."""
        map_only = isinstance(task, MapTask)
        number = task.index if map_only else task.partition
        if self.steps[task.step].is_last:
            return storage.join(self.output, self.part_format.file_name(number, map_only))
        return storage.join(self.intermediate_dir(task.step), out.part_name(number, map_only))

    def attempt_path(self, task: ReduceTask | MapTask, attempt: str) -> str:
        """Where an attempt writes a reduce output (a map-only map output) before its
        commit."""
        name = os.path.basename(self.final_path(task))
        return storage.join(self.output, out.TEMPORARY, "attempts", attempt,
                            f"step-{task.step}-{name}")

    def part_writer(self, task: ReduceTask | MapTask, path: str) -> Any:
        """The writer of an attempt's output at ``path``: the run's part format for the
        last step, the engine's own record blocks for the steps before it."""
        if self.steps[task.step].is_last:
            return out.TextPartWriter(path, self.part_format)
        return out.RecordPartWriter(path)

    # -- job commit ----------------------------------------------------------------------------
    def commit_job(self) -> None:
        """Write ``_SUCCESS`` (after every last-step reduce committed, naming the parts'
        format) and drop temporaries."""
        out.write_success(self.output, self.part_format)

    def abort_job(self) -> None:
        """Remove temporaries of a failed job; no ``_SUCCESS`` is written."""
        out.abort(self.output)
