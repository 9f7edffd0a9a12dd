"""How much one submitter or one worker key may make the coordinator hold.

A coordinator keeps every unfinished job's plan (an opaque blob) in memory until the job
ends, and a row per registered worker. Without bounds, one client could fill it: a single
300 MiB message took it to 1.6 GiB, fifty 10 MiB plans from one client to 739 MiB. So:

- ``max_message_size``: the largest message (ZeroMQ frame) a coordinator accepts; a larger
  one is cut off by ZeroMQ before it is read (the sender's connection is dropped). A job's
  plan, the largest thing that travels, is a few KiB to a few MiB (the job's code and
  whatever data the job object holds), so 64 MiB leaves room; ``minimr submit`` refuses a
  bigger plan itself, before sending, since the coordinator cannot answer a message it
  never read.
- ``max_jobs`` and ``max_plan_bytes``: a submitter's unfinished jobs (queued or running) and
  the bytes of their plans. A submission past either is refused with ``Reject(code="limit")``,
  which ``minimr submit`` shows. A submitter is the key it authenticated with; without keys
  all submitters share one budget, because a keyless peer's routing identity is its own
  choice, fresh on every connection, and so names nobody.
- ``max_workers``: workers registered at once with one worker key (with keys only: without
  keys there is no key to count by). A registration past it is refused with the reason,
  and the worker exits.

The shuffle server's bounds (``shuffle.py``) and the scheduler's against black holes and
endless fetch-failure reports (``failures.py``) live beside the code they bound;
``docs/limits.md`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
#: largest message a coordinator accepts, and largest plan ``minimr submit`` sends
MAX_MESSAGE_SIZE = 64 * MiB
#: unfinished (queued or running) jobs of one submitter
MAX_JOBS_PER_SUBMITTER = 64
#: bytes of plans the coordinator holds for one submitter's unfinished jobs
MAX_PLAN_BYTES_PER_SUBMITTER = 256 * MiB
#: workers registered at once with one worker key
MAX_WORKERS_PER_KEY = 64


@dataclass(frozen=True)
class Limits:
    """The coordinator's bounds per submitter and per worker key (defaults above)."""

    max_message_size: int = MAX_MESSAGE_SIZE
    max_jobs: int = MAX_JOBS_PER_SUBMITTER
    max_plan_bytes: int = MAX_PLAN_BYTES_PER_SUBMITTER
    max_workers: int = MAX_WORKERS_PER_KEY

    def refuse_submission(self, plan_bytes: int, jobs: int, held_bytes: int) -> str | None:
        """Why a submitter holding ``jobs`` unfinished jobs of ``held_bytes`` may not add one.

        Returns:
            The reason for the client, or ``None`` when the job may be queued.
        """
        if jobs >= self.max_jobs:
            return (
                f"this submitter already has {jobs} unfinished job{'s' * (jobs != 1)}, the limit "
                f"(`minimr coordinator --max-jobs-per-submitter {self.max_jobs}`): wait for "
                "some to end, or cancel some"
            )
        if held_bytes + plan_bytes > self.max_plan_bytes:
            return (
                f"its plan ({_size(plan_bytes)}) would bring this submitter's unfinished jobs "
                f"to {_size(held_bytes + plan_bytes)} of plans, over the limit "
                f"(`minimr coordinator --max-plan-bytes {self.max_plan_bytes}`): wait for some "
                "to end, or hold less data on the job object"
            )
        return None

    def refuse_worker(self, registered: int) -> str | None:
        """Why one more worker may not register with a key that ``registered`` workers use."""
        if registered >= self.max_workers:
            return (
                f"{registered} workers are registered with this key already, the limit "
                f"(`minimr coordinator --max-workers-per-key {self.max_workers}`): give "
                "workers keys of their own (`minimr keygen DIR --worker NAME`) or raise it"
            )
        return None


def plan_too_large(plan_bytes: int, limit: int) -> str | None:
    """Why a plan of ``plan_bytes`` cannot be sent to a coordinator taking ``limit`` (or None)."""
    if plan_bytes <= limit:
        return None
    return (
        f"the job's plan is {_size(plan_bytes)}, more than the {_size(limit)} a coordinator "
        "accepts in one message: hold less data on the job object (read it in the job's setup, "
        "or make it an input), or raise the limit on both sides, "
        f"`minimr coordinator --max-message-size BYTES` and `minimr submit --max-message-size "
        "BYTES`"
    )


def _size(count: int) -> str:
    return f"{count / MiB:.1f} MiB" if count >= MiB else f"{count} bytes"
