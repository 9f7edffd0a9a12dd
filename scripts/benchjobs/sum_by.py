"""Group by and sum: the total of a numeric field of JSON-lines records, per value of another.

The job zoo's JSON group-by-and-sum (``scripts/bench.py``), written plainly: the map yields
``(record[--field], record[--value])``; combine and reduce add the values up. A record without
either field fails the job. ``baselines/sum_pool.py`` does the same with ``multiprocessing``.
"""

from __future__ import annotations

from minimr import Job, Option


class SumBy(Job):
    """The sum of ``--value`` per value of ``--field``."""

    input_format = "jsonl"
    options = [Option("--field", required=True, help="The field to group the records by."),
               Option("--value", required=True, help="The numeric field to add up.")]

    def setup(self):
        """Read the options once a task."""
        self.field = self.options.field
        self.value = self.options.value

    def map(self, key, record):
        """The record's group and its number."""
        yield record[self.field], record[self.value]

    def combine(self, group, values):
        """Add up a map task's numbers of one group."""
        yield group, sum(values)

    def reduce(self, group, values):
        """Add up the numbers of one group."""
        yield group, sum(values)
