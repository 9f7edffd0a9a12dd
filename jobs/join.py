"""Reduce-side join: every order with the user who placed it, matched on ``user_id``.

Inputs are two tab-separated files without header lines:

- ``users.tsv``:  ``user_id  name  country``
- ``orders.tsv``: ``order_id  user_id  amount``

The map tells the two apart by file name (a base name starting with ``users`` or
``orders``; anything else is an error), and tags each record with its side: users become
``(user_id, (0, name, country))``, orders ``(user_id, (1, order_id, amount))``. The shuffle
brings every record of one ``user_id`` to one ``reduce`` call, which pairs them up. Fields
are kept as text: the join matches ``user_id`` strings exactly.

The job asks for its values sorted (``sort_values = True``, a secondary sort), so a user id's
rows come to ``reduce`` before its orders (tag 0 before 1), each side in order: the reducer
holds the user rows, the small side, and streams the orders past them, never holding a
user's orders in memory (only a user id on several user rows has its orders held, to join
them row by row in order).

This is an **inner join**: an order whose ``user_id`` has no user row, and a user with no
orders, produce no output (they are counted as ``join/orders without a user`` and
``join/users without orders``). A user id that appears on several user rows joins each of its
orders with each of those rows, as SQL does. Lines without exactly three fields are skipped
and counted as ``join/malformed lines``.

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
from itertools import chain

from minimr import Job

USER, ORDER = 0, 1  # the tags: sorted values bring a user id's user rows first
SOURCES = {"users": USER, "orders": ORDER}


class Join(Job):
    """Inner join of users and orders on ``user_id``."""

    sort_values = True

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
        if self._side(key[0]) == USER:
            user_id, name, country = fields
            yield user_id, (USER, name, country)
        else:
            order_id, user_id, amount = fields
            yield user_id, (ORDER, order_id, amount)

    def reduce(self, user_id, records):
        """Yield ``(user_id, (name, country, order_id, amount))`` for each matching pair.

        ``records`` come sorted: the user rows (sorted by name, country), then the orders
        (sorted by order id).
        """
        users = []
        for record in records:
            if record[0] == USER:
                users.append(record[1:])
                continue
            orders = chain([record], records)  # the first order: every user row is in hand
            if not users:
                self.increment_counter("join", "orders without a user", sum(1 for _ in orders))
            elif len(users) == 1:  # the usual case: the orders stream past the one row
                [(name, country)] = users
                for _, order_id, amount in orders:
                    yield user_id, (name, country, order_id, amount)
            else:  # one id on several user rows: each row with every order, row by row
                held = [order[1:] for order in orders]
                for name, country in users:
                    for order_id, amount in held:
                        yield user_id, (name, country, order_id, amount)
            return
        self.increment_counter("join", "users without orders", len(users))
