"""Which reduce partition a key goes to, and the one order keys are sorted in.

``stable_hash`` hashes a canonical byte encoding of the key, so a key lands in the same
partition in every process and on every machine (Python's ``hash()`` of a str changes with
PYTHONHASHSEED). Keys that compare equal (``1``, ``1.0``, ``True``, ``Decimal("1.0")``,
``Fraction(2, 2)``; ``0.5`` and ``Decimal("0.5")``) encode alike, because they must meet in
the same reduce call: a number is encoded as its exact value, an int or a ratio of ints.

``sort_key`` defines the total order of keys everywhere (map-side sort, reduce-side merge,
range boundaries): Python's own order among mutually comparable keys (numbers of every kind
together, ``Decimal`` and ``Fraction`` by their exact value), and a fixed order by type
between kinds that Python refuses to compare, so keys of mixed types still group. Sets, which
``<`` orders only partly (by inclusion), are ordered by their canonical bytes.

A range partitioner's boundaries are chosen by a sample task (a prepare task on a cluster)
and travel to every map task as plain text (:func:`boundary_texts`, :func:`boundary_keys`,
by ``keytext.py``), never a pickle, since they come from a peer and unpickling runs
whatever code the bytes name. A boundary key must therefore have such a text (literals,
frozensets, Decimals, NaN...), on every runner alike.
"""

from __future__ import annotations

import bisect
import pickle
import struct
import zlib
from collections.abc import Hashable
from decimal import Decimal
from fractions import Fraction
from itertools import repeat
from operator import itemgetter, mod
from typing import Any

from minimr.dataflow.format.unpicklable import UnpicklableRecord
from minimr.dataflow.keytext import NoKeyText, key_text, text_key
from minimr.errors import JobCodeError, JobDefinitionError

PARTITIONERS = ("hash", "range")

_LEN = struct.Struct("<I")


def key_bytes(key: Any) -> bytes:
    """A canonical encoding of ``key``: equal keys give equal bytes, in any process.

    Raises:
        UnpicklableRecord: a key (or an item of one) of a type without an encoding of its
            own, which pickle cannot encode either.
    """
    kind = type(key)
    if kind is str:
        return b"s" + key.encode("utf-8", "surrogatepass")
    if kind is int or kind is bool:
        return b"i" + str(int(key)).encode()
    if kind is float or kind is Decimal or kind is Fraction:
        return _number_bytes(key)
    if kind is bytes:
        return b"b" + key
    if key is None:
        return b"n"
    if kind is tuple or kind is list:
        parts = [key_bytes(item) for item in key]
        return (b"t" if kind is tuple else b"l") + b"".join(_LEN.pack(len(p)) + p for p in parts)
    if kind is frozenset or kind is set:
        parts = sorted(key_bytes(item) for item in key)
        return b"S" + b"".join(_LEN.pack(len(p)) + p for p in parts)
    if kind is dict:
        parts = sorted(key_bytes(k) + b"=" + key_bytes(v) for k, v in key.items())
        return b"d" + b"".join(_LEN.pack(len(p)) + p for p in parts)
    try:
        return b"p" + pickle.dumps(key, protocol=4)
    except Exception as exc:
        raise UnpicklableRecord(key, key, in_key=True) from exc


def _number_bytes(key: float | Decimal | Fraction) -> bytes:
    """A float, Decimal or Fraction as its exact value (equal numbers, equal bytes): an int's
    encoding when it is whole, else a ratio; NaN and the infinities as a float's repr."""
    if _is_nan(key):
        return b"fnan"
    if key in _INFINITIES:
        return b"f" + repr(float(key)).encode()
    numerator, denominator = key.as_integer_ratio()
    if denominator == 1:
        return b"i" + str(numerator).encode()
    return b"q" + f"{numerator}/{denominator}".encode()


_INFINITIES = (float("inf"), float("-inf"))


def _is_nan(number: Any) -> bool:
    """True for a float or Decimal NaN (a signalling Decimal NaN cannot even be compared)."""
    return number.is_nan() if type(number) is Decimal else number != number


def stable_hash(key: Any) -> int:
    """A 32-bit hash of ``key`` that is the same in every process and on every machine."""
    return zlib.crc32(key_bytes(key))


# Type ranks for sort_key: numbers together (1 < 1.5 < 2 as Python orders them).
_RANK = {type(None): 0, bool: 1, int: 1, float: 1, Decimal: 1, Fraction: 1, str: 2, bytes: 3,
         tuple: 4, list: 5, frozenset: 6, set: 6}
_OTHER = 9


class _Opaque:
    """Orders keys of one type that has no entry in ``_RANK``.

    Uses the type's own ``<`` when it has one (dates, Decimals, ordered dataclasses); else
    the canonical bytes, which is arbitrary but deterministic and groups equal keys together.
    """

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Opaque) -> bool:
        try:
            result = self.key < other.key
            if result is not NotImplemented and isinstance(result, bool):
                if result or other.key < self.key:
                    return result
                # Neither is smaller: equal keys or an order that cannot tell them apart.
                return False if self.key == other.key else key_bytes(self.key) < key_bytes(
                    other.key
                )
        except TypeError:
            pass
        return key_bytes(self.key) < key_bytes(other.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Opaque) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]


def sort_key(key: Any) -> tuple:
    """The key's position in minimr's total order (see the module docstring)."""
    kind = type(key)
    rank = _RANK.get(kind)
    if rank is None:
        return (_OTHER, kind.__module__ + "." + kind.__qualname__, _Opaque(key))
    if rank == 4 or rank == 5:
        return (rank, tuple(map(sort_key, key)))
    if rank == 1:
        if _is_nan(key):  # NaN: park it after every other number
            return (rank, float("inf"), 1)
        if kind is Decimal:  # a Decimal and a Fraction do not compare: both as Fractions
            return (rank, Fraction(key) if key.is_finite() else float(key))
    elif rank == 6:  # sets: ``<`` is inclusion, not a total order
        return (rank, key_bytes(key))
    return (rank, key)


def natively_sortable(keys) -> bool:
    """True when plain ``sorted(keys)`` gives the same order as ``sorted(keys, key=sort_key)``.

    That holds when every key is a str, or every key is bytes: the common cases, which then
    sort at C speed.
    """
    kinds = set(map(type, keys))
    return kinds == _STR or kinds == _BYTES


_STR, _BYTES = {str}, {bytes}
_NATIVE_ITEMS = {str: b"s", bytes: b"b", int: b"i"}


def native_order(items: list) -> bytes | None:
    """The signature of ``items`` whose plain comparisons give minimr's order, or None.

    Such items are all str (``s``), all bytes (``b``), all int (``i``, not bool), or all
    tuples of one length whose items at each position are such items in turn (``(si)`` for
    ``("a", 1)``): tuples compare item by item, as ``sort_key`` orders them. Equal items of
    one signature are one value (no key to choose among equal ones, ``exact``), and lists of
    the same signature may be sorted and merged together by plain comparisons: the signature
    is what a segment's kind records of composite keys (``sortvalues``).
    """
    kinds = set(map(type, items))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    letter = _NATIVE_ITEMS.get(kind)
    if letter is not None:
        return letter
    if kind is not tuple:
        return None
    lengths = set(map(len, items))
    if len(lengths) != 1:
        return None
    signature = [b"("]
    for i in range(lengths.pop()):
        part = native_order(list(map(itemgetter(i), items)))
        if part is None:
            return None
        signature.append(part)
    signature.append(b")")
    return b"".join(signature)


def sort_keys(keys: list) -> list:
    """``keys`` sorted in minimr's order, using C-speed comparisons when they are safe."""
    if natively_sortable(keys):
        return sorted(keys)
    return sorted(keys, key=sort_key)


_STR_SEED = zlib.crc32(b"s")  # crc32(b"s" + data) == crc32(data, _STR_SEED)
try:  # the compiled path of str keys' partition numbers (``_partitions.pyx``)
    from minimr.dataflow._partitions import (  # type: ignore[import-not-found]
        str_partitions as _str_partitions,
    )
except ImportError:  # no compiler where minimr was installed: C calls from Python
    _str_partitions = None


class HashPartitioner:
    """``stable_hash(key) % partitions``."""

    #: partition numbers do not follow the key order
    ordered = False

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions

    def __call__(self, key: Hashable) -> int:
        return zlib.crc32(key_bytes(key)) % self.partitions

    def partition_many(self, keys: list) -> list[int]:
        """The partitions of many keys; all-str lists (the common case) take a quick path:
        compiled (``_partitions.str_partitions``: a word count's 167,000 keys 140-160 -> 50-75
        ns a key), or C calls."""
        n = self.partitions
        if _str_partitions is not None:
            numbers = _str_partitions(keys, n, _STR_SEED)
            if numbers is not None:
                return numbers
        if set(map(type, keys)) == _STR:  # C calls only: encode, crc32, modulo
            encoded = map(str.encode, keys, repeat("utf-8"), repeat("surrogatepass"))
            return list(map(mod, map(zlib.crc32, encoded, repeat(_STR_SEED)), repeat(n)))
        return [zlib.crc32(key_bytes(k)) % n for k in keys]

    def starts_of_sorted(self, keys: list) -> list[int] | None:
        """Hashed partitions do not follow the key order: None (see ``RangePartitioner``'s)."""
        return None


class RangePartitioner:
    """Sends keys below ``boundaries[0]`` to partition 0, and so on: total order across parts."""

    #: partition numbers ascend with the key order: sorted keys are cut where boundaries fall
    ordered = True

    def __init__(self, boundaries: list) -> None:
        self.boundaries = list(boundaries)
        self.partitions = len(self.boundaries) + 1
        self._sort_boundaries = [sort_key(b) for b in self.boundaries]
        self._all_str = all(type(b) is str for b in self.boundaries)

    def __call__(self, key: Any) -> int:
        return bisect.bisect_right(self._sort_boundaries, sort_key(key))

    def partition_many(self, keys: list) -> list[int]:
        """The partitions of many keys; str keys against str boundaries compare directly."""
        if self._all_str and set(map(type, keys)) <= _STR:
            return list(map(bisect.bisect_right, repeat(self.boundaries), keys))
        return [self(k) for k in keys]

    def starts_of_sorted(self, keys: list) -> list[int] | None:
        """Where each partition's keys begin in ``keys``, a list of all-str or all-bytes keys
        sorted in their own order (``natively_sortable``): one bisect per boundary instead
        of a look-up per key. None when the boundaries are not all str (or the keys are not).
        """
        if not self._all_str or not keys or type(keys[0]) is not str:
            return None
        return [0, *(bisect.bisect_left(keys, b) for b in self.boundaries)]


def choose_boundaries(sample: list, partitions: int) -> list:
    """``partitions - 1`` boundary keys that cut the sorted ``sample`` into equal parts."""
    if partitions <= 1 or not sample:
        return []
    ordered = sort_keys(sample)
    boundaries = []
    for i in range(1, partitions):
        candidate = ordered[(i * len(ordered)) // partitions]
        if not boundaries or sort_key(boundaries[-1]) < sort_key(candidate):
            boundaries.append(candidate)
    return boundaries


def boundary_texts(boundaries: list) -> list[str]:
    """Range boundaries as plain text (``keytext.key_text``).

    Raises:
        JobCodeError: a boundary has no plain text (an instance of the job's own class, a
            datetime...): the step's keys cannot be range-partitioned as they are.
    """
    texts = []
    for key in boundaries:
        try:
            texts.append(key_text(key))
        except NoKeyText as exc:
            raise JobCodeError(
                "a range-partitioned step cuts its partitions at sampled keys, which travel "
                "as plain text: str, int, float, bool, None, bytes, Decimal, Fraction, and "
                "tuples, lists, sets, frozensets and dicts of them. Its map yielded a key "
                f"{key!r:.80} ({exc}): yield such keys, or use the hash partitioner."
            ) from None
    return texts


def boundary_keys(texts: list) -> list:
    """Inverse of :func:`boundary_texts`, for text from a peer: no code runs.

    Raises:
        ValueError: an item is not the text of a key.
    """
    keys = []
    for number, text in enumerate(texts):
        try:
            keys.append(text_key(text))
        except ValueError as exc:
            raise ValueError(f"boundary {number} ({str(text)[:60]!r}): {exc}") from None
    return keys


def make_partitioner(kind: str, partitions: int, boundaries: list | None = None):
    """Build the partitioner a step asks for.

    Raises:
        JobDefinitionError: for an unknown partitioner name.
    """
    if kind == "hash":
        return HashPartitioner(partitions)
    if kind == "range":
        if boundaries is None:
            raise JobDefinitionError("a range partitioner needs sampled boundaries")
        return RangePartitioner(boundaries)
    raise JobDefinitionError(
        f"partitioner must be one of {', '.join(map(repr, PARTITIONERS))} (got {kind!r})"
    )
