"""Where tasks run: free slots take pending tasks, reduces learn where their inputs are.

Functions over the scheduler's board (``board.py``) that the scheduler calls after every
event: :func:`dispatch` serves the workers' parked requests (their free slots, the pull
model) from the oldest job with pending work, a retry avoiding the workers it failed on;
:func:`start_attempt` makes the attempt and its ``Assign``, a reduce's with the location
of every map output's partition (:func:`reduce_inputs`).
"""

from __future__ import annotations

from minimr.cluster import notices
from minimr.cluster.board import Board
from minimr.cluster.events import Action, Assign
from minimr.cluster.protocol import MapOutputRef, ReduceInput
from minimr.cluster.tables import (
    Attempt,
    InvariantError,
    Job,
    JobState,
    Kind,
    Task,
    TaskState,
    Worker,
)


def dispatch(board: Board, now: float) -> list[Action]:
    """Serve parked requests (free slots) from the oldest job with pending work."""
    jobs = [j for j in board.jobs.values() if j.pending and j.state is JobState.RUNNING]
    actions: list[Action] = []
    if not jobs:
        return actions
    for worker in board.workers.values():
        while worker.free > 0:
            task_job = _next_task(board, jobs, worker)
            if task_job is None:
                break
            task, job = task_job
            queued = job.started is None
            actions.append(start_attempt(board, job, task, worker, now))
            if queued:
                actions.append(notices.job_started(job, now))
    return actions


def free_worker(board: Board, job: Job, avoid: set[str]) -> Worker | None:
    """A worker with a free slot that may run ``job``'s tasks, other than ``avoid``."""
    for worker in board.workers.values():
        if worker.free > 0 and worker.id not in avoid and worker.id not in job.excluded:
            return worker
    return None


def _next_task(board: Board, jobs: list[Job], worker: Worker) -> tuple[Task, Job] | None:
    for job in jobs:
        if worker.id in job.excluded:
            continue
        while job.pending and job.tasks[job.pending[0]].state is not TaskState.PENDING:
            job.pending.popleft()  # stale entry: the task moved on since it was queued
        for position, key in enumerate(job.pending):
            task = job.tasks[key]
            if task.state is TaskState.PENDING and _may_run(board, job, task, worker):
                del job.pending[position]
                return task, job
    return None


def _may_run(board: Board, job: Job, task: Task, worker: Worker) -> bool:
    """A retry avoids the workers it failed on, unless no other worker could take it."""
    failed_on = {e["worker"] for e in task.errors}
    if worker.id not in failed_on:
        return True
    return all(w.id in failed_on or w.id in job.excluded for w in board.workers.values())


def start_attempt(
    board: Board, job: Job, task: Task, worker: Worker, now: float, backup: bool = False
) -> Assign:
    """A new attempt of ``task`` on ``worker``; returns its assignment."""
    task.started += 1
    busy = {board.attempts[held].lane for held in worker.attempts}
    attempt = Attempt(
        f"{task.key}-a{task.started}", job.id, task.key, worker.id, now, backup,
        worker_name=worker.name, host=worker.host,
        lane=min(set(range(worker.slots + 1)) - busy),
    )
    if task.state is not TaskState.RUNNING:
        board.move(job, task, TaskState.RUNNING)
    if job.started is None:
        job.started = now
    task.live[attempt.id] = attempt
    task.attempts.append(attempt)
    board.attempts[(job.id, attempt.id)] = attempt
    worker.attempts.add((job.id, attempt.id))
    inputs = None
    if task.kind is Kind.REDUCE:
        inputs = reduce_inputs(board, job, task, attempt)
    return Assign(worker.id, job.id, attempt.id, task.kind.value, task.spec, inputs)


def reduce_inputs(board: Board, job: Job, task: Task, attempt: Attempt
                  ) -> tuple[ReduceInput, ...]:
    """Where each map output's partition for this reduce lives (empty ones left out), and,
    on the reduce's ``attempt``, which worker holds each map output (``holders``, to blame
    the right one for a failed fetch) and how many bytes it is to serve (``reads``, counted
    when the attempt succeeds): one pass over the map outputs, a cost paid per reduce.

    A reduce task's index is its partition (``results.py`` checked the prepare's list).
    """
    inputs = []
    holders = attempt.holders
    reads = attempt.reads
    for key in job.maps[task.step]:
        map_task = job.tasks[key]
        output = map_task.output
        holder = board.workers.get(map_task.output_worker or "")
        if not isinstance(output, MapOutputRef) or holder is None:
            raise InvariantError(
                f"{task.key} was released before map {key} was located; its story:\n"
                + "\n".join(f"  {e}" for e in board.story(key))
            )
        holders[map_task.index] = map_task.output_worker
        offset, length = output.partitions[task.index]
        if length == 0:
            continue
        reads[holder.id] = reads.get(holder.id, 0) + length
        inputs.append(
            ReduceInput(
                map_task.index,
                map_task.output_attempt or "",
                holder.host,
                holder.shuffle_address,
                holder.shuffle_key,
                output.path,
                offset,
                length,
            )
        )
    return tuple(inputs)
