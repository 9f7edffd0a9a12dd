"""The inline runner: every task of a plan in this process, in order.

It is the reference every other runner is tested against, and the debugger: the same task
functions (``dataflow.tasks``) run here as on a worker, and the user's exception comes
through unchanged, with its real traceback. ``minimr replay`` runs one task this way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from minimr.dataflow import sidefiles, skips, taskenv
from minimr.dataflow.counters import Counters
from minimr.dataflow.plan import JobPlan
from minimr.dataflow.tasks import (
    commit_output,
    remove_dir,
    run_map_only_task,
    run_map_task,
    run_reduce_task,
    run_sample_task,
    scratch_dir,
)


def run_inline(plan: JobPlan, progress: Callable[[str], None] | None = None,
               only: tuple[int, str, int] | None = None) -> Counters:
    """Run every task of ``plan`` in this process, in order; commits the job.

    The user's exceptions propagate unchanged; on any failure the job's temporary files are
    removed and no ``_SUCCESS`` is written. In skip mode (``skip_bad_records`` in the plan's
    settings) a task that fails on a record runs again without it (``dataflow/skips.py``).

    Args:
        only: ``(step, "map" or "reduce", index)``: run only what that one task needs (the
            steps before its own; its map, or every map and its reduce) and stop there,
            without a job commit (``minimr replay``).
    """
    counters = Counters()
    work = scratch_dir("minimr-inline-")
    skipper = (skips.InlineSkipper(plan.settings.get("max_skips", skips.MAX_SKIPS))
               if plan.settings.get("skip_bad_records") else None)

    cache = sidefiles.FileCache(os.path.join(work, "cache"))

    def user_code() -> Any:  # what each task's user code sees: options, side files
        return taskenv.entered(plan, os.path.join(work, "files"), cache, counters)

    def attempt(run: Callable, task: Any, name: str) -> Any:
        with user_code():
            return run(task) if skipper is None else skipper.run(run, task, name, counters)

    try:
        for sp in plan.steps:
            boundaries = None
            if sp.needs_sample:
                with user_code():
                    boundaries = run_sample_task(plan, plan.sample_task(sp.index), counters)
            maps = plan.map_tasks(sp.index, boundaries)
            if only is not None and only[:2] == (sp.index, "map"):
                maps = [maps[only[2]]]
            outputs = []
            for n, task in enumerate(maps):
                name = f"s{sp.index}-m{task.index:05d}"
                if sp.map_only:  # the map writes the step's output: commit it as a reduce's
                    run = partial(run_map_only_task, plan, attempt=f"inline-{sp.index}",
                                  counters=counters)
                    commit_output(plan, task, attempt(run, task, name))
                else:
                    run = partial(run_map_task, plan, work_dir=work, attempt="inline",
                                  counters=counters)
                    outputs.append(attempt(run, task, name))
                if progress:
                    progress(f"step {sp.index + 1}/{len(plan.steps)}: map {n + 1}/{len(maps)}")
            reduces = plan.reduce_tasks(sp.index)
            if only is not None and only[0] == sp.index:
                reduces = [reduces[only[2]]] if only[1] == "reduce" else []
            for n, task in enumerate(reduces):
                segments = [o.segment(task.partition) for o in outputs]
                run = partial(run_reduce_task, plan, segments=segments,
                              attempt=f"inline-{sp.index}", counters=counters, work_dir=work)
                temp = attempt(run, task, f"s{sp.index}-r{task.partition:05d}")
                commit_output(plan, task, temp)
                if progress:
                    progress(f"step {sp.index + 1}/{len(plan.steps)}:"
                             f" reduce {n + 1}/{len(reduces)}")
            for o in outputs:  # this step's map output is no longer needed
                for path in (o.path, o.path + ".index"):
                    if os.path.exists(path):
                        os.unlink(path)
            if only is not None and only[0] == sp.index:
                plan.abort_job()  # the one task ran: no job commit, no _SUCCESS
                return counters
        if skipper is not None and skipper.skipped:
            skips.write_report(plan.output, skipper.skipped)
        plan.commit_job()
    except BaseException:
        plan.abort_job()
        raise
    finally:
        remove_dir(work)
    return counters
