"""A plain-Python model of MapReduce: what a job must output, by the contract alone.

Map every record of every input, group the pairs by key with Python equality (a dict), reduce
each group, feed the output to the next step. Of several equal keys (``1``, ``1.0``, ``True``)
the one a group carries is the least by ``(type(key).__name__, repr(key))``. A combiner is not
run: the generated jobs only have combiners whose effect the reducer cannot see (re-yield each
value, or fold what the reducer folds the same way). Map output is collected per "task" as if
the whole input were one map task; the generated maps give the same pairs however the input
is cut. Outputs are compared as multisets of ``canon`` forms, never with ``==`` alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def canon(x):
    """An exact, sortable stand-in for ``x``: ``(type name, repr)`` all the way down.

    ``1``, ``1.0``, ``True``, ``-0.0`` and ``0.0`` all differ; every float NaN is the same
    ``("float", "nan")``; a set's items are sorted, a dict keeps its order.
    """
    kind = type(x)
    if kind is tuple or kind is list:
        return (kind.__name__, tuple(canon(item) for item in x))
    if kind is frozenset or kind is set:
        return (kind.__name__, tuple(sorted(canon(item) for item in x)))
    if kind is dict:
        return ("dict", tuple((canon(k), canon(v)) for k, v in x.items()))
    if kind is float and x != x:
        return ("float", "nan")
    return (kind.__name__, repr(x))


def key_rank(key: Any) -> tuple[str, str]:
    """Which of several equal keys a group carries: the least of these."""
    return (type(key).__name__, repr(key))


def text_records(path: str, data: bytes) -> list[tuple[tuple[str, int], str]]:
    """The ``text`` format's records of a file: ``((path, byte offset), line)``, the line
    split on ``\\n`` alone, one ``\\r`` before it dropped, UTF-8 with errors replaced."""
    records, offset = [], 0
    pieces = data.split(b"\n")
    if pieces[-1] == b"":  # a final newline ends the last line; it does not start one
        pieces.pop()
    for piece in pieces:
        line = piece.decode("utf-8", "replace")
        records.append(((path, offset), line[:-1] if line.endswith("\r") else line))
        offset += len(piece) + 1
    return records


def _pairs(result: Mapping | Iterable | None) -> list:
    """A map's result as a list of pairs: a mapping's items, an iterable's items, or none."""
    if result is None:
        return []
    return list(result.items() if isinstance(result, Mapping) else result)


def map_step(step: Any, records: list) -> list:
    """Every pair one step's map makes of ``records``, as one task: setup, the map (or
    ``map_batch``, or ``map_keys`` whose keys count one each), ``map_final``, teardown."""
    pairs: list = []
    if step.setup:
        step.setup()
    if step.map_batch is not None:
        pairs += _pairs(step.map_batch(list(records)))
    elif getattr(step, "map_keys", None) is not None:
        pairs += [(k, 1) for record in records for k in step.map_keys(*record)]
    else:
        for record in records:
            pairs += _pairs(step.map(*record))
    if step.map_final is not None:
        pairs += _pairs(step.map_final())
    if step.teardown:
        step.teardown()
    return pairs


def group(pairs: list) -> list[tuple[Any, list]]:
    """``(key, values)`` per group of equal keys, the key being the least by ``key_rank``."""
    groups: dict = {}
    for key, value in pairs:
        entry = groups.get(key)
        if entry is None:
            groups[key] = [key, [value]]
        else:
            if key_rank(key) < key_rank(entry[0]):
                entry[0] = key
            entry[1].append(value)
    return [(key, values) for key, values in groups.values()]


def reduce_step(reduce: Callable | None, groups: list) -> list:
    """The reduce's output over every group; with no reduce, each value under its key."""
    out: list = []
    for key, values in groups:
        if reduce is None:
            out += [(key, value) for value in values]
        else:
            out += _pairs(reduce(key, iter(values)))
    return out


def run_model(steps: list, reducers: list[Callable | None], inputs: dict[str, bytes]) -> list:
    """The records a job's steps must output for ``inputs`` (``{path: bytes}``).

    Args:
        steps: the job's ``minimr.Step`` objects (bound to one job instance), setup and
            teardown filled in; one whose ``map_only`` is true has its map's pairs as its
            output, ungrouped (0 reducers).
        reducers: each step's reduce as a plain function (a declared fold given as one).
    """
    records = [r for path, data in sorted(inputs.items()) for r in text_records(path, data)]
    for step, reduce in zip(steps, reducers, strict=True):
        if getattr(step, "map_only", False):  # no grouping: every pair as the map made it
            records = map_step(step, records)
        else:
            records = reduce_step(reduce, group(map_step(step, records)))
    return records


def multiset(records: Iterable[tuple[Any, Any]]) -> Counter:
    """Records as a multiset of their exact ``canon`` forms."""
    return Counter(canon(tuple(record)) for record in records)
