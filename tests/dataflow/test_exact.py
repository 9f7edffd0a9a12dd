"""exact: which types a dict may count, and which of equal keys is the one written."""

from __future__ import annotations

from decimal import Decimal

from minimr.dataflow.exact import exact, key_choice, least, least_first


def test_only_canonical_types_without_int_and_bool_are_exact():
    """str, bytes, int, bool and None count exactly; floats, Decimals, tuples do not, and
    int beside bool does not (1 == True)."""
    assert exact({str}) and exact({int}) and exact({bool}) and exact({str, bytes, int})
    assert exact(set()) and exact({type(None), str})
    assert not exact({float}) and not exact({Decimal}) and not exact({tuple})
    assert not exact({int, bool}) and not exact({str, float})


def test_the_least_of_equal_keys_by_type_name_then_repr():
    """Of 1, 1.0 and True, True ('bool' first); of 0.0 and -0.0, -0.0."""
    assert key_choice(True) < key_choice(1.0) < key_choice(1)
    assert repr(least([1, 1.0, True])) == "True"
    assert repr(least([0.0, -0.0])) == "-0.0"
    assert str(least([Decimal("1.00"), Decimal("1.0")])) == "1.0"


def test_least_first_gives_each_run_of_equal_keys_its_least_key_first():
    """Sorted entries: the first of each run of equal keys carries the run's least key, the
    rest stay as they are; str keys are left alone."""
    entries = [(1, "a"), (1.0, "b"), (True, "c"), (2, "d"), (0.0, "e"), (-0.0, "f")]
    least_first(entries)
    assert [(key_choice(k), v) for k, v in entries] == [
        (("bool", "True"), "a"), (("float", "1.0"), "b"), (("bool", "True"), "c"),
        (("int", "2"), "d"), (("float", "-0.0"), "e"), (("float", "-0.0"), "f")]
    words = [("a", 1), ("a", 2), ("b", 3)]
    assert least_first(list(words)) == words


def test_nan_keys_are_runs_of_their_own():
    """A NaN is equal to nothing, itself included: no run, nothing replaced."""
    nan = float("nan")
    entries = [(nan, 1), (float("nan"), 2)]
    assert least_first(list(entries)) == entries
