"""Declared associative folds: ``reduce = minimr.fold(sum)``, which also serves as the combiner.

A user says how a key's values fold, as Spark's ``reduceByKey(add)``, Beam's
``CombinePerKey(sum)`` or Hadoop's ``LongSumReducer`` ask; the engine then folds whole batches
of keys in C instead of calling a generator per key. The fold means exactly what the generator
``yield key, fn(values)`` means: ``fn`` is called on the values the reduce receives, in the
order it receives them, and its result is the value written, type included (``sum`` of ints
and floats is the float Python's ``sum`` gives). The only shortcuts are provably the same:
``sum`` of one int repeated ``n`` times is that int times ``n`` (every value ``type(v) is
int``, never a bool), ``min`` or ``max`` of one value repeated is that value.

A step whose reduce is a ``Fold`` and that declares no combiner uses the fold as its
combiner too: each map task folds its own values of a key first, as a declared associative
fold allows (a float sum may then differ from a single sum in the last bits, as with any
combiner; ints, and min, max, any and all, come out the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import mul
from typing import Any

from minimr.errors import JobDefinitionError

__all__ = ["FOLDABLE", "Fold", "fold"]

#: the builtins a fold may be made of, by name
FOLDABLE: dict[str, Callable[[Iterable], Any]] = {
    "sum": sum, "min": min, "max": max, "any": any, "all": all}
_NAMES = {id(fn): name for name, fn in FOLDABLE.items()}
_INT = {int}


class Fold:
    """A declared associative fold of a key's values; a step's reduce (and combiner).

    Called as a reduce, ``fold(key, values)`` yields ``(key, fn(values))``, so a ``Fold``
    runs anywhere a reduce generator does; the engine recognises the type and folds a batch
    of keys at a time instead.

    Attributes:
        fn: the builtin (``sum``, ``min``, ``max``, ``any`` or ``all``).
        name: its name.
    """

    __slots__ = ("fn", "name")

    def __init__(self, fn: Callable[[Iterable], Any]) -> None:
        name = _NAMES.get(id(fn))
        if name is None or FOLDABLE[name] is not fn:
            raise JobDefinitionError(
                f"minimr.fold() takes one of the builtins {', '.join(FOLDABLE)} (got "
                f"{fn!r}); for any other fold write the reduce as a generator, such as "
                f"`yield key, f(values)`")
        self.fn = fn
        self.name = name

    def __call__(self, key: Any, values: Iterable) -> Iterator[tuple[Any, Any]]:
        yield key, self.fn(values)

    def __repr__(self) -> str:
        return f"minimr.fold({self.name})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Fold and other.fn is self.fn

    def __hash__(self) -> int:
        return hash((Fold, self.name))

    def __reduce__(self) -> tuple:
        return (Fold, (self.fn,))

    def each(self, values: Iterable[Iterable]) -> list:
        """``fn`` of each of ``values`` (lists or iterators), in C."""
        return list(map(self.fn, values))

    def runs(self, values: list, sizes: list[int]) -> list:
        """``fn`` of each run, ``values[i]`` repeated ``sizes[i]`` times: exactly what
        ``fn([values[i]] * sizes[i])`` gives, made without the lists."""
        if self.fn is sum and set(map(type, values)) == _INT:
            return list(map(mul, values, sizes))  # a sum of ints is exact in any order
        if self.fn is min or self.fn is max:
            return list(values)  # the first of equal values, as min and max return it
        return list(map(self.fn, map(repeat, values, sizes)))


def fold(fn: Callable[[Iterable], Any]) -> Fold:
    """A declared fold for a step's reduce: ``reduce = minimr.fold(sum)``.

    ``fn`` is one of the builtins ``sum``, ``min``, ``max``, ``any``, ``all``. The reduce
    yields ``(key, fn(values))`` for every key, exactly as ``yield key, fn(values)`` would,
    and a step that declares no combiner folds on the map side too.

    Raises:
        JobDefinitionError: for anything else, naming what is allowed.
    """
    return Fold(fn)
