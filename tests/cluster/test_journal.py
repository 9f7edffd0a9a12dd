"""The coordinator's journal: durable records, a torn tail detected and cut off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minimr.cluster import journal as j


def write(state_dir, *records: j.Record) -> str:
    journal, _ = j.Journal.open(str(state_dir))
    for record in records:
        journal.append(record)
    journal.sync()
    journal.close()
    return os.path.join(str(state_dir), j.FILE_NAME)


SUBMIT = j.Record({"type": "submit", "job_id": "a"}, b"\x00plan\xffbytes")
TASK = j.Record({"type": "task", "job_id": "a", "task": "s0-m00000"})


def test_records_and_blobs_survive_a_reopen(tmp_path):
    """What was appended and synced is read back, blobs byte for byte, in order."""
    write(tmp_path, SUBMIT, TASK)
    journal, contents = j.Journal.open(str(tmp_path))
    journal.close()
    assert contents.records == [SUBMIT, TASK]
    assert not contents.torn
    assert contents.records[0].type == "submit"


def test_a_missing_journal_is_empty(tmp_path):
    """A state folder without a journal holds no records (a first start)."""
    contents = j.read_records(str(tmp_path / "nothing"))
    assert contents.records == [] and not contents.torn


def test_a_torn_last_record_is_ignored_wherever_it_was_cut(tmp_path):
    """Cut anywhere inside the last record, the journal reads as the records before it."""
    path = write(tmp_path, SUBMIT, TASK)
    whole = Path(path).read_bytes()
    last = len(j.encode(TASK))
    for cut in range(1, last):
        with open(path, "wb") as file:
            file.write(whole[: len(whole) - cut])
        contents = j.read_records(path)
        assert contents.records == [SUBMIT], cut
        assert contents.torn
        assert contents.good_bytes == len(whole) - last


def test_a_corrupt_last_record_is_ignored(tmp_path):
    """A last record whose bytes changed fails its CRC and is dropped."""
    path = write(tmp_path, SUBMIT, TASK)
    data = bytearray(Path(path).read_bytes())
    data[-3] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    contents = j.read_records(path)
    assert contents.records == [SUBMIT] and contents.torn


def test_reopening_cuts_the_torn_tail_so_new_records_follow_the_good_ones(tmp_path):
    """After a torn tail, the next record appended is read back right after the good ones."""
    path = write(tmp_path, SUBMIT, TASK)
    with open(path, "r+b") as file:
        file.truncate(os.path.getsize(path) - 5)
    journal, contents = j.Journal.open(str(tmp_path))
    assert contents.torn and contents.records == [SUBMIT]
    journal.append(TASK)
    journal.sync()
    journal.close()
    again = j.read_records(path)
    assert again.records == [SUBMIT, TASK] and not again.torn


def test_a_journal_torn_while_being_created_starts_afresh(tmp_path):
    """A file holding only part of the magic is an empty journal, not an error."""
    (tmp_path / j.FILE_NAME).write_bytes(j.MAGIC[:2])
    journal, contents = j.Journal.open(str(tmp_path))
    journal.append(TASK)
    journal.close()
    assert contents.records == [] and j.read_records(str(tmp_path / j.FILE_NAME)).records == [TASK]


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    """A foreign file in the state folder raises instead of being overwritten."""
    (tmp_path / j.FILE_NAME).write_bytes(b"hello world")
    with pytest.raises(j.JournalError, match="not a minimr journal"):
        j.Journal.open(str(tmp_path))


def test_rewrite_replaces_the_records(tmp_path):
    """Compaction leaves exactly the given records, and appending goes on after them."""
    write(tmp_path, SUBMIT, TASK, TASK)
    journal, _ = j.Journal.open(str(tmp_path))
    journal.rewrite([SUBMIT])
    journal.append(TASK)
    journal.close()
    assert j.read_records(str(tmp_path / j.FILE_NAME)).records == [SUBMIT, TASK]
    assert not (tmp_path / (j.FILE_NAME + ".compact")).exists()
