"""The shuffle without a shared filesystem: workers serve map outputs, reducers fetch them.

Two sides, a module each, and this one for what they agree on (chunk sizes, queue bounds, the
codec): ``shuffleserver.py``, the worker's server; ``fetch.py``, a reduce attempt's fetch.

Each worker runs a ``ShuffleServer`` (``shuffleserver.py``; its own ROUTER socket, in a
thread of the worker process, so user code never blocks it) that answers ``FetchChunk`` requests
with the bytes of one partition of one of its map outputs, named by job and attempt (the
partition's byte range is in the output's index, ``partindex.py``), and nothing else. Its
address travels in the worker's registration; the scheduler puts it in the table of map
output holders that every reduce of a step gets (``protocol.ReduceInputs``).

A reduce attempt calls ``gather_segments`` (``fetch.py``) before reducing:

- a map output on the same host whose file exists is read in place (no copy), its
  partition's byte range read from the output's index;
- the others are fetched chunk by chunk (``CHUNK_SIZE``; the first chunk's reply says how
  long the partition is, an empty one ends there), with up to ``WINDOW``
  chunks in flight across all servers at once, each written straight to a local
  file. Memory stays at ``WINDOW x CHUNK_SIZE`` whatever the segment sizes (the
  credit-based flow control of the ZeroMQ Guide's file-transfer example);
- with ``zstandard`` installed on both sides (``pip install 'minimr[zstd]'``) chunks travel
  compressed with zstd level 1: 1.3 GB/s to compress, 1.7 GB/s to decompress and about 7x
  smaller on a sort's map output, so it pays on any network slower than about 5 Gbit/s. A
  fetcher asks for it (``MINIMR_SHUFFLE_CODEC=none`` in its environment says not to); a
  server that cannot compress answers with the bytes as they are;
- a server that answers nothing for ``FETCH_TIMEOUT`` seconds, or reports an error,
  makes the fetch raise ``FetchError`` naming the map outputs it could not get;
  the worker reports them lost and the coordinator runs those maps again.

Whatever peers ask, a server's memory stays bounded: a request is at most ``MAX_REQUEST``
bytes, asks for at most ``CHUNK_SIZE`` (more is refused), and at most ``SERVER_QUEUE``
replies wait per connection; past that a reply is dropped, not queued (1,000 unread 1 MiB
requests took a worker to 1 GiB before). An honest fetcher never has that many in flight,
and asks again for a reply that does not come (``fetch._Fetch``).

With keys, a shuffle server speaks CURVE with its worker's key pair and admits worker
keys only (checked at the handshake and again on every request, so a revoked key stops
at once); a reducer connects with its own worker's key pair and the serving worker's
public key, which came with the assignment.
"""

from __future__ import annotations

import os

from minimr.cluster.wire import protocol as p

CHUNK_SIZE = 1 << 20
WINDOW = 16
try:
    import zstandard
except ImportError:  # optional: chunks then travel as they are
    zstandard = None
#: the codec this process asks shuffle servers for ("" for none)
CODEC = "zstd" if zstandard and os.environ.get("MINIMR_SHUFFLE_CODEC") != "none" else ""
FETCH_TIMEOUT = 10.0
#: a fetch request is small; anything bigger is not one
MAX_REQUEST = 64 * 1024
#: replies (and requests) a server queues per connection; past it, a reply is dropped. One
#: peer that asks and never reads can make a server hold this many chunks at most; an
#: honest fetcher has at most ``WINDOW`` in flight, so it never reaches it
SERVER_QUEUE = 2 * WINDOW
#: the largest chunk message a fetcher takes (a zstd frame of a chunk is barely larger)
MAX_CHUNK_MESSAGE = 2 * CHUNK_SIZE
#: seconds of silence from a server after which a fetcher asks again for what it owes
RESEND_AFTER = 2.0
#: times a fetcher asks for one chunk before it counts as lost
MAX_SENDS = 3


def encoded(data: bytes, codec: str) -> tuple[bytes, str]:
    """``data`` as a server sends it to a fetcher that asked for ``codec``, and the codec
    used: zstd level 1 when asked for and installed, else the bytes as they are."""
    if codec == "zstd" and zstandard is not None:
        # the frame starts with the content size: decoded() checks it before decompressing
        return zstandard.ZstdCompressor(level=1).compress(data), "zstd"
    return data, ""


def decoded(chunk: p.Chunk, length: int) -> bytes | None:
    """A chunk's bytes as they were on disk; None unless they are ``length`` bytes."""
    if chunk.codec == "":
        data = chunk.data
    elif chunk.codec == "zstd" and zstandard is not None:
        try:  # the frame says its size first: nothing larger is ever made
            if zstandard.frame_content_size(chunk.data) != length:
                return None
            data = zstandard.ZstdDecompressor().decompress(chunk.data)
        except zstandard.ZstdError:
            return None
    else:
        return None
    return data if len(data) == length else None
