"""Shared fixtures: small job files and inputs written into a test's tmp_path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

WORDCOUNT = """
import re
from minimr import Job

WORD = re.compile(r"[a-z]+")

class WordCount(Job):
    def map(self, key, line):
        for word in WORD.findall(line.lower()):
            yield word, 1

    def combine(self, word, counts):
        yield word, sum(counts)

    def reduce(self, word, counts):
        yield word, sum(counts)
"""


def write_file(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def wordcount_job(tmp_path: Path) -> Path:
    """A word-count job file."""
    return write_file(tmp_path / "jobsrc" / "wc.py", WORDCOUNT)


@pytest.fixture
def text_input(tmp_path: Path) -> Path:
    """A folder of three small text files."""
    folder = tmp_path / "input"
    words = ["apple", "banana", "cherry", "date", "elder", "fig", "grape"]
    for f in range(3):
        lines = [" ".join(words[(f + i + j) % len(words)] for j in range(i % 5 + 1))
                 for i in range(200)]
        write_file(folder / f"f{f}.txt", "\n".join(lines) + "\n")
    return folder


def pipe_identities(*fds: int) -> set[tuple[int, int, int]]:
    """Each descriptor with the file it names now (device, inode): a pipe's inode is its
    own, so a number later reused by another pipe or file no longer matches."""
    identities = set()
    for fd in fds:
        info = os.fstat(fd)
        identities.add((fd, info.st_dev, info.st_ino))
    return identities


def still_open(identities: set[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    """Those of ``identities`` whose descriptor still names the same file. Unlike counting
    /proc/self/fd, other threads opening or closing files meanwhile (a loaded run's
    leftovers of earlier tests, garbage collected at any time) cannot make it wrong."""
    alive = set()
    for fd, device, inode in identities:
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (device, inode):
            alive.add((fd, device, inode))
    return alive
