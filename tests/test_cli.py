"""The submit command: clear errors for bad jobs and inputs, tracebacks for user failures."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

from click.testing import CliRunner

from minimr.cli import main
from tests.conftest import write_file


def submit(*args: str):
    return CliRunner().invoke(main, ["submit", *args])


def test_submit_runs_a_job_and_prints_counters(wordcount_job, text_input, tmp_path):
    """A good job writes parts and _SUCCESS, prints counters and the output path, exits 0."""
    out = tmp_path / "out"
    result = submit(str(wordcount_job), "--input", str(text_input), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "map input records" in result.output and f"output: {out}" in result.output
    assert (out / "_SUCCESS").exists() and (out / "part-00000").exists()


def test_submit_quiet_prints_nothing_when_the_job_succeeds(wordcount_job, text_input, tmp_path):
    """-q: no progress, no counters, no output line: the exit status says it worked."""
    out = tmp_path / "out"
    result = submit(str(wordcount_job), "--input", str(text_input), "--output", str(out), "-q",
                    "--inline")
    assert result.exit_code == 0 and result.output == ""
    assert (out / "_SUCCESS").exists()


def test_submit_notes_input_lines_of_invalid_utf8(wordcount_job, tmp_path):
    """Input lines with bad bytes show in the counters table and in one note at the end;
    valid input gives no note."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_bytes(b"fine words\nbad \xff words\nmore \xfe\xfe\n")
    (data / "b.txt").write_bytes(b"bad \xc3 again\n")
    result = submit(str(wordcount_job), "--input", str(data), "--output", str(tmp_path / "o"),
                    "--inline")
    assert result.exit_code == 0, result.output
    assert "invalid utf-8 records" in result.output
    assert ("note: 3 input records held invalid UTF-8; their bad bytes were read as U+FFFD"
            in result.output), result.output
    (data / "a.txt").write_bytes(b"fine words\n")
    (data / "b.txt").write_bytes("ok €\n".encode())
    result = submit(str(wordcount_job), "--input", str(data), "--output", str(tmp_path / "p"),
                    "--inline")
    assert result.exit_code == 0 and "UTF-8" not in result.output, result.output


def test_syntax_error_names_file_and_line(tmp_path, text_input):
    """A job file with a syntax error fails with its name and line, not a minimr traceback."""
    job = write_file(tmp_path / "broken.py", "from minimr import Job\n\ndef map(k, v)\n    pass\n")
    result = submit(str(job), "--input", str(text_input), "--output", str(tmp_path / "o"))
    assert result.exit_code != 0
    assert "broken.py, line 3" in result.output
    assert "Traceback" not in result.output


def test_import_error_names_the_module(tmp_path, text_input):
    """A job importing a missing module fails with the module's name."""
    job = write_file(tmp_path / "imp.py", "import no_such_module_xyz\n")
    result = submit(str(job), "--input", str(text_input), "--output", str(tmp_path / "o"))
    assert result.exit_code != 0 and "no_such_module_xyz" in result.output


def test_file_without_job_and_with_two_jobs(tmp_path, text_input):
    """No job, or two candidate jobs, is a clear error; FILE:Class picks one."""
    none = write_file(tmp_path / "none.py", "x = 1\n")
    result = submit(str(none), "--input", str(text_input), "--output", str(tmp_path / "o"))
    assert result.exit_code != 0 and "defines no job" in result.output
    two = write_file(tmp_path / "two.py", """
        from minimr import Job
        class A(Job):
            def map(self, k, v):
                yield "a", 1
        class B(Job):
            def map(self, k, v):
                yield "b", 1
    """)
    result = submit(str(two), "--input", str(text_input), "--output", str(tmp_path / "o"))
    assert result.exit_code != 0 and "several jobs (A, B)" in result.output
    result = submit(f"{two}:B", "--input", str(text_input), "--output", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output


def test_missing_input_fails_before_any_task(wordcount_job, tmp_path):
    """A missing input is reported and no output folder is created."""
    result = submit(str(wordcount_job), "--input", str(tmp_path / "nope"),
                    "--output", str(tmp_path / "o"))
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "o").exists()


def test_existing_output_needs_overwrite(wordcount_job, text_input, tmp_path):
    """An existing old output is refused unless --overwrite is given."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000").write_text("'old'\t1\n")
    result = submit(str(wordcount_job), "--input", str(text_input), "--output", str(out))
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = submit(str(wordcount_job), "--input", str(text_input), "--output", str(out),
                    "--overwrite")
    assert result.exit_code == 0


def test_user_exception_shows_user_traceback_and_commits_nothing(tmp_path, text_input):
    """A failing map prints the user's frame and exception, exits 1, and writes no _SUCCESS."""
    job = write_file(tmp_path / "boom.py", """
        def map(key, line):
            if "fig" in line:
                raise ValueError("bad record: " + line)
            yield line, 1

        def reduce(key, values):
            yield key, sum(values)
    """)
    out = tmp_path / "out"
    result = submit(str(job), "--input", str(text_input), "--output", str(out), "--inline")
    assert result.exit_code == 1
    assert "boom.py" in result.output and "line 4" in result.output
    assert "ValueError: bad record" in result.output
    assert "minimr/dataflow" not in result.output
    assert not (out / "_SUCCESS").exists()
    assert not [n for n in os.listdir(out) if n.startswith("part-")] if out.exists() else True


def test_cluster_failure_shows_the_user_frame_from_the_worker(tmp_path, text_input):
    """A map failing on a worker reports the user's file, line and source, not minimr's frames."""
    job = write_file(tmp_path / "remote_boom.py", """
        def map(key, line):
            if "fig" in line:
                raise ValueError("bad record: " + line)
            yield line, 1
    """)
    out = tmp_path / "out"
    result = submit(str(job), "--input", str(text_input), "--output", str(out), "--workers", "1",
                    "--max-attempts", "1")
    assert result.exit_code == 1
    assert f'File "{job}", line 4, in map' in result.output
    assert 'raise ValueError("bad record: " + line)' in result.output
    assert "minimr/dataflow" not in result.output and "<dynamic-code>" not in result.output
    assert not (out / "_SUCCESS").exists()


def test_help_explains_submit():
    """submit --help documents inputs, output and the output layout."""
    result = CliRunner().invoke(main, ["submit", "--help"])
    assert result.exit_code == 0
    assert "--input" in result.output and "_SUCCESS" in result.output


def test_submit_dashboard_prints_its_address_first(wordcount_job, text_input, tmp_path):
    """--dashboard serves the embedded cluster's dashboard and prints its address, with its
    token, before anything else, even with -q; --inline and --coordinator have none."""
    out = tmp_path / "out"
    result = submit(str(wordcount_job), "-i", str(text_input), "-o", str(out), "-w", "1",
                    "--dashboard", "-q")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("dashboard: http://127.0.0.1:") and "/?token=" in first
    for other in (["--inline"], ["-c", "tcp://127.0.0.1:9"]):
        refused = submit(str(wordcount_job), "-i", str(text_input), "-o", str(out),
                         "--overwrite", "--dashboard", *other)
        assert refused.exit_code == 2 and "--dashboard serves the embedded" in refused.output
    bad = submit(str(wordcount_job), "-i", str(text_input), "-o", str(out), "--overwrite",
                 "--dashboard-address", "nowhere")
    assert bad.exit_code == 2 and "[HOST:]PORT" in bad.output


def test_format_options_shape_what_is_read_and_written(tmp_path):
    """--input-format, --output-format and --compress reach the run; a --input-format that
    names no format fails before any task, listing the names."""
    job = write_file(tmp_path / "kinds.py", "def map(key, event):\n    yield event['kind'], 1\n\n"
                     "def reduce(kind, ones):\n    yield kind, sum(ones)\n")
    events = write_file(tmp_path / "e.jsonl", '{"kind": "a"}\n{"kind": "b"}\n{"kind": "a"}\n')
    out = tmp_path / "out"
    result = submit(str(job), "-i", str(events), "-o", str(out), "--inline", "-r", "1",
                    "--input-format", "jsonl", "--output-format", "tsv", "--compress", "gzip")
    assert result.exit_code == 0, result.output
    assert gzip.decompress((out / "part-00000.gz").read_bytes()) == b"a\t2\nb\t1\n"
    bad = submit(str(job), "-i", str(events), "-o", str(tmp_path / "bad"), "--inline",
                 "--input-format", "yaml")
    assert bad.exit_code != 0 and "'jsonl', 'csv'" in bad.output and "yaml" in bad.output
    assert not (tmp_path / "bad").exists()


def test_submit_imports_no_cluster_command_and_no_dashboard_server():
    """Issue 20: what `minimr submit` imports on an embedded cluster (the command line, then
    the local cluster) leaves out the cluster's other commands and the dashboard's HTTP
    server, a fifth of a second of every job's start; `minimr worker` still finds its own."""
    code = """if True:
        import sys
        from click import Context
        from minimr.cli import main
        from minimr.cluster.client import localcluster
        heavy = sorted(m for m in sys.modules if m.startswith(
            ("minimr.cluster.commands.", "minimr.cluster.dashboard.server", "http.server")))
        assert heavy == [], heavy
        assert main.get_command(Context(main), "worker").name == "worker"
        assert "minimr.cluster.commands.worker" in sys.modules
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
