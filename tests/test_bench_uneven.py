"""scripts/bench_uneven.py (and the timing it shares with bench_smallfiles.py), run small."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # as the scripts import each other

import bench_uneven  # noqa: E402


def test_uneven_files_are_timed_with_the_largest_last_and_every_output_checked(tmp_path):
    """A small run: the files linked in name order with the large one last, the Pool script
    and minimr timed, their word counts equal (OK) and the ratios printed."""
    ran = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_uneven.py"), "--size", "256KB",
         "--files", "4", "--large", "0.7", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    folder = tmp_path / "data" / "uneven"
    names = sorted(os.listdir(folder))
    sizes = [(folder / name).stat().st_size for name in names]
    assert names == [f"part-{i:05d}.txt" for i in range(4)]
    assert sizes[-1] == max(sizes) and sizes[-1] >= 0.69 * sum(sizes)
    assert len(set(sizes[:-1])) <= 2  # the small ones of one size, give or take a byte
    rows = [line.split() for line in ran.stdout.splitlines() if line.startswith("  ")]
    assert [row[0] for row in rows] == ["pool", "minimr"]
    assert all(row[-1] == "OK" for row in rows)
    assert "the largest last" in ran.stdout


def test_a_share_that_is_not_one_is_a_usage_error(tmp_path):
    """--large outside (0, 1) is refused before any file is made."""
    ran = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_uneven.py"), "--large", "1.5",
         "--work", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2 and "--large" in ran.stderr
    assert not (tmp_path / "data").exists()


def test_a_tree_given_runs_its_own_minimr_even_from_this_checkout(tmp_path):
    """--tree DIR: the command imports DIR's minimr, although the benchmark runs every command
    from this checkout (whose minimr would come first on `python -c`'s path)."""
    (tmp_path / "tree" / "minimr").mkdir(parents=True)
    (tmp_path / "tree" / "minimr" / "__init__.py").write_text("")
    args = bench_uneven.parse_args(["--tree", str(tmp_path / "tree"), "--work", str(tmp_path)])
    systems = bench_uneven.commands(args, str(tmp_path / "in"))
    [name] = [n for n in systems if n.startswith("minimr@")]
    argv = systems[name](str(tmp_path / "out"))
    probe = argv[: argv.index("-c") + 1] + ["import minimr; print(minimr.__file__)"]
    ran = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert ran.stdout.strip() == str(tmp_path / "tree" / "minimr" / "__init__.py"), ran.stderr
