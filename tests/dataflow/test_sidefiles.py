"""minimr/dataflow/sidefiles.py: side files checked and hashed at submit, small ones in the
plan, fetched once per worker into a cache by content hash."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path

import pytest

from minimr.dataflow import sidefiles
from minimr.dataflow.sidefiles import FileCache, InlineFile, StoredFile, collect, materialize
from minimr.errors import InputError, UsageError


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_small_files_travel_inline_and_large_ones_stored(tmp_path, monkeypatch):
    """Up to INLINE_LIMIT each and INLINE_TOTAL in all in the plan; the rest by path."""
    monkeypatch.setattr(sidefiles, "INLINE_LIMIT", 10)
    monkeypatch.setattr(sidefiles, "INLINE_TOTAL", 15)
    small = write(tmp_path / "small.txt", b"12345678")
    big = write(tmp_path / "big.txt", b"x" * 11)
    second = write(tmp_path / "second.txt", b"12345678")  # past the total: stored
    found = collect([small, big, second])
    assert found[0] == InlineFile("small.txt", hashlib.sha256(b"12345678").hexdigest(),
                                  b"12345678")
    assert found[1] == StoredFile("big.txt", hashlib.sha256(b"x" * 11).hexdigest(), big)
    assert isinstance(found[2], StoredFile)


def test_a_missing_file_or_an_empty_folder_is_an_input_error(tmp_path):
    """The message names the path as the user gave it."""
    with pytest.raises(InputError, match="side file 'nope.txt' does not exist"):
        collect(["nope.txt"])
    write(tmp_path / "empty" / "_SUCCESS", b"")
    with pytest.raises(InputError, match=f"side folder {str(tmp_path / 'empty')!r} holds no"):
        collect([str(tmp_path / "empty")])


def test_a_folder_ships_its_files_under_its_name(tmp_path, monkeypatch):
    """A folder (a table of part files) ships every file under it but names starting with _
    or ., each named folder/relative path; past INLINE_TOTAL they are stored; a file of the
    folder's name elsewhere is refused."""
    monkeypatch.setattr(sidefiles, "INLINE_TOTAL", 3)
    write(tmp_path / "users" / "part-1", b"B")
    write(tmp_path / "users" / "part-0", b"AA")
    write(tmp_path / "users" / "deep" / "part-2", b"C")
    write(tmp_path / "users" / "_SUCCESS", b"")
    write(tmp_path / "users" / ".part-0.crc", b"x")
    found = collect([str(tmp_path / "users"), str(tmp_path / "users")])
    assert [f.name for f in found] == ["users/part-0", "users/part-1", "users/deep/part-2"]
    assert [type(f) for f in found] == [InlineFile, InlineFile, StoredFile]
    with pytest.raises(UsageError, match="same name 'users'"):
        collect([str(tmp_path / "users"), write(tmp_path / "other" / "users", b"x")])


def test_two_files_of_one_name_are_refused_and_one_file_twice_ships_once(tmp_path):
    """Tasks open files by base name: two different ones of a name cannot both be there."""
    a = write(tmp_path / "a" / "stop.txt", b"a")
    b = write(tmp_path / "b" / "stop.txt", b"b")
    with pytest.raises(UsageError, match="have the same name 'stop.txt'"):
        collect([a, b])
    assert len(collect([a, a])) == 1


def test_the_cache_fetches_a_file_once(tmp_path):
    """A second get, by this or another FileCache on the folder, finds the first copy."""
    source = write(tmp_path / "big.txt", b"data")
    side = collect([source])[0]
    first = FileCache(str(tmp_path / "cache"))
    path = first.get(side)
    assert Path(path).read_bytes() == b"data" and first.fetched == 1
    assert first.get(side) == path and first.fetched == 1
    second = FileCache(str(tmp_path / "cache"))
    assert second.get(side) == path and second.fetched == 0
    assert os.stat(path).st_mode & 0o222 == 0  # no task can change it for the ones after


def _fetch_count(root: str, side: StoredFile, results) -> None:
    cache = FileCache(root)
    cache.get(side)
    results.put(cache.fetched)


def test_processes_asking_at_once_fetch_once(tmp_path):
    """Executors of one worker that need a file together: one fetches, the others wait."""
    source = write(tmp_path / "big.txt", os.urandom(1 << 20))
    side = StoredFile("big.txt", collect([source])[0].digest, source)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_fetch_count, args=(str(tmp_path / "c"), side, results))
               for _ in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(30)
    assert sorted(results.get(timeout=5) for _ in workers) == [0, 0, 0, 1]


def test_a_file_changed_since_submit_is_refused(tmp_path):
    """A stored file whose contents no longer hash as at submit fails its fetch."""
    source = write(tmp_path / "stop.txt", b"the\n")
    side = StoredFile("stop.txt", collect([source])[0].digest, source)
    Path(source).write_bytes(b"the a\n")
    with pytest.raises(InputError, match="changed after the job was submitted"):
        FileCache(str(tmp_path / "cache")).get(side)
    assert os.listdir(tmp_path / "cache") == [side.digest + ".lock"]  # no partial copy


def test_materialize_puts_files_under_their_names(tmp_path):
    """A job folder gets each file by base name, again without harm."""
    files = collect([write(tmp_path / "a.txt", b"A"), write(tmp_path / "sub" / "b.txt", b"B")])
    cache = FileCache(str(tmp_path / "cache"))
    folder = tmp_path / "job" / "files"
    materialize(files, cache, str(folder))
    materialize(files, cache, str(folder))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {"a.txt": b"A", "b.txt": b"B"}
    assert cache.fetched == 2


def test_materialize_puts_a_folders_files_in_a_folder_of_its_name(tmp_path):
    """A side folder's files land in a folder of its name, nested as they were."""
    write(tmp_path / "users" / "part-0", b"A")
    write(tmp_path / "users" / "deep" / "part-1", b"B")
    folder = tmp_path / "job" / "files"
    materialize(collect([str(tmp_path / "users")]), FileCache(str(tmp_path / "cache")),
                str(folder))
    assert (folder / "users" / "part-0").read_bytes() == b"A"
    assert (folder / "users" / "deep" / "part-1").read_bytes() == b"B"


def test_stage_copies_local_stored_files_under_the_folder(tmp_path, monkeypatch):
    """For a running cluster: local stored files are copied where workers reach them."""
    monkeypatch.setattr(sidefiles, "INLINE_LIMIT", 0)
    files = collect([write(tmp_path / "big.txt", b"data")])
    staged = sidefiles.stage(files, str(tmp_path / "out" / "_temporary" / "files"))
    assert staged[0].path.startswith(str(tmp_path / "out" / "_temporary" / "files"))
    assert Path(staged[0].path).read_bytes() == b"data"
    assert staged[0].digest == files[0].digest and staged[0].name == "big.txt"
