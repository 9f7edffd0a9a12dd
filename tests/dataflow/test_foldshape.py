"""Reading a combiner or reducer as one builtin of its values: only for the exact shape, and
never changing the output.

The functions are defined in real module files, as a user's job is, so that their source is
found the way it is for a job; a job run with the reading and without it must write the same
bytes and count the same records.
"""

from __future__ import annotations

import linecache
import textwrap
import traceback
from pathlib import Path

import pytest

import minimr
from minimr.dataflow import foldshape
from minimr.dataflow.foldshape import fold_of
from tests.dataflow.test_mapshape import define


def test_a_word_count_reducer_is_read_as_sum(tmp_path):
    """The DESIGN.md combiner and reducer, as methods or functions, docstring or not."""
    module = define(tmp_path, '''
        class WordCount:
            def combine(self, word, counts):
                """Sum a task's counts."""
                yield word, sum(counts)

        def reduce(word, counts, /):
            yield word, sum(counts)
    ''')
    assert fold_of(module.WordCount().combine) is sum
    assert fold_of(module.reduce) is sum


@pytest.mark.parametrize("name", sorted(foldshape.FOLDS))
def test_each_builtin_fold_is_read(tmp_path, name):
    module = define(tmp_path, f"def reduce(key, values):\n    yield key, {name}(values)\n")
    assert fold_of(module.reduce) is foldshape.FOLDS[name]


SHAPES_LEFT_ALONE = {
    "two statements": "total = sum(values)\nyield key, total",
    "another key": "yield key.upper(), sum(values)",
    "the values as key": "yield values, sum(key)",
    "a start value": "yield key, sum(values, 10)",
    "a keyword": "yield key, sorted(values, reverse=True)",
    "arithmetic": "yield key, sum(values) + 1",
    "not a builtin fold": "yield key, len(values)",
    "an attribute": "yield key, math.fsum(values)",
    "a list pair": "yield [key, sum(values)]",
    "a return": "return [(key, sum(values))]",
    "yield from": "yield from [(key, sum(values))]",
    "a loop": "for v in values:\n    yield key, v",
}


@pytest.mark.parametrize("body", SHAPES_LEFT_ALONE.values(), ids=SHAPES_LEFT_ALONE.keys())
def test_other_shapes_are_left_alone(tmp_path, body):
    """Anything but ``yield key, F(values)`` runs as written."""
    module = define(tmp_path, "import math\n\ndef reduce(key, values):\n"
                    + textwrap.indent(body, "    ") + "\n")
    assert fold_of(module.reduce) is None


def test_a_name_that_is_not_the_builtin_is_left_alone(tmp_path):
    """A module global, a parameter or other builtins named ``sum`` are not Python's sum."""
    module = define(tmp_path, '''
        def sum(values):
            return 0

        def reduce(key, values):
            yield key, sum(values)
    ''')
    assert fold_of(module.reduce) is None
    module = define(tmp_path, '''
        def reduce(sum, values):
            yield sum, sum(values)

        def method_like(self, key, sum):
            yield key, sum(sum)

        def plain(key, values):
            yield key, max(values)
    ''')
    assert fold_of(module.reduce) is None
    assert fold_of(module.method_like.__get__(object())) is None
    assert fold_of(module.plain) is max
    module.max = min  # a global set after import (by setup, say): the builtin is not meant
    assert fold_of(module.plain) is None


def test_functions_whose_code_is_not_their_source_are_left_alone(tmp_path):
    """Decorated, closed-over, defaulted and stale reducers are not read."""
    module = define(tmp_path, '''
        import functools

        def wraps(fn):
            @functools.wraps(fn)
            def inner(key, values):
                return fn(key, values)
            return inner

        @wraps
        def decorated(key, values):
            yield key, sum(values)

        def closing(n):
            def reduce(key, values):
                yield key, sum(values)
            return reduce

        def defaults(key, values, extra=1):
            yield key, sum(values)
    ''')
    for fn in (module.decorated, module.closing(1), module.defaults, sum, None):
        assert fold_of(fn) is None, fn
    source = "def reduce(key, values):\n    yield key, sum(values)\n"
    module = define(tmp_path, source)
    assert fold_of(module.reduce) is sum
    Path(module.__file__).write_text(source.replace("sum(", "max("))
    linecache.clearcache()  # as a new worker process would read it
    assert fold_of(module.reduce) is None


JOB = '''
from minimr import Job

class Folded(Job):
    def map(self, key, line):
        for i, word in enumerate(line.split()):
            yield word, VALUE

    def combine(self, word, values):
        yield word, COMBINE(values)

    def reduce(self, word, values):
        yield word, REDUCE(values)
'''

CASES = {  # (map value, combine, reduce) for every path of the buffer and the reduce
    "counted ints": ("1", "sum", "sum"),
    "counted floats": ("0.1", "sum", "sum"),
    "varying ints": ("i % 3", "sum", "sum"),
    "bools": ("i % 2 == 0", "sum", "max"),
    "strings": ("word[:2]", "max", "sorted"),
    "lists": ("[i]", "list", "list"),
    "sets": ("i % 4", "frozenset", "set"),
}


def run_job(tmp_path: Path, source: str, name: str, sort_buffer: int = 1 << 20) -> tuple:
    """The output bytes and counters of the job over a small input, inline."""
    job = define(tmp_path, source).Folded()
    lines = [f"w{i % 7} x{i % 3} {'hot ' * (i % 4)}odd{i % 2} W{i % 5} u{i}" for i in range(3000)]
    (tmp_path / "input.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / f"out-{name}"
    result = minimr.run(job, str(tmp_path / "input.txt"), str(out), reducers=3,
                        runner="inline", split_size=20_000, sort_buffer=sort_buffer)
    parts = sorted(out.glob("part-*"))
    return [p.read_bytes() for p in parts], result.counters.to_dict()


@pytest.mark.parametrize("sort_buffer", [1 << 20, 4096], ids=["one spill", "many spills"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_jobs_write_the_same_output_folded_or_not(tmp_path, monkeypatch, case, sort_buffer):
    """Combining and reducing by the fold writes the bytes and counters the functions as
    written do: counted runs, varied values, lists, and spills merged with the combiner."""
    value, combine, reduce = case
    source = (JOB.replace("VALUE", value).replace("COMBINE", combine)
              .replace("REDUCE", reduce))
    read = foldshape.fold_of
    folds = []

    def spy(fn):
        folds.append(read(fn))
        return folds[-1]

    monkeypatch.setattr(foldshape, "fold_of", spy)
    folded = run_job(tmp_path, source, "folded", sort_buffer)
    assert foldshape.FOLDS[combine] in folds and foldshape.FOLDS[reduce] in folds
    monkeypatch.setattr(foldshape, "fold_of", lambda fn: None)
    assert folded == run_job(tmp_path, source, "plain", sort_buffer)


def test_a_batch_map_is_combined_by_the_fold(tmp_path, monkeypatch):
    """A batch map's grouped values (lists, not runs) are combined by the fold the same way."""
    source = '''
        from collections import Counter
        from minimr import Job

        class Folded(Job):
            def map_batch(self, records):
                return Counter(w for _, line in records for w in line.split())

            def combine(self, word, counts):
                yield word, sum(counts)

            def reduce(self, word, counts):
                yield word, sum(counts)
    '''
    folded = run_job(tmp_path, source, "folded", 4096)
    monkeypatch.setattr(foldshape, "fold_of", lambda fn: None)
    assert folded == run_job(tmp_path, source, "plain", 4096)


@pytest.mark.parametrize("where", ["combine", "reduce"])
def test_a_fold_that_raises_raises_from_the_users_line(tmp_path, monkeypatch, where):
    """``sum`` of strings fails as the function as written does: its TypeError, raised in
    the user's frame, so the traceback shows the user's line."""
    source = JOB.replace("VALUE", "'x' if 'odd1' in word else 1")
    source = source.replace("COMBINE", "sum" if where == "combine" else "list")
    source = source.replace("REDUCE", "sum")
    read = foldshape.fold_of
    folds = []
    monkeypatch.setattr(foldshape, "fold_of", lambda fn: folds.append(read(fn)) or folds[-1])
    with pytest.raises(TypeError, match="unsupported operand") as raised:
        run_job(tmp_path, source, where)
    assert sum in folds  # the fold was taken, and raised
    names = [f.name for f in traceback.extract_tb(raised.value.__traceback__)]
    assert where in names
