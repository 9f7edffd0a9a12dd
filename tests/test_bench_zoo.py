"""Tests for scripts/bench.py and its job zoo (scripts/zoo.py): arguments and output checks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "bench.py"
sys.path.insert(0, str(ROOT / "scripts"))  # bench.py imports zoo as the script does

import bench  # noqa: E402
import zoo  # noqa: E402


def write(path: Path, text: str) -> str:
    """Write ``text`` to ``path``; return the path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_size_reads_binary_units() -> None:
    """--size takes 16MiB, 256MB and 1GB as powers of two, as gen_corpus.py does."""
    assert bench.parse_args(["--size", "16MiB"]).size == 16 << 20
    assert bench.parse_args(["--size", "256MB"]).size == 256 << 20
    assert bench.parse_args(["--size", "1GB"]).size == 1 << 30


def test_bad_size_and_unknown_job_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """A size that is not one, or a job not in the zoo, ends with a usage error naming it."""
    with pytest.raises(SystemExit) as ended:
        bench.parse_args(["--size", "big"])
    assert ended.value.code == 2
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "wordcount,pagerank"])
    assert "'wordcount,pagerank'" in capsys.readouterr().err


def test_default_rows_are_the_zoo_and_docs_names_still_run() -> None:
    """By default a job runs its baseline, minimr-plain and minimr-declared; the names the
    docs' command lines use (minimr-local, pysort) are rows to ask for."""
    default = [s.name for s in bench.chosen_systems(zoo.GROUP["wordcount"], None)]
    assert default[0] == "pool" and {"minimr-plain", "minimr-declared"} <= set(default)
    assert "minimr-local" not in default
    args = bench.parse_args(["--only", "sort", "--systems", "gnusort,pysort,minimr-local"])
    assert [s.name for s in bench.chosen_systems(zoo.GROUP["sort"], args.systems)] == [
        "gnusort", "pysort", "minimr-local"]


def test_pairs_compare_equal_in_every_written_form(tmp_path: Path) -> None:
    """A Pool script's ``word<TAB>3``, minimr's ``'word'<TAB>3`` and a printed tuple agree,
    and a different count does not."""
    check = zoo.COUNTS
    pool = write(tmp_path / "pool.out", "a\t2\nthe\t3\n")
    write(tmp_path / "minimr" / "part-00001", "'the'\t3\n")
    write(tmp_path / "minimr" / "part-00000", "'a'\t2\n")
    write(tmp_path / "spark" / "part-00000", "('the', 3)\n('a', 2)\n")
    wrong = write(tmp_path / "wrong.out", "a\t2\nthe\t4\n")
    reference, summary = check(pool, str(tmp_path))
    assert summary.endswith("2 lines, 5 counted")
    assert check(str(tmp_path / "minimr"), "")[0] == reference
    assert check(str(tmp_path / "spark"), "")[0] == reference
    assert check(wrong, "")[0] != reference


def test_join_rows_compare_in_any_order(tmp_path: Path) -> None:
    """minimr's ``'7'<TAB>('Ada Kay', 'US', '101', '9.50')`` equals the Pool script's
    tab-separated row, whatever the order of rows and part files and with a part's last
    newline missing (Dask's); a changed amount does not."""
    pool = tmp_path / "pool"
    write(pool / "part-00000", "7\tAda Kay\tUS\t101\t9.50")      # no last newline, as Dask
    write(pool / "part-00001", "12\tTim Wirth\tDE\t100\t3.00\n")
    minimr = tmp_path / "minimr"
    write(minimr / "part-00000", "'12'\t('Tim Wirth', 'DE', '100', '3.00')\n"
                                 "'7'\t('Ada Kay', 'US', '101', '9.50')\n")
    write(tmp_path / "bad" / "part-00000", "'12'\t('Tim Wirth', 'DE', '100', '3.01')\n"
                                           "'7'\t('Ada Kay', 'US', '101', '9.50')\n")
    reference, summary = zoo.join_digest(str(pool), str(tmp_path))
    assert summary.endswith("2 rows")
    assert zoo.join_digest(str(minimr), str(tmp_path))[0] == reference
    assert zoo.join_digest(str(tmp_path / "bad"), str(tmp_path))[0] != reference


def test_averages_agree_to_rounding_only(tmp_path: Path) -> None:
    """Float means that differ in the last bits agree; a different mean or key does not."""
    pool = zoo.float_values(write(tmp_path / "pool.out", "u1\t0.30000000000000004\nu2\t2.5\n"),
                            "")[0]
    minimr = zoo.float_values(write(tmp_path / "m" / "part-00000", "'u1'\t0.3\n'u2'\t2.5\n"),
                              "")[0]
    other = zoo.float_values(write(tmp_path / "o.out", "u1\t0.3\nu2\t2.6\n"), "")[0]
    renamed = zoo.float_values(write(tmp_path / "r.out", "u1\t0.3\nu3\t2.5\n"), "")[0]
    assert zoo.close_values(minimr, pool)
    assert not zoo.close_values(other, pool)
    assert not zoo.close_values(renamed, pool)


def test_sorted_records_compare_raw_and_as_minimr_writes_them(tmp_path: Path) -> None:
    """GNU sort's raw records equal minimr's ``repr(key)<TAB>repr(value)`` lines of them."""
    records = ["!!!!!!!!!!  rest of one\n", "~~~~~~~~~~  rest of two\n"]
    raw = write(tmp_path / "sorted.out", "".join(records))
    minimr = write(tmp_path / "m" / "part-00000",
                   "".join(f"{r[:10]!r}\t{r[10:-1]!r}\n" for r in records))
    swapped = write(tmp_path / "s.out", "".join(reversed(records)))
    assert zoo.sort_digest(minimr, "")[0] == zoo.sort_digest(raw, "")[0]
    assert zoo.sort_digest(swapped, "")[0] != zoo.sort_digest(raw, "")[0]


def test_the_zoo_runs_inline_with_every_output_equal(tmp_path: Path) -> None:
    """Every job but the fixed-size small files, at 64 KiB with the minimr rows inline, ends
    with exit 0 and each minimr output, plain and declared, equal to its baseline's."""
    jobs = [g.name for g in zoo.GROUPS if g.corpus.fixed is None]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "64KB", "--runs", "1", "--inline",
         "--only", ",".join(jobs), "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    for job in jobs:
        checks = {row.split("|")[2].strip(): row.split("|")[-2].strip()
                  for row in rows if row.split("|")[1].strip() == job}
        assert list(checks.values())[0] == "reference", (job, checks)
        # every minimr row (the declared forms' too: the index's map_batch) equal to it
        minimr_rows = {name: check for name, check in checks.items() if "minimr" in name}
        assert "minimr-plain" in minimr_rows and set(minimr_rows.values()) == {"OK"}, (
            job, checks)
    assert "MISMATCH" not in done.stdout


def test_a_corpus_is_made_again_when_any_module_of_its_generator_changes(tmp_path: Path) -> None:
    """A corpus stamp hashes gen_corpus.py and every module of corpora/ beside it, so an edit
    to one kind's generator is not taken for the corpus already made; a generator of one file
    is hashed as that file."""
    script = write(tmp_path / "gen_corpus.py", "main")
    write(tmp_path / "corpora" / "text.py", "words")
    before = bench.generator_hash(script)
    write(tmp_path / "corpora" / "text.py", "other words")
    assert bench.generator_hash(script) != before
    lone = write(tmp_path / "gen_join_tables.py", "tables")
    assert bench.generator_hash(lone) == hashlib.sha256(b"tables").hexdigest()


def test_a_compiled_helper_older_than_its_source_or_not_built_is_named(tmp_path):
    """An editable install keeps an old build when a .pyx changes: the benchmarks say so."""
    import os

    import measuring

    package = tmp_path / "minimr"
    (package / "mapside").mkdir(parents=True)
    fresh, old, unbuilt = (package / "mapside" / f"_{n}.pyx" for n in ("fresh", "old", "unbuilt"))
    for source in (fresh, old, unbuilt):
        source.write_text("# cython\n")
    for source, age in ((fresh, +10), (old, -10)):
        built = source.with_name(source.stem + ".cpython-311-x86_64-linux-gnu.so")
        built.write_bytes(b"")
        os.utime(built, (source.stat().st_mtime + age,) * 2)
    assert measuring.stale_helpers(str(package)) == ["minimr/mapside/_old.pyx",
                                                     "minimr/mapside/_unbuilt.pyx"]
    assert "_old.pyx" in measuring.stale_warning(str(package))
    assert measuring.stale_warning(None) is None
    assert measuring.stale_warning(str(tmp_path / "empty")) is None


def test_the_measured_package_gets_its_bytecode_as_an_install_would(tmp_path):
    """A run of the benchmark compiles the measured package first (pip install . does it;
    an editable install under PYTHONDONTWRITEBYTECODE never would), with that package's
    Python, found through the --minimr script's #! line."""
    import importlib.util

    import measuring

    package = tmp_path / "minimr"
    (package / "mapside").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mapside" / "feed.py").write_text("X = 1\n")
    script = tmp_path / "minimr-cli"
    script.write_text(f"#!{sys.executable}\nprint('hi')\n")
    script.chmod(0o755)
    python = bench._minimr_python([str(script), "submit"])
    assert python == sys.executable
    measuring.compile_bytecode(python, str(package))
    cached = importlib.util.cache_from_source(str(package / "mapside" / "feed.py"))
    assert Path(cached).is_file()
    assert bench._minimr_python([str(tmp_path / "no-such-command")]) is None


def test_this_checkouts_compiled_helpers_are_current_where_built():
    """The tree the tests run is built (CI: MINIMR_REQUIRE_COMPILED=1), or says which are not."""
    import os

    import measuring

    stale = measuring.stale_helpers(str(ROOT / "minimr"))
    if os.environ.get("MINIMR_REQUIRE_COMPILED") == "1":
        assert stale == []


@pytest.mark.parametrize(("split_size", "combine_files"), [(700, False), (1 << 20, True)])
def test_the_declared_index_writes_the_plain_jobs_bytes(tmp_path: Path, split_size: int,
                                                        combine_files: bool) -> None:
    """benchjobs/inverted_index_declared.py (map_batch, map_final) writes the very part files
    of jobs/inverted_index.py: files split over several map tasks, or every file packed into
    one task (a batch of several documents), equal base names in two folders."""
    import minimr

    a, b = tmp_path / "a", tmp_path / "b"
    words = ["whale", "Sea", "ship", "Ahab", "ISHMAEL", "sea-ship", "naïve", "K\u212aelvin"]
    for n in range(7):
        lines = [" ".join(words[(n + i) % len(words)] for i in range(j % 5 + 1))
                 for j in range(40 * (n + 1))]
        write((a if n % 2 else b) / f"doc-{n}.txt", "\n".join(lines) + "\n")
    write(b / "doc-1.txt", "moby dick\n")      # doc-1.txt in both folders: one document

    def parts(job: str, out: str) -> dict[str, bytes]:
        result = minimr.run(str(ROOT / job), inputs=[str(a), str(b)], output=str(tmp_path / out),
                            reducers=3, runner="inline", split_size=split_size,
                            combine_files=combine_files, overwrite=True)
        return {p.name: p.read_bytes() for p in Path(result.output).glob("part-*")}

    plain = parts("jobs/inverted_index.py", "plain")
    assert b"'moby'\t['doc-1.txt']" in b"".join(plain.values())
    assert parts("scripts/benchjobs/inverted_index_declared.py", "declared") == plain
