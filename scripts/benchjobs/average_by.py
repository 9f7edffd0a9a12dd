"""Per-key average with float values: the mean order amount of each user.

The job zoo's average (``scripts/bench.py``), written plainly. The input is the orders table
of ``scripts/gen_join_tables.py`` (``order_id<TAB>user_id<TAB>amount``); the map yields
``(user_id, (amount, 1))`` with the amount as a float, combine adds up a map task's
``(total, count)`` pairs of a user, and reduce divides. ``baselines/avg_pool.py`` does the
same with ``multiprocessing``. Sums of floats depend on their order, so outputs of two
engines agree to rounding, not bit for bit.
"""

from __future__ import annotations

from minimr import Job


class AverageAmount(Job):
    """The mean amount of each user's orders."""

    def map(self, key, line):
        """``(user_id, (amount, 1))`` for one order line."""
        order_id, user_id, amount = line.split("\t")
        yield user_id, (float(amount), 1)

    def combine(self, user_id, pairs):
        """Add up a map task's totals and counts of one user."""
        total, count = 0.0, 0
        for amount, n in pairs:
            total += amount
            count += n
        yield user_id, (total, count)

    def reduce(self, user_id, pairs):
        """The mean amount of one user."""
        total, count = 0.0, 0
        for amount, n in pairs:
            total += amount
            count += n
        yield user_id, total / count
