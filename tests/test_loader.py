"""Loading job files: the job and the modules beside it travel to workers by value."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from minimr.errors import JobLoadError
from minimr.loader import resolve_job
from tests.conftest import write_file


def test_sibling_module_travels_with_the_job(tmp_path, text_input):
    """A job importing a helper module from its own folder runs on workers that lack it."""
    folder = tmp_path / "jobsrc"
    write_file(folder / "shoutlib.py", """
        def shout(word):
            return word.upper() + "!"
    """)
    write_file(folder / "shout.py", """
        import shoutlib

        def map(key, line):
            for word in line.split():
                yield shoutlib.shout(word), 1

        def reduce(key, values):
            yield key, sum(values)
    """)
    script = textwrap.dedent(f"""
        import minimr
        result = minimr.run({str(folder / "shout.py")!r}, {str(text_input)!r},
                            {str(tmp_path / "out")!r}, workers=2)
        print(sorted(dict(result.records()))[:2])
    """)
    # Run from a folder where shoutlib is not importable, so the workers cannot import it.
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "['APPLE!', 'BANANA!']" in done.stdout


def test_path_with_class_name_picks_that_class(tmp_path):
    """``file.py:Name`` selects one of several jobs; an unknown name is an error."""
    path = write_file(tmp_path / "two.py", """
        from minimr import Job
        class A(Job):
            def map(self, k, v):
                yield k, v
        class B(A):
            pass
    """)
    assert type(resolve_job(f"{path}:B")).__name__ == "B"
    with pytest.raises(JobLoadError, match="no Job subclass named 'C'"):
        resolve_job(f"{path}:C")


def test_resolve_job_rejects_other_objects():
    """Something that is not a job, class, module or path is refused with its type."""
    with pytest.raises(JobLoadError, match="got 42 that is a int"):
        resolve_job(42)
