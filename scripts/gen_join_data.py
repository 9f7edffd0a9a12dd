#!/usr/bin/env python3
"""Small deterministic inputs for minimr's join and PageRank examples.

Writes, under DATA_DIR (default: the repository's data/ folder):

  join/users.tsv    user_id<TAB>name<TAB>country          200 rows, user_id 1..200
  join/orders.tsv   order_id<TAB>user_id<TAB>amount       1000 rows, order_id 100001..
  graph/edges.tsv   src<TAB>dst                           a directed graph on 50 nodes n00..n49

No header lines: every line is a record, so a mapper needs no special case. The join data
exercises both sides of an outer join: some users have no orders, and a few orders name
user ids 201..205 that are not in users.tsv. Order counts per user are skewed (a few heavy
buyers). Amounts have two decimals. The graph has no self-loops, no duplicate edges and no
dangling nodes (every node has 1-5 out-links), and in-links favour low-numbered nodes, so
PageRank has a clear head.

  python scripts/gen_join_data.py            # rewrite data/join and data/graph
  python scripts/gen_join_data.py /tmp/d --seed 3
"""

from __future__ import annotations

import argparse
import os
import random
import sys

FIRST_NAMES = ("Ada", "Alan", "Barbara", "Claude", "Dennis", "Donald", "Edsger", "Frances",
               "Grace", "John", "Ken", "Leslie", "Linus", "Margaret", "Niklaus", "Radia",
               "Shafi", "Sophie", "Tim", "Tony", "Whitfield", "Yukihiro", "Guido", "Jean")
LAST_NAMES = ("Allen", "Backus", "Conway", "Dijkstra", "Floyd", "Goldwasser", "Hamilton",
              "Hoare", "Hopper", "Kay", "Knuth", "Lamport", "Liskov", "Lovelace", "McCarthy",
              "Perlman", "Ritchie", "Shannon", "Thompson", "Turing", "Wirth", "Wilson")
# (country code, weight): a skewed mix, as real customer bases are.
COUNTRIES = (("US", 30), ("DE", 12), ("IN", 12), ("GB", 10), ("FR", 8), ("BR", 7), ("JP", 6),
             ("NG", 5), ("CA", 4), ("KE", 3), ("NL", 2), ("NZ", 1))

USERS, ORDERS, UNKNOWN_USERS = 200, 1000, 5
NODES = 50


def users(rng: random.Random) -> list[str]:
    """Lines of users.tsv: ``user_id<TAB>name<TAB>country``."""
    codes, weights = zip(*COUNTRIES, strict=True)
    countries = rng.choices(codes, weights=weights, k=USERS)
    return [f"{uid}\t{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}\t{countries[uid - 1]}\n"
            for uid in range(1, USERS + 1)]


def orders(rng: random.Random) -> list[str]:
    """Lines of orders.tsv: ``order_id<TAB>user_id<TAB>amount``."""
    # Zipf-like buyer weights over a shuffled id order, so heavy buyers are scattered.
    ids = list(range(1, USERS + 1))
    rng.shuffle(ids)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(USERS)]
    lines = []
    for oid in range(100_001, 100_001 + ORDERS):
        if rng.random() < 0.01:        # orphan order: its user is missing from users.tsv
            uid = USERS + 1 + rng.randrange(UNKNOWN_USERS)
        else:
            uid = rng.choices(ids, weights=weights)[0]
        cents = int(rng.lognormvariate(7.5, 1.0))      # median about 18.00
        lines.append(f"{oid}\t{uid}\t{cents // 100}.{cents % 100:02d}\n")
    return lines


def edges(rng: random.Random) -> list[str]:
    """Lines of edges.tsv: ``src<TAB>dst``, sorted by source then destination."""
    names = [f"n{i:02d}" for i in range(NODES)]
    popularity = [1.0 / (i + 1) for i in range(NODES)]
    lines = []
    for src in range(NODES):
        targets: set[int] = set()
        want = rng.randint(1, 5)
        while len(targets) < want:
            dst = rng.choices(range(NODES), weights=popularity)[0]
            if dst != src:
                targets.add(dst)
        lines.extend(f"{names[src]}\t{names[dst]}\n" for dst in sorted(targets))
    return lines


def write(path: str, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` (creating its directory) and report it on stderr."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as out:
        out.writelines(lines)
    print(f"gen_join_data: {path}: {len(lines)} lines", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    default_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "data")
    parser = argparse.ArgumentParser(prog="gen_join_data.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", default=default_dir,
                        help="where join/ and graph/ go (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    # One generator per file, so changing one file's recipe leaves the others' bytes alone.
    write(os.path.join(args.data_dir, "join", "users.tsv"),
          users(random.Random(f"{args.seed}:users")))
    write(os.path.join(args.data_dir, "join", "orders.tsv"),
          orders(random.Random(f"{args.seed}:orders")))
    write(os.path.join(args.data_dir, "graph", "edges.tsv"),
          edges(random.Random(f"{args.seed}:edges")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
