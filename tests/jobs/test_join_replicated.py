"""jobs/join_replicated.py: the users a side file (or a folder of them), the same rows as
jobs/join.py's reduce-side join."""

from __future__ import annotations

from pathlib import Path

import pytest

import minimr
from tests.jobs.conftest import job_path, run_job
from tests.jobs.test_join import reference_join, tables  # noqa: F401 - the fixture


def test_replicated_join_equals_the_nested_loop_join(tables, tmp_path):  # noqa: F811
    """Every order with each of its user's rows, orders of unknown users counted."""
    users_path, orders_path = tables
    result = run_job(job_path("join_replicated"), [orders_path], tmp_path,
                     files=[str(users_path)])
    assert sorted(result.records()) == reference_join(users_path, orders_path)
    assert result.counters.get("join", "orders without a user") > 0


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_a_users_folder_of_parts_ships_whole(tables, tmp_path, runner):  # noqa: F811
    """The users table as a folder of part files (and a _SUCCESS marker), named --users:
    the same rows, on workers too, written map-only (a part file a map task)."""
    users_path, orders_path = tables
    folder = tmp_path / "users"
    folder.mkdir()
    lines = users_path.read_text().splitlines(keepends=True)
    (folder / "part-00000").write_text("".join(lines[:20]))
    (folder / "part-00001").write_text("".join(lines[20:]))
    (folder / "_SUCCESS").write_text("")
    result = minimr.run(job_path("join_replicated"), inputs=[str(orders_path)],
                        output=str(tmp_path / "out"), runner=runner, workers=2,
                        split_size=2048, files=[str(folder)], options={"users": "users"},
                        overwrite=True)
    assert sorted(result.records()) == reference_join(users_path, orders_path)
    assert Path(result.output, "_SUCCESS").exists()
    assert Path(result.output, "part-m-00001").exists()  # split_size=2048: several maps
    assert not result.counters.get("minimr", "reduce input records")


def test_a_changed_users_table_is_loaded_again(tmp_path):
    """The table kept between tasks of one process is the one of the files shipped: two runs
    in one process with different users give each run's own rows."""
    orders = tmp_path / "orders.tsv"
    orders.write_text("500\t1\t9.99\n")
    for name in ("Ada", "Grace Hopper"):
        users = tmp_path / name / "users.tsv"
        users.parent.mkdir()
        users.write_text(f"1\t{name}\tGB\n")
        result = run_job(job_path("join_replicated"), [orders], tmp_path, files=[str(users)])
        assert list(result.records()) == [("1", (name, "GB", "500", "9.99"))]
