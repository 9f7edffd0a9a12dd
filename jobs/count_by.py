"""Count by field: how many JSON-lines records hold each value of one field.

The input is JSON lines (``input_format = "jsonl"``: one JSON object a line, parsed with the
standard ``json`` module); the field is the job's option ``--field``. A record without the
field counts under ``None``; a line that is not JSON fails the job naming its file and line,
or, with ``--skip-bad-records``, is skipped and counted. The combiner sums each map task's
counts before the shuffle.

Run it on the project's sample events, writing JSON lines back::

    minimr submit jobs/count_by.py --input data/events --output out/by-kind --overwrite \\
        --field kind --output-format jsonl

Output: ``out/by-kind/part-00000`` ... one ``[value, count]`` JSON array a line, values
sorted within each part (``["buy",41]``); ``minimr.read_output("out/by-kind")`` reads the
pairs back. Without ``--output-format``, the parts hold ``repr(value) TAB count``.
"""

from __future__ import annotations

from minimr import Job, Option


class CountBy(Job):
    """Records per value of ``--field``."""

    input_format = "jsonl"
    options = [Option("--field", required=True, help="The field to group the records by.")]

    def setup(self):
        """Read the option once a task, not once a record."""
        self.field = self.options.field

    def map(self, key, record):
        """One count for the record's value of the field."""
        yield record.get(self.field), 1

    def combine(self, value, counts):
        yield value, sum(counts)

    def reduce(self, value, counts):
        yield value, sum(counts)
