"""Tests for scripts/gen_corpus.py, run as the command it is."""

from __future__ import annotations

import collections
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gen_corpus.py"
RECORD = re.compile(rb"[!-~]{10}  [0-9A-F]{32}  [A-Z]{53}\n")


def gen(*args: object) -> subprocess.CompletedProcess[str]:
    """Run gen_corpus.py with ``args``; return the finished process."""
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def contents(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def parts(folder: Path) -> list[bytes]:
    """The part files of ``folder``, in order."""
    return [p.read_bytes() for p in sorted(folder.glob("part-*.txt"))]


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 96 KiB text corpus in 3 files, seed 7, written by two processes."""
    out = tmp_path_factory.mktemp("text") / "c"
    done = gen("text", out, "--size", "96KB", "--files", 3, "--seed", 7, "--jobs", 2)
    assert done.returncode == 0, done.stderr
    return out


def test_text_same_arguments_same_bytes(text_dir: Path, tmp_path: Path) -> None:
    """The same arguments give byte-identical files, whatever the number of processes."""
    assert gen("text", tmp_path, "--size", "96KB", "--files", 3, "--seed", 7,
               "--jobs", 1).returncode == 0
    assert contents(tmp_path) == contents(text_dir)


def test_text_size_is_exact(text_dir: Path) -> None:
    """The parts add up to exactly --size bytes and differ in size by at most one byte."""
    sizes = [len(p) for p in parts(text_dir)]
    assert sum(sizes) == 96 * 1024
    assert max(sizes) - min(sizes) <= 1


def test_text_is_ascii_lines_of_words(text_dir: Path) -> None:
    """Text is ASCII, newline-terminated, with lines that start capitalised and hold words."""
    for data in parts(text_dir):
        assert data.isascii() and data.endswith(b"\n")
        lines = data.decode().splitlines()
        assert all(re.search(r"[a-z]", line) for line in lines)
        assert sum(line[:1].isupper() or line[:1] in "\"(" or line[:1].isdigit()
                   for line in lines) == len(lines)


def test_text_words_are_zipf_like(text_dir: Path) -> None:
    """'the' is the most frequent word, and the ten commonest words are over a fifth of all."""
    words = re.findall(r"[a-z]+", b"".join(parts(text_dir)).decode().lower())
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    assert max(counts, key=counts.__getitem__) == "the"
    assert sum(ranked[:10]) > len(words) / 5
    assert len(counts) > 2000


def test_manifest_lists_every_part(text_dir: Path) -> None:
    """_MANIFEST.sha256 holds the sha256 of every part, in `sha256sum -c` format."""
    lines = (text_dir / "_MANIFEST.sha256").read_text().splitlines()
    expected = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
                for p in sorted(text_dir.glob("part-*.txt"))]
    assert lines == expected


def test_minimr_reads_the_parts_alone_as_input(text_dir: Path) -> None:
    """The folder given to `minimr submit --input` is its parts: the manifest's name starts
    with `_`, which minimr skips."""
    from minimr.dataflow.inputs.splits import expand_inputs

    assert [Path(p).name for p in expand_inputs([str(text_dir)])] == [
        "part-00000.txt", "part-00001.txt", "part-00002.txt"]


def test_an_earlier_output_with_the_old_manifest_name_is_replaced(tmp_path: Path) -> None:
    """A folder written before the manifest was renamed is still this script's own output:
    it is replaced, old manifest included."""
    assert gen("sort", tmp_path, "--size", "1000", "--files", 1).returncode == 0
    (tmp_path / "_MANIFEST.sha256").rename(tmp_path / "MANIFEST.sha256")
    done = gen("sort", tmp_path, "--size", "1000", "--files", 1)
    assert done.returncode == 0, done.stderr
    assert sorted(contents(tmp_path)) == ["_MANIFEST.sha256", "part-00000.txt"]


def test_sort_records_are_100_bytes(tmp_path: Path) -> None:
    """Every sort line is 100 bytes: printable key, 2 spaces, hex record number, filler."""
    assert gen("sort", tmp_path, "--size", "64KB", "--files", 2).returncode == 0
    data = b"".join(parts(tmp_path))
    assert len(data) == 64 * 1024 // 100 * 100          # rounded down to whole records
    records = [data[i:i + 100] for i in range(0, len(data), 100)]
    assert all(RECORD.fullmatch(r) for r in records)
    assert [int(r[12:44], 16) for r in records] == list(range(len(records)))
    assert len({r[:10] for r in records}) == len(records)


def test_sort_same_arguments_same_bytes(tmp_path: Path) -> None:
    """Sort records are deterministic too, across process counts, and the seed changes them."""
    for name, seed, jobs in (("a", 4, 1), ("b", 4, 2), ("c", 5, 2)):
        assert gen("sort", tmp_path / name, "--size", "20000", "--files", 3,
                   "--seed", seed, "--jobs", jobs).returncode == 0
    assert contents(tmp_path / "a") == contents(tmp_path / "b")
    assert parts(tmp_path / "a") != parts(tmp_path / "c")


@pytest.mark.parametrize("size", ["12XB", "0", "-5MB", "MB"])
def test_bad_size_is_a_clear_error(tmp_path: Path, size: str) -> None:
    """A malformed size exits with status 2 and says what a size looks like."""
    done = gen("text", tmp_path / "x", f"--size={size}")
    assert done.returncode == 2
    assert "--size" in done.stderr and "256MB" in done.stderr or "positive" in done.stderr


def test_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    """It will not write into a folder holding files it did not make."""
    (tmp_path / "notes.txt").write_text("mine")
    done = gen("sort", tmp_path, "--size", "1000", "--files", 1)
    assert done.returncode != 0 and "notes.txt" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_too_small_for_the_files_is_a_clear_error(tmp_path: Path) -> None:
    """A size that cannot give every file one record fails before writing anything."""
    done = gen("sort", tmp_path / "x", "--size", "1000", "--files", 16)
    assert done.returncode == 2 and "per file" in done.stderr
    assert not (tmp_path / "x").exists()


def test_events_are_json_lines_same_every_time_and_about_the_size(tmp_path: Path) -> None:
    """Events are one JSON object a line with the documented fields, users Zipf-like; the
    same arguments give the same bytes; the parts end short of --size by under a line."""
    first, second = tmp_path / "a", tmp_path / "b"
    for out, jobs in ((first, 1), (second, 2)):
        done = gen("events", out, "--size", "64KB", "--files", 2, "--seed", 3, "--jobs", jobs)
        assert done.returncode == 0, done.stderr
    assert contents(first) == contents(second)
    files = sorted(first.glob("part-*.jsonl"))
    assert [p.name for p in files] == ["part-00000.jsonl", "part-00001.jsonl"]
    events = [json.loads(line) for p in files for line in p.read_text().splitlines()]
    assert all(list(e) == ["ts", "user", "kind", "page", "ms", "tags", "text"] for e in events)
    users = collections.Counter(e["user"] for e in events)
    assert users.most_common(1)[0][0] == "u00000"
    for p in files:
        assert 32 * 1024 - 300 < p.stat().st_size <= 32 * 1024
