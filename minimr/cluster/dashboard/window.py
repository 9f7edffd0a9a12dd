"""Where the coordinator's loop and the dashboard's HTTP threads meet, and nowhere else.

The loop owns the scheduler and is single-threaded; the HTTP server answers in threads of
its own. They share only a :class:`Window`:

- the loop *publishes* an immutable :class:`Snapshot` (plain data built by ``views.py``)
  by swapping one reference, copy-on-write: an HTTP thread reads whichever snapshot is
  current and never touches the scheduler's tables;
- the loop publishes only while someone looks (a request within ``VIEWER_TIMEOUT``
  seconds), at most once per ``PUBLISH_INTERVAL``, and on the next turn when a request
  finds the snapshot older than it accepts, or is the first after nobody looked (that
  request waits for the new one): a coordinator nobody watches pays nothing;
- an HTTP thread asks for a cancel by posting a :class:`CancelRequest`; the loop takes
  the requests on its next turn (within a tick) and cancels as for a client.

A snapshot's documents are never changed once published: the loop builds new ones each
time, and a finished job's (which no longer changes) are carried over as they are.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minimr.cluster.scheduling import views

if TYPE_CHECKING:
    from minimr.cluster.scheduling.scheduler import Scheduler

#: seconds between two snapshots while someone looks (the pages poll once a second)
PUBLISH_INTERVAL = 1.0
#: seconds after the last request during which the loop keeps publishing
VIEWER_TIMEOUT = 5.0
#: seconds a request waits for a fresh snapshot before it takes the current one
FRESH_WAIT = 1.0


@dataclass(frozen=True)
class Snapshot:
    """What the dashboard shows at one moment, as plain data (JSON-ready).

    Attributes:
        version: grows by one with each snapshot (the API's ``ETag``).
        taken: when it was taken, on the window's clock (monotonic seconds).
        wall: the wall clock then (seconds since the epoch), to show times of day.
        cluster: workers and job summaries (``views.cluster_status``).
        jobs: each job kept by the coordinator, by id, in full (``views.job_detail``).
    """

    version: int
    taken: float
    wall: float
    cluster: dict
    jobs: Mapping[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelRequest:
    """A cancel asked for from the dashboard: which job, and who asked (for the log)."""

    job_id: str
    by: str


EMPTY = Snapshot(0, 0.0, 0.0, {"workers": [], "jobs": []})


class Window:
    """The shared state between the loop (publishes, takes cancels) and HTTP threads (read,
    ask for cancels).

    Args:
        clock: monotonic seconds; the HTTP threads and the loop read the same one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._snapshot = EMPTY
        self._looked_at = float("-inf")  # when a request last came
        self._wanted_age = PUBLISH_INTERVAL  # the freshest a waiting request asked for
        self._fresh = threading.Condition()
        self._cancels: queue.SimpleQueue[CancelRequest] = queue.SimpleQueue()

    # --- the HTTP side --------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot, without waiting."""
        return self._snapshot

    def read(self, max_age: float = PUBLISH_INTERVAL, wait: float = FRESH_WAIT) -> Snapshot:
        """The current snapshot once it is at most ``max_age`` seconds old, waiting up to
        ``wait`` seconds for the loop to publish one (then the current one as it is)."""
        now = self.clock()
        with self._fresh:
            # A snapshot taken while nobody looked (the one at start-up) is as old as the
            # last request, whatever its age: the first request after a pause gets a new one.
            watched = now - self._looked_at <= VIEWER_TIMEOUT
            self._looked_at = now
            fresh = now - self._snapshot.taken <= max_age and self._snapshot is not EMPTY
            if fresh and watched:
                return self._snapshot
            self._wanted_age = min(self._wanted_age, max_age if watched else 0.0)
            version = self._snapshot.version
            self._fresh.wait_for(lambda: self._snapshot.version > version, timeout=wait)
            return self._snapshot

    def cancel(self, job_id: str, by: str) -> None:
        """Ask the loop to cancel ``job_id``."""
        self._cancels.put(CancelRequest(job_id, by))

    # --- the loop's side ------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """Whether the loop should publish a snapshot now (someone looks, and the current
        one is older than they accept)."""
        if now - self._looked_at > VIEWER_TIMEOUT and self._snapshot is not EMPTY:
            return False
        return now - self._snapshot.taken >= self._wanted_age

    def publish(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot and wake the requests waiting for one."""
        with self._fresh:
            self._snapshot = snapshot
            self._wanted_age = PUBLISH_INTERVAL
            self._fresh.notify_all()

    def take_cancels(self) -> list[CancelRequest]:
        """The cancel requests posted since the last call."""
        taken = []
        while True:
            try:
                taken.append(self._cancels.get_nowait())
            except queue.Empty:
                return taken


def take_snapshot(scheduler: Scheduler, window: Window, now: float, wall: float) -> Snapshot:
    """A new snapshot of ``scheduler``'s views at ``now`` (the loop's clock), for ``window``.

    Only the loop calls this. A finished job's document is the previous snapshot's (it no
    longer changes), so a coordinator keeping many finished jobs rebuilds only the running.
    """
    previous = window.snapshot
    jobs = {}
    for job_id, job in scheduler.jobs.items():
        kept = previous.jobs.get(job_id)
        if job.finished is not None and kept is not None and kept["finished"]:
            jobs[job_id] = kept
        else:
            detail = views.job_detail(job, scheduler.workers, now, kept)
            jobs[job_id] = {**detail, "replay": job.replay}
    return Snapshot(previous.version + 1, window.clock(), wall, scheduler.status(now), jobs)
