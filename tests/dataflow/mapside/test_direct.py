"""A map-only task's output: written to its part writer as it comes, in order, unchanged."""

from __future__ import annotations

import os
from collections import Counter

from minimr.dataflow.format.output import RecordPartWriter
from minimr.dataflow.format.partformats import PartFormat, TextPartWriter
from minimr.dataflow.inputs.records import read_intermediate
from minimr.dataflow.inputs.splits import Split
from minimr.dataflow.mapside.direct import DirectOutput


def test_pairs_keys_and_mappings_are_written_in_the_order_they_came(tmp_path):
    """Pairs (tuples, lists), keys as (key, 1) and a mapping's items go to the file in the
    order they were added, each value of its own type."""
    path = str(tmp_path / "part")
    with RecordPartWriter(path) as writer:
        direct = DirectOutput(writer)
        direct.add_pairs([("b", 1.0), ["a", True]], {tuple, list})
        direct.add_keys(["z", "a"])
        direct.add_mapping(Counter({"y": 2, "x": -0.0}))
        assert direct.add_if_one_value([("c", 1)]) is False  # nothing is counted here
        writer.close()
    records = list(read_intermediate(Split(path, 0, os.path.getsize(path))))
    assert records == [("b", 1.0), ("a", True), ("z", 1), ("a", 1), ("y", 2), ("x", -0.0)]
    assert [type(v) for _, v in records] == [float, bool, int, int, int, float]
    assert direct.map_output_records == 6


def test_text_parts_get_the_same_records(tmp_path):
    """Through a text part writer, the part file reads back as the same records."""
    path = str(tmp_path / "part-m-00000")
    with TextPartWriter(path) as writer:
        direct = DirectOutput(writer)
        direct.add_pairs([((1, "k"), frozenset({2})), ("s", b"\x00")], {tuple})
        writer.close()
    assert list(PartFormat().read_part(path, trusted=True)) == [
        ((1, "k"), frozenset({2})), ("s", b"\x00")]
