"""What a job asks for, as plain data a coordinator can hold a prepare task's answer to.

On a cluster, a step's task list is made by a ``prepare`` task on a worker (only a worker
may load the job's code, which the sampler of a range partitioner runs). The coordinator
must not take that list on trust: a worker key answering a prepare task could otherwise
choose what every map task reads (a file the job never named) and how many partitions it
makes. So the submitter, who built the plan, sends its *layout* with the job: per step, the
reducers, whether a sample cuts the partitions, and a digest of the input splits its map
tasks must read. For step 0 that is the job's input splits exactly; for a later step, the
previous step's part files, whose sizes nobody knows before that step commits (so its
digest leaves the ends out). :func:`proposed_inputs` reads the same list back from a
prepare's map task specs, for ``cluster/scheduling/results.py`` to compare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

#: an input as the digest sees it: (path, start, end), end None where it is not known yet
Input = tuple[str, int, int | None]


def digest(inputs: Iterable[Input]) -> str:
    """The sha256 (hex) of a list of inputs, in order."""
    text = json.dumps([list(item) for item in inputs], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def step_inputs(plan: Any, step: int) -> list[Input]:
    """What the map tasks of ``step`` of ``plan`` read: the job's splits for step 0; for a
    later step, the previous step's part files from their start (ends unknown)."""
    if step == 0:
        return [(s.path, s.start, s.end) for s in plan.splits]
    return [(path, 0, None) for path in plan.input_paths(step)]


def job_layout(plan: Any) -> dict:
    """The layout of ``plan`` as plain data (``protocol.JobLayout``'s fields)."""
    return {
        "steps": [
            {
                "reducers": sp.reducers,
                "sampled": bool(sp.needs_sample),
                "inputs": digest(step_inputs(plan, sp.index)),
            }
            for sp in plan.steps
        ]
    }


def proposed_inputs(map_specs: Iterable[dict], sized: bool) -> list[Input]:
    """What a prepare's map task specs say their tasks read, in order (each spec's
    ``split``, then its ``more``); ends left out unless ``sized``.

    Raises:
        ValueError: a spec whose splits are not ``{"path", "start", "end"}`` objects.
    """
    found: list[Input] = []
    for number, spec in enumerate(map_specs):
        splits = [spec.get("split"), *(spec.get("more") or [])]
        if not isinstance(spec.get("more", []), list):
            raise ValueError(f"map task {number}: more must be a list of splits")
        for split in splits:
            if not (
                isinstance(split, dict)
                and isinstance(split.get("path"), str)
                and type(split.get("start")) is int
                and type(split.get("end")) is int
            ):
                raise ValueError(f"map task {number}: a split must be a path, start and end")
            found.append((split["path"], split["start"], split["end"] if sized else None))
    return found
