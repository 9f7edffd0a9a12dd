"""The simulated workers of ``bench_coordinator.py``: many fake workers per process.

Each simulated worker registers with the ``Ready`` a real worker sends, on its own DEALER
socket and routing identity ``w-NAME-HEX`` (the coordinator tells workers apart by that
identity), and then:

- :class:`TaskWorkers` (task mode) answer every assignment at once, many driven from one
  poller: a prepare lists the job's map and reduce tasks, a map "finishes" with an output of
  a 10-byte partition per reducer, a reduce asks to commit and finishes;
- :class:`SimulatedWorkers` (heartbeat mode) stay idle and heartbeat at the coordinator's
  interval, their phases spread evenly over the second, re-registering on ``Reconnect`` or
  after ``interval x liveness`` of silence as a real worker does.

Both say ``Bye`` at the end. ``task_generator`` and ``heartbeat_generator`` are the bodies
of the generator processes the benchmark starts; they count what they do in shared arrays.
"""

from __future__ import annotations

import os
import re
import resource
import secrets
import time

import zmq

from minimr.cluster.scheduling import scheduler
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.transport import HIGH_WATER_MARK, local_host


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


#: the leading fields of an Assign's JSON body (``wirecodec.encode`` keeps field order): a
#: simulated worker reads only these, so that a reduce's long list of inputs costs the
#: load generator nothing to parse
ASSIGN_HEAD = re.compile(rb'\{"job_id":"([^"]*)","attempt":"([^"]*)","kind":"([a-z]*)"')
ASSIGN = p.Command.ASSIGN
COMMIT_ANSWER = p.Command.COMMIT_ANSWER


def registered(context: zmq.Context, address: str, name: str, host: str,
               slots: int) -> zmq.Socket:
    """What ``Worker._register`` does: a new DEALER with a new identity ``w-NAME-HEX``,
    connected, its ``Ready`` sent."""
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, f"w-{name}-{secrets.token_hex(4)}".encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
    sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
    sock.connect(address)
    ready = p.Ready(name, host, os.getpid(), slots, "tcp://127.0.0.1:1", "", outputs=[])
    sock.send_multipart(wire.encode(ready), zmq.NOBLOCK)
    return sock


class TaskWorkers:
    """Many simulated workers answering every assignment at once, driven by one poller.

    Each registers with the ``Ready`` a real worker sends (its own DEALER socket and routing
    identity), heartbeats every second, and answers: a prepare with ``tasks`` map tasks and
    ``reducers`` reduce tasks, a map with an output of one (10-byte) partition per reducer,
    a reduce with a ``CommitRequest`` and then ``TaskDone``, a commit with ``TaskDone``.
    The answers are encoded once and only the attempt id is put in, so the generator's own
    cost per task stays far below the coordinator's.
    """

    def __init__(self, address: str, first: int, count: int, slots: int, tasks: int,
                 reducers: int, counters) -> None:
        self.address = address
        self.first = first
        self.count = count
        self.slots = slots
        self.tasks = tasks
        self.reducers = reducers
        self.counters = counters
        self.host = local_host()
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAX_SOCKETS, count + 64)
        self.sockets: list[zmq.Socket] = []
        self.heartbeat = wire.encode(p.Heartbeat())
        self.done_header = self.heartbeat[0][:4] + p.Command.TASK_DONE.to_bytes(2, "big")
        self.commit_header = self.done_header[:4] + p.Command.COMMIT_REQUEST.to_bytes(2, "big")
        #: a map's answer: its partitions' byte ranges stay on the worker, so its size is all
        self.map_output = f'{{"partitions":{reducers},"size":{10 * reducers}}}'

    def register(self) -> None:
        for j in range(self.count):
            name = f"{self.host}:sim{self.first + j}"
            self.sockets.append(registered(self.context, self.address, name, self.host,
                                           self.slots))

    def done(self, job: str, attempt: str, output: str) -> list[bytes]:
        body = (f'{{"job_id":"{job}","attempt":"{attempt}","output":{output},'
                f'"counters":{{}},"elapsed":0.0}}')
        return [self.done_header, body.encode()]

    def prepare_output(self) -> str:
        maps = ",".join(
            f'{{"step":0,"index":{i},"reducers":{self.reducers}}}' for i in range(self.tasks)
        )
        reduces = ",".join(f'{{"step":0,"partition":{r}}}' for r in range(self.reducers))
        return f'{{"map_tasks":[{maps}],"reduce_tasks":[{reduces}]}}'

    def answer(self, frames: list[bytes], replies: list[list[bytes]]) -> None:
        """Add the answers to one message (a batch's messages each) to ``replies``."""
        for part in wire.unbatch(frames):
            self.answer_one(part, replies)

    def answer_one(self, frames: list[bytes], replies: list[list[bytes]]) -> None:
        header = frames[0]
        command = int.from_bytes(header[4:6], "big")
        if command == ASSIGN:
            match = ASSIGN_HEAD.match(frames[1])
            job, attempt, kind = (g.decode() for g in match.groups())
            self.counters[ASSIGNED] += 1
            if kind == "map":
                replies.append(self.done(job, attempt, self.map_output))
            elif kind == "reduce":
                body = f'{{"job_id":"{job}","attempt":"{attempt}"}}'.encode()
                replies.append([self.commit_header, body])
            elif kind == "prepare":
                replies.append(self.done(job, attempt, self.prepare_output()))
            else:
                replies.append(self.done(job, attempt, "null"))
        elif command == COMMIT_ANSWER:
            message = wire.decode(frames)
            replies.append(self.done(message.job_id, message.attempt, "null"))

    def run(self, stop: float) -> None:
        """Register, then answer and heartbeat until ``stop``; say ``Bye`` at the end."""
        self.register()
        poller = zmq.Poller()
        for sock in self.sockets:
            poller.register(sock, zmq.POLLIN)
        last_beat = 0.0
        try:
            while time.monotonic() < stop:
                for sock, _ in poller.poll(100):
                    replies: list[list[bytes]] = []  # as a worker's loop turn: one batch
                    for _ in range(64):
                        try:
                            frames = sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self.answer(frames, replies)
                    if replies:
                        sock.send_multipart(wire.batch(replies))
                if time.monotonic() - last_beat >= scheduler.HEARTBEAT_INTERVAL:
                    last_beat = time.monotonic()
                    for sock in self.sockets:
                        sock.send_multipart(self.heartbeat, zmq.NOBLOCK)
        finally:
            bye = wire.encode(p.Bye())
            for sock in self.sockets:
                try:
                    sock.send_multipart(bye, zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass
            time.sleep(0.2)
            self.context.destroy(linger=0)


#: the task generators' shared counter
ASSIGNED = 0


def task_generator(address: str, first: int, count: int, slots: int, tasks: int,
                   reducers: int, stop: float, counters) -> None:
    """A generator process: ``count`` simulated task workers from ``first`` on."""
    raise_open_files_limit(4 * count + 256)
    try:
        TaskWorkers(address, first, count, slots, tasks, reducers, counters).run(stop)
    except KeyboardInterrupt:
        pass


#: simulated workers per generator process by default
WORKERS_PER_GENERATOR = 500
#: the generators' shared counters (one row of these per generator)
SENT, HEARD, WELCOMED, RECONNECTS, SILENCES, REJECTS = range(6)
COUNTERS = 6


class SimulatedWorkers:
    """Many idle workers on one ZeroMQ context, driven without a poller.

    Worker ``i`` (of ``total``, over all generators) registers at
    ``start + i/total x interval`` and then heartbeats every ``interval``; its inbox is read
    just before each of its heartbeats (about one coordinator heartbeat waits there).
    """

    def __init__(self, address: str, first: int, count: int, total: int, counters) -> None:
        self.address = address
        self.first = first
        self.count = count
        self.total = total
        self.counters = counters
        self.host = local_host()
        self.interval = scheduler.HEARTBEAT_INTERVAL
        self.liveness = scheduler.HEARTBEAT_LIVENESS
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAX_SOCKETS, count + 64)
        self.sockets: list[zmq.Socket | None] = [None] * count
        self.heard = [0.0] * count
        self.heartbeat = wire.encode(p.Heartbeat())  # what every worker sends, the same bytes
        self.heartbeat_header = self.heartbeat[0]

    def register(self, j: int) -> None:
        """What ``Worker._register`` does: a new DEALER, a new identity, ``Ready``."""
        old = self.sockets[j]
        if old is not None:
            old.close(linger=0)
        name = f"{self.host}:sim{self.first + j}"
        self.sockets[j] = registered(self.context, self.address, name, self.host, 1)

    def drain(self, j: int, now: float) -> None:
        """Read what the coordinator sent this worker since its last heartbeat."""
        sock = self.sockets[j]
        counters = self.counters
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            frames = sock.recv_multipart(zmq.NOBLOCK)
            self.heard[j] = now
            if frames[0] == self.heartbeat_header:
                counters[HEARD] += 1
                continue
            message = wire.decode(frames)
            if isinstance(message, p.Welcome):
                counters[WELCOMED] += 1
                self.interval = message.heartbeat_interval
                self.liveness = message.heartbeat_liveness
            elif isinstance(message, p.Reconnect):
                counters[RECONNECTS] += 1
                self.register(j)
                return
            elif isinstance(message, p.Reject):
                counters[REJECTS] += 1
        if now - self.heard[j] > self.interval * self.liveness:
            counters[SILENCES] += 1  # the coordinator forgot us or is starved: start over
            self.register(j)
            self.heard[j] = now

    def run(self, start: float, stop: float) -> None:
        """Register, heartbeat until ``stop``, then say ``Bye`` and close everything."""
        counters = self.counters
        beat = 0
        try:
            while True:
                for j in range(self.count):
                    due = start + ((self.first + j) / self.total + beat) * self.interval
                    if due >= stop:
                        return
                    delay = due - time.monotonic()
                    if delay > 0.0005:
                        time.sleep(delay)
                    now = time.monotonic()
                    if beat == 0:
                        self.register(j)
                        self.heard[j] = now
                    else:
                        self.drain(j, now)
                    # a worker's loop sends its first heartbeat right after Ready, then one
                    # per interval
                    self.sockets[j].send_multipart(self.heartbeat, zmq.NOBLOCK)
                    counters[SENT] += 1
                beat += 1
        finally:
            bye = wire.encode(p.Bye())
            for sock in self.sockets:
                if sock is not None:
                    try:
                        sock.send_multipart(bye, zmq.NOBLOCK)
                    except zmq.ZMQError:
                        pass
            time.sleep(0.2)  # let the Byes leave before the sockets close
            self.context.destroy(linger=0)


def heartbeat_generator(
    address: str, first: int, count: int, total: int, start: float, stop: float, counters
) -> None:
    """A generator process: ``count`` simulated workers from ``first`` on."""
    raise_open_files_limit(4 * count + 256)
    try:
        SimulatedWorkers(address, first, count, total, counters).run(start, stop)
    except KeyboardInterrupt:
        pass
