"""``sum_by.py`` with its reduce declared: ``reduce = minimr.fold(sum)`` (which combines too)."""

from __future__ import annotations

import minimr
from minimr import Job, Option


class SumByDeclared(Job):
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

    reduce = minimr.fold(sum)
