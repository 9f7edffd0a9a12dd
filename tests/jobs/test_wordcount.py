"""jobs/wordcount.py and its batch, function and in-mapper variants against a Counter loop."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from minimr.dataflow.counters import BUILTIN
from tests.jobs.conftest import (
    all_text_records,
    assert_keys_sorted_within_parts,
    job_path,
    load_job_module,
    random_line,
    read_parts,
    run_job,
)

VARIANTS = ("wordcount", "wordcount_batch", "wordcount_functions", "wordcount_final")
WORD = re.compile(r"[a-z]+")


def reference_counts(folder) -> Counter:
    """Plain Python: the words of every line, lower-cased, counted."""
    return Counter(
        word for _, line in all_text_records(folder) for word in WORD.findall(line.lower())
    )


@pytest.mark.parametrize("name", VARIANTS)
def test_counts_equal_reference(name, corpus, tmp_path):
    """Each variant counts every word exactly as a plain Counter loop does."""
    result = run_job(job_path(name), corpus, tmp_path)
    parts = read_parts(result)
    assert len(parts) == 3 and all(parts)
    assert_keys_sorted_within_parts(parts)
    assert dict(result.records()) == reference_counts(corpus)


def test_variants_write_identical_parts(corpus, tmp_path):
    """The class, batch, plain-function and in-mapper variants write byte-identical parts."""
    outputs = [run_job(job_path(name), corpus, tmp_path, output=name).output
               for name in VARIANTS]
    contents = [[p.read_bytes() for p in sorted(Path(o).glob("part-*"))]
                for o in outputs]
    assert all(c == contents[0] for c in contents)


def test_batch_variant_finds_the_words_the_regular_expression_finds(tmp_path):
    """Characters that lower-case into ASCII letters (the Kelvin sign, a dotted I), other
    non-ASCII letters, digits, underscores and control characters cut or make words exactly
    as ``[a-z]+`` after ``lower()`` does."""
    folder = tmp_path / "tricky"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "\u212aelvin İstanbul café Straße naïve\n"
        "snake_case x2y 3d\tTAB\x0bvt\x1funit ÆON\u00a0nbsp\r\n"
        "ｆｕｌｌ width ΣΊΣΥΦΟΣ end\n", encoding="utf-8")
    reference = reference_counts(folder)
    assert reference["kelvin"] == 1 and reference["i"] == 1  # the cases that matter are here
    result = run_job(job_path("wordcount_batch"), folder, tmp_path)
    assert dict(result.records()) == reference


def test_combiner_shrinks_the_shuffle(corpus, tmp_path):
    """The combiner leaves the reducers fewer records than the maps emitted."""
    counters = run_job(job_path("wordcount"), corpus, tmp_path).counters
    emitted = counters.get(BUILTIN, "map output records")
    assert emitted == sum(reference_counts(corpus).values())
    assert counters.get(BUILTIN, "reduce input records") < emitted


def test_result_independent_of_engine_settings(tmp_path):
    """One reducer, one big split and a sort buffer small enough to spill give the same counts."""
    rng = random.Random(1)
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "a.txt").write_text("\n".join(random_line(rng) for _ in range(3000)))
    result = run_job(job_path("wordcount"), folder, tmp_path, reducers=1, split_size=1 << 20,
                     sort_buffer=2048)
    assert dict(result.records()) == reference_counts(folder)


def test_function_module_runs_as_a_module_object(corpus, tmp_path):
    """The plain-function job also runs when passed as an imported module."""
    module = load_job_module("wordcount_functions")
    result = run_job(module, corpus, tmp_path)
    assert dict(result.records()) == reference_counts(corpus)


def test_filtered_variant_counts_the_words_of_three_letters_or_more(corpus, tmp_path):
    """jobs/wordcount_filtered.py (loops in map, combine and reduce) counts every word longer
    than two letters as a Counter loop with the same filter does."""
    result = run_job(job_path("wordcount_filtered"), corpus, tmp_path)
    expected = Counter(w for w in reference_counts(corpus).elements() if len(w) > 2)
    assert dict(result.records()) == expected
    assert_keys_sorted_within_parts(read_parts(result))
