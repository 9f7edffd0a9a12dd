"""A substep's protocol between the job's pairs and the engine's records, exactly and fast.

The engine's records are a line's two halves, cut at its first tab (``mrjob_streaming``).
:class:`Codec` turns what a job's function yields into such records with the protocol's
``write``, and records back into the pairs a function takes with its ``read``: for any
protocol, the line is written, cut, joined and read, as Hadoop streaming would.

mrjob's own ``JSONProtocol`` (and ``ReprProtocol``, ``PickleProtocol``) are key-caching
protocols: ``write(k, v)`` is ``_dumps(k) + TAB + _dumps(v)`` and ``read`` cuts the line at
its first tab and ``_loads`` each half. For one of those whose ``read`` and ``write`` are
mrjob's, the codec calls ``_dumps`` and ``_loads`` on the halves directly, which gives the same
bytes and the same values without a line per pair, and remembers what it computed:

- the encoding of a str or an int (exact types: ``True`` and ``1.0`` have other encodings;
  floats are not remembered, as ``-0.0 == 0.0``), which a word count's keys and ``1``\\ s
  repeat millions of times;
- the decoding of a value's bytes when it is a str, int, float, bool or None (immutable, so
  one object may serve every time those bytes come again).

A key whose encoding holds a tab (a protocol of the job's own may write one) takes the line's
way, so the cut stays Hadoop's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import Any

from minimr.errors import JobCodeError

__all__ = ["Codec", "join_line", "split_line"]

#: distinct encodings (and decodings) remembered per substep; past it, they are computed
MEMO_LIMIT = 1 << 16
_IMMUTABLE = (str, int, float, bool, type(None))
_second = itemgetter(1)


def split_line(line: bytes) -> tuple[bytes, bytes | None]:
    """A line as the engine's record: cut at its first tab (Hadoop streaming's rule)."""
    key, tab, value = line.partition(b"\t")
    return (key, value) if tab else (line, None)


def join_line(key: bytes, value: bytes | None) -> bytes:
    """The line of an engine record (inverse of :func:`split_line`)."""
    return key if value is None else key + b"\t" + value


def _checked(line: Any, owner: object) -> bytes:
    """A protocol's bytes, which must be bytes (mrjob writes them to a binary stream)."""
    if type(line) is not bytes:
        name = type(owner).__name__
        raise JobCodeError(f"{name}.write returned a {type(line).__name__}, not bytes: an"
                           f" mrjob protocol writes a line of bytes (got {line!r:.80})")
    return line


def _key_caching(protocol: object) -> bool:
    """True for a protocol whose ``read`` and ``write`` are mrjob's key-caching ones."""
    base = getattr(sys.modules.get("mrjob.protocol"), "_KeyCachingProtocol", None)
    return (base is not None and isinstance(protocol, base)
            and type(protocol).read is base.read and type(protocol).write is base.write)


class _MemoDumps:
    """A protocol's ``_dumps``, remembering the encodings of str and int values (``strs``,
    ``ints``: looked up by :meth:`Codec.record` itself, before any call)."""

    def __init__(self, protocol: object) -> None:
        self._protocol = protocol
        self._dumps = protocol._dumps  # type: ignore[attr-defined]
        self.strs: dict[str, bytes] = {}
        self.ints: dict[int, bytes] = {}

    def __call__(self, value: Any) -> bytes:
        kind = type(value)
        memo = self.strs if kind is str else self.ints if kind is int else None
        found = _checked(self._dumps(value), self._protocol)
        if memo is not None and len(memo) < MEMO_LIMIT:
            memo[value] = found
        return found


class _MemoLoads:
    """A protocol's ``_loads``, remembering the values of bytes that decode to immutables."""

    def __init__(self, protocol: object) -> None:
        self._loads = protocol._loads  # type: ignore[attr-defined]
        self._memo: dict[bytes, Any] = {}

    def __call__(self, raw: bytes) -> Any:
        try:
            return self._memo[raw]
        except KeyError:
            value = self._loads(raw)
            if type(value) in _IMMUTABLE and len(self._memo) < MEMO_LIMIT:
                self._memo[raw] = value
            return value


class Codec:
    """One substep's protocols: pairs to the engine's records and back.

    Args:
        read, write: what ``job.pick_protocols(step, kind)`` returned.
    """

    def __init__(self, read: Callable, write: Callable) -> None:
        self.read = read
        self.write = write
        writing = getattr(write, "__self__", None)
        self._dumps = _MemoDumps(writing) if _key_caching(writing) else None
        reading = getattr(read, "__self__", None)
        self._loads = _MemoLoads(reading) if _key_caching(reading) else None
        self._key_loads = getattr(reading, "_loads", None)

    def record(self, key: Any, value: Any) -> tuple[bytes, bytes | None]:
        """The engine's record of a pair the job yielded: its line's two halves."""
        dumps = self._dumps
        if dumps is not None:
            head = dumps.strs.get(key) if type(key) is str else None
            if head is None:
                head = dumps(key)
            tail = dumps.ints.get(value) if type(value) is int else (
                dumps.strs.get(value) if type(value) is str else None)
            if tail is None:
                tail = dumps(value)
            if b"\t" not in head:
                return head, tail
        return split_line(_checked(self.write(key, value), getattr(self.write, "__self__",
                                                                   self.write)))

    def line(self, key: Any, value: Any) -> bytes:
        """The whole line of a pair the job yielded (an output line)."""
        return join_line(*self.record(key, value))

    def pair(self, key: bytes, value: bytes | None) -> tuple[Any, Any]:
        """The pair a function takes, of one engine record."""
        if self._loads is not None and value is not None:
            return self._key_loads(key), self._loads(value)
        return self.read(join_line(key, value))

    def group(self, key: bytes, values: Iterator) -> tuple[Any, Iterator]:
        """A key group's decoded key and its values, decoded as they are drawn."""
        first = next(values)
        decoded_key, value = self.pair(key, first)
        if self._loads is not None:
            rest = map(self._loads, values)  # a None (no tab) fails in mrjob's read: here too
        else:
            rest = map(_second, map(self.read, map(partial(join_line, key), values)))
        return decoded_key, chain((value,), rest)
