"""The typed keys and values generated jobs use, as source text, in families.

A job's key table and value table are lists of Python expressions written into the job file.
Each family says which reducers its values suit:

- ``any``: every kind of value (NaN objects, ``-0.0``, Decimals, big ints, tuples,
  frozensets, lists, dicts...): only reducers whose output does not depend on the order of
  the values (sorted canonical list, count, each value, none).
- ``sum_float`` / ``sum_exact``: numbers whose sums are exact, so order-independent (small
  dyadic floats with ints and bools; ints, bools, big ints and Decimals): summed.
- ``order``: values of one kind with no two equal ones, so ``min``/``max`` pick one object
  whatever the order.

Keys: ``mixed`` holds groups of equal keys of different types (``1``, ``1.0``, ``True``,
``Decimal('1')``...); ``numbers``, ``strings`` and ``tuples`` are orderable, for the range
partitioner. No NaN key (a NaN is equal to nothing, not even itself). A key's repr must not
change when it is pickled and loaded (which of equal keys is written is decided by repr): no
frozenset whose items collide in its table (``frozenset({(1, 2), 3})`` comes back as
``frozenset({3, (1, 2)})``), none of strs (their hashes change from process to process).
"""

from __future__ import annotations

import random
from decimal import Decimal

BIG = str(2**70)  # 1180591620717411303424: past 64 bits
BIG_FLOAT = repr(float(2**70))
NUMBERS = [
    "0", "1", "-1", "2", "7", "True", "False", "1.0", "0.0", "-0.0", "0.5", "2.5", "-3.25",
    "Decimal('1')", "Decimal('1.0')", "Decimal('0')", "Decimal('-0')", "Decimal('0.5')",
    "Decimal('2.50')", BIG, BIG_FLOAT, f"Decimal({BIG})", str(-(2**65)), str(10**25 + 7),
]
STRINGS = ["''", "'a'", "'b'", "'ab'", "'A'", "'é'", "'a b'", "'\\x00'", "'\\u2028'", "'1'"]
TUPLES = [  # flat tuples of numbers: any two can be compared
    "()", "(1,)", "(1.0,)", "(True,)", "(0.0,)", "(-0.0,)", "(1, 2)", "(1, 2.0)",
    "(Decimal('1'), 2)", f"({BIG}, 0)", "(2, -1)", "(0.5, 0.5, 0.5)",
]
OTHER_KEYS = [
    "None", "b''", "b'a'", "b'\\xff'", "(1, 'a')", "(1.0, 'a')", "(True, 'a')", "(None,)",
    "(b'x', -0.0)", "('a', (1, None))", "frozenset()", "frozenset({1, 2})",
    "frozenset({1.0, 2})", "frozenset({True, Decimal('2')})", "frozenset({-0.0})",
    "frozenset({0.0})", "frozenset({(1, 2)})", "((1, 2), 3)", "((1.0, 2), 3)",
]
KEY_FAMILIES = {
    "mixed": NUMBERS + STRINGS + TUPLES + OTHER_KEYS,
    "numbers": NUMBERS,
    "strings": STRINGS,
    "tuples": TUPLES,
}
#: the orderable key families: keys of one of them can all be compared with each other
ORDERABLE_KEYS = ("numbers", "strings", "tuples")

VALUE_FAMILIES = {
    "any": KEY_FAMILIES["mixed"] + [
        "float('nan')", "float('inf')", "-float('inf')", "(float('nan'), 1)",
        "[float('nan'), -0.0]", "Decimal('NaN')", "[]", "[1, 'a']", "{'a': 1, 'b': -0.0}",
        "{1: 'x', 1.5: None}", "set()", "{1, 2}", "(1, [2, 3])", "frozenset({'a', 'b'})",
    ],
    "sum_float": [
        "0", "1", "-1", "2", "3", "True", "False", "0.0", "-0.0", "1.0", "0.5", "-1.5",
        "2.25", "1024.125",
    ],
    "sum_exact": [  # sums of a few thousand stay within a Decimal's 28 digits: exact
        "0", "1", "-1", "5", "True", "False", BIG, str(-(2**65)),
        "Decimal('1')", "Decimal('1.0')", "Decimal('-0')", "Decimal('0.5')", "Decimal('2.25')",
    ],
    "order": NUMBERS + STRINGS + TUPLES,  # one kind per job, no two equal: see pick_values
}
#: simpler stand-ins the shrinker tries for a table entry, per family
SIMPLE = {
    "mixed": ["0", "1", "'a'"], "numbers": ["0", "1"], "strings": ["'a'", "''"],
    "tuples": ["()", "(1,)"], "any": ["0", "1", "'a'", "None"], "sum_float": ["0", "1"],
    "sum_exact": ["0", "1"], "order": ["0", "1", "'a'", "()"],
}

_NAMES = {"Decimal": Decimal}


def evaluate(source: str):
    """The value of one table entry's source text."""
    return eval(source, dict(_NAMES))  # our own literals, as the job file evaluates them


def no_two_equal(sources: list[str]) -> bool:
    """True when no two entries are equal: ``min``/``max`` then pick the same object in any
    order (of ``1`` and ``1.0``, ``min`` keeps whichever came first)."""
    values = [evaluate(s) for s in sources]
    return all(not (a == b) for i, a in enumerate(values) for b in values[i + 1:])


def one_kind(sources: list[str]) -> bool:
    """True when the entries can all be compared with each other (a number, str or tuple family)."""
    kinds = {_kind(s) for s in sources}
    return len(kinds) <= 1


def _kind(source: str) -> str:
    for name in ORDERABLE_KEYS:
        if source in KEY_FAMILIES[name]:
            return name
    return "other"


def pick_keys(rng: random.Random, family: str) -> list[str]:
    """2-8 key sources of ``family``, often with equal keys of different types among them."""
    pool = KEY_FAMILIES[family]
    return rng.sample(pool, rng.randint(2, min(8, len(pool))))


def pick_values(rng: random.Random, family: str) -> list[str]:
    """1-8 value sources of ``family`` (for ``order``: one kind, no two equal)."""
    if family == "order":
        pool = KEY_FAMILIES[rng.choice(ORDERABLE_KEYS)]
        chosen: list[str] = []
        for source in rng.sample(pool, len(pool)):
            if len(chosen) < 6 and no_two_equal([*chosen, source]):
                chosen.append(source)
        return chosen
    pool = VALUE_FAMILIES[family]
    return rng.sample(pool, rng.randint(1, min(8, len(pool))))


def valid_values(family: str, sources: list[str]) -> bool:
    """True when ``sources`` still belong to ``family`` (after the shrinker changed one)."""
    if family == "order":
        return one_kind(sources) and no_two_equal(sources)
    return all(s in VALUE_FAMILIES[family] for s in sources)


def valid_keys(family: str, sources: list[str]) -> bool:
    """True when ``sources`` still belong to key ``family``."""
    return all(s in KEY_FAMILIES[family] for s in sources)
