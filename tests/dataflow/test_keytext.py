"""Keys as plain text: every supported key reads back equal and of its type; no text runs code."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from minimr.dataflow.keytext import NoKeyText, key_text, text_key

KEYS = [
    "whale", "", "tab\there", b"\x00\xff", 0, -7, 10**300, True, False, None, 1.5, -0.0,
    float("inf"), float("-inf"), 2 + 3j, Decimal("1.50"), Decimal("-Infinity"),
    Fraction(-1, 3), Fraction(4),
    (), ("a",), ("a", 1, (2.5, None)), [1, [2, "x"]], {1, 2}, set(), frozenset(),
    frozenset({"a", ("b", 1)}), {"k": (1, frozenset({2}))},
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_a_key_reads_back_equal_and_of_its_type(key):
    """key_text then text_key gives an equal key whose type (and float sign) is the same."""
    back = text_key(key_text(key))
    assert back == key and type(back) is type(key)
    if isinstance(key, float):
        assert math.copysign(1, back) == math.copysign(1, key)


def test_nan_reads_back_as_nan():
    """float('nan') and a NaN inside a tuple read back as NaN floats."""
    assert math.isnan(text_key(key_text(float("nan"))))
    (first,) = text_key(key_text((float("nan"),)))
    assert math.isnan(first)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "exec('x = 1')",
        "(lambda: 1)()",
        "frozenset.__new__(frozenset)",
        "Decimal('1') + 1",
        "[1] * 10**9",
        "float('1e5')",
        "Decimal(x)",
        "Fraction(1, 3)",
        "Fraction('1' * 5000)",
        "set([1])",
        "open('/etc/passwd').read()",
        "{**{}}",
        "(" * 50_000,
        "x" * ((1 << 20) + 1),
    ],
)
def test_text_that_is_not_a_key_is_refused_and_runs_nothing(text):
    """Calls beyond the few key constructors, names, operators, deep nesting and very long
    text are all a ValueError."""
    with pytest.raises(ValueError):
        text_key(text)


def test_a_value_without_a_text_is_named():
    """An instance of the job's own class has no text: NoKeyText names its type."""

    class Mine:
        pass

    with pytest.raises(NoKeyText, match="Mine"):
        key_text(("ok", Mine()))
