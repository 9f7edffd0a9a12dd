"""jobs/join.py against a nested-loop inner join of the same tables."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.jobs.conftest import assert_keys_sorted_within_parts, job_path, read_parts, run_job

NAMES = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "José Núñez", "O'Brien", "Ken Thompson")


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    """users.tsv (ids 1..40, one id twice) and orders.tsv (some users absent, some unknown)."""
    rng = random.Random(11)
    folder = tmp_path / "tables"
    folder.mkdir()
    users = [(str(i), rng.choice(NAMES), rng.choice(("US", "DE", "NG"))) for i in range(1, 41)]
    users.append(("7", "Second Seven", "FR"))  # a duplicate user id: joins like SQL
    orders = []
    for n in range(300):
        buyer = str(rng.choice([*range(1, 31), 1, 2, 2, 99, 100]))  # 31..40 buy nothing
        orders.append((str(100000 + n), buyer, f"{rng.uniform(1, 200):.2f}"))
    rng.shuffle(users)
    users_path, orders_path = folder / "users.tsv", folder / "orders.tsv"
    users_path.write_text("".join("\t".join(u) + "\n" for u in users))
    orders_path.write_text("".join("\t".join(o) + "\n" for o in orders))
    return users_path, orders_path


def read_tsv(path: Path) -> list[list[str]]:
    """The tab-separated fields of each line."""
    return [line.split("\t") for line in path.read_text().splitlines()]


def reference_join(users_path: Path, orders_path: Path) -> list[tuple[str, tuple]]:
    """Plain Python: a nested-loop inner join on user_id, sorted."""
    users, orders = read_tsv(users_path), read_tsv(orders_path)
    return sorted(
        (user_id, (name, country, order_id, amount))
        for user_id, name, country in users
        for order_id, buyer, amount in orders
        if buyer == user_id
    )


def test_join_equals_nested_loop_join(tables, tmp_path):
    """The joined rows are exactly the inner join's, sorted by user id within each part."""
    result = run_job(job_path("join"), list(tables), tmp_path)
    parts = read_parts(result)
    assert_keys_sorted_within_parts(parts, unique=False)
    for records in parts:
        assert records == sorted(records)  # a user's orders come out in order_id order
    rows = sorted(row for records in parts for row in records)
    assert rows == reference_join(*tables)
    assert len({value[0] for key, value in rows if key == "7"}) == 2


def test_unmatched_rows_are_dropped_and_counted(tables, tmp_path):
    """Users without orders and orders without a user produce no row but are counted."""
    users_path, orders_path = tables
    result = run_job(job_path("join"), [users_path, orders_path], tmp_path)
    users = {u[0] for u in read_tsv(users_path)}
    buyers = [o[1] for o in read_tsv(orders_path)]
    assert {key for key, _ in result.records()} == users & set(buyers)
    counters = result.counters["join"]
    assert counters["users without orders"] == sum(1 for u in read_tsv(users_path)
                                                   if u[0] not in buyers) == 10
    assert counters["orders without a user"] == sum(1 for b in buyers if b not in users) > 0


def test_malformed_lines_are_skipped_and_counted(tmp_path):
    """Lines without exactly three fields are counted and left out of the join."""
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "users.tsv").write_text("1\tAda\tGB\n\n2\tAlan\n")
    (folder / "orders.tsv").write_text("500\t1\t9.99\n501\t2\t1.00\textra\n")
    result = run_job(job_path("join"), folder, tmp_path)
    assert list(result.records()) == [("1", ("Ada", "GB", "500", "9.99"))]
    assert result.counters.get("join", "malformed lines") == 3


def test_unknown_input_file_is_an_error(tables, tmp_path):
    """A file whose name starts with neither users nor orders fails with its path."""
    other = tmp_path / "tables" / "payments.tsv"
    other.write_text("1\t2\t3\n")
    with pytest.raises(ValueError, match="payments.tsv"):
        run_job(job_path("join"), [*tables, other], tmp_path)
