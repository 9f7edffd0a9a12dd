"""jobs/grep.py against a plain-Python scan of the same files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import minimr
from tests.jobs.conftest import all_text_records, job_path, read_parts, run_job


def reference_grep(folder: Path, pattern: str) -> list[tuple[tuple[str, int], str]]:
    """Plain Python: the matching lines with (path, byte offset), in input order."""
    regex = re.compile(pattern)
    return [(key, line) for key, line in all_text_records(folder) if regex.search(line)]


def test_default_pattern_is_whale(corpus, tmp_path):
    """Without --pattern, the job keeps the lines containing "whale", in input order."""
    result = run_job(job_path("grep"), corpus, tmp_path)
    expected = reference_grep(corpus, "whale")
    assert len(expected) > 10
    assert list(result.records()) == expected
    assert result.counters.get("grep", "matching lines") == len(expected)


@pytest.mark.parametrize("pattern", [r"^[A-Z]", r"\d+", r"[^\x00-\x7f]", r"(?i)\bSHIP\b$"])
def test_pattern_option(pattern, corpus, tmp_path):
    """The pattern is the job's option --pattern, searched anywhere in each line."""
    result = run_job(job_path("grep"), corpus, tmp_path, options={"pattern": pattern})
    expected = reference_grep(corpus, pattern)
    assert expected
    assert list(result.records()) == expected


def test_ignore_case(corpus, tmp_path):
    """--ignore-case matches regardless of case."""
    result = run_job(job_path("grep"), corpus, tmp_path,
                     options={"pattern": "^whale", "ignore_case": True})
    expected = reference_grep(corpus, "(?i)^whale")
    assert any(line.startswith("W") for _, line in expected)
    assert list(result.records()) == expected


def test_keys_are_paths_and_byte_offsets(corpus, tmp_path):
    """Each key's byte offset points at its line in its file, also after non-ASCII and CRLF."""
    result = run_job(job_path("grep"), corpus, tmp_path, options={"pattern": r"[^\x00-\x7f]"})
    records = list(result.records())
    assert {Path(path).name for (path, _), _ in records} >= {"doc-0.txt", "doc-1.txt"}
    for (path, offset), line in records:
        data = Path(path).read_bytes()
        assert data[offset:].startswith(line.encode("utf-8"))
        assert offset == 0 or data[offset - 1:offset] == b"\n"


def test_parts_concatenate_in_input_order(corpus, tmp_path):
    """The range partitioner spreads matches over several parts whose concatenation is ordered."""
    result = run_job(job_path("grep"), corpus, tmp_path, reducers=4, options={"pattern": r"\w"})
    parts = read_parts(result)
    assert sum(1 for records in parts if records) >= 2
    keys = [key for records in parts for key, _ in records]
    assert keys == sorted(keys)
    assert len(keys) == len(reference_grep(corpus, r"\w"))


def test_no_match_leaves_empty_parts(corpus, tmp_path):
    """A pattern that matches nothing commits empty parts and no records."""
    result = run_job(job_path("grep"), corpus, tmp_path,
                     options={"pattern": "no such text anywhere"})
    assert list(result.records()) == []
    assert len(read_parts(result)) == 3


def test_invalid_pattern_is_a_usage_error_before_any_task(corpus, tmp_path):
    """An invalid regular expression fails at submit, naming --pattern, with no output."""
    with pytest.raises(minimr.UsageError, match=r"--pattern '\(unclosed' is not a valid"):
        run_job(job_path("grep"), corpus, tmp_path, options={"pattern": "(unclosed"})
    assert not (tmp_path / "out").exists()


def test_reducers_zero_is_refused_naming_the_range_partitioner(corpus, tmp_path):
    """Grep keeps a reduce (its docstring says why): --reducers 0 is refused before any task,
    naming the range partitioner a map-only step cannot have."""
    with pytest.raises(minimr.JobDefinitionError, match='declares partitioner="range"'):
        run_job(job_path("grep"), corpus, tmp_path, reducers=0)
    assert not (tmp_path / "out").exists()
