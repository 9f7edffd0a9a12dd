"""quick_init: a frozen dataclass's quicker __init__, with the same signature and result."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from minimr.cluster.scheduling import events
from minimr.cluster.wire import protocol
from minimr.cluster.wire.fastinit import quick_init


@dataclass(frozen=True)
class Plain:
    """A record with every kind of field quick_init handles (the stock __init__)."""

    kind: ClassVar[str] = "x"
    a: str
    d: object
    e: object = None
    g: list = field(default_factory=list)


Quick = quick_init(dataclass(frozen=True)(type("Quick", (), {
    "__annotations__": dict(Plain.__annotations__), "kind": "x", "e": None,
    "g": field(default_factory=list),
})))


def test_it_builds_what_the_dataclass_init_builds():
    """Positional, keyword and default arguments give the same fields as the stock init."""
    calls = [(("w", 5), {}), (("w",), {"d": 1, "g": [2]}), ((), {"a": 1, "d": 2, "e": 3})]
    for args, kwargs in calls:
        quick, plain = Quick(*args, **kwargs), Plain(*args, **kwargs)
        assert dataclasses.asdict(quick) == dataclasses.asdict(plain)
    assert Quick("w", 1).g is not Quick("w", 1).g  # a fresh default each time
    with pytest.raises(TypeError, match="missing"):
        Quick("w")
    with pytest.raises(TypeError):
        Quick("w", 1, 2, [], 5)


def test_it_stays_frozen_comparable_and_picklable():
    """Only __init__ changes: assignment is refused; equality, replace, pickling as before."""
    record = Quick("w", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.a = "v"  # type: ignore[misc]
    assert record == Quick("w", 1) and dataclasses.replace(record, a="v") == Quick("v", 1)
    assert pickle.loads(pickle.dumps(protocol.MapOutputRef(2, 3))) == protocol.MapOutputRef(2, 3)


def test_it_refuses_what_it_does_not_handle():
    """A mutable dataclass, one with slots, or one with a keyword-only field is refused."""
    def bare() -> type:
        return type("R", (), {"__annotations__": {"a": int}})

    for make in (dataclass(), dataclass(frozen=True, slots=True),
                 dataclass(frozen=True, kw_only=True)):
        with pytest.raises(TypeError):
            quick_init(make(bare()))


@pytest.mark.parametrize("cls", [
    events.AttemptSucceeded, events.Assign, events.TaskCommitted, events.JobChanged,
    protocol.TaskDone, protocol.Assign, protocol.MapOutputRef,
])
def test_the_records_made_per_task_keep_their_signature(cls):
    """The classes it is applied to take the same arguments as their dataclass fields."""
    import inspect

    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls.__init__).parameters)[1:] == names
