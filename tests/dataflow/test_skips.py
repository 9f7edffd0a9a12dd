"""Skip mode with the inline runner: bad records and key groups are skipped and reported."""

from __future__ import annotations

import pytest

import minimr
from minimr import Job
from minimr.dataflow.counters import BUILTIN, SKIPPED_RECORDS
from minimr.dataflow.inputs.records import BadInput
from minimr.dataflow.skips import Tracker


class PoisonedMap(Job):
    """Counts words; raises on any line containing 'poison'."""

    reducers = 2

    def map(self, key, line):
        if "poison" in line:
            raise ValueError(f"bad line at {key[1]}")
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        yield word, sum(counts)


class PoisonedBatch(PoisonedMap):
    """The same job as a batch map."""

    map = None

    def map_batch(self, records):
        out = []
        for key, line in records:
            out.extend(PoisonedMap.map(self, key, line))
        return out


class PoisonedReduce(Job):
    """Counts words; the reduce raises on the word 'poison'."""

    reducers = 2

    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        if word == "poison":
            raise ValueError("poisoned key")
        yield word, sum(counts)


@pytest.fixture
def poisoned(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a b\npoison one\nb c\npoison two\nc d\n")
    return path


def run(job, path, out, **kwargs):
    return minimr.run(job, [str(path)], str(out), runner="inline", **kwargs)


@pytest.mark.parametrize("job", [PoisonedMap, PoisonedBatch])
def test_records_that_fail_the_map_are_skipped_counted_and_reported(job, poisoned, tmp_path):
    """The job completes without the bad lines; the counter and _skipped/ say which."""
    result = run(job, poisoned, tmp_path / "out", skip_bad_records=True)
    assert dict(result.records()) == {"a": 1, "b": 2, "c": 2, "d": 1}
    assert result.counters.get(BUILTIN, SKIPPED_RECORDS) == 2
    (report,) = (tmp_path / "out" / "_skipped").iterdir()
    text = report.read_text()
    assert report.name == "s0-m00000.txt"
    assert "record 1 of" in text and "record 3 of" in text
    assert "'poison one'" in text and "ValueError: bad line at 4" in text
    assert (tmp_path / "out" / "_SUCCESS").exists()


def test_a_key_group_that_fails_the_reduce_is_skipped(poisoned, tmp_path):
    """A reduce that raises on one key skips that key group and writes the others."""
    result = run(PoisonedReduce, poisoned, tmp_path / "out", skip_bad_records=True)
    assert dict(result.records()) == {"a": 1, "b": 2, "c": 2, "d": 1, "one": 1, "two": 1}
    assert result.counters.get(BUILTIN, SKIPPED_RECORDS) == 1
    (report,) = (tmp_path / "out" / "_skipped").iterdir()
    assert "key group" in report.read_text() and "'poison'" in report.read_text()


def test_past_max_skips_the_users_exception_goes_through(poisoned, tmp_path):
    """With room to skip one record only, the second bad record fails the job as usual."""
    with pytest.raises(ValueError, match="bad line at 19"):
        run(PoisonedMap, poisoned, tmp_path / "out", skip_bad_records=True, max_skips=1)
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_without_skip_mode_a_bad_record_fails_the_job(poisoned, tmp_path):
    """Skip mode is off by default: the first bad record raises the user's exception."""
    with pytest.raises(ValueError, match="bad line at 4"):
        run(PoisonedMap, poisoned, tmp_path / "out")


def test_tracker_names_the_record_user_code_was_on():
    """A failure inside the map of record 2 is pinned on ordinal 2; one after it, on none."""
    tracker = Tracker("f bytes [0, 9)", skip={1})

    def mapper(key, value):
        if value == "bad":
            raise ValueError(value)
        yield value, 1

    tracked = tracker.map(mapper)
    records = tracker.records([(0, "x"), (1, "skipped"), (2, "bad")])
    with pytest.raises(ValueError):
        for ordinal, key, value in records:
            list(tracked(ordinal, key, value))
    failed = tracker.failed()
    assert failed.location["ordinal"] == 2
    assert failed.location["where"] == "record 2 of f bytes [0, 9)"
    assert tracker.skipped == 1
    tracker.current = None
    assert tracker.failed() is None


class CountKinds(Job):
    """Counts JSON events by their 'kind'."""

    input_format = "jsonl"
    reducers = 2

    def map(self, key, event):
        yield event["kind"], 1

    def reduce(self, kind, counts):
        yield kind, sum(counts)


def test_a_line_its_format_cannot_read_is_skipped_counted_and_reported(tmp_path):
    """In skip mode a line that is not JSON is skipped like a record that fails the map:
    counted, and reported with its file:line; without skip mode it fails the job."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"kind": "a"}\n{"kind": "b"\n{"kind": "a"}\n')
    with pytest.raises(minimr.BadRecordError, match=r"events.jsonl:2 \(byte 14\)"):
        run(CountKinds, path, tmp_path / "failed")
    result = run(CountKinds, path, tmp_path / "out", skip_bad_records=True)
    assert dict(result.records()) == {"a": 2}
    assert result.counters.get(BUILTIN, SKIPPED_RECORDS) == 1
    (report,) = (tmp_path / "out" / "_skipped").iterdir()
    text = report.read_text()
    assert "record 1 of" in text and "'{\"kind\": \"b\"'" in text
    assert "BadRecordError: bad input record at" in text and "events.jsonl:2" in text


def test_tracker_fails_on_a_bad_input_unless_it_is_skipped():
    """A BadInput value raises its error with the record current; once its ordinal is to be
    skipped, it is passed over like any skipped record."""
    error = minimr.BadRecordError("f:2: not JSON")
    records = [(("f", 0), 1), (("f", 2), BadInput("[", error)), (("f", 4), 3)]
    tracker = Tracker("f bytes [0, 6)", skip=())
    with pytest.raises(minimr.BadRecordError) as info:
        list(tracker.records(records))
    assert info.value is error and tracker.failed().location["value"] == "'['"
    skipping = Tracker("f bytes [0, 6)", skip={1})
    assert [value for _, _, value in skipping.records(records)] == [1, 3]
    assert skipping.skipped == 1
