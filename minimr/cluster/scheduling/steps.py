"""How a job moves on: what a finished task lets happen next.

A job's tasks are listed by tasks (``scheduler.py``'s docstring draws the chain)::

    step k:  prepare ──> map × M ──> reduce × R ──>  (step k+1: prepare ...)
             last step's reduces ──> commit

When a task is DONE (its result taken, or restored from the journal), :func:`advance` does
what that allows: a prepare's task lists become the step's maps and reduces; the last map of
a step releases its reduces (a map-only step's last map ends the step); the last reduce ends
the step; a step's end queues the next step's prepare or, after the last step, the job's
commit. Only moves on the board, no actions: the one consequence the scheduler acts on, the
job's end, is :func:`advance`'s answer.
"""

from __future__ import annotations

from minimr.cluster.scheduling import placement
from minimr.cluster.scheduling.board import Board
from minimr.cluster.scheduling.tables import Job, Kind, Task, TaskState
from minimr.cluster.wire.protocol import MapOutputRef, TaskLists
from minimr.cluster.wire.wiretypes import plain


def advance(board: Board, job: Job, task: Task) -> bool:
    """Do what the DONE ``task`` allows next; True when it was the job's commit (the job
    succeeded)."""
    if task.kind is Kind.COMMIT:
        return True
    _AFTER[task.kind](board, job, task)
    return False


def _after_prepare(board: Board, job: Job, task: Task) -> None:
    lists = task.output
    assert isinstance(lists, TaskLists)  # misfit() and journal replay checked it
    maps, reduces = lists.map_tasks, lists.reduce_tasks
    step = task.step
    job.step = step
    tasks = [
        board.add_task(job, Kind.MAP, step, i, spec, TaskState.PENDING, queue=False)
        for i, spec in enumerate(maps)
    ]
    job.maps[step] = [task.key for task in tasks]
    placement.queue_largest_first(job, tasks)
    reduce_state = TaskState.WAITING if maps else TaskState.PENDING
    job.reduces[step] = [
        board.add_task(job, Kind.REDUCE, step, i, spec, reduce_state).key
        for i, spec in enumerate(reduces)
    ]
    if not reduces:  # map-only: its maps write the step's output
        job.map_only.add(step)
        if not maps:  # nothing to read: the step is done already
            _step_done(board, job, step)


def _after_map(board: Board, job: Job, task: Task) -> None:
    if task.step in job.map_only:  # its output is committed, held by no worker
        if board.step_complete(job, Kind.MAP, task.step):
            _step_done(board, job, task.step)
        return
    worker = board.workers.get(task.output_worker or "")
    if worker is not None:
        worker.outputs.add((job.id, task.key))
    placement.forget_located(job, task.step)
    board.release_reduces(job, task.step)


def _after_reduce(board: Board, job: Job, task: Task) -> None:
    step = task.step
    if not board.step_complete(job, Kind.REDUCE, step):
        return
    placement.forget_located(job, step)
    for key in job.maps.get(step, ()):  # every reduce read it: its holder served it
        map_task = job.tasks[key]
        holder = board.workers.get(map_task.output_worker or "")
        if holder is not None and isinstance(map_task.output, MapOutputRef):
            holder.served += map_task.output.size
    for worker in board.workers.values():  # this step's map outputs are not needed
        worker.outputs = {
            o for o in worker.outputs if not (o[0] == job.id and job.tasks[o[1]].step == step)
        }
    _step_done(board, job, step)


def _step_done(board: Board, job: Job, step: int) -> None:
    """Every part of ``step`` is committed: prepare the next step, or commit the job."""
    if step + 1 < job.steps:
        spec = {"step": step + 1}
        board.add_task(job, Kind.PREPARE, step + 1, 0, spec, TaskState.PENDING)
    else:
        spec = {"step": step}
        skipped = [plain(entry) for t in job.tasks.values() for entry in t.skipped]
        if skipped:  # the job commit writes them to OUTPUT/_skipped/
            spec["skipped"] = skipped
        board.add_task(job, Kind.COMMIT, step, 0, spec, TaskState.PENDING)


_AFTER = {Kind.PREPARE: _after_prepare, Kind.MAP: _after_map, Kind.REDUCE: _after_reduce}
