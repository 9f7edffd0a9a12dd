"""The map buffer and the merge: spills in a tiny buffer change nothing but memory."""

from __future__ import annotations

import heapq
import io
import random
import tracemalloc
from operator import itemgetter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimr.dataflow.counters import BUILTIN, SPILLED_RECORDS, Counters
from minimr.dataflow.format.blocks import read_blocks
from minimr.dataflow.format.segments import (
    MAX_RUNS,
    Segment,
    concatenate_segments,
    key_kind,
    run_count,
    write_columns,
    write_key_lists,
    write_segment,
    write_single_values,
)
from minimr.dataflow.mapside.combining import make_combiner
from minimr.dataflow.mapside.feed import Records, feed_map
from minimr.dataflow.mapside.spill import MapOutputBuffer
from minimr.dataflow.partition import HashPartitioner, sort_key
from minimr.dataflow.reduceside.merge import (
    MergedGroups,
    MergedPairs,
    merge_blocks,
)
from minimr.dataflow.reduceside.passes import MERGE_FACTOR


def sum_combine(key, values):
    yield key, sum(values)


def as_map(_key, pair):
    return [pair]


def run_buffer(tmp: Path, pairs, limit: int, combine=None, partitions: int = 3):
    counters = Counters()
    buf = MapOutputBuffer(HashPartitioner(partitions), partitions,
                          make_combiner(combine, counters), limit, str(tmp / f"out-{limit}"),
                          counters)
    feed_map(buf, Records((None, pair) for pair in pairs), as_map, as_map)
    return buf.finish(), counters


def read_partitions(output, partitions: int, tmp: Path):
    result = []
    for p in range(partitions):
        with MergedGroups([output.segment(p)], str(tmp)) as merged:
            result.append([(k, list(vs)) for k, vs in merged])
    return result


def test_tiny_buffer_spills_but_output_equals_in_memory_sort(tmp_path):
    """With a buffer far too small, spills happen and the output is the same as in memory."""
    rng = random.Random(7)
    pairs = [(f"k{rng.randrange(500)}", rng.randrange(100)) for _ in range(20000)]
    small, small_counters = run_buffer(tmp_path, pairs, limit=4096)
    big, big_counters = run_buffer(tmp_path, pairs, limit=1 << 30)
    assert small_counters.get(BUILTIN, SPILLED_RECORDS) > len(pairs)  # spilled, then merged
    assert big_counters.get(BUILTIN, SPILLED_RECORDS) == len(pairs)
    got_small = read_partitions(small, 3, tmp_path)
    got_big = read_partitions(big, 3, tmp_path)
    normalise = [[(k, sorted(vs)) for k, vs in part] for part in got_small]
    assert normalise == [[(k, sorted(vs)) for k, vs in part] for part in got_big]
    for part in got_small:
        keys = [k for k, _ in part]
        assert keys == sorted(keys) and len(keys) == len(set(keys))


def test_combiner_runs_across_spills(tmp_path):
    """With a combiner, every key ends as one combined value even after many spills."""
    pairs = [(f"w{i % 50}", 1) for i in range(30000)]
    output, counters = run_buffer(tmp_path, pairs, limit=2048, combine=sum_combine)
    merged = [kv for part in read_partitions(output, 3, tmp_path) for kv in part]
    assert sorted(merged) == sorted((f"w{i}", [600]) for i in range(50))


@pytest.mark.parametrize("memory_limit", [0, 1 << 30], ids=["streaming", "in-memory"])
def test_many_segments_merge_in_passes(tmp_path, memory_limit):
    """Many segments merge to the same result streamed in passes or sorted in memory."""
    outputs = []
    expected = {}
    for m in range(MERGE_FACTOR * 2 + 3):
        pairs = [(f"k{(m * 7 + i) % 40}", m) for i in range(5)]
        for k, v in pairs:
            expected.setdefault(k, []).append(v)
        (tmp_path / f"m{m}").mkdir()
        out, _ = run_buffer(tmp_path / f"m{m}", pairs, limit=1 << 20, partitions=1)
        outputs.append(out.segment(0))
    with MergedGroups(outputs, str(tmp_path), memory_limit) as merged:
        got = {k: sorted(vs) for k, vs in merged}
        assert merged.premerged == (memory_limit == 0)  # passes only when streaming
    assert not list(tmp_path.glob("merge*.seg"))  # temporary pass files are gone
    assert got == {k: sorted(v) for k, v in expected.items()}
    assert list(got) == sorted(got)


def hot(_key, i):
    return (("hot", i),)


def test_hot_key_streams_in_bounded_memory(tmp_path):
    """A key with a million values reaches reduce as an iterator, never as a list in memory."""
    counters = Counters()
    buf = MapOutputBuffer(HashPartitioner(1), 1, None, 1 << 20, str(tmp_path / "hot"), counters)
    feed_map(buf, Records((None, i) for i in range(1_000_000)), hot, hot)
    output = buf.finish()
    tracemalloc.start()
    try:
        groups = 0
        with MergedGroups([output.segment(0)], str(tmp_path)) as merged:
            for key, values in merged:
                groups += 1
                assert key == "hot" and not isinstance(values, list)
                total = sum(values)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert groups == 1 and total == sum(range(1_000_000))
    assert peak < 8 * 2**20, f"reduce side held {peak / 2**20:.1f} MiB"


def segment_files(tmp: Path, runs: list[list[tuple]]) -> list[Segment]:
    """One segment file per run of sorted ``(key, values list)`` entries."""
    segments = []
    for i, entries in enumerate(runs):
        path = tmp / f"seg{i}"
        with open(path, "wb") as out:
            length, _ = write_segment(out, entries, key_kind(k for k, _ in entries))
        segments.append(Segment(str(path), 0, length))
    return segments


@pytest.mark.parametrize("memory_limit", [0, 1 << 30], ids=["streaming", "in-memory"])
def test_groups_and_values_read_count_the_whole_input(tmp_path, memory_limit):
    """After a full iteration, groups is the number of keys and values_read every value."""
    hot = list(range(70000))  # more than one entry can hold: cut into several entries
    runs = [
        [(f"k{i:03d}", [i, i]) for i in range(0, 300, 2)] + [("z", hot)],
        [(f"k{i:03d}", [i]) for i in range(0, 300, 3)],
        [("z", [1, 2, 3])],
    ] + [[(f"m{m}", [m])] for m in range(MERGE_FACTOR + 1)]  # streaming: merged in passes
    expected: dict = {}
    for entries in runs:
        for key, values in entries:
            expected.setdefault(key, []).extend(values)
    with MergedGroups(segment_files(tmp_path, runs), str(tmp_path), memory_limit) as merged:
        assert (merged.groups, merged.values_read) == (0, 0)
        got = {}
        for key, values in merged:
            got[key] = list(values)
            assert merged.groups >= len(got)  # counted a chunk of keys at a time, ahead
        assert merged.premerged == (memory_limit == 0)
        assert merged.groups == len(expected) == len(got)
        assert merged.values_read == sum(map(len, expected.values()))
    assert got == expected


def test_values_read_counts_values_a_reducer_leaves(tmp_path):
    """values_read counts the values read from the segments, used by the reducer or not."""
    runs = [[(f"k{i}", [i] * 5) for i in range(10)], [(f"k{i}", [i]) for i in range(10)]]
    with MergedGroups(segment_files(tmp_path, runs), str(tmp_path)) as merged:
        firsts = [next(values) for _, values in merged]
        assert merged.groups == 10 and merged.values_read == 60
    assert firsts == list(range(10))


def as_blocks(run: list, size: int):
    """A run of entries as an iterator of blocks of ``size``."""
    return iter([run[i : i + size] for i in range(0, len(run), size)])


@given(st.lists(st.lists(st.one_of(st.sampled_from("abcdefg"), st.text(max_size=3)),
                         max_size=40), max_size=7),
       st.integers(1, 6))
def test_merge_blocks_equals_heapq_merge(runs, size):
    """Merging a block at a time gives heapq.merge's order exactly, ties in source order."""
    runs = [[(key, [n, i]) for i, key in enumerate(sorted(keys))] for n, keys in enumerate(runs)]
    merged = [entry for batch in merge_blocks([as_blocks(r, size) for r in runs])
              for entry in batch]
    assert merged == list(heapq.merge(*runs, key=itemgetter(0)))


def test_merge_blocks_streams_a_hot_key():
    """A key filling many blocks of every source is handed on without reading them all."""
    read = [0, 0]

    def source(n: int):
        yield [(b"a", [n])]
        for block in range(1000):
            read[n] += 1
            yield [(b"hot", [n, block])] * 3
        yield [(b"z", [n])]

    merged = merge_blocks([source(0), source(1)])
    seen = []
    for batch in merged:
        seen += batch
        assert read[0] - sum(e[1][0] == 0 for e in seen if e[0] == b"hot") / 3 <= 2
        assert read[1] - sum(e[1][0] == 1 for e in seen if e[0] == b"hot") / 3 <= 2
    hot = [values for key, values in seen if key == b"hot"]
    assert [key for key, _ in seen] == [b"a"] * 2 + [b"hot"] * 6000 + [b"z"] * 2
    assert hot == [[n, block] for n in (0, 1) for block in range(1000) for _ in range(3)]


def test_an_empty_segment_does_not_slow_a_str_merge(tmp_path, monkeypatch):
    """An empty partition (a map task whose split held no record for it) is skipped.

    Its segment is only a kind byte, and an empty run's kind says nothing: it must not turn
    a merge of str segments into the Python-compared one (``sort_key`` per entry).
    """
    path = tmp_path / "segments"
    with open(path, "wb") as out:
        full, _ = write_segment(out, [("a", [1]), ("c", [2])], key_kind(["a", "c"]))
        empty, _ = write_segment(out, [], key_kind([]))
        other, _ = write_segment(out, [("b", [3])], key_kind(["b"]))
    segments = [Segment(str(path), 0, full), Segment(str(path), full, empty),
                Segment(str(path), full + empty, other)]

    def no_sort_key(key):
        raise AssertionError("str keys compared through sort_key")

    monkeypatch.setattr("minimr.dataflow.reduceside.merge.sort_key", no_sort_key)
    for limit in (0, 2**20):  # streamed and in memory
        with MergedGroups(segments, str(tmp_path), memory_limit=limit) as merged:
            assert [(k, list(vs)) for k, vs in merged] == [("a", [1]), ("b", [3]), ("c", [2])]
            assert merged.kind == b"s"


def test_column_blocks_are_written_as_given():
    """``write_columns`` stores each ``(keys, values)`` block it is given as one block (a
    merge's batches), the bytes ``write_single_values`` writes of the same slices; no block,
    the kind alone."""
    keys, values = [f"k{i:05d}" for i in range(5000)], list(range(5000))
    whole, sliced = io.BytesIO(), io.BytesIO()
    assert write_single_values(whole, keys, values, b"s") == (len(whole.getvalue()), 5000)
    blocks = [(keys[:4096], values[:4096]), (keys[4096:], values[4096:])]
    assert write_columns(sliced, iter(blocks), b"s") == (len(whole.getvalue()), 5000)
    assert sliced.getvalue() == whole.getvalue()
    uneven = io.BytesIO()
    cuts = [(0, 10), (10, 4000), (4000, 5000)]
    length, _ = write_columns(uneven, [(keys[a:b], values[a:b]) for a, b in cuts], b"s")
    read = list(read_blocks(io.BytesIO(uneven.getvalue()[1:]), length - 1))
    assert [len(block[0]) for block in read] == [10, 3990, 1000]
    empty = io.BytesIO()
    assert write_columns(empty, [], b"s") == (1, 0) and empty.getvalue() == b"s"


def test_single_value_blocks_are_columns_and_read_back_as_entries(tmp_path):
    """Entries of one value each are stored as (keys, values) columns, other blocks as entries.

    ``write_single_values`` writes the same bytes from the columns without making entries, and
    a merge reads every kind of block back the same way.
    """
    keys = [f"k{i:05d}" for i in range(5000)]
    single = [(k, [i]) for i, k in enumerate(keys)]
    mixed = [(k, [i, i] if i % 7 == 0 else [i]) for i, k in enumerate(keys)]
    path = tmp_path / "segments"
    with open(path, "wb") as out:
        first = write_segment(out, single, b"s")
        second = write_segment(out, mixed, b"s")
    with open(tmp_path / "columns", "wb") as out:
        assert write_single_values(out, keys, list(range(5000)), b"s") == first
    data = path.read_bytes()
    assert (tmp_path / "columns").read_bytes() == data[: first[0]]
    assert first[1] == 5000 and second[1] == 5000 + len(range(0, 5000, 7))
    blocks = list(read_blocks(io.BytesIO(data[1 : first[0]]), first[0] - 1))
    assert {type(block) for block in blocks} == {tuple}  # the columns form
    blocks = list(read_blocks(io.BytesIO(data[first[0] + 1 :]), second[0] - 1))
    assert type(blocks[0]) is list

    segments = [Segment(str(path), 0, first[0]), Segment(str(path), first[0], second[0])]
    for limit in (0, 2**30):  # streamed and in memory
        with MergedGroups(segments, str(tmp_path), memory_limit=limit) as merged:
            got = [(k, list(vs)) for k, vs in merged]
            assert merged.values_read == first[1] + second[1]
        assert got == [(k, [i] + ([i, i] if i % 7 == 0 else [i])) for i, k in enumerate(keys)]


def test_a_merge_of_pairs_gives_every_value_of_both_block_forms_in_order(tmp_path):
    """Read as pairs (the identity reduce), column blocks and entry blocks give one
    ``(key, value)`` pair a value, in the order a merge of entries gives them, every value
    counted; ``columns`` hands them on with the groups counted as the entries' merge does."""
    keys = [f"k{i:05d}" for i in range(5000)]
    single = [(k, [i]) for i, k in enumerate(keys)]
    mixed = [(k, [i, -i] if i % 7 == 0 else [i]) for i, k in enumerate(keys)]
    path = tmp_path / "segments"
    with open(path, "wb") as out:
        first = write_segment(out, single, b"s")
        second = write_segment(out, mixed, b"s")
    segments = [Segment(str(path), 0, first[0]), Segment(str(path), first[0], second[0])]
    expected = [(k, v) for i, k in enumerate(keys) for v in [i, i, -i][: 3 if i % 7 == 0 else 2]]
    for limit in (0, 2**30):  # streamed and in memory
        with MergedPairs(segments, str(tmp_path), memory_limit=limit) as merged:
            got = [pair for keys_, values in merged.columns(100)
                   for pair in zip(keys_, values, strict=True)]
            assert merged.values_read == len(expected) and merged.groups == len(keys)
        assert got == expected


@pytest.mark.parametrize("memory_limit", [0, 1 << 30], ids=["streaming", "in-memory"])
def test_a_few_spills_without_a_combiner_are_runs_for_the_reducer(tmp_path, memory_limit):
    """No combiner and at most MAX_RUNS spills: each partition's spilled runs are copied side by
    side (no map-side merge); the reducer merges them into the same sorted, stable result."""
    rng = random.Random(3)
    pairs = [(f"k{rng.randrange(10**6):06d}", f"v{i:020d}") for i in range(20000)]
    pairs += [("dup", f"first{i}") for i in range(5)]  # one key in every run, order kept
    pairs[7000:7000] = [("dup", "middle")]
    output, counters = run_buffer(tmp_path, pairs, limit=1_500_000)
    runs = [run_count(output.segment(p)) for p in range(3)]
    assert all(2 <= n <= MAX_RUNS for n in runs), runs
    assert counters.get(BUILTIN, SPILLED_RECORDS) == len(pairs)  # written once, not merged
    got = []
    for p in range(3):
        with MergedGroups([output.segment(p)] * 2, str(tmp_path), memory_limit) as merged:
            got += [(k, list(vs)) for k, vs in merged]
    expected: dict = {}
    for key, value in sorted(pairs, key=lambda kv: kv[0]):  # stable: map order per key
        expected.setdefault(key, []).append(value)
    by_key = dict(got)
    assert sorted(by_key) == sorted(expected)
    assert all(by_key[k] == vs * 2 for k, vs in expected.items())  # both copies, in order


def test_merging_counts_runs_not_segments(tmp_path):
    """Segments of several runs are premerged once the runs, not the segments, pass the
    factor; their kinds may differ (str runs beside runs of any keys)."""
    path = tmp_path / "runs"
    segments = []
    with open(path, "wb") as out:
        for i in range(MERGE_FACTOR // MAX_RUNS + 1):  # one segment too many
            parts = []
            for r in range(MAX_RUNS):
                keys = sorted(f"k{i:03d}{r}{j}" for j in range(3))
                if r == 1:
                    keys = [(k,) for k in keys]  # tuples: kind "a"
                start = out.tell()
                length, _ = write_segment(out, [(k, [r]) for k in keys], key_kind(keys))
                parts.append(Segment(str(path), start, length))
            out.flush()
            start = out.tell()
            with open(tmp_path / "scratch", "wb") as scratch:
                length = concatenate_segments(scratch, parts)
            out.write((tmp_path / "scratch").read_bytes())
            segments.append(Segment(str(path), start, length))
    assert run_count(segments[0]) == MAX_RUNS
    with MergedGroups(segments[:-1], str(tmp_path), memory_limit=0) as merged:
        assert not merged.premerged  # exactly MERGE_FACTOR runs
        assert sum(1 for _ in merged) == len(segments[:-1]) * MAX_RUNS * 3
    with MergedGroups(segments, str(tmp_path), memory_limit=0) as merged:
        assert merged.premerged
        got = [(k, list(vs)) for k, vs in merged]
    assert len(got) == len(segments) * MAX_RUNS * 3
    assert [k for k, _ in got] == sorted((k for k, _ in got), key=sort_key)


def test_a_torn_spill_fails_the_copy_instead_of_writing_a_short_run(tmp_path):
    """A spill file shorter than its index says is an error, not a shorter segment."""
    path = tmp_path / "spill"
    with open(path, "wb") as out:
        length, _ = write_segment(out, [("a", [1]), ("b", [2])], b"s")
    with open(path, "r+b") as file:
        file.truncate(length - 3)
    whole = Segment(str(path), 0, length)
    with open(tmp_path / "out", "wb") as out, pytest.raises(OSError, match="torn spill"):
        concatenate_segments(out, [whole, whole])


@given(st.lists(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.booleans()), max_size=40),
                min_size=2, max_size=5),
       st.sampled_from(["str", "bytes", "int"]))
def test_a_merge_in_memory_groups_as_the_streaming_merge(tmp_path_factory, raw, kind):
    """In memory, column blocks sorted as columns (str, bytes) and any other blocks sorted as
    entries give the groups of the streaming merge: same keys, values in segment order."""
    tmp = tmp_path_factory.mktemp("merge")
    make = {"str": str, "bytes": str.encode, "int": ord}[kind]
    runs = []
    for r, pairs in enumerate(raw):  # a True makes a key's entry hold two values: no columns
        entries: dict = {}
        for i, (key, two) in enumerate(pairs):
            entries.setdefault(make(key), []).extend([(r, i), (r, -i)] if two else [(r, i)])
        runs.append(sorted(entries.items()))
    segments = segment_files(tmp, runs)

    def groups(memory_limit: int) -> list:
        with MergedGroups(segments, str(tmp), memory_limit) as merged:
            got = [(key, list(values)) for key, values in merged]
            return got, merged.groups, merged.values_read

    in_memory, streaming = groups(1 << 30), groups(0)
    assert in_memory == streaming
    assert [k for k, _ in in_memory[0]] == sorted({k for run in runs for k, _ in run})


def test_spills_of_a_secondary_sort_of_other_kinds_keep_their_keys(tmp_path):
    """A secondary sort's spills, one of str keys with float values (composite keys stored
    whole), one with int values (columns of plain keys, a composite kind): the task's output
    reads back as every key once with its values in order, not a composite run read as
    plain keys ("apple" was handed on as "a")."""
    buffer = MapOutputBuffer(HashPartitioner(1), 1, None, 1, str(tmp_path / "m"), Counters(),
                             sort_values=True)
    buffer.add_pairs([("apple", 1.5), ("apple", 0.5)], {tuple})  # a spill each: buffer of 1
    buffer.add_pairs([("apple", 3), ("banana", 2)], {tuple})
    output = buffer.finish()
    with MergedGroups([output.segment(0)], str(tmp_path), sort_values=True) as merged:
        assert [(k, list(vs)) for k, vs in merged] == [("apple", [0.5, 1.5, 3]),
                                                         ("banana", [2])]


def test_runs_of_a_composite_kind_and_another_are_never_copied_into_one_segment(tmp_path):
    """A composite run's blocks hold plain keys, made composite again only under its own
    kind: copied beside a run of another kind it would be misread, so the copy refuses."""
    path = tmp_path / "runs"
    with open(path, "wb") as out:
        plain, _ = write_segment(out, [(("a", 0.5), [0.5])], b"a")
        composite, _ = write_single_values(out, ["a"], [1], b"c\x04(si)")
    segments = [Segment(str(path), 0, plain), Segment(str(path), plain, composite)]
    with open(tmp_path / "out", "wb") as out, pytest.raises(ValueError, match="composite"):
        concatenate_segments(out, segments)


def test_key_lists_are_written_as_their_entries_are(tmp_path):
    """``write_key_lists`` writes a chunk of one value a key as columns (the bytes of
    ``write_single_values``) and other chunks as their entries, a key of no values left out:
    read back, the entries ``write_segment`` would have written."""
    keys = [f"k{i:05d}" for i in range(5000)]
    single = [(i,) for i in range(5000)]  # one-value tuples, as a block of columns reads
    mixed = [[i, i] if i % 7 == 0 else [] if i % 5 == 0 else [i] for i in range(5000)]
    with open(tmp_path / "lists", "wb") as out:
        first = write_key_lists(out, [(keys, single)], b"s")
        second = write_key_lists(out, [(keys[:10], mixed[:10]), (keys[10:], mixed[10:])], b"s")
    with open(tmp_path / "columns", "wb") as out:
        assert write_single_values(out, keys, list(range(5000)), b"s") == first
    data = (tmp_path / "lists").read_bytes()
    assert (tmp_path / "columns").read_bytes() == data[: first[0]]
    assert second[1] == sum(map(len, mixed))
    segment = Segment(str(tmp_path / "lists"), first[0], second[0])
    with MergedGroups([segment], str(tmp_path)) as merged:
        got = [(k, list(vs)) for k, vs in merged]
    assert got == [(k, v) for k, v in zip(keys, mixed, strict=True) if v]
