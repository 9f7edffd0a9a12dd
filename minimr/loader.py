"""Finding the job in what the user gave: a path to a job file, a module, a class, an instance.

A job file is imported under a private module name (``minimr_job_<stem>``) with its own folder
first on ``sys.path``, so the modules it imports from beside it load too. That module and those
sibling modules are registered with cloudpickle *by value*: workers never need a copy of them.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from types import ModuleType
from typing import Any

import cloudpickle

from minimr.compat import mrjob
from minimr.errors import JobLoadError
from minimr.job import Job, ModuleJob, declared_options

# Names of the modules registered to travel by value (their sources travel too, so that
# tracebacks from workers point into the user's files).
SHIPPED: set[str] = set()


def load_module(path: str) -> ModuleType:
    """Import the job file at ``path`` and register it (and its siblings) for shipping.

    Raises:
        JobLoadError: the file is missing, has a syntax error, or fails to import.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise JobLoadError(f"job file {path!r} does not exist")
    folder = os.path.dirname(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = "minimr_job_" + "".join(c if c.isalnum() else "_" for c in stem)
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise JobLoadError(f"job file {path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise JobLoadError(
            f"syntax error in job file {exc.filename or path}, line {exc.lineno}: {exc.msg}\n"
            f"    {(exc.text or '').rstrip()}"
        ) from None
    except Exception as exc:
        del sys.modules[name]
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        user = [f for f in frames if "importlib" not in f and "minimr/loader.py" not in f]
        raise JobLoadError(
            f"job file {path} failed to import: {type(exc).__name__}: {exc}\n" + "".join(user)
        ) from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    _register_by_value(module, folder, set(sys.modules) - before)
    return module


def _register_by_value(module: ModuleType, folder: str, new_modules: set[str]) -> None:
    """Ship the job module, and the modules it imported from its own folder, by value."""
    cloudpickle.register_pickle_by_value(module)
    SHIPPED.add(module.__name__)
    site = {os.path.abspath(p) for p in sys.path if "site-packages" in p or "dist-packages" in p}
    for name in sorted(new_modules):
        mod = sys.modules.get(name)
        file = getattr(mod, "__file__", None)
        if mod is None or not file or "." in name:
            continue
        file = os.path.abspath(file)
        if file.startswith(folder + os.sep) and not any(file.startswith(s) for s in site):
            try:
                cloudpickle.register_pickle_by_value(mod)
                SHIPPED.add(name)
            except ValueError:
                pass  # already registered, or not importable by name


def find_job(module: ModuleType, class_name: str | None = None) -> Job:
    """The one job a module defines: a Job subclass, an mrjob ``MRJob`` subclass (run
    unchanged, ``minimr.compat.mrjob``), or top-level map/reduce functions.

    Raises:
        JobLoadError: no job, several candidate jobs, or a named class that is missing.
    """
    where = getattr(module, "__file__", module.__name__)
    if class_name:
        cls = getattr(module, class_name, None)
        if mrjob.is_mrjob_class(cls):
            return mrjob.MRJobAdapter(cls)
        if not (inspect.isclass(cls) and issubclass(cls, Job)):
            raise JobLoadError(f"{where} has no Job subclass named {class_name!r}")
        return cls()
    classes = [
        obj for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Job) and obj is not Job
        and obj is not ModuleJob and obj.__module__ == module.__name__
    ] + mrjob.classes_in(module)
    if len(classes) > 1:
        names = ", ".join(sorted(c.__name__ for c in classes))
        raise JobLoadError(
            f"{where} defines several jobs ({names}); name one as {os.path.basename(where)}:CLASS"
        )
    if classes:
        return _instance(classes[0])
    if any(callable(getattr(module, name, None)) for name in ("map", "map_keys", "map_batch")):
        return ModuleJob(module)
    raise JobLoadError(
        f"{where} defines no job: expected a minimr.Job subclass, or top-level"
        " map(key, value) (or map_keys, map_batch) and reduce(key, values) functions"
    )


def resolve_job(job: Any) -> Job:
    """Turn what the user passed (path, ``path:Class``, module, class, instance) into a Job.

    Raises:
        JobLoadError: when it is none of those, or the file cannot be loaded.
        JobDefinitionError: the job's option declarations are malformed or take a flag of
            ``minimr submit``'s own.
    """
    found = _find(job)
    declared_options(found)
    return found


def _instance(cls: type) -> Job:
    """A job of a minimr ``Job`` class, or of an mrjob ``MRJob`` class (run unchanged)."""
    return mrjob.MRJobAdapter(cls) if mrjob.is_mrjob_class(cls) else cls()


def _find(job: Any) -> Job:
    if isinstance(job, Job):
        return job
    if inspect.isclass(job) and (issubclass(job, Job) or mrjob.is_mrjob_class(job)):
        return _instance(job)
    if mrjob.is_mrjob_class(type(job)):
        raise JobLoadError(
            f"give minimr the class {type(job).__name__}, not an instance of it; its"
            " arguments go in options={...} (or on the minimr submit command line)")
    if isinstance(job, ModuleType):
        return find_job(job)
    if isinstance(job, (str, os.PathLike)):
        path, class_name = _job_path(job)
        return find_job(load_module(path), class_name)
    raise JobLoadError(
        f"job must be a Job subclass, an instance, a module or a path to a job file"
        f" (got {job!r} that is a {type(job).__name__})"
    )


def _job_path(job: str | os.PathLike) -> tuple[str, str | None]:
    """``(file, class name or None)`` of a ``path`` or ``path:Class`` job argument."""
    text = os.fspath(job)
    if ":" in os.path.basename(text):
        path, class_name = text.rsplit(":", 1)
        return path, class_name
    return text, None


def job_file(job: Any, resolved: Job) -> str | None:
    """The file the job ``job`` (as ``resolve_job`` took it) was loaded from, if any."""
    if isinstance(job, (str, os.PathLike)):
        return _job_path(job)[0]
    if isinstance(resolved, ModuleJob):
        return resolved.source
    module = job if isinstance(job, ModuleType) else resolved._module()
    return getattr(module, "__file__", None)
