"""jobs/sort.py against a stable sorted() by key of the same gensort-like records."""

from __future__ import annotations

import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

import minimr
from tests.jobs.conftest import job_path, load_job_module, read_parts, run_job

PRINTABLE = "".join(chr(c) for c in range(ord("!"), ord("~") + 1))  # quotes and \ included


def record(rng: random.Random, number: int, key: str | None = None) -> str:
    """A 99-character gensort-like line: 10-byte key, row number in hex, filler letters."""
    key = key or "".join(rng.choice(PRINTABLE) for _ in range(10))
    filler = "".join(rng.choice(string.ascii_uppercase) for _ in range(53))
    return f"{key}  {number:032X}  {filler}"


def write_records(folder: Path, seed: int, count: int, shared: range) -> list[str]:
    """Two files of ``count`` shuffled 100-byte records, and one more record with the key of
    each record numbered in ``shared``; returns the lines."""
    rng = random.Random(seed)
    folder.mkdir()
    lines = [record(rng, n) for n in range(count)]
    lines += [record(rng, count + n, key=lines[n][:10]) for n in shared]
    rng.shuffle(lines)
    half = len(lines) // 2
    (folder / "part-0.txt").write_text("\n".join(lines[:half]) + "\n")
    (folder / "part-1.txt").write_text("\n".join(lines[half:]) + "\n")
    return lines


@pytest.fixture
def records_dir(tmp_path: Path) -> Path:
    """Two files of 100-byte records, a few of which share a key."""
    write_records(tmp_path / "records", seed=5, count=150, shared=range(0, 30, 3))
    return tmp_path / "records"


def by_key(lines: list[str]) -> list[str]:
    """``lines`` sorted by their 10-character keys, equal keys in their order (stable)."""
    return sorted(lines, key=lambda line: line[:10])


def input_lines(folder: Path) -> list[str]:
    """Every line of every file in ``folder``."""
    return [line for path in sorted(folder.iterdir()) for line in path.read_text().splitlines()]


def test_concatenated_parts_equal_input_sorted_by_key(records_dir, tmp_path):
    """Part files read in order give exactly the input lines stably sorted by key."""
    sort_job = load_job_module("sort")
    result = run_job(job_path("sort"), records_dir, tmp_path, reducers=4)
    assert list(sort_job.raw_lines(result.output)) == by_key(input_lines(records_dir))


def test_unique_keys_give_sorted_lines(tmp_path):
    """With no key repeated (random 10-byte keys), the output is sorted() of the lines."""
    lines = write_records(tmp_path / "unique", seed=3, count=300, shared=range(0))
    result = run_job(job_path("sort"), tmp_path / "unique", tmp_path, reducers=3)
    assert len({line[:10] for line in lines}) == len(lines)
    assert list(load_job_module("sort").raw_lines(result.output)) == sorted(lines)


def test_total_order_across_parts(records_dir, tmp_path):
    """Every key of a part is at most every key of the next part, and several parts are used."""
    result = run_job(job_path("sort"), records_dir, tmp_path, reducers=4)
    parts = [part for part in read_parts(result) if part]
    assert len(parts) >= 3
    for records in parts:
        keys = [key for key, _ in records]
        assert keys == sorted(keys)
    for before, after in zip(parts, parts[1:], strict=False):
        assert before[-1][0] <= after[0][0]


def test_equal_keys_keep_their_input_order(records_dir, tmp_path):
    """Records that share a key come out together, in the order of the input files' lines."""
    result = run_job(job_path("sort"), records_dir, tmp_path, reducers=4)
    records = list(result.records())
    shared = [r for r in records if sum(1 for k, _ in records if k == r[0]) > 1]
    assert len(shared) == 20
    lines = input_lines(records_dir)
    for key in {k for k, _ in shared}:
        assert [v for k, v in shared if k == key] == [
            line[10:] for line in lines if line[:10] == key]


def test_repeated_records_are_counted_and_come_out_together(tmp_path):
    """Many identical records in a map task are counted, not listed: every one is written,
    the key's identical values from the task side by side, and the keys still in order."""
    folder = tmp_path / "repeats"
    folder.mkdir()
    lines = ["kkkkkkkkkk  A"] * 50 + ["kkkkkkkkkk  B"] + ["kkkkkkkkkk  A"] * 50
    lines += [f"{i:010d}  x" for i in range(30, 0, -1)]
    (folder / "a.txt").write_text("\n".join(lines) + "\n")
    result = run_job(job_path("sort"), folder, tmp_path, reducers=2, split_size=1 << 20)
    printed = list(load_job_module("sort").raw_lines(result.output))
    assert sorted(printed) == sorted(lines)
    assert printed == sorted(printed, key=lambda line: line[:10])
    assert [line for line in printed if line.startswith("k")] == (
        ["kkkkkkkkkk  A"] * 100 + ["kkkkkkkkkk  B"])


def test_empty_lines_are_skipped_and_counted(tmp_path):
    """Blank lines produce no record and are counted as sort/empty lines."""
    folder = tmp_path / "gaps"
    folder.mkdir()
    (folder / "a.txt").write_text("bbbbbbbbbb rest\n\naaaaaaaaaa first\n\nshort\n")
    result = run_job(job_path("sort"), folder, tmp_path, reducers=2)
    assert list(load_job_module("sort").raw_lines(result.output)) == [
        "aaaaaaaaaa first", "bbbbbbbbbb rest", "short"]
    assert result.counters.get("sort", "empty lines") == 2


def test_running_the_file_prints_raw_sorted_lines(records_dir, tmp_path):
    """`python jobs/sort.py OUTPUT` prints the sorted records as the original lines."""
    result = run_job(job_path("sort"), records_dir, tmp_path, reducers=4)
    printed = subprocess.run([sys.executable, job_path("sort"), result.output],
                             capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == by_key(input_lines(records_dir))
    assert printed.endswith("\n")


@pytest.mark.parametrize("runner", ["inline", "local"])
@pytest.mark.parametrize("sort_buffer", [100_000, 8_000], ids=["a-few-spills", "many-spills"])
def test_spilling_map_tasks_still_sort_exactly(tmp_path, runner, sort_buffer):
    """Map tasks that spill (a few spills become runs the reducers merge, many are merged on
    the map side) give the input stably sorted by key, inline and through two workers'
    shuffle."""
    folder = tmp_path / "spilling"
    lines = write_records(folder, seed=11, count=2000, shared=range(0, 300, 7))
    options = {"workers": 2} if runner == "local" else {}
    result = minimr.run(job_path("sort"), inputs=[str(folder)], output=str(tmp_path / "out"),
                        reducers=3, runner=runner, sort_buffer=sort_buffer, **options)
    spilled = result.counters.get("minimr", "spilled records")
    assert spilled == len(lines) if sort_buffer == 100_000 else spilled > len(lines)
    assert list(load_job_module("sort").raw_lines(result.output)) == by_key(lines)
