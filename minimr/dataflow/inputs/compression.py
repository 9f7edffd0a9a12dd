"""Compressed files: which codec a name asks for, and streams that (de)compress as they go.

Inputs are decompressed by their suffix: ``.gz`` (gzip), ``.bz2`` (bz2), ``.xz`` (xz, the
standard library's lzma) and ``.zst`` (zstd, through the optional ``zstandard`` package:
``pip install 'minimr[zstd]'``). A compressed file cannot be entered in the middle, so it is
one split, read whole by one map task. Part files may be written compressed with gzip or zstd
(``--compress``), named ``part-00000.gz`` / ``part-00000.zst``.

The codec is layered over the raw file ``storage`` opens, local or remote alike, and owns it:
closing the stream closes both. Several gzip members, bz2 or xz streams, or zstd frames one
after the other (what ``cat a.gz b.gz`` or ``pzstd`` makes) read as one stream.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from typing import Any, BinaryIO

from minimr.errors import StorageUnavailable, UsageError

#: the codec of each compressed suffix
SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
#: the codecs part files may be written with, and the suffix each gives the part
WRITE_SUFFIXES = {"gzip": ".gz", "zstd": ".zst"}
#: gzip's level for part files: zlib's own default, about 3x faster to write than level 9
#: for a few percent more bytes (Hadoop's GzipCodec uses it too)
GZIP_LEVEL = 6
#: zstd's level for part files: its default
ZSTD_LEVEL = 3


def codec_of(path: str) -> str | None:
    """The codec a file's name asks for (``"gzip"``, ``"bz2"``, ``"xz"``, ``"zstd"``), or None."""
    for suffix, codec in SUFFIXES.items():
        if path.endswith(suffix):
            return codec
    return None


def is_compressed(path: str) -> bool:
    """True when ``path`` names a compressed file (read whole, as one split)."""
    return codec_of(path) is not None


def check_write_codec(codec: str | None) -> str | None:
    """``codec`` if part files can be written with it (None: uncompressed).

    Raises:
        UsageError: a codec other than gzip or zstd.
        StorageUnavailable: zstd, and the ``zstandard`` package is missing.
    """
    if codec is None:
        return None
    if codec not in WRITE_SUFFIXES:
        raise UsageError(f"compress must be one of {', '.join(map(repr, WRITE_SUFFIXES))} or"
                         f" None (got {codec!r})")
    if codec == "zstd":
        _zstandard()
    return codec


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise StorageUnavailable("zstd needs the zstandard package: pip install 'minimr[zstd]'"
                                 ) from None
    return zstandard


def open_decompressed(raw: BinaryIO, codec: str | None) -> BinaryIO:
    """A stream of the decompressed bytes of ``raw`` (itself when ``codec`` is None).

    The stream supports ``read``, ``readline`` and iteration over lines; closing it closes
    ``raw``.
    """
    if codec is None:
        return raw
    try:
        if codec == "gzip":
            stream: Any = gzip.GzipFile(fileobj=raw, mode="rb")
        elif codec == "bz2":
            stream = bz2.BZ2File(raw, mode="rb")
        elif codec == "xz":
            stream = lzma.LZMAFile(raw, mode="rb")
        elif codec == "zstd":
            reader = _zstandard().ZstdDecompressor().stream_reader(
                raw, read_across_frames=True, closefd=False)
            stream = io.BufferedReader(reader)  # readline: the bare reader has none
        else:
            raise UsageError(f"unknown compression {codec!r}")
    except BaseException:
        raw.close()
        raise
    return _Layered(stream, raw)  # type: ignore[return-value]


def open_compressing(raw: BinaryIO, codec: str | None) -> BinaryIO:
    """A stream that writes ``codec``-compressed bytes to ``raw`` (itself when None).

    The bytes depend only on what is written: no file name or time goes into a gzip
    header, so every attempt of a task writes the same part. Closing the stream ends the
    compressed data and closes ``raw``.
    """
    if codec is None:
        return raw
    try:
        if codec == "gzip":
            stream: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                        compresslevel=GZIP_LEVEL)
        elif codec == "zstd":
            stream = _zstandard().ZstdCompressor(level=ZSTD_LEVEL).stream_writer(
                raw, closefd=False)
        else:
            raise UsageError(f"part files cannot be written with {codec!r}")
    except BaseException:
        raw.close()
        raise
    return _Layered(stream, raw)  # type: ignore[return-value]


class _Layered(io.BufferedIOBase):
    """A codec stream over the raw file it owns: closing it closes the codec, then the file."""

    def __init__(self, stream: Any, raw: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self._raw = raw

    def readable(self) -> bool:
        return self._stream.readable()

    def writable(self) -> bool:
        return self._stream.writable()

    def read(self, size: int | None = -1) -> bytes:
        return self._stream.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def readinto(self, buffer: Any) -> int:
        return self._stream.readinto(buffer)

    def readline(self, size: int | None = -1) -> bytes:
        return self._stream.readline(-1 if size is None else size)

    def write(self, data: Any) -> int:
        return self._stream.write(data)

    def flush(self) -> None:
        if not self._stream.closed:  # IOBase.close flushes once more, after ours
            self._stream.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._stream.close()
        finally:
            try:
                self._raw.close()
            finally:
                super().close()
