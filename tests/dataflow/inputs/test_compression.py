"""Codecs: chosen by suffix, layered over a raw file they own, concatenated streams read as
one, and part files compressed to the same bytes by every attempt."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import time

import pytest
import zstandard

from minimr.dataflow.inputs import compression
from minimr.errors import UsageError

COMPRESS = {
    "gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


class Raw(io.BytesIO):
    """A file that remembers it was closed."""

    was_closed = False

    def close(self) -> None:
        self.was_closed = True
        super().close()


@pytest.mark.parametrize("name, codec", [
    ("a.gz", "gzip"), ("a.txt.bz2", "bz2"), ("a.xz", "xz"), ("s3://b/a.zst", "zstd"),
    ("a.txt", None), ("a.gzip", None), ("a.zstd", None),
])
def test_the_suffix_names_the_codec(name, codec):
    """Only .gz, .bz2, .xz and .zst are compressed inputs."""
    assert compression.codec_of(name) == codec
    assert compression.is_compressed(name) is (codec is not None)


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_concatenated_streams_read_as_one_with_lines(codec):
    """Two compressed streams one after the other (cat a.gz b.gz) read as their joined
    text, line by line, and closing the stream closes the raw file."""
    raw = Raw(COMPRESS[codec](b"one\ntwo\n") + COMPRESS[codec](b"three\n"))
    with compression.open_decompressed(raw, codec) as stream:
        assert stream.readline() == b"one\n"
        assert list(stream) == [b"two\n", b"three\n"]
    assert raw.was_closed


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_parts_compress_to_the_same_bytes_every_time(codec, monkeypatch):
    """A part written twice (two attempts, at two paths and times) is byte-identical, and
    decompresses to what was written."""
    outputs = []
    for attempt in range(2):
        monkeypatch.setattr(time, "time", lambda attempt=attempt: 1e9 + 1000 * attempt)
        raw = Raw()
        raw.name = f"/out/_temporary/attempts/a{attempt}/part-00000.gz"
        raw.close = lambda raw=raw: None  # keep the bytes readable after the stream closes
        with compression.open_compressing(raw, codec) as stream:
            stream.write(b"whale\t1\n" * 1000)
        outputs.append(raw.getvalue())
    assert outputs[0] == outputs[1]
    with compression.open_decompressed(io.BytesIO(outputs[0]), codec) as stream:
        assert stream.read() == b"whale\t1\n" * 1000


def test_only_gzip_and_zstd_write_parts():
    """--compress takes gzip, zstd or nothing."""
    assert compression.check_write_codec(None) is None
    assert compression.check_write_codec("zstd") == "zstd"
    with pytest.raises(UsageError, match="gzip"):
        compression.check_write_codec("bz2")
