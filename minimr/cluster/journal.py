"""The coordinator's journal: job submissions and task commits, durable across kill -9.

An append-only file, ``STATE_DIR/journal``, that starts with a 5-byte magic
(``b"MMRJ"`` and a format version) followed by records::

    [length: 4 bytes][crc32 of payload: 4 bytes][payload: length bytes]
    payload = [json length: 4 bytes][JSON object][blob: the rest, often empty]

All integers are big endian. The JSON object holds plain data (``type`` says which
record it is); the blob carries opaque bytes (a job's pickled plan, which the
coordinator stores but never unpickles).

Writes go through :meth:`Journal.append` and become durable at :meth:`Journal.sync`
(``fsync``): the coordinator syncs before it lets anyone see the effect of what it
wrote. A crash can tear only the last record (a short header, a short payload, or a
payload whose CRC does not match); :func:`read_records` stops there and reports how
many bytes were good, and :meth:`Journal.open` cuts the torn tail off so new records
follow the last good one. Anything after a torn record is dropped with it: records
are written one after another, so nothing valid can follow a torn one.

This module only does file I/O: what the records mean is the coordinator's business
(see ``coordinator.py``), and replaying them is feeding the scheduler events.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field

MAGIC = b"MMRJ\x01"
FILE_NAME = "journal"
_FRAME = struct.Struct(">II")  # payload length, crc32
_JSON_LENGTH = struct.Struct(">I")
#: a record longer than this is not one (a corrupt length field): stop reading
MAX_RECORD = 1 << 31


class JournalError(Exception):
    """The file is not a minimr journal (or not one this version reads)."""


@dataclass(frozen=True)
class Record:
    """One journal record: plain data (``body["type"]`` names it) and an optional blob."""

    body: dict
    blob: bytes = b""

    @property
    def type(self) -> str:
        """The record's type, e.g. ``"submit"``, ``"task"``, ``"end"``."""
        return str(self.body.get("type", ""))


@dataclass
class Contents:
    """What :func:`read_records` found: the good records, and where they end."""

    records: list[Record] = field(default_factory=list)
    good_bytes: int = 0  # offset just past the last good record (0: not even the magic)
    torn: bool = False  # a torn or corrupt tail was found (and is to be ignored)


def encode(record: Record) -> bytes:
    """A record as it is written to the file, frame included."""
    text = json.dumps(record.body, separators=(",", ":")).encode()
    payload = _JSON_LENGTH.pack(len(text)) + text + record.blob
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


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
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    return Record(body, payload[end:])


def read_records(path: str) -> Contents:
    """Read every good record of the journal at ``path`` (a missing file has none).

    Raises:
        JournalError: the file does not start with the journal magic.
    """
    contents = Contents()
    if not os.path.exists(path):
        return contents
    with open(path, "rb") as file:
        magic = file.read(len(MAGIC))
        if magic != MAGIC:
            if MAGIC.startswith(magic):  # torn while the file was being created
                contents.torn = bool(magic)
                return contents
            raise JournalError(f"{path} is not a minimr journal (it starts with {magic[:8]!r})")
        contents.good_bytes = len(MAGIC)
        while True:
            frame = file.read(_FRAME.size)
            if not frame:
                return contents
            if len(frame) < _FRAME.size:
                contents.torn = True
                return contents
            length, crc = _FRAME.unpack(frame)
            payload = file.read(length) if length <= MAX_RECORD else b""
            if len(payload) != length or zlib.crc32(payload) != crc:
                contents.torn = True
                return contents
            record = _decode(payload)
            if record is None:
                contents.torn = True
                return contents
            contents.records.append(record)
            contents.good_bytes += _FRAME.size + length


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
            JournalError: the file is not a minimr journal.
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
        """Make everything appended so far durable (flush and fsync)."""
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
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.path)
        _fsync_dir(os.path.dirname(self.path))
        self._file.close()
        self._file = open(self.path, "r+b")  # noqa: SIM115 - kept open
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        """Close the file (everything appended is synced first)."""
        if not self._file.closed:
            self.sync()
            self._file.close()


def _fsync_dir(folder: str) -> None:
    """Make a file's creation or rename in ``folder`` durable."""
    fd = os.open(folder or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
