"""The coordinator's journal: job submissions and task commits, durable across kill -9.

An append-only file, ``STATE_DIR/journal``, that starts with a 5-byte magic
(``b"MMRJ"`` and a format version) followed by records::

    [length: 4 bytes][crc32 of payload: 4 bytes][payload: length bytes]
    payload = [json length: 4 bytes][JSON object][blob: the rest, often empty]

All integers are big endian. The JSON object holds plain data (``type`` says which
record it is); the blob carries opaque bytes (a job's pickled plan, which the
coordinator stores but never unpickles).

Writes go through :meth:`Journal.append` and become durable at :meth:`Journal.sync`,
which appends a *sync mark* (a fixed record of the journal's own) and then calls ``fsync``:
the coordinator syncs before it lets anyone see the effect of what it wrote, so every
record anyone was told about lies before a sync mark.

That is what tells a torn write from damage. A crash can tear only what was appended
after the last sync mark; :func:`read_records` reads records up to the first one that is
not whole (its length runs past the end of the file, or its CRC or JSON is bad) and then
looks for a sync mark after it:

- none: the damage is a torn tail, never acknowledged. The records before it are good,
  and :meth:`Journal.open` cuts the tail off so new records follow them;
- one: records that were acknowledged are damaged (a flipped byte on disk, a bad
  block, an edit). :class:`JournalDamaged` is raised, naming the file and the byte
  offset; the file is left as it is. Nothing is dropped silently.

This module only does file I/O: what the records mean is the coordinator's business
(``entries.py`` types them, ``coordinator.py`` replays them as scheduler events).
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from dataclasses import dataclass, field

#: format 3: a map's output is recorded as its partition count and size (2 and 1 held each
#: partition's byte range; 1 had no sync marks)
MAGIC = b"MMRJ\x03"
#: the magics of the formats before, refused with what to do (:class:`OlderJournal`)
OLDER = {b"MMRJ\x01": 1, b"MMRJ\x02": 2}
FILE_NAME = "journal"
_FRAME = struct.Struct(">II")  # payload length, crc32
_JSON_LENGTH = struct.Struct(">I")
#: a record longer than this is not one (a corrupt length field)
MAX_RECORD = 1 << 31
#: the type of the journal's own sync marks (never returned as a record)
SYNC_TYPE = "sync"


class JournalError(Exception):
    """The file is not a minimr journal (or not one this version reads)."""


class OlderJournal(JournalError):
    """The journal was written by an older minimr, in a format this version does not read."""

    def __init__(self, path: str, version: int) -> None:
        super().__init__(
            f"the journal {path} was written by an older minimr (journal format {version}; "
            f"this one reads format {MAGIC[-1]}), which recorded map outputs in a form this "
            "version no longer reads. Finish its jobs with the minimr that wrote it, or move "
            "the file away to start with no jobs"
        )
        self.path = path
        self.version = version


class JournalDamaged(JournalError):
    """Records that were acknowledged are damaged; the file was left as it is.

    Attributes:
        path: the journal file.
        offset: the byte offset of the first damaged record.
        reason: what is wrong there.
    """

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(
            f"the journal {path} is damaged at byte offset {offset}: {reason}; records "
            "after that point were acknowledged, so this is not a torn last write. The file "
            "was left as it is"
        )
        self.path = path
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True)
class Record:
    """One journal record: plain data (``body["type"]`` names it) and an optional blob.

    ``offset`` is where it was read from (-1 for a record not read from a file).
    """

    body: dict
    blob: bytes = b""
    offset: int = field(default=-1, compare=False)

    @property
    def type(self) -> str:
        """The record's type, e.g. ``"submit"``, ``"task"``, ``"end"``."""
        return str(self.body.get("type", ""))


@dataclass
class Contents:
    """What :func:`read_records` found: the good records, and where they end."""

    records: list[Record] = field(default_factory=list)
    good_bytes: int = 0  # offset just past the last good record (0: not even the magic)
    torn: bool = False  # a torn tail was found (and is to be cut off)
    torn_bytes: int = 0  # how many bytes it held


def encode(record: Record) -> bytes:
    """A record as it is written to the file, frame included."""
    text = json.dumps(record.body, separators=(",", ":")).encode()
    payload = _JSON_LENGTH.pack(len(text)) + text + record.blob
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


#: the sync mark, byte for byte (a record of type SYNC_TYPE)
SYNC_MARK = encode(Record({"type": SYNC_TYPE}))


def _decode(payload: bytes) -> Record | None:
    """The record in a payload whose CRC matched, or None when it does not parse."""
    if len(payload) < _JSON_LENGTH.size:
        return None
    (length,) = _JSON_LENGTH.unpack_from(payload)
    end = _JSON_LENGTH.size + length
    if end > len(payload):
        return None
    try:
        body = json.loads(payload[_JSON_LENGTH.size : end])
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    return Record(body, payload[end:])


def _next_record(data: bytes, offset: int) -> tuple[Record | None, int, str]:
    """The record at ``offset``: ``(record, its end, "")``, or ``(None, offset, why not)``."""
    if len(data) - offset < _FRAME.size:
        return None, offset, f"a record header cut short ({len(data) - offset} bytes)"
    length, crc = _FRAME.unpack_from(data, offset)
    end = offset + _FRAME.size + length
    if length > MAX_RECORD or end > len(data):
        return None, offset, f"a record of {length} bytes runs past the end of the file"
    payload = data[offset + _FRAME.size : end]
    if zlib.crc32(payload) != crc:
        return None, offset, "a record's checksum does not match its bytes"
    record = _decode(payload)
    if record is None:
        return None, offset, "a record's checksum matches but its contents do not parse"
    return Record(record.body, record.blob, offset), end, ""


def read_records(path: str) -> Contents:
    """Read every good record of the journal at ``path`` (a missing file has none).

    Raises:
        JournalError: the file does not start with the journal magic.
        OlderJournal: it starts with the magic of an older format.
        JournalDamaged: a record before the last sync mark is damaged.
    """
    contents = Contents()
    if not os.path.exists(path):
        return contents
    with open(path, "rb") as file:
        data = file.read()
    magic = data[: len(MAGIC)]
    if magic in OLDER:
        raise OlderJournal(path, OLDER[magic])
    if magic != MAGIC:
        if MAGIC.startswith(magic):  # torn while the file was being created
            contents.torn = bool(magic)
            contents.torn_bytes = len(magic)
            return contents
        raise JournalError(f"{path} is not a minimr journal (it starts with {magic[:8]!r})")
    offset = contents.good_bytes = len(MAGIC)
    while offset < len(data):
        record, end, problem = _next_record(data, offset)
        if record is None:
            acknowledged = data.find(SYNC_MARK, offset + 1) != -1
            if acknowledged:
                raise JournalDamaged(path, offset, problem)
            contents.torn = True
            contents.torn_bytes = len(data) - offset
            return contents
        if record.type != SYNC_TYPE:
            contents.records.append(record)
        offset = contents.good_bytes = end
    return contents


def move_aside(path: str) -> str:
    """Rename a damaged journal out of the way (kept for inspection); returns its new path."""
    target = f"{path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    os.replace(path, target)
    _fsync_dir(os.path.dirname(path))
    return target


class Journal:
    """An open journal file, appended to by the coordinator.

    Use :meth:`open` to get one together with the records already in it.
    """

    def __init__(self, path: str, file) -> None:
        self.path = path
        self._file = file

    @classmethod
    def open(cls, state_dir: str) -> tuple[Journal, Contents]:
        """Open (or create) the journal in ``state_dir``; returns it and its good records.

        A torn tail is cut off, so the next record follows the last good one.

        Raises:
            JournalError: the file is not a minimr journal (:class:`OlderJournal`: one of
                an older format).
            JournalDamaged: acknowledged records are damaged (the file is left as it is).
            OSError: the folder cannot be created or written.
        """
        os.makedirs(state_dir, exist_ok=True)
        path = os.path.join(state_dir, FILE_NAME)
        contents = read_records(path)
        created = not os.path.exists(path)
        file = open(path, "r+b" if not created else "w+b")  # noqa: SIM115 - kept open
        if contents.good_bytes < len(MAGIC):
            file.truncate(0)
            file.write(MAGIC)
            contents.good_bytes = len(MAGIC)
        else:
            file.truncate(contents.good_bytes)
        file.seek(contents.good_bytes)
        file.flush()
        os.fsync(file.fileno())
        if created:
            _fsync_dir(state_dir)
        return cls(path, file), contents

    def append(self, record: Record) -> None:
        """Write a record (durable only after :meth:`sync`)."""
        self._file.write(encode(record))

    def sync(self) -> None:
        """Make everything appended so far durable: a sync mark, then flush and fsync."""
        self._file.write(SYNC_MARK)
        self._file.flush()
        os.fsync(self._file.fileno())

    def rewrite(self, records: list[Record]) -> None:
        """Replace the journal by ``records`` atomically (compaction at start-up).

        The new file is written beside the old one, synced, and renamed over it; a crash
        at any point leaves either the old journal or the new one, whole.
        """
        temp = self.path + ".compact"
        with open(temp, "wb") as file:
            file.write(MAGIC)
            for record in records:
                file.write(encode(record))
            file.write(SYNC_MARK)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.path)
        _fsync_dir(os.path.dirname(self.path))
        self._file.close()
        self._file = open(self.path, "r+b")  # noqa: SIM115 - kept open
        self._file.seek(0, os.SEEK_END)

    def close(self, sync: bool = True) -> None:
        """Close the file (with ``sync``, a sync mark is written and fsynced first)."""
        if not self._file.closed:
            if sync:
                self.sync()
            self._file.close()


def _fsync_dir(folder: str) -> None:
    """Make a file's creation or rename in ``folder`` durable."""
    fd = os.open(folder or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
