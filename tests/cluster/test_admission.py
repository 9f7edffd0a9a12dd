"""Admission: a message is served when its key has the role it needs and a worker's
identity is its own; otherwise the sender gets a Reject that says why."""

from __future__ import annotations

from minimr.cluster.coordinator.admission import ROLES, refusal
from minimr.cluster.scheduling.tables import Worker
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire.security import SUBMITTER, WORKER


class Roles:
    """The one method of an ``AccessList`` admission asks: the roles of a key."""

    def __init__(self, roles: dict[str, frozenset[str]]) -> None:
        self._roles = roles

    def roles(self, key: str) -> frozenset[str]:
        return self._roles.get(key, frozenset())


WORKERS = {"w1": Worker("w1", "one", "host", 1, "", 0.0, 0.0, key="kw")}
ACCESS = Roles({"kw": frozenset({WORKER}), "ks": frozenset({SUBMITTER})})


def test_without_keys_every_message_is_served_but_a_taken_identity():
    """No access list: anything is served, but a worker message on a registered worker's
    identity from another key (even "", no key) is refused."""
    for kind in ROLES:
        assert refusal(None, {}, "w1", "", kind) is None
    reject = refusal(None, WORKERS, "w1", "", p.Heartbeat)
    assert reject is not None and reject.code == "unauthorized"
    assert "identity belongs to worker one" in reject.reason
    assert refusal(None, WORKERS, "w1", "", p.Submit) is None  # a client's: no identity


def test_keys_are_held_to_their_roles():
    """A worker key may not submit, a submitter key may not register, an unknown key may
    do nothing; both may ask for the status."""
    assert refusal(ACCESS, WORKERS, "w1", "kw", p.Heartbeat) is None
    assert refusal(ACCESS, {}, "c", "ks", p.Submit) is None
    submitted = refusal(ACCESS, {}, "w2", "kw", p.Submit)
    assert submitted is not None and "may not send Submit" in submitted.reason
    assert refusal(ACCESS, {}, "w2", "ks", p.Ready) is not None
    assert refusal(ACCESS, {}, "x", "unknown", p.StatusRequest) is not None
    assert refusal(ACCESS, {}, "x", "kw", p.StatusRequest) is None
    assert refusal(ACCESS, {}, "x", "ks", p.StatusRequest) is None
