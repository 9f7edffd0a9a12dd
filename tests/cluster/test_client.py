"""The submitting side checks its own Submit as the coordinator will, before sending it."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from minimr.cluster.client.client import _checked_submit
from minimr.cluster.wire import protocol as p
from minimr.errors import UsageError

PLAN = SimpleNamespace(job_id="wc-1", job_name="wc", steps=[object()])


@pytest.mark.parametrize(
    "options, named",
    [
        ({"task_timeout": math.inf}, "task_timeout"),
        ({"worker_timeout": math.nan}, "worker_timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_skips": 10**30}, "max_skips"),
    ],
)
def test_options_no_coordinator_would_take_are_a_usage_error_naming_them(options, named):
    """Infinity, NaN or out-of-range numbers fail at once, on the submitting side."""
    with pytest.raises(UsageError, match=named):
        _checked_submit(PLAN, options, "cloudpickle", b"x")


def test_good_options_become_the_typed_record():
    """Options that fit travel as the Options record."""
    submit = _checked_submit(PLAN, {"task_timeout": 30, "max_attempts": 2}, "cloudpickle", b"x")
    assert submit.options == p.Options(max_attempts=2, task_timeout=30.0)
