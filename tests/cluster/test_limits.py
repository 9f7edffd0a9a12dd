"""The coordinator's limits per submitter and per worker key, over the in-memory transport."""

from __future__ import annotations

import pytest

from minimr.cluster.client.client import submit_plan
from minimr.cluster.coordinator.coordinator import Coordinator
from minimr.cluster.coordinator.limits import Limits, plan_too_large
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.memory_transport import MemoryNetwork
from minimr.errors import JobDefinitionError
from tests.cluster.test_coordinator import Clock, Roles, of_type


class Rig:
    """A coordinator with ``limits`` on a fake network (``access``: keys and their roles)."""

    def __init__(self, limits: Limits, access: Roles | None = None) -> None:
        self.network = MemoryNetwork()
        self.coordinator = Coordinator(
            self.network.bind("mem://c"), s.Scheduler(), Clock(), access=access, limits=limits
        )

    def exchange(self, identity: str, message: p.Message, key: str = "") -> list[p.Message]:
        """Send ``message`` from a new connection, run a turn, return what came back."""
        conn = self.network.connect("mem://c", identity.encode(), user=key)
        conn.send(wire.encode(message))
        self.coordinator.turn()
        received = []
        while (frames := conn.recv()) is not None:
            received.extend(wire.decode_all(frames))
        return received


def submit(job_id: str, size: int) -> p.Submit:
    return p.Submit(job_id, "job", 1, {}, "cloudpickle", b"x" * size)


def ready(name: str) -> p.Ready:
    return p.Ready(name, "host", 1, 1, f"tcp://{name}:1")


def test_a_submitter_past_its_job_count_is_refused_with_the_flag_to_raise_it():
    """The job past ``max_jobs`` unfinished ones gets Reject(code="limit") naming the flag."""
    rig = Rig(Limits(max_jobs=2))
    assert of_type(rig.exchange("c1", submit("j1", 10)), p.Submitted)
    assert of_type(rig.exchange("c2", submit("j2", 10)), p.Submitted)
    (reject,) = of_type(rig.exchange("c3", submit("j3", 10)), p.Reject)
    assert reject.code == "limit"
    assert "2 unfinished jobs" in reject.reason and "--max-jobs-per-submitter" in reject.reason
    assert "j3" not in rig.coordinator.scheduler.jobs


def test_a_submitter_past_its_plan_bytes_is_refused_and_a_resubmission_is_not_counted():
    """Plans past ``max_plan_bytes`` are refused; the same job sent again is not a new one."""
    rig = Rig(Limits(max_plan_bytes=100))
    assert of_type(rig.exchange("c1", submit("j1", 60)), p.Submitted)
    assert of_type(rig.exchange("c1b", submit("j1", 60)), p.Submitted)  # a reconnect
    (reject,) = of_type(rig.exchange("c2", submit("j2", 60)), p.Reject)
    assert "120 bytes" in reject.reason and "--max-plan-bytes" in reject.reason


def test_a_finished_job_frees_its_submitters_budget():
    """Once a job ends, its plan no longer counts: the next submission is taken."""
    rig = Rig(Limits(max_jobs=1))
    assert of_type(rig.exchange("c1", submit("j1", 10)), p.Submitted)
    rig.exchange("c1", p.CancelJob("j1"))
    assert of_type(rig.exchange("c2", submit("j2", 10)), p.Submitted)


def test_keyless_submitters_share_one_budget_whatever_their_routing_identity():
    """Without keys a fresh connection is no fresh budget: routing ids are the peer's choice."""
    rig = Rig(Limits(max_jobs=1))
    assert of_type(rig.exchange("c1", submit("j1", 10)), p.Submitted)
    assert of_type(rig.exchange("another", submit("j2", 10)), p.Reject)


def test_each_submitter_key_has_its_own_budget():
    """With keys, alice's jobs do not count against bob's."""
    rig = Rig(Limits(max_jobs=1), Roles(alice={"submitter"}, bob={"submitter"}))
    assert of_type(rig.exchange("a1", submit("j1", 10), key="alice"), p.Submitted)
    assert of_type(rig.exchange("a2", submit("j2", 10), key="alice"), p.Reject)
    assert of_type(rig.exchange("b1", submit("j3", 10), key="bob"), p.Submitted)


def test_a_worker_key_past_its_worker_count_is_refused_with_the_reason():
    """The registration past ``max_workers`` on one key is refused; another key still joins."""
    rig = Rig(Limits(max_workers=2), Roles(node={"worker"}, other={"worker"}))
    for name in ("w1", "w2"):
        assert of_type(rig.exchange(name, ready(name), key="node"), p.Welcome)
    (reject,) = of_type(rig.exchange("w3", ready("w3"), key="node"), p.Reject)
    assert reject.code == "limit" and "--max-workers-per-key" in reject.reason
    assert "w3" not in rig.coordinator.scheduler.workers
    assert of_type(rig.exchange("w4", ready("w4"), key="other"), p.Welcome)
    assert of_type(rig.exchange("w1", ready("w1"), key="node"), p.Welcome)  # re-registering


def test_without_keys_workers_are_not_capped():
    """A keyless cluster has no key to count workers by: any number may join."""
    rig = Rig(Limits(max_workers=1))
    for name in ("w1", "w2", "w3"):
        assert of_type(rig.exchange(name, ready(name)), p.Welcome)


def test_plan_too_large_names_the_size_and_both_flags():
    """The client's refusal says how big the plan is and which options raise the limit."""
    assert plan_too_large(64, 64) is None
    reason = plan_too_large(3 << 20, 1 << 20)
    assert "3.0 MiB" in reason and "1.0 MiB" in reason
    assert "minimr coordinator --max-message-size" in reason
    assert "minimr submit --max-message-size" in reason


def test_submit_plan_refuses_a_plan_over_the_limit_before_connecting(tmp_path):
    """A plan past ``max_message_size`` fails at once, with no coordinator contacted."""
    from tests.e2e.support import make_plan, small_inputs

    plan = make_plan("wordcount.py", small_inputs(tmp_path / "in", 1), tmp_path / "out")

    def connect(address: str, identity: bytes):
        raise AssertionError("a plan over the limit must not be sent")

    with pytest.raises(JobDefinitionError, match="--max-message-size"):
        submit_plan(plan, "tcp://127.0.0.1:9", connect=connect, max_message_size=1024)
