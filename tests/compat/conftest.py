"""Helpers for the mrjob tests: mrjob's own example jobs, generated text, and mrjob's inline
runner as the reference that minimr's output is compared with.

mrjob runs in a subprocess (``python -c``), as its users run it, so that its runner's
temporary files, logging and warnings stay out of the test process.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mrjob", reason="mrjob is not installed (it does not import on 3.13+)")

import minimr  # noqa: E402

_MRJOB_RUN = r"""
import importlib.util, json, sys
path, *args = sys.argv[1:]
spec = importlib.util.spec_from_file_location("mrjob_under_test", path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module  # mrjob finds the job's file through it
spec.loader.exec_module(module)
from mrjob.job import MRJob
[cls] = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, MRJob)
         and c.__module__ == module.__name__]
job = cls(args=["-r", "inline", "--no-conf", *args])
with job.make_runner() as runner:
    runner.run()
    output = b"".join(runner.cat_output()).decode("latin-1")
    counters = {}
    for step in runner.counters():
        for group, names in step.items():
            for name, amount in names.items():
                counters.setdefault(group, {}).setdefault(name, 0)
                counters[group][name] += amount
print(json.dumps({"output": output, "counters": counters}))
"""


def examples_folder() -> Path:
    """Where the installed mrjob package keeps its example jobs."""
    spec = importlib.util.find_spec("mrjob.examples")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of mrjob's example jobs (and their stop_words.txt), unchanged."""
    folder = tmp_path / "examples"
    shutil.copytree(examples_folder(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def write_text(folder: Path, files: int = 3, lines: int = 800, seed: int = 1) -> Path:
    """A folder of English-like text with upper case, accents, blank lines and apostrophes."""
    rng = random.Random(seed)
    words = ("the of and a to in is you that it he was for on are as with his they at be this"
             " have from or one had by word but not what all were we when your can said there"
             " use an each which she do how their if will up other about out many then them"
             " whale ship sea don't it's café naïve Ahab").split()
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        text = []
        for _ in range(lines):
            line = " ".join(rng.choice(words) for _ in range(rng.randint(0, 14)))
            text.append(line.upper() if rng.random() < 0.05 else line)
        (folder / f"part-{f}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def text(tmp_path: Path) -> Path:
    """Three files of generated text (about 100 KB)."""
    return write_text(tmp_path / "text")


def mrjob_run(job: Path, inputs: list[Path], args: tuple[str, ...] = ()) -> dict:
    """mrjob's inline runner on ``inputs``: ``{"output": lines, "counters": {...}}``."""
    done = subprocess.run([sys.executable, "-c", _MRJOB_RUN, str(job), *args, *map(str, inputs)],
                          capture_output=True, timeout=300, cwd=job.parent)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(done.stdout)


def mrjob_lines(job: Path, inputs: list[Path], args: tuple[str, ...] = ()) -> list[bytes]:
    """The lines mrjob's inline runner writes, sorted (its order is its own)."""
    return sorted(mrjob_run(job, inputs, args)["output"].encode("latin-1").splitlines())


def part_lines(output: Path) -> list[bytes]:
    """The lines of every part file of a minimr output, sorted."""
    lines: list[bytes] = []
    for part in glob.glob(os.path.join(output, "part-*")):
        lines.extend(Path(part).read_bytes().splitlines())
    return sorted(lines)


def minimr_lines(job: Path | str | type, inputs: list[Path], output: Path,
                 **kwargs) -> list[bytes]:
    """minimr's output lines for the job, sorted (``kwargs`` go to ``minimr.run``)."""
    kwargs.setdefault("runner", "inline")
    minimr.run(job if isinstance(job, type) else str(job), inputs=[str(p) for p in inputs],
               output=str(output), **kwargs)
    return part_lines(output)
