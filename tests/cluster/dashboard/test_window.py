"""The window between the coordinator's loop and the dashboard's HTTP threads."""

from __future__ import annotations

import threading

from minimr.cluster.dashboard.window import (
    PUBLISH_INTERVAL,
    VIEWER_TIMEOUT,
    CancelRequest,
    Snapshot,
    Window,
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def snapshot(window: Window, version: int) -> Snapshot:
    return Snapshot(version, window.clock(), 0.0, {"workers": [], "jobs": []})


def test_the_loop_publishes_only_while_someone_looks():
    """After the first snapshot, the loop publishes again only within the viewer timeout of
    a request, and no more often than the publish interval."""
    clock = Clock()
    window = Window(clock)
    assert window.due(clock())  # nothing published yet
    window.publish(snapshot(window, 1))
    clock.now += 60
    assert not window.due(clock())  # nobody looked: a coordinator nobody watches pays nothing
    window.read(wait=0)  # a request: someone looks
    assert window.due(clock())
    window.publish(snapshot(window, 2))
    clock.now += PUBLISH_INTERVAL / 2
    assert not window.due(clock())
    clock.now += PUBLISH_INTERVAL
    assert window.due(clock())
    clock.now += VIEWER_TIMEOUT + 1
    assert not window.due(clock())


def test_a_request_waits_for_a_fresh_snapshot_from_the_loop():
    """A request that finds the snapshot stale gets the one the loop publishes next."""
    clock = Clock()
    window = Window(clock)
    window.publish(snapshot(window, 1))
    clock.now += 30
    got = []
    reader = threading.Thread(target=lambda: got.append(window.read(wait=5.0)))
    reader.start()
    while not window.due(clock()):
        pass
    window.publish(snapshot(window, 2))
    reader.join(5)
    assert got[0].version == 2


def test_the_first_request_after_nobody_looked_waits_for_a_fresh_snapshot():
    """A snapshot taken while nobody looked (the one at start-up) is not served to the
    first request, however young: a worker that joined or a job that ended since would be
    missing (a script polling right after `minimr submit` saw no worker)."""
    clock = Clock()
    window = Window(clock)
    window.publish(snapshot(window, 1))  # at start-up, nobody looking
    clock.now += PUBLISH_INTERVAL / 4
    assert window.read(wait=0).version == 1  # nothing newer yet: the current one, at once
    assert window.due(clock())  # and the loop is asked for a fresh one
    window.publish(snapshot(window, 2))
    clock.now += PUBLISH_INTERVAL / 4
    assert window.read(wait=0).version == 2  # someone looks now: young enough is enough
    assert not window.due(clock())


def test_cancel_requests_reach_the_loop_in_order():
    """Cancels posted from HTTP threads are taken by the loop once each, in order."""
    window = Window()
    window.cancel("job-a", "the dashboard (127.0.0.1)")
    window.cancel("job-b", "the dashboard (127.0.0.1)")
    assert window.take_cancels() == [
        CancelRequest("job-a", "the dashboard (127.0.0.1)"),
        CancelRequest("job-b", "the dashboard (127.0.0.1)"),
    ]
    assert window.take_cancels() == []


def test_the_coordinator_publishes_its_views_and_takes_the_dashboards_cancels():
    """A coordinator with a window publishes the jobs while someone looks, and a cancel
    asked there ends the job as a client's would, its attempts cancelled on the worker."""
    from minimr.cluster.wire import protocol as p
    from tests.cluster.test_coordinator import Rig, of_type

    rig = Rig()
    window = rig.coordinator.window = Window(rig.clock)
    worker = rig.worker("w1")
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (assign,) = of_type(rig.exchange(worker), p.Assign)
    window.read(wait=0)
    rig.clock.now += 1
    rig.coordinator.turn()
    seen = window.snapshot
    assert seen.jobs["j"]["state"] == "running"
    assert [w["name"] for w in seen.cluster["workers"]] == ["w1"]
    window.cancel("j", "the dashboard (127.0.0.1)")
    (result,) = of_type(rig.exchange(client), p.JobResult)
    assert result.state == "cancelled"
    assert p.CancelAttempt("j", assign.attempt) in rig.exchange(worker)
