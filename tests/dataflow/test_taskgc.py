"""A task's young-generation threshold grows while collections find only live objects and
drops back to the floor when they find user code's cycles."""

from __future__ import annotations

import gc
from contextlib import nullcontext

import pytest

from minimr.dataflow import taskgc


def thresholds_while(ceiling: int, make) -> list[int]:
    """The young threshold after each collection while ``make(i)`` runs 3 million times."""
    seen: list[int] = []

    def note(phase, info):
        if phase == "stop":
            seen.append(gc.get_threshold()[0])

    gc.collect()  # no garbage or generation counts left from earlier tests
    with taskgc.adaptive(ceiling):
        gc.callbacks.append(note)  # after the policy's own callback: sees its decision
        try:
            kept = [make(i) for i in range(3_000_000)]
        finally:
            gc.callbacks.remove(note)
    del kept
    return seen


def test_live_objects_double_the_threshold_up_to_the_ceiling():
    """Collections that walk only objects still in use (a buffer filling) make it grow."""
    seen = thresholds_while(800_000, lambda i: [i])  # lists stay tracked, and alive
    assert seen[:3] == [400_000, 800_000, 800_000]


def test_cyclic_garbage_keeps_it_at_the_floor():
    """A map making a reference cycle a record has its garbage collected as often as ever."""
    def cycle(i):
        node = {"i": i}
        node["self"] = node
        return None

    seen = thresholds_while(10**7, cycle)
    assert len(seen) >= 10 and set(seen) == {taskgc.FLOOR}


def test_garbage_after_growth_sends_it_back_to_the_floor():
    """Grown while a buffer filled, it drops at the first collection that finds cycles."""
    garbage = []

    def make(i):
        if i < 1_000_000:
            return [i]
        node = {}
        node["self"] = node
        garbage.append(None)
        return None

    seen = thresholds_while(10**7, make)
    assert max(seen) > taskgc.FLOOR and seen[-1] == taskgc.FLOOR


@pytest.mark.parametrize("fails", [False, True])
def test_the_process_settings_come_back(fails):
    """Thresholds and callbacks are the process's own again, even when the body raises."""
    before, callbacks = gc.get_threshold(), list(gc.callbacks)
    with pytest.raises(RuntimeError) if fails else nullcontext():
        with taskgc.adaptive(10**6):
            assert gc.get_threshold()[0] == taskgc.FLOOR
            if fails:
                raise RuntimeError("boom")
    assert gc.get_threshold() == before and gc.callbacks == callbacks

