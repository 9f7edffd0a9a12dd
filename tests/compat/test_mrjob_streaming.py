"""An mrjob step in minimr's tasks: lines cut as Hadoop cuts them, reporter lines turned into
counters, and what a combiner or protocol may not do refused by name."""

from __future__ import annotations

import logging

import pytest

from minimr.compat.mrjob_protocols import join_line, split_line
from minimr.compat.mrjob_streaming import Reporter, StepShape, StreamingStep
from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.errors import JobCodeError

mrjob_job = pytest.importorskip("mrjob.job")


@pytest.mark.parametrize("line", [b'"a"\t1', b"k\tv\twith\ttabs", b"no tab", b"", b"\t",
                                  b"trailing\t"])
def test_lines_cut_at_the_first_tab_and_joined_back(line):
    """A line is key and value at its first tab, or whole with a None value; joined, the same."""
    key, value = split_line(line)
    assert b"\t" not in key
    assert (value is None) == (b"\t" not in line)
    assert join_line(key, value) == line


def test_reporter_lines_become_counters_and_log_lines(caplog, capfdbinary):
    """``reporter:counter:`` adds to a counter, ``reporter:status:`` is logged, the rest of
    the job's stderr reaches the process's stderr, even when written in pieces."""
    counters = Counters()
    reporter = Reporter()
    with C.activate(counters), caplog.at_level(logging.INFO, logger="minimr.mrjob"):
        reporter.write(b"reporter:counter:words; odd,seen,3\nreporter:coun")
        reporter.write(b"ter:words; odd,seen,2\nreporter:status:half way\nhello\n")
    assert counters.get("words; odd", "seen") == 5
    assert "status: half way" in caplog.text
    assert capfdbinary.readouterr().err == b"hello\n"


class MRSwapKeys(mrjob_job.MRJob):
    def combiner(self, key, values):
        yield key + "!", sum(values)


class MRStrProtocol(mrjob_job.MRJob):
    class TextLines:
        def read(self, line):
            return None, line.decode()

        def write(self, key, value):
            return f"{key}\t{value}"

    INTERNAL_PROTOCOL = TextLines

    def mapper(self, _, line):
        yield line, 1

    def reducer(self, key, values):
        yield key, sum(values)


def _step(job_cls, **shape) -> StreamingStep:
    defaults = dict(index=0, mapper=True, mapper_hooks=False, combiner=True, reducer=True,
                    last=True)
    return StreamingStep(job_cls, [], StepShape(**{**defaults, **shape}), raw_input=True)


def test_a_combiner_that_changes_its_key_is_refused():
    """A combiner must yield the key it was given: another would sit in the wrong place."""
    step = _step(MRSwapKeys)
    with pytest.raises(JobCodeError, match=r"""yielded key b'"a!"' for key b'"a"'"""):
        list(step.combine(b'"a"', iter([b"1", b"2"])))


def test_a_combiner_keeps_its_key_and_reads_values_through_the_protocol():
    """A combiner's values are decoded from their lines and its output encoded back."""
    class MRSum(mrjob_job.MRJob):
        def combiner(self, key, values):
            yield key, [key, sum(values)]

    assert list(_step(MRSum).combine(b'["x", 1]', iter([b"1", b"2.5"]))) == [
        (b'["x", 1]', b'[["x", 1], 3.5]')]


def test_a_protocol_writing_str_is_refused():
    """A protocol's ``write`` must return bytes, as mrjob writes its lines to a binary stream."""
    step = _step(MRStrProtocol, combiner=False, last=False)
    try:
        with pytest.raises(JobCodeError, match="TextLines.write returned a str, not bytes"):
            list(step.map(("f", 0), "line"))
    finally:
        step.teardown()  # the input file it named in the environment
