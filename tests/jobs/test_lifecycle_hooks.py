"""The setup/teardown contract the example jobs rely on (grep, top_words and inverted_index).

``Job.setup`` and ``Job.teardown`` are documented as "called once in each task before/after
any map, combine or reduce call". These tests pin that contract down with the inline runner,
one split and one reducer, so there is exactly one map task and one reduce task.
"""

from __future__ import annotations

import minimr
from minimr import Job, Step


def run_and_record(job_class, tmp_path) -> list[str]:
    """Run ``job_class`` on a one-line input and return the events its hooks recorded."""
    source = tmp_path / "in.txt"
    source.write_text("sea " * 6 + "\n")  # enough repeats that the combiner runs
    job = job_class()
    job.events = []
    minimr.run(job, [str(source)], str(tmp_path / "out"), reducers=1, runner="inline")
    return job.events


class Recorder(Job):
    """Records every hook and function call, in order."""

    def setup(self):
        self.events.append("setup")

    def teardown(self):
        self.events.append("teardown")

    def map(self, key, line):
        self.events.append("map")
        for word in line.split():
            yield word, 1

    def combine(self, word, counts):
        self.events.append("combine")
        yield word, sum(counts)

    def reduce(self, word, counts):
        self.events.append("reduce")
        yield word, sum(counts)


def test_setup_and_teardown_frame_map_and_reduce(tmp_path):
    """Each task calls setup before its first map or reduce and teardown after its last."""
    events = [e for e in run_and_record(Recorder, tmp_path) if e != "combine"]
    assert events == ["setup", "map", "teardown", "setup", "reduce", "teardown"]


def test_teardown_comes_after_the_last_combine(tmp_path):
    """In a map task, the combiner runs between setup and teardown, never after teardown."""
    events = run_and_record(Recorder, tmp_path)
    assert events == ["setup", "map", "combine", "teardown", "setup", "reduce", "teardown"]


class StepsWithSetup(Recorder):
    """A multi-step style job that builds its own Step and overrides setup()."""

    def steps(self):
        return [Step(map=self.map, combine=self.combine, reduce=self.reduce)]


def test_job_setup_runs_for_steps_built_in_steps(tmp_path):
    """A job's setup and teardown run in each task also when the job defines steps()."""
    events = [e for e in run_and_record(StepsWithSetup, tmp_path) if e != "combine"]
    assert events == ["setup", "map", "teardown", "setup", "reduce", "teardown"]


class Final(Recorder):
    """Records map_final too; it yields one more pair."""

    def map_final(self):
        self.events.append("map_final")
        yield "sea", 1


def test_map_final_comes_after_the_last_map_and_before_combine_and_teardown(tmp_path):
    events = run_and_record(Final, tmp_path)
    assert events == ["setup", "map", "map_final", "combine", "teardown",
                      "setup", "reduce", "teardown"]
