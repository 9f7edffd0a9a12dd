"""Skip mode (``--skip-bad-records``): find the record user code fails on, pass over it next time.

Google's MapReduce could finish a job whose map crashed deterministically on a few records
by skipping them; minimr does it this way:

- A map task in skip mode numbers the records of its split in reading order (the record's
  *ordinal*: the same in every attempt), and a reduce task numbers its key groups. The
  task's ``skip`` set lists the ordinals to pass over.
- When the user's map or reduce raises, the task raises :class:`RecordFailed` with the
  ordinal and a printable location, the user's exception as its ``__cause__``. A record
  its input format cannot read (a line that is not JSON) fails the same way, with its
  ``BadRecordError`` as the cause. The worker
  sends the location with its failure report; the coordinator counts failures per record
  and from a record's second failure on puts it on the task's ``skip`` list (at most
  ``--max-skips`` records a job), without counting those failures toward ``--max-attempts``.
- Each skipped record is reported at the job commit under ``OUTPUT/_skipped/``, one file
  per task, with its location and the traceback it caused; the ``skipped records`` counter
  says how many.

Nothing here runs outside skip mode: the map keeps its fast path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from minimr.dataflow import storage
from minimr.dataflow.counters import Counters
from minimr.dataflow.format.output import SKIPPED
from minimr.dataflow.inputs.records import BadInput
from minimr.errors import JobCodeError, format_user_traceback

T = TypeVar("T")
R = TypeVar("R")

#: records (and key groups) a job may skip in all, unless the run says otherwise
MAX_SKIPS = 10
#: the folder of the skipped-records report, inside the job's output
SKIPPED_DIR = SKIPPED
#: characters of a skipped key or value kept in its report
SHOWN = 500


class RecordFailed(Exception):
    """User code raised on one record (or key group) in skip mode.

    Attributes:
        location: plain data: ``ordinal`` (int), ``where``, ``key`` and ``value`` (reprs).
    The user's exception is the ``__cause__``.
    """

    def __init__(self, location: dict) -> None:
        super().__init__(f"user code failed on {location['where']}")
        self.location = location


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


class Tracker:
    """Numbers a task's records (or key groups), passes over skipped ones, knows the current.

    Args:
        where: the task's input, for locations (``path bytes [0, 100)``, ``partition 2``).
        skip: the ordinals to pass over.
        noun: ``"record"`` or ``"key group"``.
    """

    def __init__(self, where: str, skip: Iterable[int], noun: str = "record") -> None:
        self.where = where
        self.skip = frozenset(skip)
        self.noun = noun
        self.skipped = 0
        self.current: tuple[int, Any, Any] | None = None  # (ordinal, key, value) in user code

    # -- maps ------------------------------------------------------------------------------------
    def records(self, records: Iterable[tuple[Any, Any]]) -> Iterator[tuple[int, Any, Any]]:
        """``(ordinal, key, value)`` for every record not skipped.

        A record its input format could not read (a ``BadInput`` value) fails here, as if
        the map had failed on it, so that it is skipped like one (``records.py``).
        """
        self.skipped = 0
        for ordinal, (key, value) in enumerate(records):
            if ordinal in self.skip:
                self.skipped += 1
                continue
            if type(value) is BadInput:
                self.current = (ordinal, key, value.raw)
                raise value.error
            yield ordinal, key, value

    def map(self, map_fn: Callable) -> Callable:
        """``map_fn`` over ``(ordinal, key, value)`` records, the current record tracked."""

        def tracked(ordinal: int, key: Any, value: Any) -> Iterator:
            self.current = (ordinal, key, value)
            produced = map_fn(key, value)
            if produced is not None:
                yield from produced
            self.current = None  # later failures (a combine, teardown) are not this record's

        return tracked

    def map_batch(self, map_batch: Callable, pairs: Callable[[Any], Iterable]) -> Callable:
        """``map_batch`` called one record at a time (so a failure names its record)."""

        def tracked(batch: list[tuple[int, Any, Any]]) -> Iterator:
            for ordinal, key, value in batch:
                self.current = (ordinal, key, value)
                yield from pairs(map_batch([(key, value)]))
            self.current = None

        return tracked

    # -- reduces ---------------------------------------------------------------------------------
    def groups(self, groups: Iterable[tuple[Any, Iterator]]) -> Iterator[tuple[Any, Iterator]]:
        """The key groups not skipped, the current one tracked while the caller reduces it."""
        self.skipped = 0
        source = iter(groups)
        ordinal = 0
        while True:
            self.current = None  # a failure while merging is not a group's
            try:
                key, values = next(source)
            except StopIteration:
                return
            if ordinal in self.skip:
                self.skipped += 1
            else:
                self.current = (ordinal, key, None)
                yield key, values
            ordinal += 1

    # -- failures --------------------------------------------------------------------------------
    def failed(self) -> RecordFailed | None:
        """The :class:`RecordFailed` to raise for a failure now, if user code was on a record."""
        if self.current is None:
            return None
        ordinal, key, value = self.current
        location = {
            "ordinal": ordinal,
            "where": f"{self.noun} {ordinal} of {self.where}",
            "key": _shown(key),
            "value": _shown(value) if self.noun == "record" else "",
        }
        return RecordFailed(location)


@contextlib.contextmanager
def reporting(tracker: Tracker | None) -> Iterator[None]:
    """Turn a failure of user code on a tracked record into :class:`RecordFailed`.

    A mistake in the job's code (``JobCodeError``) is no record's fault: skipping the record
    would hide it, so it goes through as it is.
    """
    try:
        yield
    except JobCodeError:
        raise
    except Exception as exc:
        failed = tracker.failed() if tracker is not None else None
        if failed is None:
            raise
        raise failed from exc


class InlineSkipper:
    """The inline runner's skip mode: a task that fails on a record runs again without it.

    In one process a failure is as deterministic as user code is, so a record is skipped at
    its first failure; past ``max_skips`` the user's exception goes through as it is.
    """

    def __init__(self, max_skips: int) -> None:
        self.left = max_skips
        self.skipped: list[dict] = []

    def run(self, run: Callable[[T], R], task: T, name: str, counters: Counters) -> R:
        """``run(task)``, again with the failing record skipped each time one fails."""
        while True:
            saved = counters.to_dict()
            try:
                return run(task)
            except RecordFailed as exc:
                failed = exc
            cause = failed.__cause__
            if self.left <= 0 or cause is None:
                raise cause or failed  # outside the handler: the user's exception, unchained
            self.left -= 1
            counters.restore(saved)  # the failed try counts for nothing
            trace = format_user_traceback(cause)
            self.skipped.append({"task": name, **failed.location, "traceback": trace})
            skip = task.skip | {failed.location["ordinal"]}  # type: ignore[attr-defined]
            task = dataclasses.replace(task, skip=skip)  # type: ignore[type-var]


def write_report(output: str, skipped: list[dict]) -> None:
    """Write the skipped records under ``OUTPUT/_skipped/``, one file per task.

    Args:
        output: the job's output folder.
        skipped: entries with ``task``, ``where``, ``key``, ``value`` and ``traceback``.
    """
    by_task: dict[str, list[dict]] = {}
    for entry in skipped:
        by_task.setdefault(str(entry.get("task", "task")), []).append(entry)
    folder = storage.join(output, SKIPPED_DIR)
    storage.makedirs(folder)
    for task, entries in sorted(by_task.items()):
        lines = []
        for entry in entries:
            lines.append(f"skipped {entry.get('where', '?')}")
            lines.append(f"  key:   {entry.get('key', '')}")
            if entry.get("value"):
                lines.append(f"  value: {entry['value']}")
            lines.append("  " + str(entry.get("traceback", "")).rstrip().replace("\n", "\n  "))
            lines.append("")
        with storage.open_write(storage.join(folder, f"{os.path.basename(task)}.txt")) as file:
            file.write("\n".join(lines).encode("utf-8"))
