"""What a running task sees of its job: the values of its options, and its side files.

Both runners run user code inside :func:`entered`: the inline runner once around the whole
job, a worker's executor around each task. Inside it ``minimr.options()`` returns the
run's option values (a class job reads the same values from ``self.options``) and, when the
job ships side files, they sit under their base names in a folder of the job, which is the
working directory while user code runs: ``open("stop_words.txt")`` works, and so does
``minimr.side_file("stop_words.txt")``, which gives the file's path and works wherever the
working directory is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from minimr.dataflow import counters as C
from minimr.dataflow.counters import SIDE_FILES_FETCHED, Counters
from minimr.dataflow.sidefiles import FileCache, materialize


class Options:
    """The values of a job's options in one run: ``self.options.min_length``.

    Read-only, and plain data (``as_dict()``): the same in every task of the run.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            known = ", ".join(sorted(self._values)) or "none"
            raise AttributeError(f"the job has no option {name!r} (its options: {known})"
                                 ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a job's option values are read-only")

    def __reduce__(self) -> tuple:
        return Options, (self._values,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and other._values == self._values

    __hash__ = None  # type: ignore[assignment]  # equal by values, which may be lists

    def __repr__(self) -> str:
        return f"Options({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def as_dict(self) -> dict[str, Any]:
        """The values as a new dict ``{dest: value}``."""
        return dict(self._values)


_options: Options | None = None
_folder: str | None = None
_names: frozenset[str] = frozenset()


@contextlib.contextmanager
def entered(plan: Any, folder: str, cache: FileCache, counters: Counters) -> Iterator[None]:
    """Run the body as a task of ``plan``: its options current, its side files in ``folder``
    (fetched through ``cache``), and ``folder`` the working directory when there are any.

    Args:
        plan: the ``JobPlan`` (its ``options`` and ``files``).
        folder: the job's folder of side files on this machine.
        cache: where the side files are fetched to, once per worker.
        counters: counts the files this task had to fetch (``SIDE_FILES_FETCHED``).
    """
    global _options, _folder, _names
    before = cache.fetched
    if plan.files:
        materialize(plan.files, cache, folder)
    if cache.fetched > before:
        counters.increment(C.BUILTIN, SIDE_FILES_FETCHED, cache.fetched - before)
    saved = _options, _folder, _names
    cwd = os.getcwd() if plan.files else None
    _options = Options(plan.options)
    # a side folder's files are named "users/part-00000": the folder is opened by its name
    _folder, _names = folder, frozenset(name for f in plan.files
                                        for name in (f.name, f.name.split("/", 1)[0]))
    try:
        if cwd is not None:
            os.chdir(folder)
        yield
    finally:
        if cwd is not None:
            os.chdir(cwd)
        _options, _folder, _names = saved


def options() -> Options:
    """The option values of the job whose task is running (``minimr.options()``).

    Raises:
        RuntimeError: called outside a running task (at import, say).
    """
    if _options is None:
        raise RuntimeError("minimr.options() is called from a job's functions while a task"
                           " runs (map, reduce, setup...), not at import")
    return _options


def side_file(name: str) -> str:
    """The local path of the side file ``name`` (its base name) of the running task's job.

    Raises:
        RuntimeError: called outside a running task.
        FileNotFoundError: the job ships no file of that name.
    """
    if _folder is None:
        raise RuntimeError("minimr.side_file() is called while a task runs")
    if name not in _names:
        shipped = ", ".join(sorted(_names)) or "none"
        raise FileNotFoundError(f"the job ships no side file {name!r} (it ships: {shipped};"
                                " add it with --file PATH or the job's files = [...])")
    return os.path.join(_folder, name)
