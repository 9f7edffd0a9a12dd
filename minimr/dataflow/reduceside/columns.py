"""The compiled column merge's entry points: which merges it takes, and what it makes.

``_colmerge`` (Cython, built by pip install where a compiler is) merges the runs' column
blocks as they are stored, with no ``(key, value)`` pair or entry made a record. It takes a
merge whose segments are all of one kind: str or bytes keys (a sort's identity reduce), or,
with ``sort_values``, a secondary sort's composite segments of one signature (a join's:
columns of plain keys and values, ordered by ``(key, value)``). Every other merge, and every
merge where it is not built, goes through ``merge.merge_batches`` in Python, its twin.

Three things come out of it: the identity reduce's ``(keys, values)`` columns
(``column_pairs``), a reduce's key groups with their values listed (``column_groups``, made
into chunks by ``grouping.group_lists``), and a merge pass's segment of composite columns
(``merged_columns``, written by ``segments.write_columns``).
"""

from __future__ import annotations

from collections.abc import Iterator

from minimr.dataflow.format.blocks import BLOCK_ENTRIES
from minimr.dataflow.format.segments import KIND_BYTES, KIND_STR, SegmentReader, composite

try:  # built by pip install where a compiler is; else the merge of pairs in merge.py
    from minimr.dataflow.reduceside._colmerge import ColumnGroups, ColumnMerge
except ImportError:
    ColumnGroups = ColumnMerge = None

# Values a batch of the compiled merge's key groups holds (``ColumnGroups``).
GROUP_BATCH = 4096


def column_merged(kind: bytes, sort_values: bool) -> bool:
    """True when the compiled merge is built and takes a merge of segments of ``kind`` (all
    of them: ``merge.merged_kind``): str or bytes keys, or (``sort_values``) composite."""
    if ColumnMerge is None:
        return False
    return composite(kind) if sort_values else kind in (KIND_STR, KIND_BYTES)


def column_pairs(readers: list[SegmentReader], size: int, sort_values: bool
                 ) -> Iterator[tuple[list, list, int]]:
    """The merged ``(keys, values, groups)`` columns of ``_colmerge.ColumnMerge``, at most
    ``size`` values a batch, every value under its group's first key object."""
    return ColumnMerge(_column_runs(readers), size, sort_values)


def column_groups(readers: list[SegmentReader], size: int) -> Iterator[tuple[list, list, bool]]:
    """The merge of the readers' composite segments as key groups, at most ``size`` values a
    batch: ``(keys, values lists, runs_on)`` (``_colmerge.ColumnGroups``)."""
    return ColumnGroups(_column_runs(readers), size, True)


def merged_columns(readers: list[SegmentReader]) -> Iterator[tuple[list, list]]:
    """The merge of the readers' composite segments as the ``(keys, values)`` columns such a
    segment stores, ``BLOCK_ENTRIES`` a block: what ``segments.write_columns`` writes as the
    merged segment."""
    return ((keys, values) for keys, values, _ in
            ColumnMerge(_column_runs(readers), BLOCK_ENTRIES, True))


def _column_runs(readers: list[SegmentReader]) -> list[Iterator[tuple[list, list]]]:
    return [run for reader in readers for run in reader.column_runs()]
