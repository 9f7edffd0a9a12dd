"""``jobs/count_by.py`` in the declared forms: JSON-lines records counted by one field.

``map_keys`` returns the record's value of ``--field`` (each counted as ``(value, 1)``) and
``reduce = minimr.fold(sum)`` adds the counts up, combining before the shuffle too.
"""

from __future__ import annotations

import minimr
from minimr import Job, Option


class CountByDeclared(Job):
    """Records per value of ``--field``."""

    input_format = "jsonl"
    options = [Option("--field", required=True, help="The field to group the records by.")]

    def setup(self):
        """Read the option once a task."""
        self.field = self.options.field

    def map_keys(self, key, record):
        """The record's value of the field."""
        return (record.get(self.field),)

    reduce = minimr.fold(sum)
