"""Merge passes: groups of at most ``MERGE_FACTOR`` runs, merged pass after pass until that
many remain, each pass's temporary files deleted once a later pass has merged them."""

from __future__ import annotations

import os
from functools import partial

from minimr.dataflow.format.segments import Segment, SegmentReader, write_single_values
from minimr.dataflow.reduceside import merge, passes


def test_groups_are_consecutive_and_hold_at_most_the_factor(monkeypatch):
    """Consecutive segments are grouped while their runs add up to the factor at most; a
    segment of more runs than that is a group of its own."""
    monkeypatch.setattr(passes, "MERGE_FACTOR", 4)
    segments = [Segment(f"s{i}", 0, 1) for i in range(6)]
    groups = passes.groups_of_runs(segments, [1, 3, 1, 5, 2, 2])
    assert [([s.path for s in group], runs) for group, runs in groups] == [
        (["s0", "s1"], 4), (["s2"], 1), (["s3"], 5), (["s4", "s5"], 4)]


def test_passes_leave_the_factor_and_delete_what_they_merged(tmp_path, monkeypatch):
    """Ten one-run segments with a factor of 3: a first pass merges them into four, a second
    into two (one merged, one untouched); the first pass's files are gone, and the entries
    are every segment's, in order."""
    monkeypatch.setattr(passes, "MERGE_FACTOR", 3)
    segments = []
    for i in range(10):
        path = tmp_path / f"run{i}"
        keys = [f"k{j:03d}" for j in range(i, 100, 10)]
        with open(path, "wb") as out:
            length, _ = write_single_values(out, keys, [i] * len(keys), b"s")
        segments.append(Segment(str(path), 0, length))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    left, made = passes.premerge(segments, str(scratch),
                                 partial(merge._write_merge, place=merge.PLAIN))
    assert len(left) == 2 and left[1] == segments[9]
    assert [os.path.join(scratch, name) for name in os.listdir(scratch)] == made == [left[0].path]
    readers = [SegmentReader(s) for s in left]
    try:
        keys = [key for key, _ in merge.merge_entries(readers)]
    finally:
        for reader in readers:
            reader.close()
    assert keys == [f"k{j:03d}" for j in range(100)]
