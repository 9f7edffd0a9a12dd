"""Remote storage end to end: s3:// inputs and outputs on a real S3-compatible server.

The server is moto's S3 implementation served over HTTP on loopback by this test process; the
job runs on a real local cluster (worker processes), which reach the server through the
standard AWS environment variables they inherit (``AWS_ENDPOINT_URL`` and test credentials).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import minimr
from minimr.dataflow import storage
from minimr.dataflow.format import output as out
from minimr.dataflow.inputs.records import READ_BLOCK, read_text
from minimr.dataflow.inputs.splits import plan_splits
from minimr.dataflow.partition import HashPartitioner
from minimr.errors import JobFailed
from tests.e2e.support import JOBS, TEXT

s3fs = pytest.importorskip("s3fs", reason="the S3 tests need s3fs (pip install 'minimr[test]')")
moto_server = pytest.importorskip(
    "moto.server", reason="the S3 tests need moto's server (pip install 'moto[server]')"
)
werkzeug_serving = pytest.importorskip("werkzeug.serving", reason="moto's server needs werkzeug")

BUCKET = "minimr-test"


def _without_server_header(app):
    """Drop the ``Server`` header moto's app sets: werkzeug adds its own, and aiohttp (under
    s3fs) rejects a response with two (moto issue #9930, aiohttp >= 3.13.4)."""

    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            kept = [(k, v) for k, v in headers if k.lower() != "server"]
            return start_response(status, kept, exc_info)

        return app(environ, start)

    return wrapped


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[s3fs.S3FileSystem]:
    """An S3 server on 127.0.0.1 (a free port) with an empty bucket; the AWS variables point
    this process and the workers it starts at it."""
    app = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)
    server = werkzeug_serving.make_server("127.0.0.1", 0, _without_server_header(app),
                                          threaded=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    nowhere = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(nowhere),  # a developer's ~/.aws must not leak in
            "AWS_SHARED_CREDENTIALS_FILE": str(nowhere),
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir(BUCKET)
        try:
            yield fs
        finally:
            server.shutdown()
            thread.join(timeout=5)
            server.server_close()


def upload_inputs(fs, files: list[Path], prefix: str) -> str:
    """Upload local files under ``s3://BUCKET/prefix/``; returns that folder's URL."""
    for path in files:
        fs.put_file(str(path), f"{BUCKET}/{prefix}/{path.name}")
    fs.pipe_file(f"{BUCKET}/{prefix}/_SUCCESS", b"")  # bookkeeping, not input
    return f"s3://{BUCKET}/{prefix}"


def keys_under(fs, url: str) -> list[str]:
    """Every object key under a URL, relative to it."""
    base = url[len("s3://"):]
    return sorted(key[len(base) + 1:] for key in fs.find(base))


def test_wordcount_on_s3_with_two_workers_equals_the_local_inline_run(s3, tmp_path):
    """s3:// input and output on a 2-worker cluster give the local inline run's exact parts."""
    files = sorted(TEXT.iterdir())[:3]
    local_in = tmp_path / "in"
    local_in.mkdir()
    for path in files:
        shutil.copy(path, local_in / path.name)
    options = {"reducers": 3, "split_size": "64KB"}
    job = str(JOBS / "wordcount.py")
    local = minimr.run(job, inputs=str(local_in), output=str(tmp_path / "out"),
                       runner="inline", **options)
    url = upload_inputs(s3, files, "wc/in")
    remote = minimr.run(job, inputs=url, output=f"s3://{BUCKET}/wc/out", workers=2, **options)
    assert remote.output == f"s3://{BUCKET}/wc/out"
    names = ["_SUCCESS", "part-00000", "part-00001", "part-00002"]
    kept = keys_under(s3, remote.output)  # nothing left of _temporary; the task logs
    assert [k for k in kept if not k.startswith(f"{out.LOGS}/")] == names
    assert f"{out.LOGS}/s0-m00000-a1.log" in kept
    for name in names:
        assert s3.cat_file(f"{BUCKET}/wc/out/{name}") == (tmp_path / "out" / name).read_bytes()
    assert list(remote.records()) == list(local.records())
    assert remote.counters == local.counters


def test_a_failed_job_on_s3_leaves_no_success_and_no_losing_part(s3, tmp_path):
    """A reduce that always fails ends the job with no _SUCCESS, no _temporary objects (where
    its failed attempts wrote partial parts), and no part for its partition."""
    (tmp_path / "in.txt").write_text("alpha beta poison gamma\ndelta alpha\n" * 50)
    url = upload_inputs(s3, [tmp_path / "in.txt"], "fail/in")
    output = f"s3://{BUCKET}/fail/out"
    with pytest.raises(JobFailed, match="poisoned key in reduce"):
        minimr.run(str(JOBS / "reduce_fails.py"), inputs=url, output=output, reducers=3,
                   workers=2, max_attempts=2)
    logs = [key for key in keys_under(s3, output) if key.startswith(f"{out.LOGS}/")]
    assert any(b"poisoned key in reduce" in s3.cat_file(f"{BUCKET}/fail/out/{key}")
               for key in logs)  # the failed attempts' logs are kept on the output's storage
    left = [key for key in keys_under(s3, output) if key not in logs]
    assert out.SUCCESS not in left
    assert not [key for key in left if key.startswith(out.TEMPORARY)]
    poisoned = out.part_name(HashPartitioner(3)("poison"))
    assert poisoned not in left
    assert set(left) <= {out.part_name(p) for p in range(3)}
    for name in left:  # what did commit is whole, from the winning attempt alone
        records = dict(out.read_output(f"{output}/{name}"))
        assert records and all(isinstance(count, int) for count in records.values())


def test_only_the_granted_attempt_lands_on_s3(s3):
    """Two attempts write the same part; committing one makes exactly its bytes visible under
    the final key, and the job commit removes the other attempt's object."""
    output = f"s3://{BUCKET}/race/out"
    out.prepare_output(output, False, [])
    paths = {}
    for attempt, value in (("a1", 1), ("a2", 2)):
        paths[attempt] = f"{output}/{out.TEMPORARY}/attempts/{attempt}/step-0-part-00000"
        with out.TextPartWriter(paths[attempt]) as writer:
            writer.write("key", value)
            assert writer.close() == len("'key'\t1\n")
    final = storage.join(output, out.part_name(0))
    out.commit(paths["a2"], final)
    out.commit(paths["a2"], final)  # a repeated commit (a resent grant) changes nothing
    assert keys_under(s3, output) == [f"{out.TEMPORARY}/attempts/a1/step-0-part-00000",
                                      "part-00000"]
    out.write_success(output)
    assert keys_under(s3, output) == ["_SUCCESS", "part-00000"]
    assert list(minimr.read_output(output)) == [("key", 2)]


def test_splits_of_an_s3_object_read_every_line_once_and_fetch_about_their_range(s3):
    """Byte-range splits of an S3 object yield each line once, and a split fetches its own
    range and little more, not the whole object."""
    data = b"".join(f"line {i} {'x' * (i % 50)}\n".encode() for i in range(100_000))
    s3.pipe_file(f"{BUCKET}/split/big.txt", data)
    url = f"s3://{BUCKET}/split/big.txt"
    splits = plan_splits([url], 512 * 1024)
    assert len(splits) > 4
    lines = [line for split in splits for _, line in read_text(split)]
    assert lines == data.decode().splitlines()
    fetched = []
    original = s3fs.core.S3File._fetch_range

    def counting(self, start, end):
        fetched.append(end - start)
        return original(self, start, end)

    block = 64 * 1024  # small blocks, so that the bound says something about a 2 MB object
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(s3fs.core.S3File, "_fetch_range", counting)
        patch.setattr(storage, "REMOTE_BLOCK", block)
        middle = splits[len(splits) // 2]
        assert sum(1 for _ in read_text(middle)) > 0
    # the reader's own 1 MiB reads may pass the end once, plus one read-ahead block each side
    wanted = middle.end - middle.start
    assert wanted <= sum(fetched) <= wanted + READ_BLOCK + 2 * block < len(data) / 2
