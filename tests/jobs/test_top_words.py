"""jobs/top_words.py against Counter.most_common-style ranking of the same words."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.jobs.conftest import all_text_records, job_path, load_job_module, read_parts, run_job

VARIABLE = "MINIMR_TOP_N"
WORD = re.compile(r"[a-z]+")


def reference_top(folder: Path, n: int) -> list[tuple[int, tuple[str, int]]]:
    """Plain Python: (rank, (word, count)) by count descending, ties alphabetical."""
    counts = Counter(
        word for _, line in all_text_records(folder) for word in WORD.findall(line.lower())
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
    return list(enumerate(ranked, start=1))


def write_words(tmp_path: Path, text: str) -> Path:
    """A folder with one file holding ``text``."""
    folder = tmp_path / "words"
    folder.mkdir()
    (folder / "w.txt").write_text(text)
    return folder


def test_top_twenty_by_default(corpus, tmp_path, monkeypatch):
    """Without the variable, the 20 most frequent words come out ranked in one part file."""
    monkeypatch.delenv(VARIABLE, raising=False)
    result = run_job(job_path("top_words"), corpus, tmp_path, reducers=3)
    parts = read_parts(result)
    assert len(parts) == 1
    assert parts[0] == reference_top(corpus, 20)
    assert len(parts[0]) == 20


def test_n_from_environment(corpus, tmp_path, monkeypatch):
    """MINIMR_TOP_N overrides the number of words kept."""
    monkeypatch.setenv(VARIABLE, "5")
    result = run_job(job_path("top_words"), corpus, tmp_path)
    assert list(result.records()) == reference_top(corpus, 5)


def test_n_from_class_attribute(corpus, tmp_path, monkeypatch):
    """A subclass that sets top_n keeps that many words."""
    monkeypatch.delenv(VARIABLE, raising=False)

    class TopThree(load_job_module("top_words").TopWords):
        top_n = 3

    result = run_job(TopThree, corpus, tmp_path)
    assert list(result.records()) == reference_top(corpus, 3)


def test_ties_are_ranked_alphabetically(tmp_path, monkeypatch):
    """Words with equal counts are ranked in alphabetical order, across map tasks."""
    monkeypatch.setenv(VARIABLE, "3")
    folder = write_words(tmp_path, "delta bravo\ncharlie alpha\n" * 30 + "echo\n" * 40)
    result = run_job(job_path("top_words"), folder, tmp_path, split_size=64)
    assert list(result.records()) == [(1, ("echo", 40)), (2, ("alpha", 30)),
                                      (3, ("bravo", 30))]


def test_fewer_words_than_n(tmp_path, monkeypatch):
    """With fewer distinct words than N, every word is ranked."""
    monkeypatch.delenv(VARIABLE, raising=False)
    folder = write_words(tmp_path, "Sea, sea and SHIP.\n")
    result = run_job(job_path("top_words"), folder, tmp_path)
    assert list(result.records()) == [(1, ("sea", 2)), (2, ("and", 1)), (3, ("ship", 1))]


@pytest.mark.parametrize("value", ["0", "-3", "ten"])
def test_invalid_n_is_named(value, tmp_path, monkeypatch):
    """A value of MINIMR_TOP_N that is not a positive integer fails with a clear message."""
    monkeypatch.setenv(VARIABLE, value)
    folder = write_words(tmp_path, "sea ship\n")
    with pytest.raises(ValueError, match=f"MINIMR_TOP_N must be a positive integer.*{value}"):
        run_job(job_path("top_words"), folder, tmp_path)
