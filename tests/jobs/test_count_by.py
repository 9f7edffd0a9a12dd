"""jobs/count_by.py against plain Python over the same JSON lines, in every output format."""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import pytest

import minimr
from tests.jobs.conftest import job_path, run_job


@pytest.fixture
def events(tmp_path: Path) -> Path:
    """Three files of JSON events; a few lack the field, one line is blank."""
    rng = random.Random(11)
    folder = tmp_path / "events"
    folder.mkdir()
    for i in range(3):
        lines = []
        for _ in range(120):
            event = {"user": rng.choice(["ada", "bob", "cyd"]), "kind": rng.choice("xyz")}
            if rng.random() < 0.05:
                del event["kind"]
            lines.append(json.dumps(event))
        lines.insert(7, "")
        (folder / f"part-{i}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def reference(folder: Path, field: str) -> dict:
    """Plain Python: records per value of ``field`` (None when it is missing), over the
    lines that are JSON."""
    counts: collections.Counter = collections.Counter()
    for path in sorted(folder.iterdir()):
        for line in path.read_text().splitlines():
            try:
                counts[json.loads(line).get(field)] += 1
            except ValueError:  # blank, or broken
                continue
    return dict(counts)


@pytest.mark.parametrize("output_format", [None, "jsonl", "tsv"])
def test_counts_by_the_field_in_every_output_format(events, tmp_path, output_format):
    """Each value of --field is counted once per record (missing as None), written in the
    format asked for and read back by read_output."""
    result = run_job(job_path("count_by"), events, tmp_path, options={"field": "kind"},
                     output_format=output_format)
    expected = reference(events, "kind")
    assert None in expected
    if output_format == "tsv":
        expected = {str(k): str(n) for k, n in expected.items()}
    assert dict(result.records()) == expected


def test_a_line_that_is_not_json_fails_or_is_skipped(events, tmp_path):
    """A broken line fails the job naming its file and line; skip mode counts it instead."""
    with (events / "part-1.jsonl").open("a") as f:
        f.write('{"user": \n')
    with pytest.raises(minimr.BadRecordError, match=r"part-1.jsonl:122 "):
        run_job(job_path("count_by"), events, tmp_path, options={"field": "user"})
    result = run_job(job_path("count_by"), events, tmp_path, options={"field": "user"},
                     skip_bad_records=True, output="skipped")
    assert dict(result.records()) == reference(events, "user")
    assert result.counters.get("minimr", "skipped records") == 1



def test_values_of_every_kind_are_counted_as_json_loads_reads_them(events, tmp_path):
    """Values that the fast JSON reader refuses and ``json.loads`` reads (1e400, a lone
    surrogate, NaN elsewhere on the line) or that it reads by other code (ints past 64 bits,
    -0.0) are counted under the very values, and types, that ``json.loads`` gives them."""
    odd = ['{"kind": 18446744073709551616}', '{"kind": -9223372036854775809}',
           '{"kind": 1e400}', '{"kind": "\\ud800"}', '{"kind": -0.0, "x": NaN}',
           '{"kind": "\\u00e9"}', '{"kind": 2.5e-320}']
    (events / "part-3.jsonl").write_text("\n".join(odd * 3) + "\n")
    (events / "part-4.jsonl").write_text("\n".join(odd[:2]) + "\n")  # msgspec reads these
    result = run_job(job_path("count_by"), events, tmp_path, options={"field": "kind"})
    expected = reference(events, "kind")
    got = dict(result.records())
    assert got == expected
    assert {repr(k): type(k) for k in got} == {repr(k): type(k) for k in expected}
