"""Field rules on the wire: each hint's converter takes what fits and names what does not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

import pytest

from minimr.cluster.wire import wiretypes as w


@dataclass(frozen=True)
class Pair:
    """A record for these tests."""

    path: w.FilePath
    sizes: tuple[tuple[w.ByteOffset, w.ByteOffset], ...]
    timeout: w.Seconds | None = None


def test_a_record_converts_from_its_json_object_with_tuples_for_lists():
    """Lists become tuples, nested records are built, defaults fill what is left out."""
    got = w.parse(Pair, {"path": "/w/m0", "sizes": [[0, 3], [3, 4]]})
    assert got == Pair("/w/m0", ((0, 3), (3, 4)))


@pytest.mark.parametrize(
    "value, where",
    [
        ({"path": "/w", "sizes": [[0, -1]]}, "sizes[0][1]"),
        ({"path": "/w", "sizes": [[0]]}, "sizes[0]"),
        ({"path": "/w", "sizes": [[0, 1, 2]]}, "sizes[0]"),
        ({"path": "/w", "sizes": [["0", 1]]}, "sizes[0][0]"),
        ({"path": "/w", "sizes": [[True, 1]]}, "sizes[0][0]"),
        ({"path": "/w", "sizes": [[2**60, 1]]}, "sizes[0][0]"),
        ({"path": "/w", "sizes": [[0, 1], [1, 2], [3, -4], [0, -1]]}, "sizes[2][1]"),
        ({"path": "/w", "sizes": [[0, 1], [1, 2], [3, 4, 5]]}, "sizes[2]"),
        ({"path": "a\0b", "sizes": []}, "path"),
        ({"path": "/w", "sizes": {}}, "sizes"),
        ({"path": "/w", "sizes": [], "timeout": -1.0}, "timeout"),
        ({"path": "/w"}, "lacks"),
        ({"path": "/w", "sizes": [], "more": 1}, "has no field"),
    ],
)
def test_a_value_that_does_not_fit_is_named_with_its_path(value, where):
    """The error says which value, at which path inside the record, does not fit."""
    with pytest.raises(w.Invalid, match=where.replace("[", r"\[").replace("]", r"\]")):
        w.parse(Pair, value)


@pytest.mark.parametrize("text", [b"Infinity", b"-Infinity", b"NaN", b"1e400", b"[1e999]",
                                  b'{"a": 99999999999999999999}', b"-9223372036854775809"])
def test_json_with_numbers_no_field_could_hold_is_refused_while_parsing(text):
    """Non-finite numbers and integers past int64 never leave the parser."""
    with pytest.raises(ValueError):
        w.loads(text)


def test_int64_edges_parse():
    """The int64 range itself parses."""
    assert w.loads(b"[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]


def test_strings_with_a_lone_surrogate_are_refused_even_inside_plain_data():
    """A lone surrogate would fail later, when the string is written or printed."""
    with pytest.raises(w.Invalid, match="surrogate"):
        w.parse(w.Name, "\ud800")
    with pytest.raises(w.Invalid, match="surrogate"):
        w.parse(w.Plain, {"a": ["\udfff"]})
    with pytest.raises(w.Invalid, match="surrogate"):
        w.parse(w.Plain, {"\ud800": 1})


def test_plain_data_may_not_nest_deeper_than_the_limit():
    """A forwarded object is checked for depth, so no later walk of it can recurse away."""
    deep: object = 1
    for _ in range(w.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(w.Invalid, match="deeper"):
        w.parse(w.Plain, {"a": deep})


def test_bounds_and_patterns_of_annotated_fields():
    """Annotated bounds and patterns are enforced, bools are not ints, ints are floats."""
    small = Annotated[int, w.Bounds(1, 3)]
    assert w.parse(small, 3) == 3
    for bad in (0, 4, True, 2.0):
        with pytest.raises(w.Invalid):
            w.parse(small, bad)
    assert w.parse(w.Seconds, 2) == 2.0
    assert w.parse(w.AttemptId, "s0-m00003-a2") == "s0-m00003-a2"
    for bad in ("s0-x00003-a2", "s0-m00003", "../s0-m1-a1", "s0-m1-a1\n"):
        with pytest.raises(w.Invalid):
            w.parse(w.AttemptId, bad)


def test_dumps_refuses_a_non_finite_float():
    """What this process sends is held to the rules its peers check."""
    with pytest.raises(ValueError):
        w.dumps({"a": float("inf")})


def test_a_flat_plain_object_is_taken_as_it_is_and_any_other_still_checked():
    """A task spec (flat, ASCII) skips the depth walk; a non-ASCII string in a flat object is
    still checked for lone surrogates, and a nested one for depth."""
    spec = {"step": 0, "index": 3, "reducers": 4, "path": "/in/a", "x": None, "f": 1.5}
    assert w.parse(w.Plain, spec) is spec
    assert w.parse(w.Plain, {"name": "café"}) == {"name": "café"}
    with pytest.raises(w.Invalid, match="surrogate"):
        w.parse(w.Plain, {"name": "a\udc80"})
    with pytest.raises(w.Invalid, match="surrogate"):
        w.parse(w.Plain, {"a\udc80": 1})
    deep: object = 1
    for _ in range(w.MAX_DEPTH):
        deep = [deep]
    with pytest.raises(w.Invalid, match="deeper"):
        w.parse(w.Plain, {"flat": 1, "deep": deep})


def test_ascii_fit_takes_only_what_the_converter_takes_unchanged():
    """The quick test of a str field says yes only to ASCII strings its converter takes."""
    fits = w.ascii_fit(w.AttemptId)
    assert fits("s0-m00001-a1")
    assert not fits("s0-m00001-a1x") and not fits(3) and not fits("s\u0663-m1-a1")
    assert not w.ascii_fit(w.Name)("x" * 257) and w.ascii_fit(w.Name)("x" * 256)
    assert not w.ascii_fit(w.FilePath)("a\0b") and w.ascii_fit(w.Name)("a\0b")


#: documents a peer may send, each taken by loads' one-call path or its fallback
DOCUMENTS = [
    b'{"a":1,"b":[1.5,"x",null,true]}', b"[]", b"1", b'"s"', b" {} ", b"\n[1]\t", b"{} x",
    b"{}{}", b"", b" ", b"{", b"}", b"[1,]", b"nul", b"NaN", b"[Infinity]", b"1e400",
    b"1" * 30, b'"\\ud800"', b"[" * 5000, b'{"a":' * 100 + b"1" + b"}" * 100, b"\xef\xbb\xbf{}",
    '{"é":"€"}'.encode("utf-16"), b'{"a":"\x01"}',
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_loads_one_call_path_agrees_with_the_decoder(document):
    """What loads makes of a document (a value, or an error and its message) is what the
    decoder's own ``decode`` makes of it, whether or not the one-call path takes it."""

    def outcome(parse):
        try:
            return parse()
        except (ValueError, RecursionError) as exc:
            return type(exc), str(exc)

    text = document.decode(json.detect_encoding(document), "surrogatepass")
    assert outcome(lambda: w.loads(document)) == outcome(lambda: w._DECODER.decode(text))


def test_dumps_writes_what_a_compact_json_dumps_writes():
    value = {"a": [1, 2.5, -0.0, "é\u2028", None, True, {"b": []}], "c": 10**18, "d": ""}
    assert w.dumps(value) == json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
