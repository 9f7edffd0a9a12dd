"""The README's exactness contract, end to end: what map yields reaches reduce as it was, user
code runs once per record, the declared forms mean what the plain ones mean, and mistakes in
a job's code are reported at the user's line."""

from __future__ import annotations

from decimal import Decimal

import pytest

import minimr
from minimr import Job, Step
from minimr.dataflow.exact import key_choice
from tests.conftest import write_file

LINES = 1200  # several batches, spills with the tiny sort buffer below


def run(job, tmp_path, name="out", runner="inline", tiny=True):
    """Run ``job`` on LINES lines; ``tiny``: many map tasks, each spilling many times."""
    folder = tmp_path / "in"
    if not folder.exists():
        write_file(folder / "a.txt", "".join(f"w{i % 7} x{i % 3}\n" for i in range(LINES)))
    sizes = {"split_size": 4096, "sort_buffer": 2048} if tiny else {}
    return minimr.run(job, inputs=[str(folder)], output=str(tmp_path / name), runner=runner,
                      reducers=2, **sizes)


class Typed(Job):
    """Yields values of types that compare equal; the reduce writes what it received."""

    def map(self, key, line):
        i = key[1] // 6  # the line's number: every line is 6 bytes
        yield "v", (1, 1.0, True, Decimal("1"), -0.0, 0.0)[i % 6]

    def reduce(self, key, values):
        yield key, sorted(map(key_choice, values))


@pytest.mark.parametrize(("runner", "tiny"), [("inline", False), ("inline", True),
                                              ("local", True)])
def test_values_equal_but_of_other_types_reach_reduce_as_they_were(tmp_path, runner, tiny):
    """1, 1.0, True, Decimal("1"), -0.0 and 0.0 reach reduce each as itself, as often as
    yielded, in one task or many: not merged into the first of them seen (issue 16's first
    example)."""
    result = run(Typed, tmp_path, runner=runner, tiny=tiny)
    (key, got), = result.records()
    want = sorted(key_choice((1, 1.0, True, Decimal("1"), -0.0, 0.0)[i % 6])
                  for i in range(LINES))
    assert got == want


def test_a_sum_of_ints_and_floats_is_the_float_python_gives(tmp_path):
    """A reduce summing ints and floats (a plain generator, or a declared fold) writes a
    float, as Python's sum does; -0.0 comes back as -0.0 beside 0.0."""

    class Mixed(Job):
        def map(self, key, line):
            odd = key[1] // 6 % 2  # every other line; an int first
            yield "sum", 1.0 if odd else 1
            yield "zero", -0.0 if odd else 0.0

        def reduce(self, key, values):
            yield key, sum(values) if key == "sum" else sorted(map(repr, values))

    class Folded(Mixed):
        reduce = minimr.fold(sum)

    plain = dict(run(Mixed, tmp_path, "plain", tiny=False).records())
    folded = dict(run(Folded, tmp_path, "folded", tiny=False).records())
    assert type(plain["sum"]) is float and type(folded["sum"]) is float
    assert plain["sum"] == folded["sum"] == LINES
    assert plain["zero"] == ["-0.0"] * (LINES // 2) + ["0.0"] * (LINES // 2)


def test_a_map_keeping_state_in_self_counts_as_a_run_by_hand(tmp_path):
    """State the map keeps in ``self`` (set in setup) gives what the same job run by hand
    gives: the split is never run again on the same instance (4000 where 3700 was right)."""

    class Stateful(Job):
        def setup(self):
            self.seen = 0

        def map(self, key, line):
            self.seen += 1
            yield "lines", 1 if self.seen <= 300 else 2

        def reduce(self, key, values):
            yield key, sum(values)

    folder = tmp_path / "in"
    write_file(folder / "a.txt", "".join(f"line {i}\n" for i in range(LINES)))
    result = minimr.run(Stateful, inputs=[str(folder)], output=str(tmp_path / "o"),
                        runner="inline")
    assert dict(result.records()) == {"lines": 300 + 2 * (LINES - 300)}


def test_a_map_raising_on_its_500th_record_is_called_500_times(tmp_path):
    """The user's KeyError surfaces at once, as theirs: the map ran once per record."""
    calls = []

    class Fails(Job):
        def map(self, key, line):
            calls.append(key)
            if len(calls) == 500:
                raise KeyError("record 500")
            yield line, 1

        reduce = minimr.fold(sum)

    with pytest.raises(KeyError, match="record 500"):
        run(Fails, tmp_path)
    assert len(calls) == 500


def test_a_users_type_error_inside_the_counting_surfaces_as_theirs(tmp_path):
    """A TypeError raised by the map's own generator while its pairs are counted is the
    user's, raised once, from their line; no record is mapped twice."""
    calls = []

    class Broken(Job):
        def map(self, key, line):
            calls.append(key)
            yield "a", 1
            if len(calls) == 300:
                raise TypeError("the user's own")

        reduce = minimr.fold(sum)

    with pytest.raises(TypeError, match="the user's own"):
        run(Broken, tmp_path)
    assert len(calls) == len(set(calls)) == 300


class MapKeys(Job):
    """Word count in the declared forms."""

    def map_keys(self, key, line):
        return line.split()

    reduce = minimr.fold(sum)


class Plain(Job):
    """Word count written plainly."""

    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def combine(self, word, counts):
        yield word, sum(counts)

    def reduce(self, word, counts):
        yield word, sum(counts)


def test_declared_forms_write_what_the_plain_job_writes(tmp_path):
    """map_keys and minimr.fold(sum) (in a class, in a Step) give the plain job's bytes."""

    class Stepped(Job):
        def steps(self):
            return [Step(map_keys=MapKeys().map_keys, reduce=minimr.fold(sum))]

    outputs = [run(job, tmp_path, name).output for job, name in
               ((Plain, "plain"), (MapKeys, "keys"), (Stepped, "step"))]
    parts = [sorted(p.read_bytes() for p in (tmp_path / o).glob("part-*")) for o in outputs]
    assert parts[0] == parts[1] == parts[2]


def test_a_module_level_fold_is_a_function_jobs_reduce(tmp_path):
    """``reduce = minimr.fold(max)`` at the top of a job file is that job's reduce (and its
    combiner), beside a top-level map_keys."""
    job = tmp_path / "job.py"
    job.write_text("import minimr\n\ndef map_keys(key, line):\n    return line.split()\n\n"
                   "reduce = minimr.fold(max)\n")
    assert dict(run(str(job), tmp_path).records()) == {"w0": 1, "w1": 1, "w2": 1, "w3": 1,
                                                       "w4": 1, "w5": 1, "w6": 1, "x0": 1,
                                                       "x1": 1, "x2": 1}


def test_fold_refuses_anything_but_the_builtins_it_names():
    """minimr.fold(len) is a definition error naming sum, min, max, any and all."""
    with pytest.raises(minimr.JobDefinitionError, match="sum, min, max, any, all"):
        minimr.fold(len)
    with pytest.raises(minimr.JobDefinitionError, match=r"got <function .*<lambda>"):
        minimr.fold(lambda values: 0)
    assert repr(minimr.fold(sum)) == "minimr.fold(sum)"


def line_of(fn) -> str:
    code = fn.__code__
    return f"{code.co_filename}:{code.co_firstlineno}"


def test_a_map_that_returns_a_pair_names_its_line(tmp_path):
    """A map with ``return`` where ``yield`` was meant fails at once with JobCodeError naming
    the map's file:line and showing what it returned."""

    class Returns(Job):
        def map(self, key, line):
            return line.split()[0], 1

        reduce = minimr.fold(sum)

    where = line_of(Returns.map)
    with pytest.raises(minimr.JobCodeError) as info:
        run(Returns, tmp_path)
    assert (f"Returns.map ({where}) returned ('w0', 1) (a tuple), one (key, value) pair "
            "instead of yielding it") in str(info.value)


def test_a_reduce_that_returns_a_pair_names_its_line(tmp_path):
    """A reduce with ``return key, sum(values)`` is named as returning a pair, not as
    yielding the key's characters one by one."""

    class Returns(Plain):
        def reduce(self, word, counts):
            return word, sum(counts)

    where = line_of(Returns.reduce)
    with pytest.raises(minimr.JobCodeError, match=rf"Returns.reduce \({where}\) returned "
                                                  r"\('\w+', \d+\) \(a tuple\), one \(key"):
        run(Returns, tmp_path)


def test_a_map_that_returns_a_tuple_of_pairs_is_fine(tmp_path):
    """A tuple of (key, value) pairs returned by a map is pairs, as a list is."""

    class Pairs(Plain):
        def map(self, key, line):
            return tuple((word, 1) for word in line.split())[:2]

    run(Pairs, tmp_path)


def test_a_reduce_that_returns_a_number_names_its_line(tmp_path):
    """A reduce returning ``sum(values)`` is a JobCodeError naming it and the number."""

    class Returns(Plain):
        def reduce(self, word, counts):
            return sum(counts)

    where = line_of(Returns.reduce)
    with pytest.raises(minimr.JobCodeError, match=rf"Returns.reduce \({where}\) returned \d+ "
                                                  r"\(an int\), not pairs"):
        run(Returns, tmp_path)


def test_a_combine_that_yields_values_alone_names_its_line(tmp_path):
    """A combine yielding bare values is a JobCodeError naming the combine."""

    class Values(Plain):
        def combine(self, word, counts):
            yield sum(counts)

    with pytest.raises(minimr.JobCodeError, match=r"Values.combine \(.*\) yielded \d+ \(an "
                                                  r"int\), not a \(key, value\) pair"):
        run(Values, tmp_path)


def test_map_keys_returning_a_str_names_its_line(tmp_path):
    """map_keys returning the line itself (whose characters would be counted) is refused."""

    class Line(MapKeys):
        def map_keys(self, key, line):
            return line

    with pytest.raises(minimr.JobCodeError, match=r"Line.map_keys \(.*\) returned 'w0 x0' "
                                                  r"\(a str\): map_keys must return"):
        run(Line, tmp_path)
