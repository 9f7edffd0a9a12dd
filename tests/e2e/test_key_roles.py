"""A key grants its role and no more: hostile key holders at a real coordinator, over CURVE.

A coordinator process runs with a keys folder of two worker keys (``w1``, honest, and
``mallory``), two submitters (``alice``, ``bob``) and an admin (``root``). The tests play
each part with hand-made ZeroMQ sockets holding those real keys (the honest worker too,
so that the test decides when each message is sent), and check that what a key tries
beyond its role is refused:

- a worker claiming, in its registration, a map output another live worker holds;
- a registration naming a live worker of another key in ``replaces``;
- a worker taking over the routing identity of another key's worker that dropped;
- a worker asking for the plan of a job it has no task of;
- submitter bob watching or cancelling alice's job, or seeing it in ``status``.

Honest runs beside them (a real worker process, ``submit_plan``) still match the inline runner.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import zmq

from minimr.cluster.client.client import submit_message, submit_plan
from minimr.cluster.commands.status import fetch_status
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.security import Keys, keygen
from tests.e2e.conftest import Cluster as DefaultCluster
from tests.e2e.support import (
    ROOT,
    TEXT,
    environment,
    free_address,
    hand_made_dealer,
    inline_output,
    make_plan,
    read_dir,
    stop_processes,
)

REPLY_WAIT = 3.0


class Cluster:
    """A keyed coordinator process (slow liveness: hand-made workers beat by hand)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.keys_dir = tmp / "keys"
        keygen(str(self.keys_dir), workers=["w1", "mallory"], submitters=["alice", "bob"],
               admins=["root"])
        self.keys = Keys(str(self.keys_dir))
        self.address = free_address()
        self.sockets: list[zmq.Socket] = []
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "minimr", "coordinator", "--bind", self.address,
                 "--keys", str(self.keys_dir), "--heartbeat-interval", "0.5",
                 "--heartbeat-liveness", "40", "--log-level", "WARNING"],
                env=environment(),
            )
        ]
        deadline = time.monotonic() + 20
        while True:
            try:
                self.status("root")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def peer(self, name: str, routing_id: bytes | None = None) -> zmq.Socket:
        """A DEALER socket holding identity ``name``'s real key pair."""
        pair = self.keys.identity(name)
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        if routing_id is not None:
            sock.setsockopt(zmq.IDENTITY, routing_id)
        sock.curve_secretkey = pair.secret
        sock.curve_publickey = pair.public
        sock.curve_serverkey = self.keys.coordinator_key()
        sock.connect(self.address)
        self.sockets.append(sock)
        return sock

    def status(self, name: str) -> dict:
        """The status as identity ``name`` sees it."""
        return fetch_status(self.address, curve=self.keys.client(name))

    def add_worker(self, name: str, host: str) -> subprocess.Popen:
        """A real worker process with identity ``name``."""
        process = subprocess.Popen(
            [sys.executable, "-m", "minimr", "worker", "--coordinator", self.address,
             "--keys", str(self.keys_dir), "--identity", name, "--host", host,
             "--work-dir", str(self.tmp / f"work-{host}"), "--log-level", "WARNING"],
            env=environment(),
        )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for sock in self.sockets:
            sock.close(0)
        stop_processes(self.processes)


@pytest.fixture
def cluster(tmp_path):
    """A fresh keyed coordinator, no workers."""
    c = Cluster(tmp_path)
    yield c
    c.close()


@pytest.fixture
def default_cluster(tmp_path):
    """A coordinator as `minimr coordinator` starts by default (loopback, local keys)."""
    c = DefaultCluster(tmp_path)
    yield c
    c.close()


def replies(sock: zmq.Socket, wait: float = REPLY_WAIT, until: type | None = None) -> list:
    """What ``sock`` receives within ``wait`` seconds (heartbeats left out); stops early once
    a message of type ``until`` arrived."""
    got: list = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not sock.poll(50):
            continue
        messages = [m for m in wire.decode_all(sock.recv_multipart())
                    if not isinstance(m, p.Heartbeat)]
        got += messages
        if until is not None and any(isinstance(m, until) for m in messages):
            break
    return got


def first(messages: list, kind: type):
    """The first message of ``kind`` (AssertionError if none)."""
    found = [m for m in messages if isinstance(m, kind)]
    assert found, f"no {kind.__name__} among {messages}"
    return found[0]


class HandWorker:
    """A worker played by the test: registers with a real key, answers when told to."""

    def __init__(self, cluster: Cluster, name: str, host: str, **ready) -> None:
        self.routing_id = f"w-{name}-{host}".encode()
        self.sock = cluster.peer(name, self.routing_id)
        self.shuffle = f"tcp://127.0.0.1:{9000 + len(name)}"
        ready.setdefault("folder", f"/{name}")
        self.send(p.Ready(name, host, 1, 1, self.shuffle, **ready))
        first(replies(self.sock, until=p.Welcome), p.Welcome)

    def send(self, message: p.Message) -> None:
        self.sock.send_multipart(wire.encode(message))

    def assignment(self, wait: float = REPLY_WAIT) -> p.Assign:
        """The next task the coordinator gives it."""
        return first(replies(self.sock, wait, until=p.Assign), p.Assign)

    def close(self) -> None:
        self.sock.close(0)


def submit(cluster: Cluster, who: str, plan) -> zmq.Socket:
    """Submit ``plan`` as ``who`` from a hand-made client; returns its socket."""
    client = cluster.peer(who)
    client.send_multipart(wire.encode(submit_message(plan)))
    first(replies(client, until=p.Submitted), p.Submitted)
    return client


def honest_lists(plan, step: int = 0) -> p.TaskLists:
    """The task lists an honest prepare task returns for ``plan``."""
    return p.TaskLists(
        tuple(t.to_dict() for t in plan.map_tasks(step)),
        tuple(t.to_dict() for t in plan.reduce_tasks(step)),
    )


def job_plan(tmp_path: Path, name: str, files: int = 2, reducers: int = 1):
    """A plan over ``files`` small input files (one map each)."""
    inputs = []
    for i in range(files):
        path = tmp_path / f"{name}-in" / f"part-{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"alpha beta {i}\n")
        inputs.append(path)
    return make_plan("wordcount.py", inputs, tmp_path / f"{name}-out", reducers=reducers)


# --- workers ------------------------------------------------------------------------------


def test_a_worker_cannot_claim_map_outputs_a_live_worker_holds(cluster, tmp_path):
    """mallory registers saying it holds the output of a map that w1, alive, ran: the
    reduce still fetches that output from w1, at w1's address and key."""
    plan = job_plan(tmp_path, "j")
    honest = HandWorker(cluster, "w1", "host-a")
    submit(cluster, "alice", plan)
    prepare = honest.assignment()
    honest.send(p.TaskDone(plan.job_id, prepare.attempt, honest_lists(plan), {}, 0.0))
    map0 = honest.assignment()
    output = p.MapOutputRef(1, 10)
    honest.send(p.TaskDone(plan.job_id, map0.attempt, output, {}, 0.0))
    map1 = honest.assignment()  # map 0's output now lives on w1, which is alive
    mallory = HandWorker(
        cluster, "mallory", "host-m", folder="/evil",
        outputs=(p.HeldOutput(plan.job_id, map0.attempt, output),),
    )
    honest.send(p.TaskDone(plan.job_id, map1.attempt, output, {}, 0.0))
    got = replies(honest.sock, until=p.Assign) + replies(mallory.sock, until=p.Assign)
    reduce = first(got, p.Assign)
    assert reduce.kind == "reduce"
    by_map = {item.map: item for item in reduce.inputs.listed(0)}
    w1_key = cluster.keys.identity("w1").public.decode()
    assert by_map[0].holder == p.Holder("host-a", honest.shuffle, w1_key, "/w1")
    assert by_map[0].attempt == map0.attempt
    honest.close()
    mallory.close()


def test_replaces_cannot_drop_a_live_worker_of_another_key(cluster, tmp_path):
    """mallory names w1 (alive, same host) as a worker whose folder it adopted: w1 keeps
    its registration and its running attempt, and mallory is given nothing of it."""
    plan = job_plan(tmp_path, "j")
    honest = HandWorker(cluster, "w1", "host-a")
    submit(cluster, "alice", plan)
    prepare = honest.assignment()
    mallory = HandWorker(cluster, "mallory", "host-a", replaces=(honest.routing_id.decode(),))
    assert not [m for m in replies(mallory.sock) if isinstance(m, p.Assign)]
    workers = {w["name"]: w for w in cluster.status("root")["workers"]}
    assert workers["w1"]["running"] == [prepare.attempt]
    honest.close()
    mallory.close()


def test_a_dropped_workers_identity_taken_by_another_key_is_refused(cluster, tmp_path):
    """w1's connection drops; mallory connects with w1's routing identity and reports w1's
    prepare attempt done with task lists of its choosing: refused, the job does not move."""
    plan = job_plan(tmp_path, "j")
    honest = HandWorker(cluster, "w1", "host-a")
    submit(cluster, "alice", plan)
    prepare = honest.assignment()
    honest.close()
    forged = p.TaskDone(plan.job_id, prepare.attempt, honest_lists(plan), {}, 0.0)
    answers: list = []
    for _ in range(10):  # until the coordinator has let go of w1's connection
        time.sleep(0.3)
        mallory = cluster.peer("mallory", honest.routing_id)
        mallory.send_multipart(wire.encode(forged))
        answers = replies(mallory, 1.0, until=p.Reject)
        mallory.close(0)
        if answers:
            break
    reject = first(answers, p.Reject)
    assert reject.code == "unauthorized" and "bound to its key" in reject.reason
    assert not [m for m in answers if isinstance(m, p.Assign)]
    (job,) = cluster.status("root")["jobs"]
    assert job["maps_total"] == 0 and job["state"] == "running"


def test_a_worker_without_a_task_of_a_job_gets_no_plan(cluster, tmp_path):
    """mallory, a registered worker with no task of alice's job, asks for its plan: no
    plan; w1, given the job's prepare task, gets it."""
    plan = job_plan(tmp_path, "j")
    mallory = HandWorker(cluster, "mallory", "host-m")
    busy = cluster.peer("alice")  # a job that keeps mallory's only slot busy first
    other = job_plan(tmp_path, "other")
    busy.send_multipart(wire.encode(submit_message(other)))
    mallory.assignment()
    honest = HandWorker(cluster, "w1", "host-a")
    submit(cluster, "alice", plan)
    honest.assignment()
    mallory.send(p.PlanRequest(plan.job_id))
    assert not [m for m in replies(mallory.sock) if isinstance(m, p.Plan)]
    honest.send(p.PlanRequest(plan.job_id))
    served = first(replies(honest.sock, until=p.Plan), p.Plan)
    assert served.job_id == plan.job_id and served.blob == submit_message(plan).blob
    honest.close()
    mallory.close()


# --- submitters ---------------------------------------------------------------------------


def test_a_submitter_cannot_watch_cancel_or_see_another_submitters_job(cluster, tmp_path):
    """bob's Watch and CancelJob of alice's job are refused and the job runs on; bob's
    status shows alice's job as a count only. root, an admin, may see and cancel it."""
    plan = job_plan(tmp_path, "alice")
    alice = submit(cluster, "alice", plan)  # no worker: the job waits, running
    bob = cluster.peer("bob")
    bob.send_multipart(wire.encode(p.Watch(plan.job_id)))
    refused = first(replies(bob, until=p.Reject), p.Reject)
    assert refused.code == "unauthorized"
    bob.send_multipart(wire.encode(p.CancelJob(plan.job_id)))
    assert first(replies(bob, until=p.Reject), p.Reject).code == "unauthorized"
    bob.send_multipart(wire.encode(submit_message(plan)))  # its id, to become a watcher
    assert first(replies(bob, until=p.Reject), p.Reject).code == "unauthorized"
    seen_by_bob = cluster.status("bob")
    assert seen_by_bob["jobs"] == [] and seen_by_bob["other_jobs"] == {"running": 1, "finished": 0}
    (job,) = cluster.status("alice")["jobs"]
    assert job["job_id"] == plan.job_id and job["state"] == "queued"  # no worker: it waits
    assert not [m for m in replies(alice, 1.0) if isinstance(m, p.JobResult)]
    root = cluster.peer("root")
    root.send_multipart(wire.encode(p.Watch(plan.job_id)))
    assert first(replies(root, until=p.Progress), p.Progress).job_id == plan.job_id
    root.send_multipart(wire.encode(p.CancelJob(plan.job_id)))
    assert first(replies(alice, until=p.JobResult), p.JobResult).state == "cancelled"


def test_honest_jobs_of_two_submitters_run_right_beside_the_checks(cluster, tmp_path):
    """alice and bob each run a word count on a real keyed worker: both equal inline."""
    cluster.add_worker("w1", "host-a")
    cluster.add_worker("mallory", "host-b")  # an authorized worker key that behaves
    inline_output("wordcount.py", [TEXT], tmp_path / "inline")
    for who in ("alice", "bob"):
        plan = make_plan("wordcount.py", [TEXT], tmp_path / who, split_size="64KB")
        submit_plan(plan, cluster.address, curve=cluster.keys.client(who))
        assert read_dir(tmp_path / who) == read_dir(tmp_path / "inline")


# --- prepare results ----------------------------------------------------------------------

EVIL = """
import base64, pickle


class Canary:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open(self.path, "a").write, ("ran\\n",)) if False else (
            exec, (f"open({self.path!r}, 'a').write('ran')",))


def boundaries(path):
    return base64.b64encode(pickle.dumps([Canary(path)])).decode("ascii")
"""


def evil_boundaries(canary: Path) -> str:
    """Boundaries as they travelled before: base64 of a pickle, here one that writes
    ``canary`` when unpickled."""
    namespace: dict = {}
    exec(EVIL, namespace)  # noqa: S102 - the test's own hostile payload
    return namespace["boundaries"](str(canary))


def test_a_prepare_result_cannot_make_map_workers_unpickle_or_read_other_files(
    default_cluster, tmp_path
):
    """mallory, given a sort job's prepare task, answers with boundaries that are a pickle
    writing a canary, and with a map task over a file the job did not ask for: neither
    reaches an honest worker (no canary, the other file unread), the prepare runs again
    on the honest worker, and the job's output equals the inline runner's."""
    cluster = default_cluster
    canary = tmp_path / "canary"
    secret = tmp_path / "not-an-input.txt"
    secret.write_text("0123456789 a line the job never asked for\n")
    mallory = hand_made_dealer(cluster.address, "worker", b"w-mallory-1")
    mallory.send_multipart(wire.encode(p.Ready("mallory", "host-m", 1, 1, "tcp://127.0.0.1:9")))
    sort_input = tmp_path / "records.txt"
    sort_input.write_text("".join(f"{(i * 7919) % 1000:010d} value {i}\n" for i in range(300)))
    inline_output(str(ROOT / "jobs" / "sort.py"), [sort_input], tmp_path / "inline",
                  reducers=3, split_size="4KB")
    plan = make_plan(str(ROOT / "jobs" / "sort.py"), [sort_input], tmp_path / "out",
                     reducers=3, split_size="4KB")
    outcome: dict = {}
    runner = threading.Thread(
        target=lambda: outcome.update(result=submit_plan(plan, cluster.address)), daemon=True
    )
    runner.start()
    try:
        prepare = first(replies(mallory, 10, until=p.Assign), p.Assign)
        assert prepare.kind == "prepare"
        evil = evil_boundaries(canary)
        maps = [dict(t.to_dict(), boundaries=evil) for t in plan.map_tasks(0)]
        stolen = dict(maps[0], index=len(maps), split={"path": str(secret), "start": 0, "end": 44})
        lists = p.TaskLists(
            tuple([*maps, stolen]), tuple(t.to_dict() for t in plan.reduce_tasks(0))
        )
        done = p.TaskDone(plan.job_id, prepare.attempt, lists, {}, 0.0)
        mallory.send_multipart(wire.encode(done))
        time.sleep(0.5)
    finally:
        mallory.close(0)
    cluster.add_worker()
    runner.join(60)
    assert "result" in outcome, "the job did not finish"
    assert not canary.exists()
    assert read_dir(tmp_path / "out") == read_dir(tmp_path / "inline")
    assert outcome["result"].snapshot["maps_total"] == len(plan.map_tasks(0))
