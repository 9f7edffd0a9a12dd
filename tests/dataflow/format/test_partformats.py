"""The part formats: repr round-trips typed records exactly, jsonl and tsv write what other
tools read and refuse what they cannot hold, each compressed or not."""

from __future__ import annotations

import enum
import json
import math
import re
from collections import namedtuple
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.format.encodings import OUTPUT_FORMATS, format_record, parse_record
from minimr.dataflow.format.partformats import PartFormat, TextPartWriter
from minimr.errors import InputError, JobCodeError, UsageError

VALUES = [
    "plain", "tab\tand\nnewline", "quote ' \" \\", "", "ünï€", 0, -17, 10**40, 1.5, -0.0,
    b"\x00\xffbytes", None, True, False, (1, "a"), ("nested", (1, [2, 3])), [1, 2],
    {"k": [1, 2]}, {1, 2}, set(), frozenset({"a"}), Fraction(1, 3), float("inf"),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_records_round_trip_with_types(value):
    """A key or value of any of these types reads back equal and of the same type."""
    line = format_record(value, value)
    assert line.count("\n") == 1 and line.endswith("\n")
    key, back = parse_record(line, trusted=True)
    assert back == value and type(back) is type(value)
    assert key == value


def test_nan_round_trips():
    """NaN, which repr cannot give back, still round-trips."""
    _, back = parse_record(format_record("x", float("nan")), trusted=True)
    assert math.isnan(back)


def test_common_records_are_readable_text():
    """Str keys and int values are written as plain Python literals."""
    assert format_record("whale", 42) == "'whale'\t42\n"


class Colour(enum.IntEnum):
    """An int subclass: its repr is not an int literal."""

    RED = 1


class Word(str):
    """A str subclass."""


Pair = namedtuple("Pair", "key value")


def written(tmp_path, name: str, fill) -> bytes:
    """The bytes of a text part that ``fill(writer)`` wrote, with the writer's record count."""
    path = tmp_path / name
    with TextPartWriter(str(path)) as w:
        fill(w)
        records = w.records
        w.close()
    return path.read_bytes() + f"#{records}".encode()


def one_by_one(pairs):
    def fill(w):
        for key, value in pairs:
            w.write(key, value)
    return fill


def batched(pairs, size: int = 7):
    def fill(w):
        for i in range(0, len(pairs), size):
            w.write_many(pairs[i : i + size])
    return fill


@given(st.lists(st.tuples(st.text(), st.one_of(st.text(), st.integers())), max_size=60))
def test_write_many_of_str_and_int_equals_write(tmp_path_factory, pairs):
    """Batches of str keys and str or int values give the very bytes one write a record gives."""
    tmp = tmp_path_factory.mktemp("text")
    assert written(tmp, "many", batched(pairs)) == written(tmp, "one", one_by_one(pairs))


scalars = st.one_of(st.text(max_size=3), st.integers(), st.binary(max_size=2), st.booleans(),
                   st.none(), st.floats(), st.builds(Word, st.text(max_size=2)),
                   st.sampled_from([Colour.RED, Fraction(1, 3)]))
nested = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.sets(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=1), inner,
                                                            max_size=2)), max_leaves=8)


@given(st.lists(st.tuples(nested, nested), max_size=30))
def test_a_batch_is_encoded_as_each_record_alone_is(pairs):
    """A batch of keys and values of any nesting of literals and non-literals (floats that
    are not finite, subclasses, sets, dicts) encodes to the lines ``format_record`` makes."""
    encoding = PartFormat("repr").encoding
    got = encoding.encode([k for k, _ in pairs], [v for _, v in pairs])
    assert got == "".join(format_record(k, v) for k, v in pairs).encode("utf-8")


QUOTING = ["plain text", "it's", 'say "hi"', "both ' and \"", "back\\slash", "tab\t", "\x7f",
           "\x00", "caf\u00e9", "caf\u00e9's", "caf\u00e9\\", "line\u2028sep", "\ud800",
           "zero\u200bwidth", "\u00a0nbsp", ""]


@pytest.mark.parametrize("odd", QUOTING, ids=repr)
def test_a_column_of_str_is_quoted_as_repr_quotes_each(odd):
    """A batch of str keys and values, among them one that repr quotes or escapes otherwise
    than between single quotes, encodes to the lines ``format_record`` makes (both columns
    plain, one, or neither)."""
    encoding = PartFormat("repr").encoding
    plain = [f"word{i}" for i in range(40)]
    for keys, values in [(plain, [*plain[:-1], odd]), ([odd, *plain[1:]], plain),
                         ([odd] * 40, [odd] * 40), ([odd] * 40, list(range(40)))]:
        expected = "".join(map(format_record, keys, values)).encode("utf-8")
        assert encoding.encode(keys, values) == expected


@given(st.lists(st.tuples(st.text(st.sampled_from("ab '\"\\\t\x7fé\u2028\u00a0")),
                          st.text(st.sampled_from("xy '\"\\\n\x00ü\u200b"))), max_size=40))
def test_str_columns_encode_as_format_record(pairs):
    """Columns of str holding any mix of quotes, backslashes, and printable or unprintable
    characters, ASCII or not, encode to the lines ``format_record`` makes."""
    encoding = PartFormat("repr").encoding
    got = encoding.encode([k for k, _ in pairs], [v for _, v in pairs])
    assert got == "".join(format_record(k, v) for k, v in pairs).encode("utf-8")


ROW_TEXT = st.one_of(st.text(st.sampled_from("ab '\"\\\t\x7fé\u2028\u00a0"), max_size=4),
                   st.builds(Word, st.text(max_size=2)))
ROWS = st.one_of(st.lists(ROW_TEXT, min_size=2, max_size=4).map(tuple),
                 st.lists(ROW_TEXT, max_size=1).map(tuple), ROW_TEXT, st.integers())


@given(st.lists(st.tuples(st.text(max_size=3), ROWS), max_size=30),
       st.sampled_from([0, 1, 2, 4]))
def test_columns_of_str_tuples_encode_as_format_record(pairs, width):
    """Columns of tuples of str (a join's rows), of one width or several, of two fields or
    fewer, holding quotes, backslashes, unprintable characters or a str subclass, or mixed
    with other values, encode to the lines ``format_record`` makes; ``width`` > 0 makes
    every value a tuple of that many plain str."""
    if width:
        pairs = [(k, tuple(f"{k}{i}" for i in range(width))) for k, _ in pairs]
    encoding = PartFormat("repr").encoding
    got = encoding.encode([k for k, _ in pairs], [v for _, v in pairs])
    assert got == "".join(format_record(k, v) for k, v in pairs).encode("utf-8")


ODD_PAIRS = [
    ("bool", True), ("float", 1.5), ("none", None), ("tuple", (1, "a")), ("nan", float("nan")),
    ("fraction", Fraction(1, 3)), ("enum", Colour.RED), ("subclass", Word("w")),
    (Word("subclassed key"), 1), (7, "int key"), (("tuple", "key"), 2), (None, False),
    ("plain", "text"), ("int", 10**30), ("bytes", b"\x00"), ("list", [1, {2: 3}]),
]


@pytest.mark.parametrize("size", [1, 3, len(ODD_PAIRS)])
def test_write_many_of_other_types_equals_write(tmp_path, size):
    """Batches holding bool, float, tuples or objects without a literal still write per record."""
    assert written(tmp_path, "many", batched(ODD_PAIRS, size)) == \
        written(tmp_path, "one", one_by_one(ODD_PAIRS))


def test_write_many_takes_pairs_that_are_not_tuples(tmp_path):
    """Pairs given as lists or named tuples are written as their two items, like write."""
    pairs = [["a", 1], Pair("b", 2), ("c", 3)]
    assert written(tmp_path, "many", batched(pairs, 3)) == \
        written(tmp_path, "one", one_by_one(pairs))


def test_write_many_told_the_checked_types_writes_what_it_would_find_itself(tmp_path):
    """Given the types check_pairs returned, write_many spares its own walk and writes the
    same bytes: exact tuples as columns, lists and named tuples unpacked one by one."""
    from minimr.dataflow.mistakes import check_pairs

    for name, pairs in (("tuples", [("a", 1), ("b", (2.5, None))]),
                        ("mixed", [["a", 1], Pair("b", 2), ("c", 3)])):
        def told(w, pairs=pairs):
            w.write_many(pairs, check_pairs(pairs, told))
        assert written(tmp_path, f"told-{name}", told) == \
            written(tmp_path, f"one-{name}", one_by_one(pairs))


# --- jsonl and tsv ----------------------------------------------------------------------------

JSON_PAIRS = [
    ("whale", 1234), ("nested", {"a": [1, 2.5, None, True], "b": {"c": "é€\n\t\""}}),
    ("", ""), ("big", 10**30), ("neg", -0.0), ("list", [[], {}]),
]


def encoded(fmt: str, pairs) -> bytes:
    """What a part of format ``fmt`` holds for ``pairs``."""
    return PartFormat(fmt).encoding.encode([k for k, _ in pairs], [v for _, v in pairs])


def decoded(fmt: str, data: bytes) -> list:
    """The records a part of format ``fmt`` holding ``data`` reads back as."""
    decode = PartFormat(fmt).encoding.decode
    return [decode(line + "\n", False) for line in data.decode().splitlines()]


def test_jsonl_lines_are_key_value_arrays_that_read_back():
    """Each record is one compact [key, value] JSON array a line; JSON values read back."""
    data = encoded("jsonl", JSON_PAIRS)
    assert data.splitlines()[0] == b'["whale",1234]'
    assert [json.loads(line) for line in data.splitlines()] == [list(p) for p in JSON_PAIRS]
    assert decoded("jsonl", data) == JSON_PAIRS


def test_jsonl_is_lossy_for_tuples_and_non_str_dict_keys():
    """Tuples come back as lists, a dict's int keys as strings: JSON has nothing else."""
    assert decoded("jsonl", encoded("jsonl", [(("a", 1), {1: (2, 3)})])) == [
        (["a", 1], {"1": [2, 3]})]


@pytest.mark.parametrize("key, value, what", [
    ("k", {1, 2}, "a value JSON cannot hold for key 'k': a set"),
    ("k", b"x", "a value JSON cannot hold for key 'k': a bytes"),
    ("k", float("nan"), "NaN and infinities are not JSON"),
    ("k", [float("inf")], "NaN and infinities are not JSON"),
    ("k", {("a", 1): 2}, "for key 'k': a dict"),
    (Fraction(1, 3), 1, "a key JSON cannot hold: a Fraction"),
])
def test_jsonl_refuses_what_json_cannot_hold_naming_the_key(tmp_path, key, value, what):
    """A key or value JSON cannot hold fails the job (JobCodeError) naming the key, even in
    the middle of a batch; it is never pickled."""
    with pytest.raises(JobCodeError, match=re.escape(what)) as info, \
            TextPartWriter(str(tmp_path / "p"), PartFormat("jsonl")) as w:
        w.write_many([("fine", 1), (key, value), ("after", 2)])
    assert "--output-format repr" in str(info.value)


def test_jsonl_keeps_a_lone_surrogate_escaped():
    """A str JSON can hold but UTF-8 cannot (a lone surrogate) is written \\u-escaped."""
    assert decoded("jsonl", encoded("jsonl", [("k", "a\ud800b")])) == [("k", "a\ud800b")]


def test_tsv_lines_are_str_of_key_and_value_read_back_as_strings():
    """tsv writes str(key) TAB str(value), Hadoop's text output, and reads strings."""
    pairs = [("whale", 1234), (("a", 1), None), (3.5, [1, "b"]), ("tab in", "the\tvalue")]
    data = encoded("tsv", pairs)
    assert data.splitlines()[:2] == [b"whale\t1234", b"('a', 1)\tNone"]
    assert decoded("tsv", data) == [(str(k), str(v)) for k, v in pairs]


@pytest.mark.parametrize("key, value, what", [
    ("a\tb", 1, "a key whose str() holds a tab: 'a\\tb'"),
    ("a\nb", 1, "a key whose str() holds a line break"),
    ("k", "two\nlines", "a value whose str() holds a line break, for key 'k'"),
    ("k", "cr\r", "a value whose str() holds a line break, for key 'k'"),
])
def test_tsv_refuses_what_would_cut_or_merge_lines(key, value, what):
    """A tab in a key, or a line break in a key or value, fails naming the key."""
    with pytest.raises(JobCodeError, match=re.escape(what)):
        encoded("tsv", [("fine", 1), (key, value)])


def test_lines_are_the_records_keys_as_they_are():
    """lines writes each record's key, a str as UTF-8 and bytes untouched, and reads back
    (line, None)."""
    data = encoded("lines", [("ünï\tcode", None), (b'"raw"\t\xff', None), (b"", None)])
    assert data == "ünï\tcode\n".encode() + b'"raw"\t\xff\n\n'
    assert decoded("lines", encoded("lines", [("a\tb", None), ("c", None)])) == [
        ("a\tb", None), ("c", None)]


@pytest.mark.parametrize("key, value, what", [
    ("k", 1, "a value that is not None, for key 'k': 1"),
    (("a", 1), None, "a key that is a tuple, not a str or bytes"),
])
def test_lines_refuses_records_that_are_not_a_line(key, value, what):
    """A value that is not None, or a key that is no line, fails naming the key."""
    with pytest.raises(JobCodeError, match=re.escape(what)):
        encoded("lines", [("fine", None), (key, value)])


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("codec, suffix", [(None, ""), ("gzip", ".gz"), ("zstd", ".zst")])
def test_every_format_and_compression_writes_and_reads_its_parts(tmp_path, fmt, codec,
                                                                 suffix):
    """A part of any format, compressed or not, is named by its compression and reads back
    through read_part the records written (as the format gives them back)."""
    part_format = PartFormat.of(fmt, codec)
    name = part_format.file_name(3)
    assert name == "part-00003" + suffix
    pairs = [("a", 1), ("b", "two"), ("c", 3.5)]
    if fmt == "lines":  # records (line, None)
        pairs = [("a\t1", None), ("b", None), ("", None)]
    with TextPartWriter(str(tmp_path / name), part_format) as w:
        w.write_many(pairs)
        size = w.close()
    assert size == (tmp_path / name).stat().st_size
    expected = [(str(k), str(v)) for k, v in pairs] if fmt == "tsv" else pairs
    assert list(part_format.read_part(str(tmp_path / name), False)) == expected


@pytest.mark.parametrize("text, expected", [
    ("", PartFormat()), ("\n", PartFormat()),
    ('{"format": "jsonl", "compression": "gzip"}\n', PartFormat("jsonl", "gzip")),
    ('{"format": "tsv"}', PartFormat("tsv")),
])
def test_success_files_name_the_part_format(text, expected):
    """_SUCCESS holds the format as JSON; an empty one (older minimr, Hadoop) means repr."""
    assert PartFormat.described(text, "_SUCCESS") == expected
    assert PartFormat.described(expected.describe(), "_SUCCESS") == expected


@pytest.mark.parametrize("text", ["nonsense", '{"format": "parquet"}', "[1]",
                                  '{"format": "repr", "compression": "lz4"}'])
def test_a_success_file_naming_no_known_format_is_an_input_error(text):
    """A format this minimr does not read is refused, not read as repr."""
    with pytest.raises(InputError, match="_SUCCESS"):
        PartFormat.described(text, "out/_SUCCESS")


def test_unknown_formats_and_codecs_are_usage_errors():
    """PartFormat.of checks what --output-format and --compress give."""
    with pytest.raises(UsageError, match="'repr', 'jsonl', 'tsv'"):
        PartFormat.of("csv", None)
    with pytest.raises(UsageError, match="compress"):
        PartFormat.of("repr", "xz")
