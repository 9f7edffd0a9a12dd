"""Reduce-side join: every order with the user who placed it, matched on ``user_id``.

Inputs are two tab-separated files without header lines:

- ``users.tsv``:  ``user_id  name  country``
- ``orders.tsv``: ``order_id  user_id  amount``

The map tells the two apart by file name (a base name starting with ``users`` or
``orders``; anything else is an error), and tags each record with its side: users become
``(user_id, ("user", name, country))``, orders ``(user_id, ("order", order_id, amount))``.
The shuffle brings every record of one ``user_id`` to one ``reduce`` call, which pairs
them up. Fields are kept as text: the join matches ``user_id`` strings exactly.

This is an **inner join**: an order whose ``user_id`` has no user row, and a user with no
orders, produce no output (they are counted as ``join/orders without a user`` and
``join/users without orders``). A user id that appears on several user rows joins each of its
orders with each of those rows, as SQL does. The reducer holds one user's orders in memory.
Lines without exactly three fields are skipped and counted as ``join/malformed lines``.

Run it on the project's sample tables::

    minimr submit jobs/join.py --input data/join/users.tsv --input data/join/orders.tsv \\
        --output out/join --overwrite

Output: ``out/join/part-00000`` ... one joined row a line, sorted by ``user_id`` (as strings)
within each part and by ``order_id`` within a user: the key is the ``user_id``, the value
the tuple ``(name, country, order_id, amount)``::

    '24'	('Ken Goldwasser', 'US', '100001', '85.66')
    '24'	('Ken Goldwasser', 'US', '100151', '106.83')
"""

from __future__ import annotations

import os

from minimr import Job

SOURCES = {"users": "user", "orders": "order"}


class Join(Job):
    """Inner join of users and orders on ``user_id``."""

    def setup(self):
        """Start a cache of which side each input file is."""
        self._sides = {}

    def _side(self, path):
        side = self._sides.get(path)
        if side is None:
            name = os.path.basename(path)
            matches = [s for prefix, s in SOURCES.items() if name.startswith(prefix)]
            if not matches:
                raise ValueError(
                    f"join.py reads users*.tsv and orders*.tsv files (got {path!r})"
                )
            side = self._sides[path] = matches[0]
        return side

    def map(self, key, line):
        """Tag a user or order record with its side, keyed by ``user_id``."""
        fields = line.split("\t")
        if len(fields) != 3:
            self.increment_counter("join", "malformed lines")
            return
        if self._side(key[0]) == "user":
            user_id, name, country = fields
            yield user_id, ("user", name, country)
        else:
            order_id, user_id, amount = fields
            yield user_id, ("order", order_id, amount)

    def reduce(self, user_id, records):
        """Yield ``(user_id, (name, country, order_id, amount))`` for each matching pair."""
        users, orders = [], []
        for record in records:
            if record[0] == "user":
                users.append(record[1:])
            else:
                orders.append(record[1:])
        if not users:
            self.increment_counter("join", "orders without a user", len(orders))
            return
        if not orders:
            self.increment_counter("join", "users without orders", len(users))
            return
        for name, country in sorted(users):
            for order_id, amount in sorted(orders):
                yield user_id, (name, country, order_id, amount)
