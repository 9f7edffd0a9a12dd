"""Shipping plans: round trips with both serializers, unpicklable jobs refused by name."""

from __future__ import annotations

import pickle
import sys
import threading
import types

import pytest

from minimr.cluster import shipping
from minimr.errors import JobDefinitionError


class Holder:
    """Stands in for a plan holding a job."""

    def __init__(self, job: object) -> None:
        self.job = job


class LockedJob:
    """A job holding something that cannot be pickled."""

    def __init__(self) -> None:
        self.threshold = 3
        self.lock = threading.Lock()


@pytest.mark.parametrize("serializer", shipping.SERIALIZERS)
def test_round_trip(serializer):
    """A plan with a lambda survives dumps/loads with each serializer."""
    plan = Holder(lambda x: x + 1)
    assert shipping.loads(shipping.dumps(plan, serializer), serializer).job(1) == 2


def test_unpicklable_job_is_refused_naming_the_attribute():
    """A job holding a lock is refused at submit with the attribute's path in the message."""
    with pytest.raises(JobDefinitionError) as info:
        shipping.dumps(Holder(LockedJob()))
    assert "plan.job.lock" in str(info.value)


def test_missing_module_on_the_worker_is_named():
    """Loading a plan that needs a module this host lacks names the module and the host."""
    module = types.ModuleType("no_such_module_x")
    exec("def f():\n    pass\n", module.__dict__)
    module.f.__module__ = "no_such_module_x"
    sys.modules["no_such_module_x"] = module
    try:
        blob = pickle.dumps(module.f)  # by reference, as an installed package would be
    finally:
        del sys.modules["no_such_module_x"]
    with pytest.raises(ModuleNotFoundError) as info:
        shipping.loads(blob)
    assert "no_such_module_x" in str(info.value) and "worker host" in str(info.value)
