"""Replicated (map-side) join: every order with the user who placed it, the users in memory.

The same inner join as ``jobs/join.py``, done the way MapReduce joins a small table with a big
one: the users table travels to every task as a side file (or a folder of part files), each
map task loads it into a dict once, in ``setup``, and the orders, the job's only input, stream
past it. Nothing crosses a shuffle: the job is map-only (``reducers = 0``), so each map task
writes its joined rows straight to a part file of its own; the table must fit in each
task's memory (a million users: a few hundred MB). A worker runs many map tasks in
one process, so the table is kept between them (the last one loaded, known by its files'
paths, inodes, sizes and times): loaded once per process, not once per task.

Inputs are tab-separated files without header lines:

- the side file or folder named by ``--users`` (default ``users.tsv``): ``user_id  name
  country``
- the input, orders: ``order_id  user_id  amount``

An order whose ``user_id`` has no user row produces no output (counted as ``join/orders
without a user``); a user id on several user rows joins each of them, as SQL does. Lines
without exactly three fields are skipped (orders counted as ``join/malformed lines``).

Run it on the project's sample tables::

    minimr submit jobs/join_replicated.py --input data/join/orders.tsv \\
        --file data/join/users.tsv --output out/join-replicated --overwrite

With a users table written as a folder of parts (``users/part-00000`` ...)::

    minimr submit jobs/join_replicated.py --input orders/ --file users/ --users users ...

Output: the rows of ``jobs/join.py``'s output, one joined row a line, the key the
``user_id``, the value ``(name, country, order_id, amount)``; but map-only: one part a map
task (``part-m-00000`` ...), each in the orders' input order, not sorted by ``user_id``
(``--reducers N`` sorts them into N parts through an identity reduce)::

    '24'	('Ken Goldwasser', 'US', '100001', '85.66')
"""

from __future__ import annotations

import os

import minimr
from minimr import Job, Option

_loaded: dict[tuple, dict] = {}  # the last users table loaded in this process, by its files


class ReplicatedJoin(Job):
    """Inner join of the orders (the input) with the users (a side file) on ``user_id``."""

    reducers = 0  # map-only: the joined rows are final as the map makes them
    options = [Option("--users", default="users.tsv",
                      help="The users table's side file or folder (its base name).")]

    def setup(self):
        """The users table, ``user_id -> [(name, country), ...]``, loaded unless this process
        loaded it for an earlier task."""
        path = minimr.side_file(self.options.users)
        paths = ([os.path.join(root, name) for root, _, names in sorted(os.walk(path))
                  for name in sorted(names)] if os.path.isdir(path) else [path])
        files = tuple((p, s.st_ino, s.st_size, s.st_mtime_ns) for p in paths
                      for s in [os.stat(p)])
        if files not in _loaded:
            _loaded.clear()
            _loaded[files] = self._load(paths)
        self.users = _loaded[files]

    def _load(self, paths):
        users = {}
        for table in paths:
            with open(table, encoding="utf-8") as f:
                for line in f:
                    fields = line.rstrip("\n").split("\t")
                    if len(fields) != 3:
                        continue  # not counted: the table is loaded once per process
                    user_id, name, country = fields
                    users.setdefault(user_id, []).append((name, country))
        return users

    def map(self, key, line):
        """Yield ``(user_id, (name, country, order_id, amount))`` for each user row of the
        order's user."""
        fields = line.split("\t")
        if len(fields) != 3:
            self.increment_counter("join", "malformed lines")
            return
        order_id, user_id, amount = fields
        rows = self.users.get(user_id)
        if rows is None:
            self.increment_counter("join", "orders without a user")
            return
        for name, country in rows:
            yield user_id, (name, country, order_id, amount)
