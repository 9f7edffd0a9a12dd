"""Helpers for the example-job tests: load and run a file of ``jobs/``, generate small inputs.

Every test writes its own inputs under ``tmp_path`` and runs with several reducers and a tiny
split size, so a job runs many map tasks and several reduce tasks even on a few KB. The
references the tests compare with are plain Python over the same files: ``text_records``
reads them as minimr's text input format is specified to (key ``(path, byte offset)``, value
the line without its line ending).
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import minimr

JOBS = Path(__file__).resolve().parents[2] / "jobs"
REDUCERS = 3
SPLIT_SIZE = 300  # bytes: a few lines per map task

VOCABULARY = (
    "the of and to a in whale ship sea captain ahab ishmael boat harpoon white deep "
    "voyage sail wind storm oil crew mast deck ocean island night moon star"
).split()
NOISE = ("Whale's", "WHALE", "sea-going", "don't", "café", "naïve", "1851", "(ahab)",
         "ship;", "x2y", "«quoted»", "Ünïcödé", "--", "42nd")


def job_path(name: str) -> str:
    """The path of the example job ``jobs/<name>.py``."""
    return str(JOBS / f"{name}.py")


def load_job_module(name: str) -> ModuleType:
    """Import ``jobs/<name>.py`` as a module (to subclass or call what it defines)."""
    spec = importlib.util.spec_from_file_location(f"example_job_{name}", job_path(name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_job(job, inputs, tmp_path: Path, *, reducers: int = REDUCERS,
            split_size: int = SPLIT_SIZE, output: str = "out", **options) -> minimr.Result:
    """Run ``job`` inline on ``inputs`` into ``tmp_path/output`` and check it committed."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    result = minimr.run(job, inputs=[str(i) for i in inputs], output=str(tmp_path / output),
                        reducers=reducers, runner="inline", split_size=split_size,
                        overwrite=True, **options)
    assert (Path(result.output) / "_SUCCESS").exists()
    return result


def read_parts(result: minimr.Result) -> list[list[tuple]]:
    """The typed records of each part file of a finished job, in partition order."""
    parts = sorted(Path(result.output).glob("part-*"))
    return [list(minimr.read_output(part)) for part in parts]


def assert_keys_sorted_within_parts(parts: list[list[tuple]], *, unique: bool = True) -> None:
    """Each part's keys ascend (strictly when ``unique``)."""
    for records in parts:
        keys = [key for key, _ in records]
        for a, b in zip(keys, keys[1:], strict=False):
            assert a < b if unique else a <= b, (a, b)


def text_records(path: Path | str) -> Iterator[tuple[tuple[str, int], str]]:
    """Reference text reader: ``((path, byte offset), line)`` for each line of a file."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it does not start one
    offset = 0
    for raw in lines:
        line = raw.decode("utf-8", "replace")
        yield (str(path), offset), line.removesuffix("\r")
        offset += len(raw) + 1


def all_text_records(folder: Path) -> list[tuple[tuple[str, int], str]]:
    """``text_records`` of every file in ``folder``, in path order."""
    return [r for path in sorted(folder.iterdir()) for r in text_records(path)]


def random_line(rng: random.Random) -> str:
    """A line of words with Zipf-like frequencies, some capitalised, some noise tokens."""
    words = []
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.1:
            words.append(rng.choice(NOISE))
            continue
        rank = min(int(rng.paretovariate(1.0)) - 1, len(VOCABULARY) - 1)
        word = VOCABULARY[rank] if rng.random() < 0.7 else rng.choice(VOCABULARY)
        words.append(word.capitalize() if rng.random() < 0.2 else word)
    return rng.choice((" ", "  ", ", ")).join(words)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of text files: LF and CRLF endings, no final newline, blank lines, non-ASCII."""
    rng = random.Random(2)
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i, (n_lines, newline, final) in enumerate(
        [(120, "\n", True), (90, "\r\n", True), (60, "\n", False), (0, "\n", True)]
    ):
        lines = [random_line(rng) for _ in range(n_lines)]
        text = newline.join(lines) + (newline if final and lines else "")
        (folder / f"doc-{i}.txt").write_bytes(text.encode("utf-8"))
    return folder
