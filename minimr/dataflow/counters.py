"""Counters: named integer tallies grouped by a group name, merged across tasks.

Built-in counters live in the group ``BUILTIN`` ("minimr"); user code adds its own through
``Job.increment_counter`` or ``minimr.increment_counter``, which write to the counters of the
task that is running in this process (see ``current``/``activate``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

BUILTIN = "minimr"

# The built-in counters, in the order the end-of-job table shows them: the order in which a
# record meets them, from the input through map, combine, spill and shuffle to the part
# files. What each counts (docs/operations.md says the same for users):

#: records read from the input splits (text lines, whole files, an earlier step's records)
MAP_INPUT_RECORDS = "map input records"
#: bytes of input the map tasks were given (their splits' byte ranges)
MAP_INPUT_BYTES = "map input bytes"
#: (key, value) pairs the map functions yielded (``map``, ``map_batch``, ``map_final``)
MAP_OUTPUT_RECORDS = "map output records"
#: a map-only step (0 reducers): bytes of the part files its map tasks wrote (with reducers,
#: the map output stays on the workers: see spilled records)
MAP_OUTPUT_BYTES = "map output bytes"
#: pairs that went into a combine pass: each spill of the map output buffer, and the merge of
#: a task's spills; a key with one value passes through unchanged and counts too. With one
#: spill a task, this equals map output records; with several, merged pairs count again
COMBINE_INPUT_RECORDS = "combine input records"
#: pairs that came out of the combine passes
COMBINE_OUTPUT_RECORDS = "combine output records"
#: pairs written to the map side's local disk: every spill, and the task's merged output
#: file when it had several spills (then a pair is written more than once)
SPILLED_RECORDS = "spilled records"
#: pairs the reduce tasks read from the map outputs: what the shuffle moved
REDUCE_INPUT_RECORDS = "reduce input records"
#: distinct keys the reduce tasks were called with (one call a key a partition)
REDUCE_INPUT_GROUPS = "reduce input groups"
#: records written to the part files (of the last step; of ``_temporary`` for earlier steps)
REDUCE_OUTPUT_RECORDS = "reduce output records"
#: bytes of those part files
REDUCE_OUTPUT_BYTES = "reduce output bytes"
#: skip mode: input records (or reduce key groups) skipped after failing twice
SKIPPED_RECORDS = "skipped records"
#: input records (text lines, whole files) whose invalid UTF-8 bytes were read as U+FFFD
INVALID_UTF8_RECORDS = "invalid utf-8 records"
#: side files a task had to fetch (not yet in its worker's cache)
SIDE_FILES_FETCHED = "side files fetched"
BUILTIN_ORDER = (
    MAP_INPUT_RECORDS, MAP_INPUT_BYTES, MAP_OUTPUT_RECORDS, MAP_OUTPUT_BYTES,
    COMBINE_INPUT_RECORDS, COMBINE_OUTPUT_RECORDS, SPILLED_RECORDS, REDUCE_INPUT_RECORDS,
    REDUCE_INPUT_GROUPS, REDUCE_OUTPUT_RECORDS, REDUCE_OUTPUT_BYTES, SKIPPED_RECORDS,
    INVALID_UTF8_RECORDS, SIDE_FILES_FETCHED,
)


class Counters:
    """A table ``{group: {name: int}}`` that tasks fill and runners merge."""

    def __init__(self, groups: dict[str, dict[str, int]] | None = None) -> None:
        self._groups: dict[str, dict[str, int]] = {}
        if groups:
            for group, names in groups.items():
                self._groups[group] = dict(names)

    def increment(self, group: str, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``group/name`` (created at 0)."""
        names = self._groups.get(group)
        if names is None:
            names = self._groups[group] = {}
        names[name] = names.get(name, 0) + amount

    def get(self, group: str, name: str) -> int:
        """The value of ``group/name``; 0 when it was never incremented."""
        return self._groups.get(group, {}).get(name, 0)

    def __getitem__(self, group: str) -> dict[str, int]:
        return dict(self._groups.get(group, {}))

    def merge(self, other: Counters) -> None:
        """Add every counter of ``other`` into this table."""
        for group, names in other._groups.items():
            for name, amount in names.items():
                self.increment(group, name, amount)

    def restore(self, saved: dict[str, dict[str, int]]) -> None:
        """Go back to an earlier ``to_dict()`` snapshot (a batch that must run again)."""
        self._groups = {group: dict(names) for group, names in saved.items()}

    def to_dict(self) -> dict[str, dict[str, int]]:
        """Plain nested dicts, safe to send as JSON."""
        return {group: dict(names) for group, names in self._groups.items()}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, int]]) -> Counters:
        """Rebuild counters from ``to_dict`` output (validated: ints only)."""
        groups: dict[str, dict[str, int]] = {}
        for group, names in data.items():
            if not isinstance(group, str) or not isinstance(names, dict):
                raise ValueError(f"counter group must be a str->dict entry (got {group!r})")
            for name, value in names.items():
                if not isinstance(name, str) or type(value) is not int:
                    raise ValueError(f"counter {group}/{name!r} must be an int (got {value!r})")
            groups[group] = dict(names)
        return cls(groups)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counters) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Counters({self._groups!r})"

    def format_table(self) -> str:
        """A human table: built-in counters first in a fixed order, then user groups sorted."""
        lines = []
        order = {name: i for i, name in enumerate(BUILTIN_ORDER)}
        groups = sorted(self._groups, key=lambda g: (g != BUILTIN, g))
        for group in groups:
            names = self._groups[group]
            if not names:
                continue
            lines.append(f"{group}:")
            width = max(len(n) for n in names)
            for name in sorted(names, key=lambda n: (order.get(n, len(order)), n)):
                lines.append(f"  {name:<{width}}  {names[name]:>14,}")
        return "\n".join(lines)


_current: Counters | None = None


def current() -> Counters:
    """The counters of the task running in this process.

    Raises:
        RuntimeError: when no task is running (a counter incremented outside map/reduce).
    """
    if _current is None:
        raise RuntimeError("increment_counter() called outside of a running map or reduce task")
    return _current


@contextlib.contextmanager
def activate(counters: Counters) -> Iterator[Counters]:
    """Make ``counters`` the target of user counter increments while a task runs."""
    global _current
    previous, _current = _current, counters
    try:
        yield counters
    finally:
        _current = previous


def increment_builtin(name: str, amount: int = 1) -> None:
    """Add to a built-in counter of the running task; outside a task (a reader used on its
    own), nothing."""
    if _current is not None:
        _current.increment(BUILTIN, name, amount)


def increment_counter(group: str, name: str, amount: int = 1) -> None:
    """Increment a user counter of the running task (usable from plain-function jobs)."""
    current().increment(group, name, amount)
