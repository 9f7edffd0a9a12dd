"""steps.advance: what a finished task lets happen next, on a board with no scheduler."""

from __future__ import annotations

from minimr.cluster.scheduling import steps
from minimr.cluster.scheduling.board import Board
from minimr.cluster.scheduling.tables import Job, Kind, Task, TaskState
from minimr.cluster.wire.protocol import TaskLists


def a_job(board: Board, steps_: int = 1) -> Job:
    job = Job("j1", "job", steps_, 4, False, None, None, submitted=0.0)
    board.jobs[job.id] = job
    return job


def finish(board: Board, job: Job, task: Task, output=None) -> bool:
    """Run ``task`` to DONE with ``output`` (a map's held by worker w1), then advance."""
    task.output = output
    task.output_worker = "w1" if task.kind is Kind.MAP else None
    if task.state is TaskState.WAITING:
        board.move(job, task, TaskState.PENDING)
    board.move(job, task, TaskState.RUNNING)
    board.move(job, task, TaskState.DONE)
    return steps.advance(board, job, task)


def states(job: Job) -> dict[str, str]:
    return {key: task.state.name for key, task in job.tasks.items()}


def test_a_prepare_lists_its_maps_pending_and_its_reduces_waiting():
    """A prepare's task lists become the step's maps (pending) and reduces (waiting)."""
    board = Board()
    job = a_job(board)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    lists = TaskLists(({"reducers": 1}, {"reducers": 1}), ({"partition": 0},))
    assert finish(board, job, prepare, lists) is False
    assert [job.tasks[k].state for k in job.maps[0]] == [TaskState.PENDING] * 2
    assert [job.tasks[k].state for k in job.reduces[0]] == [TaskState.WAITING]


def test_the_last_reduce_of_the_last_step_queues_the_commit_and_the_commit_ends_the_job():
    """Maps release the reduce only when all are done and held; the last reduce queues the
    job's commit; the commit's advance says the job succeeded."""
    board = Board()
    job = a_job(board)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    finish(board, job, prepare, TaskLists(({"reducers": 1}, {"reducers": 1}),
                                          ({"partition": 0},)))
    first, second = (job.tasks[k] for k in job.maps[0])
    reduce = job.tasks[job.reduces[0][0]]
    finish(board, job, first)
    assert reduce.state is TaskState.WAITING
    finish(board, job, second)
    assert reduce.state is TaskState.PENDING
    assert finish(board, job, reduce) is False
    commits = [t for t in job.tasks.values() if t.kind is Kind.COMMIT]
    assert [t.state for t in commits] == [TaskState.PENDING]
    assert finish(board, job, commits[0]) is True


def test_a_step_that_is_not_the_last_queues_the_next_prepare():
    """After step 0's reduces, step 1 is prepared, not committed."""
    board = Board()
    job = a_job(board, steps_=2)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    finish(board, job, prepare, TaskLists((), ({"partition": 0},)))  # no maps: reduce pending
    finish(board, job, job.tasks[job.reduces[0][0]])
    nexts = [t for t in job.tasks.values() if t.kind is Kind.PREPARE and t.step == 1]
    assert [t.spec for t in nexts] == [{"step": 1}]
    assert not any(t.kind is Kind.COMMIT for t in job.tasks.values())


def test_a_map_only_step_ends_with_its_last_map():
    """No reduces: the maps commit the output, and the last one ends the step."""
    board = Board()
    job = a_job(board)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    finish(board, job, prepare, TaskLists(({"reducers": 0}, {"reducers": 0}), ()))
    assert job.map_only == {0}
    first, second = (job.tasks[k] for k in job.maps[0])
    finish(board, job, first)
    assert not any(t.kind is Kind.COMMIT for t in job.tasks.values())
    finish(board, job, second)
    assert any(t.kind is Kind.COMMIT for t in job.tasks.values())


def test_an_empty_map_only_step_is_done_at_once():
    """A prepare that lists nothing to read and no reduces queues the commit itself."""
    board = Board()
    job = a_job(board)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    finish(board, job, prepare, TaskLists((), ()))
    assert any(t.kind is Kind.COMMIT for t in job.tasks.values())


def split(path: str, start: int, end) -> dict:
    return {"path": path, "start": start, "end": end}


def queued(job: Job) -> list[str]:
    """The pending queue as placement reads it (a task that moved on is a stale entry)."""
    return [key for key in job.pending if job.tasks[key].state is TaskState.PENDING]


def test_a_steps_maps_are_queued_largest_first_ties_in_task_order():
    """The maps are offered the most bytes first (a pack's splits summed), equal ones in task
    order, so the last tasks a slot takes are the small ones; their keys keep task order."""
    board = Board()
    job = a_job(board)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    maps = (
        {"reducers": 1, "split": split("a", 0, 10)},
        {"reducers": 1, "split": split("b", 0, 500)},  # one gzip file: one large split
        {"reducers": 1, "split": split("c", 0, 10)},
        {"reducers": 1, "split": split("d", 0, 20), "more": [split("e", 0, 20)]},  # 40
        {"reducers": 1, "split": split("f", 100, 140)},  # 40, after the pack: task order
    )
    finish(board, job, prepare, TaskLists(maps, ({"partition": 0},)))
    assert job.maps[0] == [f"s0-m{i:05d}" for i in range(5)]
    assert queued(job) == ["s0-m00001", "s0-m00003", "s0-m00004", "s0-m00000", "s0-m00002"]


def test_maps_whose_specs_give_no_size_keep_task_order_after_the_sized_ones():
    """A spec without a usable split (a later step's, or one the checks do not cover) counts
    as nothing to read: never an error here, and task order among such."""
    board = Board()
    job = a_job(board)
    prepare = board.add_task(job, Kind.PREPARE, 0, 0, {"step": 0}, TaskState.PENDING)
    maps = (
        {"reducers": 1, "split": split("a", 0, None)},
        {"reducers": 1, "split": "not a split", "more": 7},
        {"reducers": 1, "split": split("c", 0, 30), "more": ["x", split("d", 5, 2)]},
        {"reducers": 1},
    )
    finish(board, job, prepare, TaskLists(maps, ({"partition": 0},)))
    assert queued(job) == ["s0-m00002", "s0-m00000", "s0-m00001", "s0-m00003"]
