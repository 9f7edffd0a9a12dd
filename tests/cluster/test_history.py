"""The finished jobs a coordinator's --state-dir remembers (history.jsonl)."""

from __future__ import annotations

from minimr.cluster.coordinator import history
from minimr.cluster.coordinator.history import History


def test_summaries_are_read_back_newest_last_and_bounded(tmp_path, monkeypatch):
    """Appended summaries read back in order; the file keeps the last KEPT and a read the
    last ``limit``; a damaged line is skipped."""
    monkeypatch.setattr(history, "KEPT", 5)
    kept = History(str(tmp_path))
    for n in range(12):
        kept.append({"job_id": f"j{n}"})
    with open(kept.path, "a") as file:
        file.write("{not json\n")
    reopened = History(str(tmp_path))  # 8 lines: cut back to the last 5 as it opens
    with open(kept.path) as file:
        assert len(file.read().splitlines()) == 5
    assert [e["job_id"] for e in reopened.read()] == ["j8", "j9", "j10", "j11"]
    assert [e["job_id"] for e in reopened.read(limit=2)] == ["j11"]  # the damaged line last


def test_a_missing_file_is_an_empty_history(tmp_path):
    """A state dir without a history yet lists nothing."""
    assert History(str(tmp_path)).read() == []
