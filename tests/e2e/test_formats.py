"""Input and output formats on real workers: JSON lines and CSV in (plain, xz, zstd), jsonl and
tsv out (gzip, zstd), the same bytes as the inline runner; bad lines fail at once or are
skipped; a value the output format cannot hold fails naming its key."""

from __future__ import annotations

import collections
import json
import lzma
import random
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

import minimr
from minimr import Job
from minimr.dataflow.counters import BUILTIN, SKIPPED_RECORDS
from tests.e2e.support import environment

USERS = ["ada", "bob", "cyd", "dee", "eve"]
KINDS = ["click", "view", "buy"]


class CountByUser(Job):
    """Events per user, with the kinds each did: a dict value, written as JSON."""

    input_format = "jsonl"

    def map(self, key, event):
        yield event["user"], (1, event["kind"])

    def reduce(self, user, seen):
        count, kinds = 0, set()
        for n, kind in seen:
            count += n
            kinds.add(kind)
        yield user, {"count": count, "kinds": sorted(kinds)}


class TotalByCity(Job):
    """Sums of amounts per city from a CSV with a header (its class options: the format)."""

    input_format = minimr.CSV(header=True, multiline=False)
    output_format = "tsv"

    def map(self, key, row):
        yield row["city"], int(row["amount"])

    def reduce(self, city, amounts):
        yield city, sum(amounts)


class KindSets(Job):
    """Yields a set, which JSON cannot hold."""

    input_format = "jsonl"
    output_format = "jsonl"

    def map(self, key, event):
        yield event["user"], event["kind"]

    def reduce(self, user, kinds):
        yield user, set(kinds)


@pytest.fixture
def events(tmp_path: Path) -> tuple[Path, list[dict]]:
    """JSON lines in three files: plain, xz and zstd compressed."""
    rng = random.Random(3)
    folder = tmp_path / "events"
    folder.mkdir()
    everything = []
    writers = {"a.jsonl": open, "b.jsonl.xz": lzma.open, "c.jsonl.zst": zstandard.open}
    for name, opener in writers.items():
        rows = [{"user": rng.choice(USERS), "kind": rng.choice(KINDS), "i": i}
                for i in range(300)]
        everything += rows
        with opener(folder / name, "wt") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
    return folder, everything


def parts(folder: Path) -> dict[str, bytes]:
    """The output's files by name (parts and _SUCCESS)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_jsonl_in_gzip_jsonl_out_equals_inline(events, tmp_path):
    """JSON lines (plain, .xz, .zst) through two workers into gzip jsonl parts: the same
    bytes as inline, named .gz, _SUCCESS naming the format, read back as JSON values."""
    folder, rows = events
    runs = {}
    for runner in ("local", "inline"):
        runs[runner] = minimr.run(CountByUser, [str(folder)], str(tmp_path / runner),
                                  reducers=3, split_size=2000, runner=runner, workers=2,
                                  output_format="jsonl", compress="gzip")
    cluster, inline = parts(tmp_path / "local"), parts(tmp_path / "inline")
    assert cluster == inline
    assert sorted(cluster) == ["_SUCCESS", "part-00000.gz", "part-00001.gz", "part-00002.gz"]
    assert json.loads(cluster["_SUCCESS"]) == {"format": "jsonl", "compression": "gzip"}
    expected = collections.defaultdict(lambda: {"count": 0, "kinds": set()})
    for row in rows:
        expected[row["user"]]["count"] += 1
        expected[row["user"]]["kinds"].add(row["kind"])
    assert dict(minimr.read_output(tmp_path / "local")) == {
        u: {"count": e["count"], "kinds": sorted(e["kinds"])} for u, e in expected.items()}
    assert runs["local"].counters[BUILTIN] == runs["inline"].counters[BUILTIN]


def minimr_command(*args: str) -> subprocess.CompletedProcess:
    """Run the `minimr` command in a new process."""
    return subprocess.run([sys.executable, "-m", "minimr", *args], env=environment(),
                          capture_output=True, text=True, timeout=120)


def test_csv_in_zstd_tsv_out_from_the_command_line(tmp_path):
    """`minimr submit` with --input-format (overriding the job's), --output-format and
    --compress: on two workers as inline, the same zstd tsv parts, read back as strings."""
    job = tmp_path / "cities.py"
    job.write_text("from minimr import Job\n\n\nclass Cities(Job):\n"
                   "    def map(self, key, row):\n        yield row['city'], int(row['n'])\n\n"
                   "    def reduce(self, city, ns):\n        yield city, sum(ns)\n")
    rng = random.Random(5)
    rows = [(rng.choice(["Oslo", "Lima", "Pune, MH"]), rng.randint(1, 9)) for _ in range(500)]
    (tmp_path / "in.csv").write_text(
        "city,n\n" + "".join(f'"{c}",{n}\n' if "," in c else f"{c},{n}\n" for c, n in rows))
    args = ["submit", str(job), "-i", str(tmp_path / "in.csv"), "-r", "2", "--split-size",
            "1000", "--input-format", "CSV(header=True, multiline=False)",
            "--output-format", "tsv", "--compress", "zstd", "-q"]
    cluster = minimr_command(*args, "-o", str(tmp_path / "cluster"), "-w", "2")
    inline = minimr_command(*args, "-o", str(tmp_path / "inline"), "--inline")
    assert cluster.returncode == 0 and inline.returncode == 0, cluster.stderr + inline.stderr
    assert parts(tmp_path / "cluster") == parts(tmp_path / "inline")
    assert sorted(parts(tmp_path / "cluster")) == ["_SUCCESS", "part-00000.zst",
                                                   "part-00001.zst"]
    totals = collections.Counter()
    for city, n in rows:
        totals[city] += n
    assert dict(minimr.read_output(tmp_path / "cluster")) == {
        c: str(n) for c, n in totals.items()}


def test_class_options_choose_the_formats_on_workers(tmp_path):
    """A job's input_format object and output_format name reach every task."""
    (tmp_path / "in.csv").write_text("city,amount\nOslo,3\nLima,4\nOslo,5\n")
    result = minimr.run(TotalByCity, [str(tmp_path / "in.csv")], str(tmp_path / "out"),
                        reducers=2, workers=2)
    assert dict(result.records()) == {"Oslo": "8", "Lima": "4"}
    lines = sorted(line for p in (tmp_path / "out").glob("part-*")
                   for line in p.read_text().splitlines())
    assert lines == ["Lima\t4", "Oslo\t8"]


def test_a_bad_json_line_fails_the_job_at_once_or_is_skipped(events, tmp_path):
    """On workers a line that is not JSON fails the job naming file:line (no retry reads
    other data); with --skip-bad-records it is skipped after its second failure, counted
    and reported, and the job completes."""
    folder, rows = events
    with (folder / "a.jsonl").open("a") as f:
        f.write('{"user": "zed", "kind"\n')
    with pytest.raises(minimr.JobFailed) as info:
        minimr.run(CountByUser, [str(folder)], str(tmp_path / "failed"), workers=2,
                   max_attempts=3)
    assert f"{folder / 'a.jsonl'}:301 (byte" in str(info.value)
    assert "BadRecordError" in str(info.value) and "no retry can fix" in str(info.value)
    result = minimr.run(CountByUser, [str(folder)], str(tmp_path / "out"), workers=2,
                        skip_bad_records=True, split_size=4000)
    assert sum(v["count"] for _, v in result.records()) == len(rows)
    assert result.counters.get(BUILTIN, SKIPPED_RECORDS) == 1
    report = "".join(p.read_text() for p in (tmp_path / "out" / "_skipped").iterdir())
    assert "a.jsonl:301" in report


def test_a_value_jsonl_cannot_hold_fails_the_job_naming_its_key(events, tmp_path):
    """A set in jsonl output fails the job at its first attempt with a JobCodeError naming
    the key, never pickled into the part."""
    folder, _ = events
    with pytest.raises(minimr.JobFailed) as info:
        minimr.run(KindSets, [str(folder)], str(tmp_path / "out"), workers=2, reducers=1)
    message = str(info.value)
    assert "JobCodeError" in message and "a value JSON cannot hold for key 'ada'" in message
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["_logs"]  # no part, only logs
