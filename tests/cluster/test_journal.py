"""The coordinator's journal: durable records, a torn tail cut off, damage reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minimr.cluster.coordinator import journal as j


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


def unsynced(path: str, *records: j.Record) -> bytes:
    """Append records without a sync (as a crash mid-append leaves them); the file's bytes."""
    with open(path, "ab") as file:
        for record in records:
            file.write(j.encode(record))
    return Path(path).read_bytes()


def test_a_torn_tail_is_ignored_wherever_it_was_cut(tmp_path):
    """Records appended after the last sync, cut anywhere: the synced records read back."""
    path = write(tmp_path, SUBMIT)
    synced = os.path.getsize(path)
    whole = unsynced(path, TASK, TASK)
    for cut in range(synced + 1, len(whole)):
        Path(path).write_bytes(whole[:cut])
        contents = j.read_records(path)
        assert contents.records[:1] == [SUBMIT], cut
        assert contents.torn == (cut not in (synced + len(j.encode(TASK)),)), cut
        assert contents.good_bytes in (synced, synced + len(j.encode(TASK))), cut


def test_a_flipped_byte_in_an_unsynced_tail_is_a_torn_write(tmp_path):
    """Garbage after the last sync mark (never acknowledged) is cut off, not an error."""
    path = write(tmp_path, SUBMIT)
    data = bytearray(unsynced(path, TASK))
    data[-3] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    contents = j.read_records(path)
    assert contents.records == [SUBMIT] and contents.torn


def test_a_flipped_byte_in_the_last_sync_mark_loses_nothing(tmp_path):
    """The sync mark itself torn: every record before it reads back."""
    path = write(tmp_path, SUBMIT, TASK)
    data = bytearray(Path(path).read_bytes())
    data[-3] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    contents = j.read_records(path)
    assert contents.records == [SUBMIT, TASK] and contents.torn


def test_damage_before_a_sync_mark_stops_reading_and_names_the_offset(tmp_path):
    """A flipped byte in an acknowledged record raises JournalDamaged; the file is kept."""
    path = write(tmp_path, SUBMIT, TASK)
    data = bytearray(Path(path).read_bytes())
    second = len(j.MAGIC) + len(j.encode(SUBMIT))
    data[second + 12] ^= 0x01
    Path(path).write_bytes(bytes(data))
    with pytest.raises(j.JournalDamaged, match=f"at byte offset {second}") as info:
        j.Journal.open(str(tmp_path))
    assert info.value.path == path and info.value.offset == second
    assert Path(path).read_bytes() == bytes(data)  # kept as it was


def test_every_flipped_byte_either_changes_nothing_or_is_reported(tmp_path):
    """Flip each byte of a small journal in turn: all records come back, or reading stops
    with JournalDamaged (or JournalError for the magic); never fewer records in silence."""
    path = write(tmp_path, SUBMIT, TASK, TASK)
    whole = Path(path).read_bytes()
    for index in range(len(whole)):
        for flip in (0x01, 0x80, 0xFF):
            data = bytearray(whole)
            data[index] ^= flip
            Path(path).write_bytes(bytes(data))
            try:
                contents = j.read_records(path)
            except j.JournalDamaged as exc:
                assert exc.offset <= index, (index, flip)
                continue
            except j.JournalError:
                assert index < len(j.MAGIC), (index, flip)
                continue
            assert contents.records == [SUBMIT, TASK, TASK], (index, flip)


def test_reopening_cuts_the_torn_tail_so_new_records_follow_the_good_ones(tmp_path):
    """After a torn tail, the next record appended is read back right after the good ones."""
    path = write(tmp_path, SUBMIT)
    whole = unsynced(path, TASK)
    Path(path).write_bytes(whole[:-5])
    journal, contents = j.Journal.open(str(tmp_path))
    assert contents.torn and contents.records == [SUBMIT]
    journal.append(TASK)
    journal.sync()
    journal.close()
    again = j.read_records(path)
    assert again.records == [SUBMIT, TASK] and not again.torn


def test_a_journal_of_an_older_format_is_refused_saying_what_to_do(tmp_path):
    """Formats 1 and 2 recorded each map output's partition byte ranges, which this version
    no longer reads: the journal is refused with what to do, and left as it is."""
    path = tmp_path / j.FILE_NAME
    for magic, version in j.OLDER.items():
        old = magic + j.encode(SUBMIT) + j.encode(TASK) + j.SYNC_MARK
        path.write_bytes(old)
        with pytest.raises(j.OlderJournal, match=f"journal format {version}; this one reads "
                                                 "format 3") as info:
            j.Journal.open(str(tmp_path))
        assert "move the file away" in str(info.value)
        assert path.read_bytes() == old


def test_move_aside_keeps_the_damaged_file_under_a_new_name(tmp_path):
    """A damaged journal moved aside is kept, byte for byte, and the state folder is free."""
    path = write(tmp_path, SUBMIT)
    before = Path(path).read_bytes()
    moved = j.move_aside(path)
    assert not os.path.exists(path) and Path(moved).read_bytes() == before
    assert os.path.basename(moved).startswith("journal.damaged-")


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
