"""A worker's copies of the tables of map output holders its reduces read.

The coordinator sends a worker a step's table (``protocol.ReduceInputs``, ~700 KB at
100,000 maps) with the first reduce of the step it gives it, and again with the first one
after the table changed (a map run again after its holder was lost); every other reduce's
``Assign`` names the table by its number alone. A worker keeps the last table of each
(job, step) until the job is forgotten, and none across registrations: the coordinator
records what it sent on the registration it sent it to (``tables.Worker.tables``), so a
worker that registers again (or a coordinator restarted from its journal) starts bare.
"""

from __future__ import annotations

import dataclasses

from minimr.cluster.wire import protocol as p


class MissingTable(Exception):
    """A reduce's ``Assign`` names a table this worker was not sent (its attempt fails)."""


class InputTables:
    """The last table of map output holders of each (job, step) this worker was sent."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, int], tuple[int, p.ReduceInputs]] = {}

    def resolve(self, assign: p.Assign) -> p.Assign:
        """``assign`` with its reduce's table in ``inputs``: the one it carries (then kept)
        or the one kept of the number it names.

        Raises:
            MissingTable: it names a table that is not the one kept for its step.
        """
        if assign.kind != "reduce":
            return assign
        key = (assign.job_id, p.attempt_step(assign.attempt))
        if assign.inputs is not None:
            self._tables[key] = (assign.table, assign.inputs)
            return assign
        number, inputs = self._tables.get(key, (0, None))
        if inputs is None or number != assign.table:
            held = f"table {number}" if inputs is not None else "none"
            raise MissingTable(
                f"{assign.attempt} of job {assign.job_id} reads table {assign.table} of its "
                f"step's map output holders, which this worker was not sent (it holds {held})"
            )
        return dataclasses.replace(assign, inputs=inputs)

    def forget_job(self, job_id: str) -> None:
        """Drop a job's tables (it ended: ``ForgetJob``)."""
        for key in [k for k in self._tables if k[0] == job_id]:
            del self._tables[key]

    def clear(self) -> None:
        """Drop every table (a new registration: the coordinator knows of none here)."""
        self._tables.clear()
