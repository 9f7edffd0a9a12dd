"""Shipping plans: round trips with both serializers, unpicklable jobs refused by name."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import threading
import types

import pytest

from minimr import loader
from minimr.cluster import shipping
from minimr.errors import FINAL, JobDefinitionError, JobLoadError


class Holder:
    """Stands in for a plan holding a job."""

    def __init__(self, job: object) -> None:
        self.job = job


class LockedJob:
    """A job holding something that cannot be pickled."""

    def __init__(self) -> None:
        self.threshold = 3
        self.lock = threading.Lock()


@pytest.mark.parametrize("serializer", shipping.SERIALIZERS)
def test_round_trip(serializer):
    """A plan with a lambda survives dumps/loads with each serializer."""
    plan = Holder(lambda x: x + 1)
    assert shipping.loads(shipping.dumps(plan, serializer), serializer).job(1) == 2


def test_unpicklable_job_is_refused_naming_the_attribute():
    """A job holding a lock is refused at submit with the attribute's path in the message."""
    with pytest.raises(JobDefinitionError) as info:
        shipping.dumps(Holder(LockedJob()))
    assert "plan.job.lock" in str(info.value)


def test_missing_module_on_the_worker_is_named():
    """Loading a plan that needs a module this host lacks names the module and the host."""
    module = types.ModuleType("no_such_module_x")
    exec("def f():\n    pass\n", module.__dict__)
    module.f.__module__ = "no_such_module_x"
    sys.modules["no_such_module_x"] = module
    try:
        blob = pickle.dumps(module.f)  # by reference, as an installed package would be
    finally:
        del sys.modules["no_such_module_x"]
    with pytest.raises(JobLoadError) as info:
        shipping.loads(blob)
    assert "no_such_module_x" in str(info.value) and "worker host" in str(info.value)


def test_a_plan_that_fails_to_unpickle_is_a_job_load_error():
    """A plan naming a function its module no longer has cannot load: a JobLoadError that
    says what failed, which the cluster does not retry."""
    module = types.ModuleType("shrinking_module_x")
    exec("def f():\n    pass\n", module.__dict__)
    module.f.__module__ = "shrinking_module_x"
    sys.modules["shrinking_module_x"] = module
    try:
        blob = pickle.dumps(module.f)
        del module.f  # the worker's copy of the module lacks it
        with pytest.raises(JobLoadError) as info:
            shipping.loads(blob)
    finally:
        del sys.modules["shrinking_module_x"]
    assert "AttributeError" in str(info.value) and "worker host" in str(info.value)
    assert isinstance(info.value, FINAL)


@pytest.mark.parametrize("serializer", shipping.SERIALIZERS)
def test_a_job_file_loads_on_a_host_without_it(tmp_path, serializer):
    """A job file and the module it imports from its folder travel by value with either
    serializer: a process that never imported them, without the files, runs the job's map."""
    from minimr.loader import find_job, load_module
    from minimr.runner import build_plan

    folder = tmp_path / "job"
    folder.mkdir()
    (folder / f"words_{serializer}.py").write_text("def words(line):\n    return line.split()\n")
    job_file = folder / f"shipped_{serializer}.py"
    job_file.write_text(textwrap.dedent(f"""
        from minimr import Job
        from words_{serializer} import words

        class Shipped(Job):
            def map(self, key, line):
                for word in words(line):
                    yield word, len(word)

            def reduce(self, word, lengths):
                yield word, sum(lengths)
    """))
    module = load_module(str(job_file))
    plan = build_plan(find_job(module), [str(job_file)], str(tmp_path / "out"))
    shipped = [module.__name__, f"words_{serializer}"]  # what load_module registered
    assert set(shipped) <= loader.SHIPPED
    plan.settings["sources"] = shipping.job_sources(shipped)
    (tmp_path / "plan.bin").write_bytes(shipping.dumps(plan, serializer))
    for file in folder.iterdir():
        file.unlink()
    script = textwrap.dedent("""
        import sys
        from minimr.cluster import shipping
        plan = shipping.loads(open(sys.argv[1], "rb").read(), sys.argv[2])
        print(list(plan.steps[0].step.map("k", "ab c")))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "plan.bin"), serializer],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.stdout == "[('ab', 2), ('c', 1)]\n", done.stderr


def test_a_job_file_edited_between_two_dill_jobs_runs_its_new_code(tmp_path):
    """A worker that loaded a dill job keeps no stale copy of its module for the next job."""
    from minimr.loader import find_job, load_module
    from minimr.runner import build_plan

    job_file = tmp_path / "edited_words.py"
    blobs = []
    for value in (1, 2):
        job_file.write_text(textwrap.dedent(f"""
            from minimr import Job

            class Edited(Job):
                def map(self, key, line):
                    yield line, {value}

                def reduce(self, key, values):
                    yield key, sum(values)
        """))
        module = load_module(str(job_file))
        plan = build_plan(find_job(module), [str(job_file)], str(tmp_path / "out"))
        plan.settings["sources"] = shipping.job_sources([module.__name__])
        blobs.append(tmp_path / f"plan{value}.bin")
        blobs[-1].write_bytes(shipping.dumps(plan, "dill"))
    job_file.unlink()
    script = textwrap.dedent("""
        import sys
        from minimr.cluster import shipping
        for path in sys.argv[1:]:
            plan = shipping.loads(open(path, "rb").read(), "dill")
            print(list(plan.steps[0].step.map("k", "x")))
    """)
    done = subprocess.run([sys.executable, "-c", script, *map(str, blobs)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.stdout == "[('x', 1)]\n[('x', 2)]\n", done.stderr
