"""Map outputs: which worker holds each finished map's output, and what happens when
one is lost or found again.

A finished map's output lives on its worker's disk, so it lives and dies with that worker.
Functions over the scheduler's board (``board.py``), each returning its actions:

- :func:`lose`: the output is gone (its worker died, a reducer could not fetch it, or the
  recovery grace ran out): the map runs again while a reduce of its step still needs it,
  and that step's pending reduces wait for it. A map of a map-only step committed its
  output as part files, like a reduce: nothing of it is lost with its worker;
- :func:`reclaim`: a registering worker holds an output (after a coordinator restart, or
  adopted from a dead worker's folder): the map need not run (again). Only a worker of
  the key that ran the map's attempt may say so, and never of an output a live worker
  holds: reducers fetch (and unpickle) what the holder serves, so a worker of another key
  claiming it could feed them anything;
- :func:`give_up_unclaimed`: the recovery grace is over: outputs nobody re-registered
  are lost.
"""

from __future__ import annotations

from minimr.cluster.scheduling import placement
from minimr.cluster.scheduling.board import Board
from minimr.cluster.scheduling.events import Action, Cancel, JobChanged
from minimr.cluster.scheduling.tables import (
    AttemptState,
    Job,
    JobState,
    Kind,
    Task,
    TaskState,
    Worker,
)
from minimr.cluster.wire.protocol import HeldOutput


def lose(board: Board, job: Job, task: Task) -> list[Action]:
    """A finished map's output is gone: run the map again if a reduce still needs it."""
    actions: list[Action] = []
    if task.step in job.map_only:  # its output is committed part files, lost with no worker
        return actions
    holder = board.workers.get(task.output_worker or "")
    if holder is not None:
        holder.outputs.discard((job.id, task.key))
    if task.output_attempt is not None and task.output is not None:
        # a successor of the same key may adopt it
        task.lost_output = (task.output_attempt, task.output, task.output_key)
    task.output = task.output_worker = task.output_attempt = task.output_key = None
    placement.forget_located(job, task.step)
    if job.state is not JobState.RUNNING or task.state is not TaskState.DONE:
        return actions
    if board.step_complete(job, Kind.REDUCE, task.step):
        return actions  # every reduce of the step has committed: nobody needs it
    board.move(job, task, TaskState.PENDING)
    job.pending.appendleft(task.key)
    for reduce in (job.tasks[k] for k in job.reduces[task.step]):
        if reduce.state is TaskState.PENDING:
            board.move(job, reduce, TaskState.WAITING)
    actions.append(JobChanged(job.id))
    return actions


def reclaim(board: Board, worker: Worker, held: HeldOutput) -> list[Action]:
    """A worker holds a finished map's output: the map need not run (again).

    Either the coordinator restarted (a restored map, holder unknown), or the output's
    worker died and this one adopted its folder (the map was lost, or is about to be).
    """
    actions: list[Action] = []
    attempt = held.attempt
    job = board.jobs.get(held.job_id)
    task = job.tasks.get(attempt.rpartition("-a")[0]) if job is not None else None
    if task is None or job.state is not JobState.RUNNING or task.kind is not Kind.MAP:
        return actions
    if task.step in job.map_only:  # no worker holds a map-only map's output: none to claim
        return actions
    if task.state is TaskState.DONE and task.output_attempt == attempt:
        if task.output_worker is not None and task.output_worker in board.workers:
            return actions  # a live worker holds it (this one already, or another)
        if task.output_key != worker.key:
            return actions  # a restored map another key ran
    elif task.state in (TaskState.PENDING, TaskState.RUNNING) and (
        task.lost_output is not None and task.lost_output[0] == attempt
    ):
        if task.lost_output[2] != worker.key:
            return actions  # a dead worker of another key ran it
        for other in list(task.live.values()):  # its re-run is not needed any more
            board.drop_attempt(other, AttemptState.CANCELLED, "the output it would make was found")
            actions.append(Cancel(other.worker, job.id, other.id))
        task.output_attempt, task.output, task.output_key = task.lost_output
        board.move(job, task, TaskState.DONE)
    else:
        return actions  # another attempt's output, or a map that is not done
    task.lost_output = None
    task.output_worker = worker.id
    placement.forget_located(job, task.step)
    worker.outputs.add((job.id, task.key))
    board.release_reduces(job, task.step)
    actions.append(JobChanged(job.id))
    return actions


def give_up_unclaimed(board: Board, job: Job) -> list[Action]:
    """The recovery grace is over: restored map outputs nobody re-registered run again."""
    actions: list[Action] = []
    job.recover_until = None
    for keys in job.maps.values():
        for task in (job.tasks[k] for k in keys):
            if task.state is TaskState.DONE and task.output_worker is None:
                actions += lose(board, job, task)
    return actions
