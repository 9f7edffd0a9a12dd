"""Where tasks run: free slots take pending tasks, reduces learn where their inputs are.

Functions over the scheduler's board (``board.py``) that the scheduler calls after every
event: :func:`dispatch` serves the workers' parked requests (their free slots, the pull
model) from the oldest job with pending work, a retry avoiding the workers it failed on;
:func:`start_attempt` makes the attempt and its ``Assign``, a reduce's with the number of
the table of where its step's map outputs are (:func:`located`: one table per step, shared
by every reduce of the step), and the table itself the first time that worker gets it: at
100,000 maps a table is ~700 KB, and sending it with each of 1,000 reduces moved 700 MB.
"""

from __future__ import annotations

from minimr.cluster.scheduling import notices
from minimr.cluster.scheduling.board import Board
from minimr.cluster.scheduling.events import Action, Assign
from minimr.cluster.scheduling.tables import (
    Attempt,
    InvariantError,
    Job,
    JobState,
    Kind,
    Located,
    Task,
    TaskState,
    Worker,
)
from minimr.cluster.wire.protocol import Holder, MapOutputRef, ReduceInputs


def dispatch(board: Board, now: float) -> list[Action]:
    """Serve parked requests (free slots) from the oldest job with pending work."""
    jobs = [j for j in board.jobs.values() if j.pending and j.state is JobState.RUNNING]
    actions: list[Action] = []
    if not jobs:
        return actions
    for worker in board.free_workers():
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


def queue_largest_first(job: Job, maps: list[Task]) -> None:
    """Queue a step's new map tasks, the most bytes to read first, equal ones in task order
    (each task's ``size``, set here, is its splits' bytes).

    Slots pull the next pending task when they free up, so the job's map phase ends when the
    last task taken ends; a large task taken last (a gzip file is one split whatever its
    size, and files come in name order) leaves the other slots idle while it runs. Taken
    first, the large tasks overlap and the small ones fill the gaps at the end (Hadoop
    queues its splits largest first too). A spec whose splits give no size (not checked to
    be sized: a later step's, say) counts as nothing to read, so it is never an error here.
    """
    for task in maps:
        task.size = _bytes_to_read(task.spec)
    job.pending.extend(task.key for task in sorted(maps, key=lambda task: -task.size))


def _bytes_to_read(spec: dict) -> int:
    """The bytes of a map spec's splits (``split`` and ``more``) that say their range."""
    more = spec.get("more")
    splits = [spec.get("split"), *(more if isinstance(more, list) else ())]
    return sum(
        max(0, split["end"] - split["start"])
        for split in splits
        if isinstance(split, dict)
        and type(split.get("start")) is int
        and type(split.get("end")) is int
    )


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
    if not task.errors:
        return True
    failed_on = {e["worker"] for e in task.errors}
    if worker.id not in failed_on:
        return True
    return all(w.id in failed_on or w.id in job.excluded for w in board.workers.values())


def start_attempt(
    board: Board, job: Job, task: Task, worker: Worker, now: float, backup: bool = False
) -> Assign:
    """A new attempt of ``task`` on ``worker``; returns its assignment."""
    task.started += 1
    job.attempts_started[task.kind] = job.attempts_started.get(task.kind, 0) + 1
    job.live_attempts += 1
    busy = {board.attempts[held].lane for held in worker.attempts}
    lane = 0  # the lowest one free
    while lane in busy:
        lane += 1
    attempt = Attempt(
        f"{task.key}-a{task.started}", job.id, task.key, worker.id, now, backup,
        worker_name=worker.name, host=worker.host, lane=lane,
    )
    if task.state is not TaskState.RUNNING:
        board.move(job, task, TaskState.RUNNING)
    if job.started is None:
        job.started = now
    task.live[attempt.id] = attempt
    task.attempts.append(attempt)
    board.attempts[(job.id, attempt.id)] = attempt
    worker.attempts.add((job.id, attempt.id))
    board.slots_changed(worker)
    if task.kind is not Kind.REDUCE:
        return Assign(worker.id, job.id, attempt.id, task.kind.value, task.spec)
    table = attempt.located = located(board, job, task)
    sent = worker.tables.setdefault(job.id, {})
    fresh = sent.get(task.step) != table.number  # the worker keeps it: never sent twice
    sent[task.step] = table.number
    return Assign(worker.id, job.id, attempt.id, task.kind.value, task.spec, table.inputs,
                  table.number, fresh)


def located(board: Board, job: Job, reduce: Task) -> Located:
    """Where the map outputs of ``reduce``'s step are: one table for every reduce of the
    step, built at the first one's assignment and kept until a map output of the step moves
    (``forget_located``), so a reduce's assignment costs nothing per map output.

    Each holder appears once (its host, shuffle address, key and folder); each map names its
    holder's number and its output's attempt number. A reduce reads its own partition of each
    (its index is its partition: ``results.py`` checked the prepare's list).
    """
    step = reduce.step
    known = job.located.get(step)
    if known is not None:
        return known
    numbers: dict[str, int] = {}
    holders: list[Holder] = []
    maps: list[int] = []
    attempts: list[int] = []
    for key in job.maps[step]:
        map_task = job.tasks[key]
        worker_id = map_task.output_worker or ""
        holder = board.workers.get(worker_id)
        if not isinstance(map_task.output, MapOutputRef) or holder is None:
            raise InvariantError(
                f"{reduce.key} was released before map {key} was located; its story:\n"
                + "\n".join(f"  {e}" for e in board.story(key))
            )
        number = numbers.get(worker_id)
        if number is None:
            number = numbers[worker_id] = len(holders)
            holders.append(
                Holder(holder.host, holder.shuffle_address, holder.shuffle_key, holder.folder)
            )
        maps.append(number)
        attempts.append(int((map_task.output_attempt or "").rpartition("-a")[2]))
    job.tables_made += 1
    table = Located(
        ReduceInputs(tuple(holders), tuple(maps), tuple(attempts)), tuple(numbers),
        job.tables_made,
    )
    job.located[step] = table
    return table


def forget_located(job: Job, step: int) -> None:
    """A map output of ``step`` moved (done, lost or found again): its table is stale."""
    job.located.pop(step, None)
