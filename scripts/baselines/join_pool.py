#!/usr/bin/env python3
"""Join baseline: orders with their users by user_id, a hash join over multiprocessing.Pool.

usage: join_pool.py USERS_DIR ORDERS_DIR OUTPUT_DIR [WORKERS]     (WORKERS default 2)

The work of ``jobs/join.py`` (an inner join, fields kept as text) done the way one would by
hand when the users fit in memory: the parent reads every user row into a dict, the pool's
workers inherit it (fork) and each joins one orders file against it, writing its own part
file of ``user_id<TAB>name<TAB>country<TAB>order_id<TAB>amount`` lines. A user id on several
user rows joins each of them. Tables are ``scripts/gen_join_tables.py``'s.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

USERS: dict[str, list[tuple[str, str]]] = {}    # filled before the pool forks


def table_files(folder: str) -> list[str]:
    """The ``.tsv`` files of ``folder``, in name order."""
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".tsv")]


def join_file(task: tuple[str, str]) -> int:
    """Join one orders file into one output file; return the rows written (in a worker)."""
    path, out_path = task
    users = USERS
    rows = 0
    with open(path, encoding="utf-8") as orders, open(out_path, "w", encoding="utf-8") as out:
        for line in orders:
            order_id, user_id, amount = line.rstrip("\n").split("\t")
            for name, country in users.get(user_id, ()):
                out.write(f"{user_id}\t{name}\t{country}\t{order_id}\t{amount}\n")
                rows += 1
    return rows


def main(users_dir: str, orders_dir: str, outdir: str, workers: int = 2) -> None:
    """Join the tables with ``workers`` processes into ``outdir``/part-*."""
    for path in table_files(users_dir):
        with open(path, encoding="utf-8") as f:
            for line in f:
                user_id, name, country = line.rstrip("\n").split("\t")
                USERS.setdefault(user_id, []).append((name, country))
    os.makedirs(outdir, exist_ok=True)
    tasks = [(path, os.path.join(outdir, f"part-{i:05d}"))
             for i, path in enumerate(table_files(orders_dir))]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        sum(pool.imap_unordered(join_file, tasks))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(*sys.argv[1:4], int(sys.argv[4]) if len(sys.argv) == 5 else 2)
