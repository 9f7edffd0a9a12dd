"""jobs/inverted_index.py against a plain-Python index of the same files."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.jobs.conftest import (
    all_text_records,
    assert_keys_sorted_within_parts,
    job_path,
    read_parts,
    run_job,
)

WORD = re.compile(r"[a-z]+")


def reference_index(*folders) -> dict[str, list[str]]:
    """Plain Python: word -> sorted base names of the files whose lines contain it."""
    index = defaultdict(set)
    for folder in folders:
        for (path, _), line in all_text_records(folder):
            for word in WORD.findall(line.lower()):
                index[word].add(path.rsplit("/", 1)[-1])
    return {word: sorted(documents) for word, documents in index.items()}


def test_index_equals_reference(corpus, tmp_path):
    """Every word maps to exactly the sorted list of documents that contain it."""
    (corpus / "extra.txt").write_text("Leviathan, the whale\n")
    result = run_job(job_path("inverted_index"), corpus, tmp_path)
    parts = read_parts(result)
    assert_keys_sorted_within_parts(parts)
    index = dict(result.records())
    assert index == reference_index(corpus)
    assert any(len(documents) > 1 for documents in index.values())
    assert any(len(documents) == 1 for documents in index.values())


def test_combiner_sends_each_document_once_per_map_task(tmp_path):
    """A word repeated on every line of one split reaches the reducer once."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "only.txt").write_text("whale whale\n" * 20)
    result = run_job(job_path("inverted_index"), folder, tmp_path, split_size=1 << 20)
    assert list(result.records()) == [("whale", ["only.txt"])]
    assert result.counters.get("minimr", "reduce input records") == 1


def test_documents_are_base_names(tmp_path):
    """Files in different folders are named by base name; equal base names are one document."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.txt").write_text("sea ship\n")
    (b / "x.txt").write_text("sea\n")
    (b / "y.txt").write_text("Ship SEA\n")
    result = run_job(job_path("inverted_index"), [a, b], tmp_path)
    assert dict(result.records()) == {"sea": ["x.txt", "y.txt"], "ship": ["x.txt", "y.txt"]}
    assert dict(result.records()) == reference_index(a, b)
