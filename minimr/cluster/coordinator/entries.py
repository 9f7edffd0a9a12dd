"""What the coordinator journals, as typed entries: checked on the way in and on replay.

``journal.py`` stores records (a JSON object and a blob) and knows nothing of their
meaning; this module gives them one. There are three kinds of entry::

    SubmitEntry   a job was accepted: its name, steps, options (the plan is the blob)
    TaskEntry     a task committed: its attempt, its output, its counters
    EndEntry      a job ended: its final state and error

The scheduler's ``TaskCommitted`` and ``JobEnded`` actions become entries
(:func:`task_entry`, :func:`end_entry`); on replay (:func:`parse`) each record is checked
with the same field rules as the wire (``wiretypes.py``), so a journal holds only what a
message could have carried, and a record that does not fit is reported, never fed to the
scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass

from minimr.cluster.coordinator.journal import Record
from minimr.cluster.scheduling import events as e
from minimr.cluster.wire.protocol import (
    CurveKey,
    JobLayout,
    MapOutputRef,
    Options,
    Steps,
    TaskLists,
)
from minimr.cluster.wire.wiretypes import (
    AttemptId,
    Count,
    Invalid,
    JobId,
    Name,
    Plain,
    plain,
    record_converter,
)


@dataclass(frozen=True)
class SubmitEntry:
    """A job was accepted (the record's blob is its plan)."""

    job_id: JobId
    name: Name
    steps: Steps
    options: Options
    serializer: Name
    #: the key it came with: the job's owner, whose limits count it (``limits.py``)
    submitter: CurveKey = ""
    layout: JobLayout | None = None  # what prepare results are checked against

    def event(self) -> e.JobSubmitted:
        """The scheduler event this submission replays as."""
        return job_submitted(
            self.job_id, self.name, self.steps, self.options, self.submitter, self.layout
        )


@dataclass(frozen=True)
class TaskEntry:
    """A task committed; replaying it marks the task done without running it again."""

    job_id: JobId
    task: Name
    attempt: AttemptId
    output: MapOutputRef | TaskLists | None
    counters: dict[Name, dict[Name, int]] | None
    started: Count = 1
    skipped: tuple[e.Skipped, ...] | None = None
    key: CurveKey = ""  # the key of the worker that ran the attempt (who may re-register it)

    def event(self) -> e.TaskRestored:
        """The scheduler event this commit replays as."""
        return e.TaskRestored(
            self.job_id,
            self.task,
            self.attempt,
            self.output,
            self.counters,
            self.started,
            self.skipped,
            self.key,
        )


@dataclass(frozen=True)
class EndEntry:
    """A job ended."""

    job_id: JobId
    state: Name
    error: Plain | None = None

    def event(self) -> e.JobOutcomeRestored:
        """The scheduler event this end replays as."""
        return e.JobOutcomeRestored(self.job_id, self.state, self.error)


Entry = SubmitEntry | TaskEntry | EndEntry
_KINDS: dict[str, type] = {"submit": SubmitEntry, "task": TaskEntry, "end": EndEntry}
_NAMES = {cls: name for name, cls in _KINDS.items()}
_CONVERTERS = {name: record_converter(cls) for name, cls in _KINDS.items()}


def job_submitted(
    job_id: str,
    name: str,
    steps: int,
    options: Options,
    owner: str = "",
    layout: JobLayout | None = None,
) -> e.JobSubmitted:
    """The scheduler event of a submission with these (checked) options, by ``owner``, of
    this ``layout``."""
    return e.JobSubmitted(
        job_id,
        name,
        steps,
        max_attempts=options.max_attempts,
        speculation=options.speculation,
        task_timeout=options.task_timeout,
        worker_timeout=options.worker_timeout,
        skip_bad_records=options.skip_bad_records,
        max_skips=options.max_skips,
        replay=plain(options.replay) if options.replay is not None else None,
        owner=owner,
        layout=layout,
    )


def record(entry: Entry, blob: bytes = b"") -> Record:
    """The journal record of an entry."""
    return Record({"type": _NAMES[type(entry)], **plain(entry)}, blob)


def parse(rec: Record) -> Entry:
    """The typed entry a journal record holds.

    Raises:
        Invalid: the record is not an entry of a kind this version knows, or a field does
            not fit.
    """
    body = dict(rec.body)
    kind = body.pop("type", None)
    convert = _CONVERTERS.get(kind) if isinstance(kind, str) else None
    if convert is None:
        raise Invalid(f"is no journal entry (type {kind!r:.40})")
    return convert(body)


def task_entry(action: e.TaskCommitted) -> TaskEntry:
    """The entry of a task commit."""
    return TaskEntry(
        action.job_id,
        action.task,
        action.attempt,
        action.output,
        action.counters,
        action.started,
        action.skipped,
        action.key,
    )


def end_entry(action: e.JobEnded, error: dict | None) -> EndEntry:
    """The entry of a job's end."""
    return EndEntry(action.job_id, action.state.value, error)
