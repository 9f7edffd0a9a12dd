"""Tests for minimr.dataflow.counters: the built-in counters add up for a reader."""

from __future__ import annotations

import pytest

import minimr
from minimr import Job
from minimr.dataflow import counters as C
from minimr.dataflow.counters import BUILTIN, Counters


class SummingCount(Job):
    """A word count whose combiner has the fold shape (folded in C, never called)."""

    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def combine(self, word, counts):
        yield word, sum(counts)

    def reduce(self, word, counts):
        yield word, sum(counts)


class CalledCount(SummingCount):
    """The same word count with a combiner that is called as written."""

    def combine(self, word, counts):
        total = 0
        for n in counts:
            total += n
        yield word, total


@pytest.fixture
def words(tmp_path):
    """A small text where some words appear once and some many times."""
    path = tmp_path / "words.txt"
    lines = [f"common rare{i} common other{i % 7}" for i in range(500)]
    path.write_text("\n".join(lines) + "\n")
    return path


def builtin(result) -> dict[str, int]:
    return result.counters[BUILTIN]


@pytest.mark.parametrize("job", [SummingCount, CalledCount])
def test_records_can_be_followed_from_map_to_reduce(tmp_path, words, job):
    """With one spill a task, every map output pair goes through the combine pass (a key of
    one value passes unchanged), what comes out is what is spilled and shuffled, and the
    reducers see each word once."""
    result = minimr.run(job, [str(words)], str(tmp_path / "out"), reducers=2, runner="inline")
    c = builtin(result)
    assert c[C.MAP_INPUT_RECORDS] == 500
    assert c[C.MAP_OUTPUT_RECORDS] == 2000
    assert c[C.COMBINE_INPUT_RECORDS] == c[C.MAP_OUTPUT_RECORDS]
    assert c[C.COMBINE_OUTPUT_RECORDS] == c[C.SPILLED_RECORDS] == c[C.REDUCE_INPUT_RECORDS]
    distinct = 1 + 500 + 7  # common, rare0..499, other0..6
    assert c[C.COMBINE_OUTPUT_RECORDS] == distinct  # one input file: one map task
    assert c[C.REDUCE_INPUT_GROUPS] == c[C.REDUCE_OUTPUT_RECORDS] == distinct


@pytest.mark.parametrize("job", [SummingCount, CalledCount])
def test_several_spills_count_each_combine_pass(tmp_path, words, job):
    """With several spills, the merge of the spills is one more combine pass: its pairs count
    again as combine input, and the combine output is still what was written to disk."""
    result = minimr.run(job, [str(words)], str(tmp_path / "out"), reducers=2, runner="inline",
                        sort_buffer=2048)
    c = builtin(result)
    assert c[C.COMBINE_INPUT_RECORDS] > c[C.MAP_OUTPUT_RECORDS]
    assert c[C.COMBINE_OUTPUT_RECORDS] == c[C.SPILLED_RECORDS]
    assert c[C.REDUCE_INPUT_RECORDS] < c[C.SPILLED_RECORDS]
    assert c[C.REDUCE_INPUT_GROUPS] == c[C.REDUCE_OUTPUT_RECORDS] == 508


def test_the_table_shows_built_in_counters_in_the_order_records_meet_them():
    """The end-of-job table lists the built-in counters in BUILTIN_ORDER, whatever order they
    were incremented in, then the job's own groups."""
    counters = Counters()
    for name in reversed(C.BUILTIN_ORDER):
        counters.increment(BUILTIN, name, 1)
    counters.increment("words", "long", 3)
    lines = counters.format_table().splitlines()
    rows = lines[1 : len(C.BUILTIN_ORDER) + 1]
    shown = [line.strip().rsplit("  ", 1)[0].strip() for line in rows]
    assert shown == list(C.BUILTIN_ORDER)
    assert lines[len(C.BUILTIN_ORDER) + 1] == "words:"
    assert C.BUILTIN_ORDER.index(C.MAP_OUTPUT_RECORDS) < C.BUILTIN_ORDER.index(
        C.COMBINE_INPUT_RECORDS) < C.BUILTIN_ORDER.index(C.SPILLED_RECORDS) < (
        C.BUILTIN_ORDER.index(C.REDUCE_INPUT_RECORDS))
