"""Skip mode on a cluster: poisoned records and key groups are skipped after two failures."""

from __future__ import annotations

from minimr.cluster.client.client import submit_plan
from minimr.dataflow.counters import BUILTIN, SKIPPED_RECORDS
from tests.e2e.support import inline_output, make_plan, small_inputs


def parts(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_poisoned_records_are_skipped_reported_and_the_job_completes(cluster, tmp_path):
    """Two bad lines in one split and one bad key group: skipped, counted, reported."""
    inputs = small_inputs(tmp_path / "in", 4)
    inputs[1].write_text("fine words\npoison one\nvenom here\npoison two\n")
    expected = inline_output("poisoned.py", inputs, tmp_path / "inline", reducers=2,
                             skip_bad_records=True)
    for seed in ("1", "2"):
        cluster.add_worker(hash_seed=seed)
    plan = make_plan("poisoned.py", inputs, tmp_path / "out", reducers=2,
                     skip_bad_records=True, max_attempts=2)
    result = submit_plan(plan, cluster.address)
    assert parts(tmp_path / "out") == parts(tmp_path / "inline")
    assert result.counters.get(BUILTIN, SKIPPED_RECORDS) == 3
    assert result.counters == expected
    assert result.snapshot["skipped"] == 3
    reports = {p.name: p.read_text() for p in (tmp_path / "out" / "_skipped").iterdir()}
    assert sorted(reports) == sorted(p.name for p in (tmp_path / "inline" / "_skipped").iterdir())
    text = "".join(reports.values())
    assert "'poison one'" in text and "'poison two'" in text and "'venom'" in text
    assert "ValueError: poisoned line at byte 11" in text and "KeyError: 'venom'" in text
