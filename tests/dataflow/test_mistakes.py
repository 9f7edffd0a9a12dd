"""Mistakes in a job's code are JobCodeErrors naming the user's function by file:line."""

from __future__ import annotations

import functools
import threading
import traceback

import pytest

import minimr
from minimr import Job, Step
from minimr.dataflow.mistakes import function_location
from minimr.errors import JobCodeError

LOCK = threading.Lock()


def where(fn) -> str:
    """What a message names a function by: qualname, file and the line of its def."""
    code = fn.__code__
    return f"{fn.__qualname__} ({code.co_filename}:{code.co_firstlineno})"


class LockValues(Job):
    """Yields a lock as the value of the word 'locked'."""

    reducers = 2

    def map(self, key, line):
        for word in line.split():
            yield word, LOCK if word == "locked" else 1

    def reduce(self, word, values):
        yield word, len(list(values))


class LockKeys(LockValues):
    """Yields a lock as a key."""

    def map(self, key, line):
        yield LOCK, 1


class CombineLocks(LockValues):
    """The map is fine; the combiner yields a lock."""

    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def combine(self, word, counts):
        yield word, LOCK


class ReduceLocks(CombineLocks):
    """The map is fine; the reducer yields a lock (written through !pickle: in text)."""

    combine = None

    def reduce(self, word, counts):
        yield word, LOCK


class TwoSteps(Job):
    """The first step's reducer yields a lock into the intermediate records."""

    def steps(self):
        return [Step(map=CombineLocks.map.__get__(self), reduce=ReduceLocks.reduce.__get__(self)),
                Step(map=lambda k, v: [(k, v)])]


def run(job, tmp_path, **options):
    data = tmp_path / "in.txt"
    data.write_text("one two\nlocked three\n" * 50)
    options.setdefault("runner", "inline")
    return minimr.run(job, [str(data)], str(tmp_path / "out"), **options)


@pytest.mark.parametrize("job, who, what", [
    (LockValues, [LockValues.map], "a value that cannot be pickled, a _thread.lock, for key"
                                   " 'locked' (TypeError: cannot pickle '_thread.lock' object)"),
    (LockKeys, [LockKeys.map], "a key that cannot be pickled, a _thread.lock: <unlocked"),
    (CombineLocks, [CombineLocks.map, CombineLocks.combine], "a _thread.lock, for key "),
    (ReduceLocks, [ReduceLocks.reduce], "a _thread.lock, for key "),
    (TwoSteps, [ReduceLocks.reduce], "a _thread.lock, for key "),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_a_record_that_cannot_be_pickled_names_its_type_function_and_key(tmp_path, job, who,
                                                                         what):
    """Whether map, combine or reduce yielded it, into a map output, a text part or an
    intermediate step's records: the message names the type, the function at its file:line
    and the key; no output is committed."""
    with pytest.raises(JobCodeError) as info:
        run(job, tmp_path)
    message = str(info.value)
    assert message.startswith(" or ".join(map(where, who)) + " yielded "), message
    assert what in message, message
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_the_key_is_shown_cut_short(tmp_path):
    """A long key is shown by the start of its repr, not whole."""

    class LongKey(Job):
        def map(self, key, line):
            yield "k" * 10_000, LOCK

    with pytest.raises(JobCodeError) as info:
        run(LongKey, tmp_path)
    assert "'kkkk" in str(info.value) and "k" * 200 not in str(info.value)


def test_skip_mode_does_not_skip_a_job_code_error(tmp_path):
    """A record that cannot be pickled is the code's mistake, not a bad input record: skip
    mode lets the JobCodeError through instead of skipping it."""
    with pytest.raises(JobCodeError, match="ReduceLocks.reduce"):
        run(ReduceLocks, tmp_path, skip_bad_records=True)


def test_function_location_of_every_kind_of_callable():
    """Methods, partials, decorated functions and callable objects are named by their def;
    a builtin and a declared fold by their repr."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            return fn(*args)
        return wrapper

    def plain(key, value):
        yield key, value

    class Callable:
        def __call__(self, key, value):
            yield key, value

    assert function_location(LockValues().map) == where(LockValues.map)
    assert function_location(functools.partial(plain, 1)) == where(plain)
    assert function_location(decorate(plain)) == where(plain)
    assert function_location(Callable()) == where(Callable.__call__)
    assert function_location(sum) == repr(sum)
    assert function_location(minimr.fold(max)) == "minimr.fold(max)"


@functools.total_ordering
class _Ordered:
    """A key type that compares (so a sort never needs its pickle) but cannot be pickled
    where it is held: an attribute of a class made in a function."""

    def __init__(self, n):
        self.n = n

    def __lt__(self, other):
        return self.n < other.n

    def __eq__(self, other):
        return self.n == other.n

    def __hash__(self):
        return self.n


def _local_ordered():
    class Local(_Ordered):
        pass
    return Local


@pytest.mark.parametrize("make_key", [lambda n: LOCK, lambda n: _local_ordered()(n)],
                         ids=["lock", "local-class"])
def test_an_unpicklable_key_is_named_when_sampled_for_range_boundaries(tmp_path, make_key):
    """With the range partitioner, the sample task meets the keys first, when it sorts them
    or when it pickles the boundaries it chose: the same JobCodeError either way."""

    class RangeKeys(LockValues):
        partitioner = "range"

        def map(self, key, line):
            yield make_key(len(line)), 1

    with pytest.raises(JobCodeError, match="yielded a key that cannot be pickled"):
        run(RangeKeys, tmp_path)


class CountsWithLen(Job):
    """A reduce (or combine) that takes len() of its values, as if they were a list."""

    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        yield word, len(counts)


class IndexesCombine(CountsWithLen):
    def combine(self, word, counts):
        yield word, counts[0]

    def reduce(self, word, counts):
        yield word, sum(counts)


class SumMethod(CountsWithLen):
    """``values.sum()``, as a pandas user writes (found in a new user's try)."""

    error = "AttributeError"

    def reduce(self, word, counts):
        yield word, counts.sum()


@pytest.mark.skipif(not hasattr(BaseException, "add_note"), reason="notes came in 3.11")
@pytest.mark.parametrize("job", [CountsWithLen, IndexesCombine, SumMethod],
                         ids=lambda j: j.__name__)
@pytest.mark.parametrize("runner", ["inline", "local"])
def test_values_used_as_a_list_get_a_hint(tmp_path, job, runner):
    """len(values) or values[0] in a reduce or combine fails with Python's TypeError about an
    iterator type the user never wrote; the failure says what values are and what to write."""
    with pytest.raises(Exception) as info:
        run(job, tmp_path, runner=runner)
    text = "".join(traceback.format_exception(info.value))
    text += getattr(info.value, "remote_traceback", "")
    assert getattr(job, "error", "TypeError") in text
    assert "values as an iterator" in text, text


def test_a_type_error_of_the_users_own_gets_no_hint(tmp_path):
    class OwnLen(CountsWithLen):
        def reduce(self, word, counts):
            yield word, len(reversed([1]))

    with pytest.raises(TypeError) as info:
        run(OwnLen, tmp_path)
    assert "values as an iterator" not in "".join(getattr(info.value, "__notes__", []))
