"""Running a step's reduce over the merge of its partition, into a part writer.

Four ways, by what the step declares:

- no reduce (identity): the merged pairs go to the writer as columns (``MergedPairs``), with
  no iterator per key;
- a declared fold (``minimr.fold(sum)``): each key's one value made in C,
  ``fn(values iterator)`` mapped over a chunk of keys: exactly ``yield key, fn(values)``;
- a reduce generator: called once a key, its output taken a chunk of keys at a time and
  checked (``mistakes``): what each call returned, then the pairs;
- skip mode: a key group at a time, each output pair written at once, so that a failure
  surfaces while the tracker still holds the group that caused it.

A step's ``reduce_final`` runs after the last key; what it returns is written after
(``write_final``).

The key handed to ``reduce`` is the key to write of its group: of equal keys, the least
(``exact``), with ``sort_values`` too (``sortvalues``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from itertools import chain, islice
from operator import is_not
from typing import Any

from minimr.dataflow import skips
from minimr.dataflow.folds import Fold
from minimr.dataflow.format.segments import Segment
from minimr.dataflow.mistakes import check_pairs, check_results, values_as_a_list
from minimr.dataflow.reduceside.merge import MergedGroups, MergedPairs

__all__ = ["REDUCE_BATCH", "reduce_into", "write_final"]

# Reduce output records handed to the part writer at a time: enough to format them in C, few
# enough to stay in the CPU's cache (a sort's 256 MiB partition: 4.0-4.2 s CPU at 256 or
# 1024, 4.6 s at 4096).
REDUCE_BATCH = 256
_not_none = partial(is_not, None)
# Reduce calls made before their generators are drained: a merge in memory is one chunk of a
# partition's every key, and that many generators at once fall out of the CPU's cache.
CALL_CHUNK = 1024


def reduce_into(segments: list[Segment], scratch: str, writer: Any,
                reduce_fn: Callable | None, tracker: skips.Tracker | None,
                sort_values: bool = False) -> tuple[int, int]:
    """Merge ``segments`` through ``reduce_fn`` (None: identity) into ``writer``; with
    ``sort_values``, the segments hold composite entries and each key's values come sorted.

    Returns:
        ``(groups, values read)``.
    """
    if reduce_fn is None and tracker is None:
        with MergedPairs(segments, scratch, sort_values=sort_values) as pairs:
            for keys, values in pairs.columns(REDUCE_BATCH):
                writer.write_columns(keys, values)
            return pairs.groups, pairs.values_read
    with MergedGroups(segments, scratch, sort_values=sort_values) as merged:
        if tracker is not None:
            groups = _reduce_tracked(tracker.groups(merged), reduce_fn, writer.write)
        elif type(reduce_fn) is Fold:  # each key's one output value, made in C
            for keys, values in merged.chunks():
                writer.write_columns(keys, reduce_fn.each(values))
            groups = merged.groups
        else:
            produced = _reduce_output(merged, reduce_fn)
            try:
                for batch in iter(lambda: list(islice(produced, REDUCE_BATCH)), []):
                    writer.write_many(batch, check_pairs(batch, reduce_fn))
            except _ReduceStopped as stopped:
                raise stopped.stop from None  # the user's own StopIteration, as before
            groups = merged.groups
        return groups, merged.values_read


def write_final(writer: Any, final: Callable) -> None:
    """Write what a step's ``reduce_final`` returns: pairs, a mapping or None."""
    result = final()
    if result is None:
        return
    check_results([result], final, mappings=True)
    pairs = list(result.items() if isinstance(result, Mapping) else result)
    writer.write_many(pairs, check_pairs(pairs, final))


class _ReduceStopped(Exception):
    """A reduce function raised StopIteration (carried as ``stop``)."""

    def __init__(self, stop: StopIteration) -> None:
        super().__init__("reduce raised StopIteration")
        self.stop = stop


def _reduce_output(merged: MergedGroups, reduce_fn: Callable) -> Iterator[tuple[Any, Any]]:
    """Every pair the reduce outputs, in order, with no Python code of ours per pair.

    ``CALL_CHUNK`` keys at a time, the reducer is called on each key and its values (for a
    generator, that only makes the generator), what the calls returned is checked, and
    ``chain`` drains each key's output (and so the reducer's use of its values) before the
    next, as a loop would. A reducer that returns None contributes nothing.
    """
    call = reduce_fn if inspect.isgeneratorfunction(reduce_fn) else partial(_call_reduce,
                                                                            reduce_fn)
    for keys, values in merged.chunks():
        with values_as_a_list(reduce_fn, values):
            for at in range(0, len(keys), CALL_CHUNK):
                results = list(filter(_not_none, map(call, keys[at : at + CALL_CHUNK],
                                                     values[at : at + CALL_CHUNK])))
                check_results(results, reduce_fn)
                yield from chain.from_iterable(results)


def _call_reduce(reduce_fn: Callable, key: Any, values: Iterator) -> Any:
    # Inside map(), a StopIteration from the reducer would end the whole reduce quietly and
    # drop the keys after it; a generator reducer cannot raise one (PEP 479), a plain one can.
    try:
        return reduce_fn(key, values)
    except StopIteration as stop:
        raise _ReduceStopped(stop) from None


def _reduce_tracked(groups: Iterable[tuple[Any, Iterator]], reduce_fn: Callable | None,
                    write: Callable[[Any, Any], None]) -> int:
    """Reduce the groups with each output pair written at once; returns the groups reduced.

    Skip mode's path: a failure, writing included, must surface while the tracker still
    holds the group that caused it, not a batch later.
    """
    n = 0
    for key, values in groups:
        n += 1
        if reduce_fn is None:
            for value in values:
                write(key, value)
            continue
        with values_as_a_list(reduce_fn, [values]):
            produced = reduce_fn(key, values)
            if produced is not None:
                check_results([produced], reduce_fn)
                for pair in produced:
                    check_pairs([pair], reduce_fn)
                    write(*pair)
    return n
