"""Reading a map as keys with one value: only for the exact shape, and never changing the output.

The maps are defined in real module files, as a user's job is, so that their source is found
the way it is for a job; a map task run with the reading and without it must write the same
bytes and count the same records.
"""

from __future__ import annotations

import functools
import importlib.util
import linecache
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

from minimr import Job
from minimr.dataflow import counters as C
from minimr.dataflow import tasks
from minimr.dataflow.counters import Counters
from minimr.dataflow.mapshape import keyed_map
from minimr.dataflow.tasks import run_map_task
from minimr.runner import build_plan

_modules = 0


def define(tmp_path: Path, source: str):
    """Import ``source`` as a new module file and return the module."""
    global _modules
    _modules += 1
    path = tmp_path / f"shape_{_modules}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_word_count_method_is_read_as_its_words_and_their_one_value(tmp_path):
    """The DESIGN.md map gives the line's words, bound to the same instance, with value 1."""
    module = define(tmp_path, '''
        import re

        class WordCount:
            pattern = re.compile(r"[a-z]+")

            def map(self, key, line):
                """Words of the line."""
                for word in self.pattern.findall(line.lower()):
                    yield word, 1
    ''')
    job = module.WordCount()
    job.pattern = __import__("re").compile(r"[a-z]")  # the instance's own attribute is used
    keyed = keyed_map(job.map)
    assert keyed is not None and keyed.value == 1
    assert list(keyed.keys("f", "Ab c")) == ["a", "b", "c"]


def test_a_plain_function_keeps_its_defaults_and_future_flags(tmp_path):
    """Module functions, annotations under ``from __future__`` and default arguments work."""
    module = define(tmp_path, '''
        from __future__ import annotations

        def map(key: str, line: str, sep: str = ",", *, upper: bool = False):
            for field in (line.upper() if upper else line).split(sep):
                yield field, None
    ''')
    keyed = module and keyed_map(module.map)
    assert keyed is not None and keyed.value is None
    assert list(keyed.keys("k", "a,b")) == ["a", "b"]
    assert list(keyed.keys("k", "a;b", ";", upper=True)) == ["A", "B"]


def test_per_value_drops_the_key_only_where_the_map_never_uses_it(tmp_path):
    """Asked per value, a (key, value) map whose expression ignores the key takes the value
    alone; one that names the key, or has other parameters, is read with its key only."""
    module = define(tmp_path, '''
        class Job:
            sep = " "

            def map(self, key, line):
                for w in line.split(self.sep):
                    yield w, 1

        def ignores(key, line, /):
            for w in line.split():
                yield w, 1

        def uses_key(key, line):
            for w in (key + line).split():
                yield w, 1

        def defaults(key, line, sep=" "):
            for w in line.split(sep):
                yield w, 1

        def keyword(key, line, *, sep=" "):
            for w in line.split(sep):
                yield w, 1
    ''')
    for fn in (module.Job().map, module.ignores):
        keyed = keyed_map(fn, per_value=True)
        assert keyed.per_value and list(keyed.keys("a b")) == ["a", "b"]
        assert not keyed_map(fn).per_value
    for fn in (module.uses_key, module.defaults, module.keyword):
        assert keyed_map(fn, per_value=True) is None and keyed_map(fn) is not None
    assert list(keyed_map(module.uses_key).keys("x ", "a")) == ["x", "a"]


SHAPES_LEFT_ALONE = {
    "value not constant": "for w in line.split():\n    yield w, len(w)",
    "key not the target": "for w in line.split():\n    yield len(w), 1",
    "a condition": "for w in line.split():\n    if w:\n        yield w, 1",
    "a for-else": "for w in line.split():\n    yield w, 1\nelse:\n    pass",
    "a statement first": "n = 1\nfor w in line.split():\n    yield w, n",
    "a statement after": "for w in line.split():\n    yield w, 1\nyield 'end', 1",
    "a tuple target": "for w, n in line:\n    yield w, 1",
    "target in iterable": "for line in line.split():\n    yield line, 1",
    "a list pair": "for w in line.split():\n    yield [w, 1]",
    "three items": "for w in line.split():\n    yield w, 1, 2",
    "yield from": "yield from ((w, 1) for w in line.split())",
}


@pytest.mark.parametrize("body", SHAPES_LEFT_ALONE.values(), ids=SHAPES_LEFT_ALONE.keys())
def test_other_loop_shapes_are_left_alone(tmp_path, body):
    """Anything but one ``for`` yielding its target and a constant runs as written."""
    module = define(tmp_path, "def map(key, line):\n" + textwrap.indent(body, "    ") + "\n")
    assert keyed_map(module.map) is None


def test_functions_whose_code_is_not_their_source_are_left_alone(tmp_path):
    """Decorated, closed-over, mangled, non-generator and unsourced maps are not read."""
    module = define(tmp_path, '''
        import functools

        def wraps(fn):
            @functools.wraps(fn)
            def inner(key, line):
                return fn(key, line)
            return inner

        @wraps
        def decorated(key, line):
            for w in line.split():
                yield w, 1

        def closing(sep):
            def map(key, line):
                for w in line.split(sep):
                    yield w, 1
            return map

        class Mangled:
            def __words(self, line):
                return line.split()

            def map(self, key, line):
                for w in self.__words(line):
                    yield w, 1

        def returns_pairs(key, line):
            return [(w, 1) for w in line.split()]

        async def agen(key, line):
            for w in line.split():
                yield w, 1
    ''')
    for fn in (module.decorated, module.closing(" "), module.Mangled().map,
               module.returns_pairs, module.agen, len, functools.partial(module.closing, " "),
               lambda key, line: ((w, 1) for w in line.split()), None):
        assert keyed_map(fn) is None, fn
    # the check that rules out the mangled method is the code comparison, not a name rule
    assert list(module.Mangled().map("k", "a b")) == [("a", 1), ("b", 1)]


def test_a_source_changed_since_import_is_not_trusted(tmp_path):
    """When the file on disk no longer compiles to the running code, the map runs as written."""
    source = "def map(key, line):\n    for w in line.split():\n        yield w, 1\n"
    module = define(tmp_path, source)
    assert keyed_map(module.map) is not None
    Path(module.__file__).write_text(source.replace("w, 1", "w, 2"))
    linecache.clearcache()  # as a new worker process would read it
    assert keyed_map(module.map) is None


def test_an_error_in_the_expression_is_reported_at_the_users_line(tmp_path):
    """The keys function keeps the map's file and line numbers for tracebacks."""
    module = define(tmp_path, '''
        def map(key, line):

            for w in line.lower().split():
                yield w, 1
    ''')
    keyed = keyed_map(module.map)
    with pytest.raises(AttributeError) as raised:
        keyed.keys("k", None)
    frame = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno) == (module.__file__, 4)
    assert "line.lower().split()" in frame.line


def map_task_output(tmp_path: Path, job: Job, name: str) -> tuple[list[bytes], dict]:
    """The map output files and counters of every map task of ``job`` over a small input."""
    lines = [f"w{i % 7} x{i % 3} {'hot ' * (i % 4)}odd{i % 2} W{i % 5}" for i in range(500)]
    (tmp_path / "input.txt").write_text("\n".join(lines) + "\n")
    plan = build_plan(job, [str(tmp_path / "input.txt")], str(tmp_path / f"out-{name}"),
                      reducers=3, split_size=2000)
    counters = Counters()
    outputs = [run_map_task(plan, task, str(tmp_path / f"work-{name}"), "a", counters)
               for task in plan.map_tasks(0)]
    return [Path(o.path).read_bytes() for o in outputs], counters[C.BUILTIN]


JOBS = {
    "combined words": '''
        from minimr import Job

        class Words(Job):
            def map(self, key, line):
                for word in line.split():
                    yield word, 1

            def combine(self, word, counts):
                yield word, sum(counts)

            def reduce(self, word, counts):
                yield word, sum(counts)
    ''',
    "no combiner": '''
        from minimr import Job

        class Words(Job):
            def map(self, key, line):
                for word in line.lower().split():
                    yield word, "seen"

            def reduce(self, word, values):
                yield word, len(list(values))
    ''',
    "key used": '''
        from minimr import Job

        class Words(Job):
            def map(self, key, line):
                for word in line.split()[: key[1] % 3 + 1]:
                    yield word, 1

            def reduce(self, word, counts):
                yield word, sum(counts)
    ''',
    "unhashable keys": '''
        from minimr import Job

        class Words(Job):
            def map(self, key, line):
                for word in [w.split("d") for w in line.split()]:
                    yield word, 1

            def reduce(self, word, counts):
                yield word, sum(counts)
    ''',
}


@pytest.mark.parametrize("source", JOBS.values(), ids=JOBS.keys())
def test_map_tasks_write_the_same_output_read_as_keys_or_not(tmp_path, monkeypatch, source):
    """Counting the keys, of records or of lines alone, writes the bytes and counters the map
    as written does."""
    job = define(tmp_path, source).Words()
    read = tasks.mapshape.keyed_map
    used = []

    def spy(fn, per_value=False):
        used.append(read(fn, per_value))
        return used[-1]

    monkeypatch.setattr(tasks.mapshape, "keyed_map", spy)
    keyed = map_task_output(tmp_path, job, "keyed")
    assert used[0] is not None or used[1] is not None  # lines alone, else records
    assert (used[0] is None) == ("key[1]" in source)
    monkeypatch.setattr(tasks.mapshape, "keyed_map", lambda fn, per_value=False: None)
    assert keyed == map_task_output(tmp_path, job, "plain")


def test_an_expression_that_is_not_iterable_fails_as_the_map_would(tmp_path):
    """A None instead of words raises the map's own TypeError, from the map as written."""
    job = define(tmp_path, '''
        from minimr import Job

        class Words(Job):
            def map(self, key, line):
                for word in (None if "odd1" in line else line.split()):
                    yield word, 1

            def reduce(self, word, counts):
                yield word, sum(counts)
    ''').Words()
    with pytest.raises(TypeError, match="'NoneType' object is not iterable") as raised:
        map_task_output(tmp_path, job, "none")
    assert any(f.name == "map" for f in traceback.extract_tb(raised.value.__traceback__))


def test_a_shipped_map_is_read_on_a_worker_without_the_job_file(tmp_path):
    """The job's source travels with the plan, so a worker host reads the map the same way."""
    from minimr.cluster import shipping
    from minimr.loader import find_job, load_module

    (tmp_path / "job").mkdir()
    job_file = tmp_path / "job" / "shipped_words.py"
    job_file.write_text(textwrap.dedent(JOBS["combined words"]))
    module = load_module(str(job_file))
    plan = build_plan(find_job(module), [str(job_file)], str(tmp_path / "out"))
    plan.settings["sources"] = shipping.job_sources([module.__name__])
    (tmp_path / "plan.bin").write_bytes(shipping.dumps(plan))
    job_file.unlink()
    script = textwrap.dedent("""
        import sys
        from minimr.cluster import shipping
        from minimr.dataflow.mapshape import keyed_map
        plan = shipping.loads(open(sys.argv[1], "rb").read())
        keyed = keyed_map(plan.steps[0].step.map)
        print(keyed.value, list(keyed.keys("k", "a b a")))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "plan.bin")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.stdout == "1 ['a', 'b', 'a']\n", done.stderr
