"""A map-only step's map output: written as it comes, in the map's order, to a part file.

A step of 0 reducers has no shuffle: nothing is partitioned, sorted, spilled or pickled for
a reducer. :class:`DirectOutput` takes what ``feed`` hands a ``MapOutputBuffer`` (checked
pairs, ``map_keys``' keys, a batch map's mapping) and writes each batch to the task's part
writer (``TextPartWriter`` for the job's output, ``RecordPartWriter`` for a next step), in
the order the map produced it. A key of ``map_keys`` is the pair ``(key, 1)``, as anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any

__all__ = ["DirectOutput"]

#: pairs a batch of the map brings at most (``feed`` sizes its batches on it). Small enough
#: that what the map's rows point to is still in the CPU's caches when the batch is written: a
#: replicated join's names come from a users table of a million rows, read once by the map
#: and again by the writer. At 4096 the writer found them gone (a 13.5 MB orders file: 750 ns
#: a row to write); at 1024 the zoo's replicated join took 42.6 CPU s, not 50.4 (means of 5).
BATCH_PAIRS = 1024


class DirectOutput:
    """The map output of a map-only task, written through ``writer`` as it comes.

    Args:
        writer: the attempt's part writer (``write_many``, ``write_columns``).
    """

    batch_pairs = BATCH_PAIRS

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.map_output_records = 0

    def add_if_one_value(self, pairs: list) -> bool:
        """Nothing is counted here: ``add_pairs`` writes every pair (always False)."""
        return False

    def add_pairs(self, pairs: list, pair_types: set[type]) -> None:
        """Write checked ``(key, value)`` pairs, in order (``pair_types``: their types, as
        ``check_pairs`` found them)."""
        self._writer.write_many(pairs, pair_types)  # checked: not walked again
        self.map_output_records += len(pairs)

    def add_keys(self, keys: list) -> None:
        """Write the pair ``(key, 1)`` for each key, in order."""
        self._writer.write_columns(keys, list(repeat(1, len(keys))))
        self.map_output_records += len(keys)

    def add_mapping(self, mapping: Mapping) -> None:
        """Write a mapping's items (a batch map's ``Counter``), in its order."""
        self._writer.write_columns(list(mapping.keys()), list(mapping.values()))
        self.map_output_records += len(mapping)
