"""Merge passes: how many runs one merge takes, and the passes that bring more down to that.

A merge holds a block of every run it reads and a file open for each, so it takes at most
``MERGE_FACTOR`` runs at once (Hadoop's io.sort.factor). When a reduce (or a map task's
merge of its spills) has more, ``premerge`` first merges consecutive segments in groups of at
most that many runs (``groups_of_runs``) into temporary one-run segments, pass after pass,
until at most ``MERGE_FACTOR`` remain. How a group is merged and written is the caller's
(``merge._write_merge``): this module decides only which segments go together, names the
temporary files and deletes each as soon as a later pass has merged it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

from minimr.dataflow.format.segments import Segment, SegmentReader, run_count

MERGE_FACTOR = 64

#: writes the merge of the readers as one segment: ``(bytes written, values written)``
WriteMerge = Callable[[BinaryIO, list[SegmentReader]], tuple[int, int]]


def groups_of_runs(segments: list[Segment], runs: list[int]
                   ) -> list[tuple[list[Segment], int]]:
    """Consecutive segments grouped so that no group holds more than ``MERGE_FACTOR`` runs;
    each group with its number of runs."""
    groups: list[tuple[list[Segment], int]] = []
    for segment, n in zip(segments, runs, strict=True):
        if not groups or groups[-1][1] + n > MERGE_FACTOR:
            groups.append(([], 0))
        members, total = groups[-1]
        members.append(segment)
        groups[-1] = (members, total + n)
    return groups


def premerge(segments: list[Segment], scratch: str, write_merge: WriteMerge
             ) -> tuple[list[Segment], list[str]]:
    """Merge segments in passes of ``MERGE_FACTOR`` runs until at most that many remain,
    each group written by ``write_merge`` to a temporary file in ``scratch``.

    Returns the segments to merge last and the temporary files made on the way (every pass
    but the last one's inputs are deleted as soon as they are merged).
    """
    made: list[str] = []
    passes = 0
    runs = list(map(run_count, segments))
    while sum(runs) > MERGE_FACTOR:
        merged = []
        for group, group_runs in groups_of_runs(segments, runs):
            if group_runs == 1:  # one segment of one run: nothing to merge
                merged.append(group[0])
                continue
            readers = [SegmentReader(s) for s in group]
            try:
                fd, path = tempfile.mkstemp(prefix=f"merge{passes}-", suffix=".seg", dir=scratch)
                with os.fdopen(fd, "wb") as out:
                    length, _ = write_merge(out, readers)
            finally:
                for r in readers:
                    r.close()
            merged.append(Segment(path, 0, length))
            made.append(path)
            for done in group:  # an earlier pass's file, merged now: no longer needed
                if done.path in made:
                    made.remove(done.path)
                    os.unlink(done.path)
        segments, runs = merged, [1] * len(merged)  # every segment now one run
        passes += 1
    return segments, made
