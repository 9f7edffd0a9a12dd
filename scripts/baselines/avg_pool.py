#!/usr/bin/env python3
"""Per-key average baseline: the mean order amount per user, multiprocessing.Pool.

usage: avg_pool.py ORDERS_DIR OUTPUT_FILE [WORKERS]     (WORKERS default 2)

The work of ``benchjobs/average_by.py``: each worker adds up ``float(amount)`` and counts the
orders per user id of one orders file (``order_id<TAB>user_id<TAB>amount``, from
``scripts/gen_join_tables.py``); the parent merges the totals and divides. Writes
``user_id<TAB>repr(mean)`` lines sorted by user id.
"""

from __future__ import annotations

import multiprocessing
import sys

from join_pool import table_files


def sum_file(path: str) -> dict[str, list]:
    """{user_id: [total, count]} of one orders file (runs in a worker)."""
    sums: dict[str, list] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            _, user_id, amount = line.split("\t")
            entry = sums.get(user_id)
            if entry is None:
                sums[user_id] = [float(amount), 1]
            else:
                entry[0] += float(amount)
                entry[1] += 1
    return sums


def main(indir: str, outfile: str, workers: int = 2) -> None:
    """Average the amounts per user under ``indir`` with ``workers`` processes."""
    total: dict[str, list] = {}
    with multiprocessing.Pool(workers) as pool:
        for sums in pool.imap_unordered(sum_file, table_files(indir)):
            for user_id, (amount, n) in sums.items():
                entry = total.get(user_id)
                if entry is None:
                    total[user_id] = [amount, n]
                else:
                    entry[0] += amount
                    entry[1] += n
    with open(outfile, "w", encoding="utf-8") as out:
        out.writelines(f"{user_id}\t{amount / n!r}\n"
                       for user_id, (amount, n) in sorted(total.items()))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
