"""A map output's partition index on its worker: where each partition's bytes are.

A map task writes one file holding every partition side by side (``dataflow/mapside``) and
says where each one starts in a JSON ``.index`` beside it. The shuffle reads one partition
of a file at a time, so a worker also keeps a binary index (``RANGES``), as Hadoop keeps
``file.out.index``: one fixed-width ``(offset, length)`` record per partition, read with one
``pread``. Neither the coordinator nor a reduce's assignment ever holds these numbers: a
map reports only its partition count and size, and whoever reads a partition (the holder's
shuffle server, or a reducer on the same host) looks its range up here.

A map output's file is named after its job and attempt alone, under its worker's folder
(:func:`output_path`), so a fetcher names a map output by ``(job, attempt)`` and never by a
path.
"""

from __future__ import annotations

import os
import struct

#: the binary index's suffix, beside the map output file
RANGES = ".ranges"
_RANGE = struct.Struct(">QQ")


def output_path(folder: str, job_id: str, attempt: str) -> str:
    """Where attempt ``attempt`` (``s0-m00003-a2``) of a map of job ``job_id`` wrote its
    output under a worker's ``folder`` (the name ``dataflow/tasks.run_map_task`` gives it)."""
    task = attempt.rpartition("-a")[0]
    return os.path.join(folder, job_id, f"map-{task}-{attempt}.out")


def write_ranges(path: str, ranges: list[tuple[int, int]] | tuple) -> None:
    """Write the binary index of the map output at ``path`` (atomically: a reader sees all
    of it or none)."""
    temp = path + RANGES + ".new"
    with open(temp, "wb") as file:
        file.write(b"".join(_RANGE.pack(offset, length) for offset, length in ranges))
    os.replace(temp, path + RANGES)


def read_range(path: str, partition: int) -> tuple[int, int]:
    """``(offset, length)`` of one partition of the map output at ``path``.

    Raises:
        OSError: the output has no index (gone, or never finished).
        ValueError: it has no such partition.
    """
    fd = os.open(path + RANGES, os.O_RDONLY)
    try:
        record = os.pread(fd, _RANGE.size, partition * _RANGE.size)
    finally:
        os.close(fd)
    if len(record) != _RANGE.size:
        raise ValueError(f"{path} has no partition {partition}")
    return _RANGE.unpack(record)
