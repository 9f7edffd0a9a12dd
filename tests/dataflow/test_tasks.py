"""The reduce task: its batched path writes what a loop over keys and pairs would write.

Skip mode reduces one key group at a time and writes each output pair at once (the loop the
engine always ran before batching), so it is the reference the batched path is held to: the
same part files, byte for byte, and the same counters.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

import minimr
from minimr import Job, Step
from minimr.dataflow import counters as C
from minimr.dataflow.counters import Counters
from minimr.dataflow.tasks import run_map_task, run_reduce_task
from minimr.errors import JobCodeError
from minimr.runner import build_plan

LINES = [f"w{i % 7} x{i % 3} {'hot ' * (i % 4)}odd{i % 2}" for i in range(400)]


def reduce_task_output(tmp_path: Path, job: Job, name: str, *, tracked: bool,
                       last: bool = True) -> tuple[list[bytes], dict]:
    """The part files and counters of every reduce task of ``job``'s only step."""
    if not (tmp_path / "input.txt").exists():
        (tmp_path / "input.txt").write_text("\n".join(LINES) + "\n")
    plan = build_plan(job, [str(tmp_path / "input.txt")], str(tmp_path / name), reducers=2,
                      split_size=900, settings={"skip_bad_records": tracked})
    plan.steps[0].is_last = last
    work = str(tmp_path / f"work-{name}")
    counters = Counters()
    outputs = [run_map_task(plan, task, work, "m", counters) for task in plan.map_tasks(0)]
    reduced = Counters()
    parts = []
    for task in plan.reduce_tasks(0):
        segments = [o.segment(task.partition) for o in outputs]
        path = run_reduce_task(plan, task, segments, "r", reduced, work_dir=work)
        parts.append(Path(path).read_bytes())
    return parts, reduced[C.BUILTIN]


def step_job(reduce, map_fn=None) -> Job:
    """A one-step job: words (or ``map_fn``'s pairs) into ``reduce``."""

    class OneStep(Job):
        def steps(self):
            return [Step(map=map_fn or (lambda _k, line: ((w, len(w)) for w in line.split())),
                         reduce=reduce)]

    return OneStep()


def gen_sum(key, values):
    yield key, sum(values)


def fan_out(key, values):
    for value in values:  # each value written before the next is read
        yield key, value
        yield key + "!", value * 2


def as_list(key, values):
    values = list(values)
    return [(key, len(values)), (key, values[0]), ("count", True)] if len(values) > 9 else None


def mixed_types(key, values):
    yield key, (key, sum(values))
    yield key, 1.5
    yield key, "text"


class MaxReducer:
    """A reducer that is an object, returning an iterator of list pairs."""

    def __call__(self, key, values):
        return iter([[key, max(values)]])


def returns_none(key, values):
    return None


REDUCERS = [gen_sum, fan_out, as_list, mixed_types, MaxReducer(), None, returns_none]


@pytest.mark.parametrize("last", [True, False], ids=["text", "records"])
@pytest.mark.parametrize("reduce", REDUCERS, ids=lambda r: getattr(r, "__name__", repr(r)))
def test_batched_reduce_writes_what_the_per_pair_loop_writes(tmp_path, reduce, last):
    """Any reducer shape, the identity too, gives the loop's bytes and counters."""
    job = step_job(reduce)
    batched = reduce_task_output(tmp_path, job, "batched", tracked=False, last=last)
    looped = reduce_task_output(tmp_path, job, "looped", tracked=True, last=last)
    assert batched == looped
    parts, counters = batched
    assert counters[C.REDUCE_INPUT_GROUPS] > 10 and any(parts) != (reduce is returns_none)
    assert counters[C.REDUCE_INPUT_RECORDS] == sum(len(line.split()) for line in LINES)


@pytest.mark.parametrize("reduce", [gen_sum, fan_out, as_list, returns_none],
                         ids=lambda r: r.__name__)
def test_reduce_calls_made_a_few_keys_at_a_time_write_what_the_loop_writes(tmp_path,
                                                                           monkeypatch, reduce):
    """Reduce calls made (and drained) a few keys at a time, across a merge's chunk of many
    keys, give the per-pair loop's bytes and counters."""
    monkeypatch.setattr("minimr.dataflow.reduceside.reducing.CALL_CHUNK", 3)
    job = step_job(reduce)
    batched = reduce_task_output(tmp_path, job, "batched", tracked=False)
    assert batched == reduce_task_output(tmp_path, job, "looped", tracked=True)


def test_identity_reduce_keeps_the_order_of_a_hot_key_across_entries(tmp_path, monkeypatch):
    """A key whose values span several merged entries is written in the loop's order."""
    monkeypatch.setattr("minimr.dataflow.format.segments.MAX_VALUES_PER_ENTRY", 5)
    job = step_job(None, lambda _k, line: (("hot", w) for w in line.split()))
    batched = reduce_task_output(tmp_path, job, "batched", tracked=False)
    assert batched == reduce_task_output(tmp_path, job, "looped", tracked=True)
    assert batched[1][C.REDUCE_INPUT_GROUPS] == 1
    assert batched[1][C.REDUCE_OUTPUT_RECORDS] == sum(len(line.split()) for line in LINES)


def test_reducer_errors_propagate_from_the_users_frame(tmp_path):
    """A reducer's exception reaches the caller unchanged, its own frame in the traceback."""

    def failing(key, values):
        if key == "odd1":
            raise KeyError("bad key " + key)
        yield key, sum(values)

    with pytest.raises(KeyError, match="bad key odd1") as info:
        reduce_task_output(tmp_path, step_job(failing), "out", tracked=False)
    assert traceback.extract_tb(info.tb)[-1].name == "failing"


def test_plain_reducer_raising_stop_iteration_fails_the_task(tmp_path):
    """A plain reduce function's StopIteration fails the task; it does not end it early."""

    def stops(key, values):
        if key == "odd0":
            next(iter(()))
        return [(key, sum(values))]

    with pytest.raises(StopIteration) as info:
        reduce_task_output(tmp_path, step_job(stops), "out", tracked=False)
    assert traceback.extract_tb(info.tb)[-1].name == "stops"


def test_tasks_raise_the_young_gc_threshold_only_while_they_run(tmp_path):
    """Map and reduce code runs with the task's young-generation threshold (and its policy's
    callback), and the process's own are back when the task returns, even after a failure."""
    import gc

    from minimr.dataflow import taskgc

    seen = []

    def map_fn(_key, line):
        seen.append(gc.get_threshold()[0])
        yield line, 1

    def reduce_fn(key, values):
        seen.append(gc.get_threshold()[0])
        yield key, sum(values)

    before, callbacks = gc.get_threshold(), list(gc.callbacks)
    reduce_task_output(tmp_path, step_job(reduce_fn, map_fn), "gc", tracked=False)
    assert seen and min(seen) >= taskgc.FLOOR
    assert gc.get_threshold() == before and gc.callbacks == callbacks

    def failing_map(_key, line):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        reduce_task_output(tmp_path, step_job(reduce_fn, failing_map), "gc2", tracked=False)
    assert gc.get_threshold() == before and gc.callbacks == callbacks


@pytest.mark.parametrize("lines", [1, 3, 40, 2000])
def test_sampling_maps_each_record_at_most_once(tmp_path, lines):
    """A range partitioner's sample task reads its places in a split without overlap, so the
    map sees each line at most once, however short the split (issue 16: once per record)."""
    from collections import Counter

    from minimr.dataflow.tasks import run_sample_task

    seen = Counter()

    class Sampled(Job):
        partitioner = "range"

        def map(self, key, line):
            seen[key] += 1
            yield line, 1

    (tmp_path / "in.txt").write_text("".join(f"{i:04d}\n" for i in range(lines)))
    plan = build_plan(Sampled(), [str(tmp_path / "in.txt")], str(tmp_path / "out"), reducers=3)
    run_sample_task(plan, plan.sample_task(0), Counters())
    assert seen and max(seen.values()) == 1


class CountsPerTask(Job):
    """A reduce that tallies its keys and hands the tally on once per reduce task."""

    def setup(self):
        self.keys = 0

    def map(self, key, line):
        for word in line.split():
            yield word, 1

    def reduce(self, word, counts):
        self.keys += 1
        yield word, sum(counts)

    def reduce_final(self):
        return {"~keys": self.keys}


def test_reduce_final_writes_after_the_last_key_of_every_reduce_task(tmp_path):
    """reduce_final runs once a reduce task, after its last reduce call (in a task with no
    key too); what it returns (here a mapping) is written to that task's part."""
    (tmp_path / "in.txt").write_text("a b c\nb c d\n")
    result = minimr.run(CountsPerTask, inputs=[str(tmp_path / "in.txt")],
                        output=str(tmp_path / "out"), runner="inline", reducers=8)
    parts = sorted((tmp_path / "out").glob("part-*"))
    assert len(parts) == 8
    for part in parts:
        records = list(minimr.read_output(str(part)))
        assert records[-1][0] == "~keys" and records[-1][1] == len(records) - 1
    assert sum(n for key, n in result.records() if key == "~keys") == 4


def test_a_reduce_final_returning_no_pairs_names_itself(tmp_path):
    """A reduce_final that returns a str (no pairs) fails naming its own line."""
    class Bad(CountsPerTask):
        def reduce_final(self):
            return "done"

    (tmp_path / "in.txt").write_text("a\n")
    with pytest.raises(JobCodeError, match="Bad.reduce_final .*returned 'done'"):
        minimr.run(Bad, inputs=[str(tmp_path / "in.txt")], output=str(tmp_path / "out"),
                   runner="inline", reducers=1)
