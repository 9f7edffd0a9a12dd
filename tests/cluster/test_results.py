"""A prepare's task lists must be what the job asked for: its reducers, its input splits,
range boundaries as plain key texts, the same for every map task."""

from __future__ import annotations

import pytest

from minimr.cluster.scheduling.results import misfit
from minimr.cluster.scheduling.tables import Job, Kind, Task
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.wiretypes import parse
from minimr.dataflow import layout
from tests.e2e.support import make_plan, small_inputs


@pytest.fixture
def plan(tmp_path):
    """A one-step plan over three small files, two reducers."""
    return make_plan("wordcount.py", small_inputs(tmp_path / "in", 3), tmp_path / "out",
                     reducers=2)


def job_of(plan, sampled: bool = False) -> Job:
    """The scheduler's job for ``plan``, with its layout (a range step if ``sampled``)."""
    shape = layout.job_layout(plan)
    shape["steps"][0]["sampled"] = sampled
    return Job("j", "wc", 1, 4, True, None, None, 0.0, layout=parse(p.JobLayout, shape))


PREPARE = Task("s0-p00000", Kind.PREPARE, 0, 0, {"step": 0})


def lists(plan, boundaries=None, **change) -> p.TaskLists:
    """The plan's honest task lists, map specs changed by ``change`` and ``boundaries``."""
    maps = [{**t.to_dict(), "boundaries": boundaries, **change} for t in plan.map_tasks(0)]
    return p.TaskLists(tuple(maps), tuple(t.to_dict() for t in plan.reduce_tasks(0)))


def test_the_honest_task_lists_fit(plan):
    """What a prepare task computes from the plan fits the job's layout."""
    assert misfit(job_of(plan), PREPARE, lists(plan)) is None
    assert misfit(job_of(plan, sampled=True), PREPARE, lists(plan, ["'m'"])) is None


def test_a_map_over_a_file_the_job_did_not_name_does_not_fit(plan):
    """A map task reading another file (or another byte range) is refused."""
    other = lists(plan, split={"path": "/etc/passwd", "start": 0, "end": 10})
    assert "do not read the job's input" in misfit(job_of(plan), PREPARE, other)
    maps = lists(plan).map_tasks
    dropped = p.TaskLists(maps[:-1], lists(plan).reduce_tasks)
    assert "do not read the job's input" in misfit(job_of(plan), PREPARE, dropped)


def test_another_number_of_reducers_does_not_fit(plan):
    """One reduce task fewer than the job asked for is refused, even with the map tasks
    made to agree."""
    short = p.TaskLists(lists(plan, reducers=1).map_tasks, lists(plan).reduce_tasks[:1])
    assert "2 reducers" in misfit(job_of(plan), PREPARE, short)


@pytest.mark.parametrize(
    "boundaries, why",
    [
        ("gASVBQAAAAAAAABdlC4=", "list of literal texts"),  # base64 of a pickle
        (["__import__('os')"], "not plain keys"),
        (["'a'", "'b'"], "at most 1 boundaries"),
    ],
)
def test_boundaries_that_are_not_plain_key_texts_do_not_fit(plan, boundaries, why):
    """Pickled boundaries, text that is no key, or too many boundaries are refused."""
    assert why in misfit(job_of(plan, sampled=True), PREPARE, lists(plan, boundaries))


def test_boundaries_must_be_the_same_and_only_where_the_step_samples(plan):
    """Map tasks cutting at different keys, or boundaries on a hash step, are refused."""
    honest = lists(plan, ["'m'"])
    mixed = p.TaskLists((honest.map_tasks[0], *lists(plan, ["'n'"]).map_tasks[1:]),
                        honest.reduce_tasks)
    assert "same boundaries" in misfit(job_of(plan, sampled=True), PREPARE, mixed)
    assert "not range-partitioned" in misfit(job_of(plan), PREPARE, honest)


def test_a_prepare_lists_no_records_to_skip(plan):
    """Skip lists come from the coordinator, never from a prepare task."""
    assert "skip" in misfit(job_of(plan), PREPARE, lists(plan, skip=[0]))


def test_without_a_layout_only_the_boundaries_are_checked(plan):
    """A job submitted without a layout still gets no pickled boundaries through."""
    job = job_of(plan)
    job.layout = None
    assert misfit(job, PREPARE, lists(plan)) is None
    assert "literal texts" in misfit(job, PREPARE, lists(plan, "gASV"))
