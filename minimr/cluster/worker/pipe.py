"""What a worker and its executors say to each other over their pipe, as typed messages.

The wire between processes of one worker, shaped like the wire between machines
(``protocol.py``): one frozen dataclass per message, pickled by ``multiprocessing`` over a
``Pipe``, and each end dispatches by type through a ``{MessageClass: handler}`` dict::

    worker -> executor   LoadPlan      a job's plan, loaded once per job
                         ForgetPlan    the job ended
                         Run           run an attempt
                         Commit        a reduce's (a map-only map's) commit was granted:
                                       rename its output
                         Discard       such a commit was refused: delete its output
    executor -> worker   Done          the attempt succeeded (a map's output, a prepare's tasks)
                         ReadyToCommit a reduce (a map-only map) wrote its output: may it
                                       commit?
                         Committed     the granted commit is done
                         FetchLost     a reduce could not fetch these map outputs
                         Failed        the attempt failed (the user's traceback)

Both ends are minimr's own code in processes of one worker, so these are not checked as a
peer's messages are; but the fields are the wire's records (``MapOutputRef``,
``ReduceInputs``...), so what an executor reports goes to the coordinator as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from minimr.cluster.wire.protocol import MapOutputRef, RecordLocation, ReduceInputs, TaskLists

# --- worker -> executor ----------------------------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    """A job's serialized plan (unpickled when its first task runs)."""

    job_id: str
    serializer: str
    blob: bytes


@dataclass(frozen=True)
class ForgetPlan:
    """The job ended: drop its plan."""

    job_id: str


@dataclass(frozen=True)
class Run:
    """Run ``task`` (a task spec of ``kind``) as ``attempt``; a reduce's ``inputs`` say where
    its map outputs are."""

    job_id: str
    attempt: str
    kind: str
    task: dict
    inputs: ReduceInputs | None = None


@dataclass(frozen=True)
class Commit:
    """A reduce's (a map-only map's: ``kind``) commit was granted: rename its output at
    ``temp_path`` into place."""

    job_id: str
    attempt: str
    task: dict
    temp_path: str
    kind: str = "reduce"


@dataclass(frozen=True)
class Discard:
    """A reduce's commit was refused: delete its output at ``temp_path``."""

    temp_path: str


# --- executor -> worker ----------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The attempt succeeded."""

    attempt: str
    output: MapOutputRef | TaskLists | None
    counters: dict
    elapsed: float


@dataclass(frozen=True)
class ReadyToCommit:
    """A reduce wrote its output at ``temp_path``; the worker asks the coordinator to commit."""

    attempt: str
    temp_path: str
    counters: dict
    elapsed: float


@dataclass(frozen=True)
class Committed:
    """The granted commit is done."""

    attempt: str


@dataclass(frozen=True)
class FetchLost:
    """A reduce could not fetch these map outputs ``((map_index, map_attempt), ...)``."""

    attempt: str
    lost: tuple[tuple[int, str], ...]
    reason: str


@dataclass(frozen=True)
class Failed:
    """The attempt failed: ``error`` is the traceback text; ``record`` is skip mode's record
    user code failed on; ``final`` says no new attempt can succeed (``errors.FINAL``)."""

    attempt: str
    error: str
    record: RecordLocation | None = None
    final: bool = False


Command = LoadPlan | ForgetPlan | Run | Commit | Discard
Reply = Done | ReadyToCommit | Committed | FetchLost | Failed
