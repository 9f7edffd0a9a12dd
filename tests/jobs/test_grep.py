"""jobs/grep.py against a plain-Python scan of the same files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.jobs.conftest import all_text_records, job_path, read_parts, run_job

VARIABLE = "MINIMR_GREP_PATTERN"


def reference_grep(folder: Path, pattern: str) -> list[tuple[tuple[str, int], str]]:
    """Plain Python: the matching lines with (path, byte offset), in input order."""
    regex = re.compile(pattern)
    return [(key, line) for key, line in all_text_records(folder) if regex.search(line)]


def test_default_pattern_is_whale(corpus, tmp_path, monkeypatch):
    """Without the variable, the job keeps the lines containing "whale", in input order."""
    monkeypatch.delenv(VARIABLE, raising=False)
    result = run_job(job_path("grep"), corpus, tmp_path)
    expected = reference_grep(corpus, "whale")
    assert len(expected) > 10
    assert list(result.records()) == expected
    assert result.counters.get("grep", "matching lines") == len(expected)


@pytest.mark.parametrize("pattern", [r"^[A-Z]", r"\d+", r"[^\x00-\x7f]", r"(?i)\bSHIP\b$"])
def test_pattern_from_environment(pattern, corpus, tmp_path, monkeypatch):
    """The pattern comes from MINIMR_GREP_PATTERN and is searched anywhere in each line."""
    monkeypatch.setenv(VARIABLE, pattern)
    result = run_job(job_path("grep"), corpus, tmp_path)
    expected = reference_grep(corpus, pattern)
    assert expected
    assert list(result.records()) == expected


def test_keys_are_paths_and_byte_offsets(corpus, tmp_path, monkeypatch):
    """Each key's byte offset points at its line in its file, also after non-ASCII and CRLF."""
    monkeypatch.setenv(VARIABLE, r"[^\x00-\x7f]")
    result = run_job(job_path("grep"), corpus, tmp_path)
    records = list(result.records())
    assert {Path(path).name for (path, _), _ in records} >= {"doc-0.txt", "doc-1.txt"}
    for (path, offset), line in records:
        data = Path(path).read_bytes()
        assert data[offset:].startswith(line.encode("utf-8"))
        assert offset == 0 or data[offset - 1:offset] == b"\n"


def test_parts_concatenate_in_input_order(corpus, tmp_path, monkeypatch):
    """The range partitioner spreads matches over several parts whose concatenation is ordered."""
    monkeypatch.setenv(VARIABLE, r"\w")
    result = run_job(job_path("grep"), corpus, tmp_path, reducers=4)
    parts = read_parts(result)
    assert sum(1 for records in parts if records) >= 2
    keys = [key for records in parts for key, _ in records]
    assert keys == sorted(keys)
    assert len(keys) == len(reference_grep(corpus, r"\w"))


def test_no_match_leaves_empty_parts(corpus, tmp_path, monkeypatch):
    """A pattern that matches nothing commits empty parts and no records."""
    monkeypatch.setenv(VARIABLE, "no such text anywhere")
    result = run_job(job_path("grep"), corpus, tmp_path)
    assert list(result.records()) == []
    assert len(read_parts(result)) == 3


def test_invalid_pattern_is_named(corpus, tmp_path, monkeypatch):
    """An invalid regular expression fails with the variable and the pattern in the message."""
    monkeypatch.setenv(VARIABLE, "(unclosed")
    with pytest.raises(ValueError, match=r"MINIMR_GREP_PATTERN='\(unclosed' is not a valid"):
        run_job(job_path("grep"), corpus, tmp_path)
