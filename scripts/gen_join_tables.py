#!/usr/bin/env python3
"""Benchmark-size users and orders tables, for the job zoo's join and average groups.

usage: gen_join_tables.py OUTDIR [--size 256MB] [--files 16] [--seed 1]

Writes OUTDIR/users/users-00000.tsv ... and OUTDIR/orders/orders-00000.tsv ..., tab-separated
without header lines, in the layout of ``jobs/join.py`` (which tells the sides apart by the
file names) and of ``scripts/gen_join_data.py``'s small tables:

  users   user_id<TAB>name<TAB>country          user ids 1..U, each once
  orders  order_id<TAB>user_id<TAB>amount       ten orders per user on average, user ids
                                                uniform over 1..U, 1 % of them above U (orders
                                                without a user); amounts with two decimals

U is --size / 280 bytes: 256 MiB gives 0.96 million users and 9.6 million orders, 229 MiB in
all (issue 20's 1M x 10M rows). The users go to a quarter as many files as the orders.
Output depends only on (--size, --files, --seed).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor

from gen_corpus import parse_size
from gen_join_data import COUNTRIES, FIRST_NAMES, LAST_NAMES

BYTES_PER_USER = 280          # of --size; a user takes about 250 bytes in both tables
ORDERS_PER_USER = 10
ORPHANS = 0.01                # the share of orders whose user id has no user row
AMOUNTS = 10_000              # distinct amount strings drawn from
CHUNK = 100_000


NAMES = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]


def write_users(path: str, first: int, count: int, seed: int) -> int:
    """Write user rows ``first .. first + count - 1`` to ``path``; return the bytes written."""
    rng = random.Random(f"{seed}:users:{first}")
    codes, weights = zip(*COUNTRIES, strict=True)
    written = 0
    with open(path, "w", encoding="ascii", newline="\n") as out:
        for start in range(first, first + count, CHUNK):
            n = min(CHUNK, first + count - start)
            rows = zip(range(start, start + n), rng.choices(NAMES, k=n),
                       rng.choices(codes, weights=weights, k=n), strict=True)
            text = "".join([f"{uid}\t{name}\t{country}\n" for uid, name, country in rows])
            written += out.write(text)
    return written


def write_orders(path: str, first: int, count: int, users: int, seed: int) -> int:
    """Write orders numbered ``first ..`` over user ids 1..``users`` (and a few beyond)."""
    rng = random.Random(f"{seed}:orders:{first}")
    amounts = [f"{c // 100}.{c % 100:02d}"
               for c in (int(rng.lognormvariate(7.5, 1.0)) for _ in range(AMOUNTS))]
    written = 0
    with open(path, "w", encoding="ascii", newline="\n") as out:
        for start in range(first, first + count, CHUNK):
            n = min(CHUNK, first + count - start)
            uids = rng.choices(range(1, users + 1), k=n)
            for p in rng.sample(range(n), int(n * ORPHANS)):
                uids[p] = users + 1 + p % 1000       # an order without a user
            rows = zip(range(start, start + n), uids, rng.choices(amounts, k=n), strict=True)
            text = "".join([f"{oid}\t{uid}\t{amount}\n" for oid, uid, amount in rows])
            written += out.write(text)
    return written


def generate(outdir: str, size: int, files: int = 16, seed: int = 1) -> tuple[int, int]:
    """Write both tables under ``outdir`` (replacing earlier ones); return (users, orders)."""
    users = max(size // BYTES_PER_USER, 1)
    orders = users * ORDERS_PER_USER
    user_files = max(files // 4, 1)
    calls = []
    for side in ("users", "orders"):
        shutil.rmtree(os.path.join(outdir, side), ignore_errors=True)
        os.makedirs(os.path.join(outdir, side))
    for i in range(user_files):
        a, b = users * i // user_files, users * (i + 1) // user_files
        calls.append((write_users, os.path.join(outdir, "users", f"users-{i:05d}.tsv"),
                      a + 1, b - a, seed))
    for i in range(files):
        a, b = orders * i // files, orders * (i + 1) // files
        calls.append((write_orders, os.path.join(outdir, "orders", f"orders-{i:05d}.tsv"),
                      100_000_001 + a, b - a, users, seed))
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        for future in [pool.submit(fn, *args) for fn, *args in calls]:
            future.result()
    return users, orders


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="gen_join_tables.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--size", type=parse_size, default=256 << 20,
                        help="both tables together, about (default 256MB)")
    parser.add_argument("--files", type=int, default=16, help="orders files (default 16)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    users, orders = generate(args.outdir, args.size, args.files, args.seed)
    print(f"gen_join_tables: {users:,} users, {orders:,} orders under {args.outdir}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
