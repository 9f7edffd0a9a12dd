"""What a run returns: :class:`Result` (the output, the counters, the task logs) and, first
to a cluster run's ``progress``, :class:`JobStarting` (the job's id)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from minimr.dataflow import storage
from minimr.dataflow.counters import Counters
from minimr.dataflow.format import output as out
from minimr.errors import UsageError


@dataclass(frozen=True)
class JobStarting:
    """The first update a cluster run's ``progress`` callback gets: the job's id, which
    ``minimr status``, ``logs`` and ``cancel`` take (``str()``: ``job: ID``)."""

    job_id: str

    def __str__(self) -> str:
        return f"job: {self.job_id}"


@dataclass
class Result:
    """What a finished job left: where its output is, its counters, its task logs."""

    output: str
    counters: Counters
    job_id: str = ""
    elapsed: float = 0.0
    #: reads the task logs: ``which`` (a task, an attempt, None) -> {attempt: text}
    logs_from: Callable[[str | None], dict[str, str]] | None = field(default=None, repr=False)

    def logs(self, task: str | None = None) -> dict[str, str]:
        """The output of the job's task attempts (stdout, stderr, ``logging``, and minimr's
        lines about each), by attempt id in the order they ran: of one task
        (``"s0-m00003"``), one attempt (``"s0-m00003-a2"``), or all of them.

        An embedded run reads them from ``OUTPUT/_logs/``; a run on a cluster asks the
        coordinator, whose workers keep them (an attempt whose worker is gone says so).

        Raises:
            UsageError: the inline runner keeps no logs: prints and logging went to this
                process's own stdout and stderr as the tasks ran.
        """
        if self.logs_from is None:
            raise UsageError("the inline runner keeps no task logs: prints and logging went "
                             "to this process's stdout and stderr as each task ran")
        return self.logs_from(task)

    def records(self, trusted: bool = True) -> Iterator[tuple[Any, Any]]:
        """The job's typed ``(key, value)`` records, partition by partition.

        Pickled values are read back (``trusted=True``, unlike ``read_output``'s default):
        the output was just written by this run of your own job. Pass ``trusted=False``
        when others can write into the output folder (see ``read_output``).
        """
        return out.read_output(self.output, trusted=trusted)


def read_log_folder(folder: str, which: str | None = None) -> dict[str, str]:
    """The attempt logs of a folder (``ATTEMPT.log`` each) that ``which`` names (a task, an
    attempt, or None for all), by attempt id in order."""
    names = sorted(storage.listdir(folder)) if storage.exists(folder) else []
    found = {}
    for name in names:
        attempt = name.removesuffix(".log")
        task = attempt.rsplit("-a", 1)[0]
        if name.endswith(".log") and (which is None or which in (attempt, task)):
            with storage.open_read(storage.join(folder, name)) as file:
                found[attempt] = file.read().decode("utf-8", "replace")
    return found
