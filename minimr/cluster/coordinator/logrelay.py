"""``minimr logs`` through the coordinator: a client asks it, it asks the worker.

A worker keeps its attempts' logs (``tasklogs.py``); clients never reach workers directly
(a worker may be on a network only the coordinator sees, and with keys it serves other
workers only). So a client's ``LogRequest`` names a job's attempt; :class:`LogRelay` finds
the worker that ran it in the scheduler's tables (by its registration, or a live worker of
the same name: one that registered again keeps its logs) and sends it a ``FetchLog``; the
worker's ``LogData`` goes back to the client as a ``LogReply``. An attempt whose worker is
gone, or a worker that does not answer within ``LOG_TIMEOUT`` seconds, is answered with
the reason instead: the logs of a worker that died went with it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from minimr.cluster.scheduling import views
from minimr.cluster.scheduling.tables import Job, Worker
from minimr.cluster.wire import protocol as p

#: seconds a worker has to answer a log request
LOG_TIMEOUT = 5.0
#: log requests waiting for workers at once, at most (more are answered "busy")
MAX_PENDING = 1000


@dataclass(frozen=True)
class Pending:
    """A log request sent on to a worker: who asked, which worker must answer, until when."""

    client: bytes
    worker: str
    job_id: str
    attempt: str
    deadline: float


class LogRelay:
    """The log requests the coordinator has passed on to workers."""

    def __init__(self, timeout: float = LOG_TIMEOUT) -> None:
        self.timeout = timeout
        self.pending: dict[int, Pending] = {}
        self._numbers = itertools.count(1)

    def ask(self, client: bytes, request: p.LogRequest, jobs: dict[str, Job],
            workers: dict[str, Worker], now: float) -> tuple[str, p.FetchLog] | p.LogReply:
        """Where to send a client's request (``(worker, FetchLog)``), or the answer now."""
        job = jobs.get(request.job_id)
        if job is None:
            return _refusal(request, f"unknown job {request.job_id} (not running, and not "
                                     "among the finished jobs the coordinator keeps)")
        found = views.find_attempts(job, request.attempt)
        if len(found) != 1 or found[0].id != request.attempt:
            return _refusal(request, f"job {job.id} has no attempt {request.attempt}")
        attempt = found[0]
        holder = workers.get(attempt.worker) or next(
            (w for w in workers.values() if w.name == attempt.worker_name), None)
        if holder is None:
            return _refusal(request, f"worker {attempt.worker_name or attempt.worker}, which ran "
                                     f"{attempt.id}, is gone (it left or died): its logs went "
                                     "with it")
        if len(self.pending) >= MAX_PENDING:
            return _refusal(request, "the coordinator is busy with other log requests: try again")
        number = next(self._numbers)
        self.pending[number] = Pending(client, holder.id, job.id, attempt.id, now + self.timeout)
        return holder.id, p.FetchLog(number, job.id, attempt.id, request.offset)

    def answer(self, worker: str, data: p.LogData) -> tuple[bytes, p.LogReply] | None:
        """The client a worker's answer is for, and the reply; None when it answers nothing
        asked of it (late, or not its to answer)."""
        pending = self.pending.get(data.request)
        if pending is None or pending.worker != worker or (
                pending.job_id, pending.attempt) != (data.job_id, data.attempt):
            return None
        del self.pending[data.request]
        return pending.client, p.LogReply(data.job_id, data.attempt, data.offset, data.running,
                                          data.error, data.data)

    def expired(self, now: float, names: dict[str, str]) -> list[tuple[bytes, p.LogReply]]:
        """The requests whose worker did not answer in time, each with its answer
        (``names``: worker id -> name)."""
        late = [(n, r) for n, r in self.pending.items() if now >= r.deadline]
        answers = []
        for number, pending in late:
            del self.pending[number]
            who = names.get(pending.worker, pending.worker)
            answers.append((pending.client, p.LogReply(
                pending.job_id, pending.attempt, 0, False,
                f"worker {who} did not send the log within {self.timeout:g} s", b"")))
        return answers


def _refusal(request: p.LogRequest, error: str) -> p.LogReply:
    return p.LogReply(request.job_id, request.attempt, request.offset, False, error, b"")
