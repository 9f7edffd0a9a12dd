"""``storage``: local paths and fsspec URLs behind one seam, exercised through memory://.

memory:// is fsspec's in-process file system: it stands in for remote storage wherever one
process is enough (the inline runner). The real S3 server and real worker processes are in
``tests/e2e/test_s3.py``.
"""

from __future__ import annotations

import gzip
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

import minimr
from minimr.dataflow import storage
from minimr.dataflow.format import output as out
from minimr.dataflow.inputs.records import read_text
from minimr.dataflow.inputs.splits import expand_inputs, plan_splits
from minimr.errors import InputError, StorageUnavailable, UnsafeOutputError, UsageError
from tests.conftest import WORDCOUNT

fsspec_registry = pytest.importorskip(
    "fsspec.registry", reason="remote storage needs fsspec (the test extra)"
)
known_implementations = fsspec_registry.known_implementations

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "héllo"]


@pytest.fixture
def memory():
    """A fresh memory:// folder (its URL), removed afterwards."""
    name = f"minimr-test-{secrets.token_hex(4)}"
    yield f"memory://{name}"
    storage.remove_tree(f"memory://{name}")


def put(url: str, data: bytes) -> None:
    """Store ``data`` at a memory:// URL."""
    with storage.open_write(url) as f:
        f.write(data)


def text(lines: int, seed: int = 0) -> bytes:
    """Lines of varied length (some empty, some \\r\\n, some non-ASCII), no final newline."""
    rows = [" ".join(WORDS[(seed + i + j) % len(WORDS)] for j in range(i % 7))
            for i in range(lines)]
    body = "\n".join(row + ("\r" if i % 11 == 3 else "") for i, row in enumerate(rows))
    return body.encode()


@pytest.fixture
def job(tmp_path: Path) -> str:
    """A word-count job file."""
    path = tmp_path / "wc.py"
    path.write_text(WORDCOUNT)
    return str(path)


def local_and_memory_inputs(tmp_path: Path, memory: str) -> tuple[Path, str]:
    """The same three text files (one gzipped) in a local folder and under memory://."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        data = text(400, seed=i)
        name = f"f{i}.txt"
        if i == 2:
            data, name = gzip.compress(data, mtime=0), name + ".gz"
        (folder / name).write_bytes(data)
        put(f"{memory}/in/{name}", data)
    put(f"{memory}/in/_SUCCESS", b"")  # bookkeeping names are not input
    put(f"{memory}/in/.hidden/x.txt", b"not input\n")
    return folder, f"{memory}/in"


def test_wordcount_through_memory_urls_equals_the_local_run(tmp_path, memory, job):
    """Inputs and output on memory:// give the local run's exact part bytes and a _SUCCESS."""
    local_in, remote_in = local_and_memory_inputs(tmp_path, memory)
    options = {"reducers": 3, "split_size": "2KB", "runner": "inline"}
    local = minimr.run(job, inputs=str(local_in), output=str(tmp_path / "out"), **options)
    remote = minimr.run(job, inputs=remote_in, output=f"{memory}/out", **options)
    assert remote.output == f"{memory}/out"
    names = sorted(storage.listdir(remote.output))
    assert names == ["_SUCCESS", "part-00000", "part-00001", "part-00002"]
    for name in names:
        with storage.open_read(storage.join(remote.output, name)) as f:
            assert f.read() == (tmp_path / "out" / name).read_bytes()
    assert sorted(remote.records()) == sorted(local.records())
    assert remote.counters == local.counters


def test_formatted_compressed_output_on_a_url_equals_the_local_run(tmp_path, memory, job):
    """A zstd input and zstd jsonl parts on memory:// give the local run's bytes, and
    read_output reads them back from the URL by what _SUCCESS says."""
    zstandard = pytest.importorskip("zstandard")
    data = zstandard.ZstdCompressor().compress(text(300).replace(b"\r", b""))
    (tmp_path / "in.txt.zst").write_bytes(data)
    put(f"{memory}/in.txt.zst", data)
    options = {"reducers": 2, "runner": "inline", "output_format": "jsonl", "compress": "zstd"}
    local = minimr.run(job, inputs=str(tmp_path / "in.txt.zst"), output=str(tmp_path / "out"),
                       **options)
    remote = minimr.run(job, inputs=f"{memory}/in.txt.zst", output=f"{memory}/out", **options)
    names = sorted(storage.listdir(remote.output))
    assert names == ["_SUCCESS", "part-00000.zst", "part-00001.zst"]
    for name in names:
        with storage.open_read(storage.join(remote.output, name)) as f:
            assert f.read() == (tmp_path / "out" / name).read_bytes()
    assert sorted(minimr.read_output(remote.output)) == sorted(local.records())
    assert dict(local.records())["apple"] > 0


def test_a_multi_step_job_keeps_its_intermediate_output_on_the_url(tmp_path, memory):
    """A two-step job reads step 0's output from OUTPUT/_temporary on memory:// and cleans up."""
    local_in, remote_in = local_and_memory_inputs(tmp_path, memory)
    job = str(ROOT / "jobs" / "top_words.py")
    local = minimr.run(job, inputs=str(local_in), output=str(tmp_path / "out"), runner="inline")
    remote = minimr.run(job, inputs=remote_in, output=f"{memory}/out", runner="inline")
    assert list(remote.records()) == list(local.records())
    assert not storage.exists(f"{memory}/out/{out.TEMPORARY}")


@pytest.mark.parametrize("patterns", [["*/*.txt"], ["**/*.txt"], ["[ab]", "a/1.txt"], ["c"]])
def test_url_globs_expand_as_local_globs_do(tmp_path, memory, patterns):
    """Globs on URLs (``*``, ``**``, ``[ab]``) and folders expand to the files a local tree
    gives: a folder's names starting with ``_`` are skipped, an explicit match is kept."""
    for name in ["a/1.txt", "a/2.log", "b/3.txt", "b/_skip.txt", "c/d/4.txt", "c/_tmp/5.txt"]:
        put(f"{memory}/{name}", b"x\n")
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x\n")
    remote = expand_inputs([f"{memory}/{p}" for p in patterns])
    local = expand_inputs([str(tmp_path / p) for p in patterns])
    assert [f[len(memory):] for f in remote] == [f[len(str(tmp_path)):] for f in local]
    assert remote


@pytest.mark.parametrize("split_size", [1, 5, 64, 1000, 10**6])
def test_splits_of_a_remote_file_read_every_line_exactly_once(tmp_path, memory, split_size):
    """Byte-range splits of a memory:// file yield the local file's lines and offsets, once."""
    data = text(300)
    (tmp_path / "f.txt").write_bytes(data)
    put(f"{memory}/f.txt", data)
    expected = [(offset, line) for (_, offset), line
                in read_text(plan_splits([str(tmp_path / "f.txt")], 10**9)[0])]
    splits = plan_splits([f"{memory}/f.txt"], split_size)
    assert len(splits) == -(-len(data) // split_size)
    got = [(key, line) for split in splits for key, line in read_text(split)]
    assert [(offset, line) for (_, offset), line in got] == expected
    assert {path for (path, _), _ in got} == {f"{memory}/f.txt"}


def test_a_missing_url_input_is_an_input_error(memory):
    """An input URL with nothing there, or a URL glob matching nothing, is an InputError."""
    with pytest.raises(InputError, match=f"input path '{memory}/nope.txt' does not exist"):
        expand_inputs([f"{memory}/nope.txt"])
    with pytest.raises(InputError, match="matches no file"):
        expand_inputs([f"{memory}/*.csv"])


def test_an_unknown_protocol_is_a_clear_error():
    """A URL of a protocol fsspec does not know fails before any task, naming the protocol."""
    with pytest.raises(StorageUnavailable, match="unknown storage protocol 'nosuchfs'"):
        minimr.run(str(ROOT / "jobs" / "wordcount.py"), inputs="nosuchfs://bucket/in",
                   output="nosuchfs://bucket/out", runner="inline")


def test_a_missing_protocol_package_names_the_pip_extra(monkeypatch, tmp_path):
    """A URL whose package is not installed fails before any task and names what to install."""
    monkeypatch.setitem(
        known_implementations, "fakestore",
        {"class": "minimr_no_such_package.FakeFS", "err": "Install minimr-no-such-package"},
    )
    with pytest.raises(StorageUnavailable, match=r"pip install 'minimr\[remote\]'"):
        expand_inputs(["fakestore://bucket/in"])
    (tmp_path / "in.txt").write_text("a b\n")
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if s3fs were not installed
    monkeypatch.delitem(fsspec_registry._registry, "s3", raising=False)
    with pytest.raises(StorageUnavailable, match=r"pip install 'minimr\[s3\]'"):
        minimr.run(str(ROOT / "jobs" / "wordcount.py"), inputs=str(tmp_path / "in.txt"),
                   output="s3://bucket/out", runner="inline")
    assert not (tmp_path / "out").exists()


def test_without_fsspec_a_url_names_the_extra_and_local_paths_never_import_it(tmp_path):
    """With fsspec unimportable, local jobs run unchanged and a URL asks for minimr[s3]."""
    (tmp_path / "in.txt").write_text("b a b\n")
    script = f"""
import sys
sys.modules["fsspec"] = None  # import fsspec now fails, as if it were not installed
import minimr
from minimr.errors import StorageUnavailable
result = minimr.run({str(ROOT / "jobs" / "wordcount.py")!r}, inputs={str(tmp_path)!r},
                    output={str(tmp_path / "out")!r}, runner="inline", reducers=1)
assert sorted(result.records()) == [("a", 1), ("b", 2)]
try:
    minimr.run({str(ROOT / "jobs" / "wordcount.py")!r}, inputs="s3://bucket/in",
               output={str(tmp_path / "out2")!r}, runner="inline")
except StorageUnavailable as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "needs fsspec: pip install 'minimr[s3]'" in done.stdout


def test_memory_urls_are_refused_for_worker_processes(memory, job):
    """memory:// lives in one process, so a run on workers refuses it before starting any."""
    put(f"{memory}/in.txt", b"a\n")
    with pytest.raises(UsageError, match="memory:// storage lives in this process only"):
        minimr.run(job, inputs=f"{memory}/in.txt", output=f"{memory}/out", workers=1)


def test_file_urls_are_local_paths(tmp_path, job):
    """``file://`` inputs and outputs are plain local paths (atomic renames, no fsspec)."""
    (tmp_path / "in.txt").write_text("b a b\n")
    result = minimr.run(job, inputs=f"file://{tmp_path}/in.txt",
                        output=f"file://{tmp_path}/out", runner="inline", reducers=1)
    assert result.output == str(tmp_path / "out")
    assert sorted(minimr.read_output(f"file://{tmp_path}/out")) == [("a", 1), ("b", 2)]


def test_only_the_committed_attempt_becomes_visible(memory):
    """Of two attempts' parts on a URL, only the committed one lands; the job commit drops
    the other with _temporary, then writes _SUCCESS."""
    output = f"{memory}/out"
    out.prepare_output(output, False, [])
    winner = f"{output}/{out.TEMPORARY}/attempts/a1/step-0-part-00000"
    loser = f"{output}/{out.TEMPORARY}/attempts/a2/step-0-part-00000"
    for path, value in ((winner, 1), (loser, 2)):
        with out.TextPartWriter(path) as writer:
            writer.write("key", value)
            writer.close()
    final = storage.join(output, out.part_name(0))
    assert out.commit(winner, final) == final
    assert out.commit(winner, final) == final  # a repeated commit is a no-op
    assert not storage.exists(winner)
    assert not storage.exists(storage.join(output, out.SUCCESS))
    out.write_success(output)
    assert sorted(storage.listdir(output)) == ["_SUCCESS", "part-00000"]
    assert list(out.read_output(output)) == [("key", 1)]
    assert list(out.read_output(final)) == [("key", 1)]


class _FailsOnB(minimr.Job):
    """A job whose map fails on the line ``b``, after a part of the input."""

    def map(self, key, line):
        if line == "b":
            raise RuntimeError("map exploded")
        yield line, 1

    def reduce(self, key, values):
        yield key, sum(values)


def test_a_failed_run_on_a_url_leaves_nothing_under_its_output(memory):
    """A job that fails writing to a URL removes its _temporary and the folder it made."""
    put(f"{memory}/in/a.txt", b"a\nb\n")
    with pytest.raises(RuntimeError, match="map exploded"):
        minimr.run(_FailsOnB, f"{memory}/in", f"{memory}/out", runner="inline")
    assert not storage.exists(f"{memory}/out")
    assert storage.listdir(memory) == ["in"]


def test_prepare_output_on_a_url_refuses_or_clears_an_existing_output(memory):
    """An existing URL output is refused without overwrite and emptied with it."""
    put(f"{memory}/out/part-00000", b"'old'\t1\n")
    with pytest.raises(UsageError, match="already exists"):
        out.prepare_output(f"{memory}/out", False, [])
    out.prepare_output(f"{memory}/out", True, [])
    assert not storage.exists(f"{memory}/out/part-00000")
    with pytest.raises(UnsafeOutputError, match="holds the input"):
        out.prepare_output(f"{memory}/out", True, [f"{memory}/out/in.txt"])


def test_local_paths_keep_their_os_behaviour(tmp_path, monkeypatch):
    """Local paths are made absolute and joined with the OS separator, never treated as URLs."""
    monkeypatch.chdir(tmp_path)
    assert storage.normalize("rel/dir/") == str(tmp_path / "rel" / "dir")
    assert storage.join("/a", "b") == os.path.join("/a", "b")
    assert storage.join("s3://bucket/out", "_temporary", "x") == "s3://bucket/out/_temporary/x"
    assert storage.parent("s3://bucket/out/part-00000") == "s3://bucket/out"
    assert not storage.is_url("C:/data") and not storage.is_url("file:///x")
