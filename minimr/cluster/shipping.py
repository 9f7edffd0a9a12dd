"""Shipping a job plan to workers: serialize by value at submit, load once per worker.

Workers never need a copy of the job file: ``minimr.loader`` registers a job module
loaded from a file, and the modules it imports from its own folder, with
``cloudpickle.register_pickle_by_value``, so their code travels inside the blob.
Installed packages travel by reference and must be installed on the workers; a
missing one fails the task with a message naming the module and the worker.

``dill`` is the alternative serializer (``--serializer dill``) for objects
cloudpickle refuses. dill pickles the classes and functions of a module that can be imported
by reference, whatever it is told, so with dill the sources of those modules travel beside
the payload, and a worker imports them from there (running their top-level code) before it
loads the plan: a new copy each time, so a job file edited between two jobs never runs stale.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import inspect
import linecache
import os
import pickle
import socket
import sys
import types
from typing import Any

import cloudpickle

from minimr.errors import JobDefinitionError, JobLoadError

SERIALIZERS = ("cloudpickle", "dill")


def dumps(plan: Any, serializer: str = "cloudpickle") -> bytes:
    """Serialize a plan for shipping.

    Raises:
        JobDefinitionError: something in the job cannot be serialized; the message
            names the attribute that failed.
    """
    try:
        payload = _module(serializer).dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        where = _find_unpicklable(plan, "plan", serializer)
        raise JobDefinitionError(
            f"the job cannot be shipped to workers with {serializer}: {where or 'the plan'} "
            f"failed ({type(exc).__name__}: {exc}). Create such objects in the job's setup "
            "or inside map/reduce instead of holding them on the job, or try "
            f"--serializer {'dill' if serializer == 'cloudpickle' else 'cloudpickle'}."
        ) from exc
    if serializer != "dill":
        return payload
    settings = getattr(plan, "settings", None)
    sources = settings.get("sources") if isinstance(settings, dict) else None
    return pickle.dumps((sources or {}, payload), protocol=pickle.HIGHEST_PROTOCOL)


def loads(blob: bytes, serializer: str = "cloudpickle") -> Any:
    """Load a shipped plan (on a worker's executor, never on the coordinator).

    Raises:
        JobLoadError: the plan cannot be loaded here, whatever the attempt: a module the job
            needs is not installed on this host (named, with the host), or unpickling or
            importing the shipped modules failed. No retry can fix it (``errors.FINAL``).
    """
    try:
        if serializer == "dill":
            sources, blob = pickle.loads(blob)
            _import_from_sources(sources)
        plan = _module(serializer).loads(blob)
        restore_code_locations(plan)
        return plan
    except ModuleNotFoundError as exc:
        raise JobLoadError(
            f"the job needs module {exc.name!r}, which is not installed on worker host "
            f"{socket.gethostname()}: install it on every worker (job files and modules "
            "from the job's own folder travel with the job; installed packages do not)"
        ) from exc
    except Exception as exc:
        raise JobLoadError(
            f"the job cannot be loaded on worker host {socket.gethostname()}"
            f" ({type(exc).__name__}: {exc}): the worker's Python and packages must match the"
            " submitting side's, and the job's modules must import there without error"
        ) from exc


def _import_from_sources(sources: dict[str, tuple[str, str]]) -> None:
    """Import the shipped modules (``{name: (file, source)}``) anew from their sources."""
    names = [name for name in sources if name != "__main__"]  # dill ships __main__ by value
    finder = _SourceFinder({name: sources[name] for name in names})
    for name in names:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, finder)
    try:
        for name in names:
            importlib.import_module(name)  # a sibling may have imported it already
    finally:
        sys.meta_path.remove(finder)


class _SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the shipped modules from their sources, under their own file names."""

    def __init__(self, sources: dict[str, tuple[str, str]]) -> None:
        self.sources = sources

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.sources:
            return None
        return importlib.util.spec_from_loader(name, self, origin=self.sources[name][0])

    def create_module(self, spec: Any) -> None:
        return None  # the default module

    def exec_module(self, module: types.ModuleType) -> None:
        filename, text = self.sources[module.__name__]
        module.__file__ = filename
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        exec(compile(text, filename, "exec"), module.__dict__)


def _module(serializer: str) -> Any:
    if serializer == "cloudpickle":
        return cloudpickle
    if serializer == "dill":
        import dill

        return dill
    raise ValueError(f"serializer must be one of {SERIALIZERS} (got {serializer!r})")


def _find_unpicklable(obj: Any, path: str, serializer: str, depth: int = 0) -> str | None:
    """The dotted path of the innermost attribute that fails to serialize."""
    if depth > 6:
        return path
    children: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        children = [(f"{path}[{k!r}]", v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        children = [(f"{path}.{k}", v) for k, v in vars(obj).items()]
    for child_path, child in children:
        try:
            _module(serializer).dumps(child)
        except Exception:
            return _find_unpicklable(child, child_path, serializer, depth + 1) or child_path
    return None


def job_sources(modules: list[str]) -> dict[str, tuple[str, str]]:
    """``{module name: (file, source)}`` of the modules that travel by value.

    cloudpickle ships code objects without their file name (they arrive as
    ``<dynamic-code>``), so tracebacks from workers would not say where in the user's file an
    error happened. The sources travel with the plan and ``loads`` puts the names back.
    """
    found = {}
    for name in modules:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if not path or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                found[name] = (os.path.abspath(path), f.read())
        except (OSError, UnicodeDecodeError):
            continue
    return found


def restore_code_locations(plan: Any) -> None:
    """Give the shipped job's code objects their real file names, and their source lines.

    Walks the step functions, the job's class hierarchy and the module globals they reach;
    only objects of the shipped modules (``plan.settings["sources"]``) are touched.
    """
    settings = getattr(plan, "settings", None)
    sources = settings.get("sources") if isinstance(settings, dict) else None
    if not sources:
        return
    for filename, text in sources.values():
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    seen: set[int] = set()
    stack: list[Any] = []
    for sp in plan.steps:
        step = sp.step
        stack.extend(getattr(step, name, None) for name in
                     ("map", "map_keys", "map_batch", "combine", "reduce", "setup", "teardown"))
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if inspect.ismethod(obj):
            stack.extend((obj.__func__, type(obj.__self__)))
        elif isinstance(obj, (staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif inspect.isfunction(obj):
            entry = sources.get(getattr(obj, "__module__", None))
            if entry is None:
                continue
            obj.__code__ = _renamed(obj.__code__, entry[0])
            stack.extend(v for v in obj.__globals__.values()
                         if inspect.isfunction(v) or inspect.isclass(v))
            stack.extend(c.cell_contents for c in obj.__closure__ or () if _filled(c))
        elif inspect.isclass(obj):
            for klass in obj.__mro__:
                if klass.__module__ in sources:
                    stack.extend(vars(klass).values())


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
