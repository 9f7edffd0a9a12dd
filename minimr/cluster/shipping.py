"""Shipping a job plan to workers: serialize by value at submit, load once per worker.

Workers never need a copy of the job file: ``minimr.loader`` registers a job module
loaded from a file, and the modules it imports from its own folder, with
``cloudpickle.register_pickle_by_value``, so their code travels inside the blob.
Installed packages travel by reference and must be installed on the workers; a
missing one fails the task with a message naming the module and the worker.

``dill`` is the alternative serializer (``--serializer dill``) for objects
cloudpickle refuses.
"""

from __future__ import annotations

import pickle
import socket
from typing import Any

import cloudpickle

from minimr.errors import JobDefinitionError

SERIALIZERS = ("cloudpickle", "dill")


def dumps(plan: Any, serializer: str = "cloudpickle") -> bytes:
    """Serialize a plan for shipping.

    Raises:
        JobDefinitionError: something in the job cannot be serialized; the message
            names the attribute that failed.
    """
    try:
        return _module(serializer).dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        where = _find_unpicklable(plan, "plan", serializer)
        raise JobDefinitionError(
            f"the job cannot be shipped to workers with {serializer}: {where or 'the plan'} "
            f"failed ({type(exc).__name__}: {exc}). Create such objects in the job's setup "
            "or inside map/reduce instead of holding them on the job, or try "
            f"--serializer {'dill' if serializer == 'cloudpickle' else 'cloudpickle'}."
        ) from exc


def loads(blob: bytes, serializer: str = "cloudpickle") -> Any:
    """Load a shipped plan (on a worker's executor, never on the coordinator).

    Raises:
        ModuleNotFoundError: re-raised with the worker's name when the job needs a
            package that is not installed here.
    """
    try:
        return _module(serializer).loads(blob)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"the job needs module {exc.name!r}, which is not installed on worker host "
            f"{socket.gethostname()}: install it on every worker (job files and modules "
            "from the job's own folder travel with the job; installed packages do not)",
            name=exc.name,
        ) from exc


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
