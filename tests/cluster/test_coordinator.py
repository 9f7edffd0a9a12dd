"""The coordinator's I/O shell over the in-memory transport: frames in, frames out."""

from __future__ import annotations

import json
import struct
import threading
import time

import pytest

from minimr.cluster.coordinator.coordinator import BATCH, IDLE_REST, Coordinator
from minimr.cluster.scheduling import scheduler as s
from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire.memory_transport import MemoryNetwork
from tests import hostile

#: a CURVE public key (Z85), as a worker with keys advertises for its shuffle server
SERVER_KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Roles:
    """An access list: the roles of each (fake) public key."""

    def __init__(self, **roles: set[str]) -> None:
        self.table = roles

    def roles(self, key: str) -> frozenset[str]:
        return frozenset(self.table.get(key, ()))


class Rig:
    """A coordinator on a fake network, and helpers to talk to it as peers."""

    def __init__(self, access: Roles | None = None) -> None:
        self.network = MemoryNetwork()
        self.clock = Clock()
        sched = s.Scheduler(heartbeat_interval=1.0, heartbeat_liveness=3)
        self.coordinator = Coordinator(
            self.network.bind("mem://c"), sched, self.clock, access=access
        )

    def peer(self, identity: str, key: str = ""):
        return self.network.connect("mem://c", identity.encode(), user=key)

    def exchange(self, peer, *messages: p.Message) -> list[p.Message]:
        """Send messages from ``peer``, run a coordinator turn, return what ``peer`` got."""
        for message in messages:
            peer.send(wire.encode(message))
        self.coordinator.turn()
        received = []
        while (frames := peer.recv()) is not None:
            received.extend(wire.decode_all(frames))
        return received

    def worker(self, identity: str, slots: int = 1):
        conn = self.peer(identity)
        ready = p.Ready(identity, "host", 1, slots, f"tcp://{identity}:1",
                        folder=f"/work/{identity}")
        replies = self.exchange(conn, ready)
        assert isinstance(replies[0], p.Welcome)
        return conn


def of_type(messages: list, cls: type) -> list:
    return [m for m in messages if isinstance(m, cls)]


def test_malformed_frames_are_dropped_and_serving_goes_on():
    """Garbage from a peer is logged and dropped; the next valid message is served."""
    rig = Rig()
    conn = rig.peer("w1")
    conn.send([b"garbage"])
    conn.send([struct.pack(">3sBH", b"MMR", wire.VERSION, 2), b"{not json"])
    replies = rig.exchange(conn, p.Ready("w1", "host", 1, 1, "tcp://w1:1"))
    assert of_type(replies, p.Welcome)


def test_worker_of_another_python_is_turned_away_saying_which_versions_differ():
    """Registration with a different Python version earns a Reject naming both versions."""
    rig = Rig()
    replies = rig.exchange(rig.peer("w1"), p.Ready("w1", "h", 1, 1, "a", python_version="2.7"))
    (reject,) = of_type(replies, p.Reject)
    assert "Python 2.7" in reject.reason and p.PYTHON_VERSION in reject.reason
    assert rig.coordinator.scheduler.workers == {}


@pytest.mark.parametrize("version", [wire.VERSION - 1, wire.VERSION + 1])
def test_peer_of_another_protocol_version_is_rejected(version):
    """A header of another protocol version (an older worker, one that sends a batch as a
    frame per field) is answered with a Reject the peer can read: in its own version's
    header when it is older (a Reject's layout is the same in every version), else ours."""
    rig = Rig()
    conn = rig.peer("w1")
    ready = wire.encode(hostile.sample(p.Ready))[1]
    heartbeat = [struct.pack(">3sBH", b"MMR", version, p.Command.HEARTBEAT), b"{}"]
    old_batch = [struct.pack(">3sBH", b"MMR", version, p.Command.BATCH), b"[2,2]", *heartbeat,
                 *heartbeat]  # protocol 3 and 4's layout
    for frames in ([struct.pack(">3sBH", b"MMR", version, p.Command.READY), ready], old_batch):
        conn.send(frames)
        rig.coordinator.turn()
        head, body = conn.recv()
        assert head == struct.pack(">3sBH", b"MMR", min(version, wire.VERSION), p.Command.REJECT)
        reject = p.Reject(**json.loads(body))
        assert reject.code == "version" and f"version {version}" in reject.reason
        assert conn.recv() is None
    assert rig.coordinator.scheduler.workers == {}


def test_plan_blob_is_forwarded_untouched():
    """The coordinator hands workers the submitted blob as is (it never unpickles it)."""
    rig = Rig()
    worker = rig.worker("w1")
    client = rig.peer("client")
    assert of_type(
        rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"not a pickle")),
        p.Submitted,
    )
    rig.coordinator.turn()
    (assign,) = of_type(rig.exchange(worker), p.Assign)
    assert assign.kind == "prepare"
    (plan,) = of_type(rig.exchange(worker, p.PlanRequest("j")), p.Plan)
    assert plan.blob == b"not a pickle"


def test_a_job_flows_from_submit_to_result():
    """Prepare, map, reduce (with commit) and commit reports end in a JobResult for the client."""
    rig = Rig()
    worker = rig.worker("w1")
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (assign,) = of_type(rig.exchange(worker), p.Assign)
    listing = p.TaskLists(({"step": 0, "index": 0, "reducers": 1},), ({"step": 0, "partition": 0},))
    rig.clock.now += 1.0  # past the progress interval: the client hears of the prepare
    replies = rig.exchange(worker, p.TaskDone("j", assign.attempt, listing, {}, 0.1))
    (assign,) = of_type(replies, p.Assign)
    map_output = p.MapOutputRef(1, 5)
    counters = {"minimr": {"map input records": 3}}
    replies = rig.exchange(worker, p.TaskDone("j", assign.attempt, map_output, counters, 0.1))
    (assign,) = of_type(replies, p.Assign)
    assert assign.kind == "reduce" and assign.inputs == p.ReduceInputs(
        (p.Holder("host", "tcp://w1:1", "", "/work/w1"),), (0,), (1,)
    )
    (answer,) = of_type(rig.exchange(worker, p.CommitRequest("j", assign.attempt)), p.CommitAnswer)
    assert answer.ok
    (assign,) = of_type(
        rig.exchange(worker, p.TaskDone("j", assign.attempt, None, {}, 0)), p.Assign
    )
    assert assign.kind == "commit"
    forget = of_type(
        rig.exchange(worker, p.TaskDone("j", assign.attempt, None, {}, 0)), p.ForgetJob
    )
    assert forget == [p.ForgetJob("j")]
    received = rig.exchange(client)
    (result,) = of_type(received, p.JobResult)
    assert result.state == "succeeded" and result.counters == (counters,)
    assert of_type(received, p.Progress)


def test_progress_is_sent_at_most_every_interval():
    """However many tasks finish, a watcher hears of a job at most every PROGRESS_INTERVAL:
    a snapshot costs a pass over the job's tasks."""
    from minimr.cluster.coordinator.clientrequests import PROGRESS_INTERVAL

    rig = Rig()
    worker = rig.worker("w1", slots=4)
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (prep,) = of_type(rig.exchange(worker), p.Assign)
    listing = p.TaskLists(tuple({"step": 0, "index": i, "reducers": 1} for i in range(8)),
                          ({"step": 0, "partition": 0},))
    maps = of_type(rig.exchange(worker, p.TaskDone("j", prep.attempt, listing, {}, 0.1)),
                   p.Assign)
    heard = []
    rig.clock.now += PROGRESS_INTERVAL
    for assign in maps[:3]:  # three turns within one interval: one progress message
        output = p.MapOutputRef(1, 5)
        rig.exchange(worker, p.TaskDone("j", assign.attempt, output, {}, 0.1))
        heard += of_type(rig.exchange(client), p.Progress)
        rig.clock.now += PROGRESS_INTERVAL / 4
    assert len(heard) == 1
    rig.clock.now += PROGRESS_INTERVAL
    rig.coordinator.turn()
    (later,) = of_type(rig.exchange(client), p.Progress)
    assert later.snapshot["maps_done"] == 3


def test_silent_worker_is_purged_and_its_task_goes_to_another():
    """A worker silent past interval x liveness loses its task to a live worker."""
    rig = Rig()
    silent = rig.worker("w1")
    rig.exchange(rig.peer("client"), p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    assert of_type(rig.exchange(silent), p.Assign)
    rig.clock.now += 2.0
    live = rig.worker("w2")
    rig.clock.now += 1.5
    (assign,) = of_type(rig.exchange(live, p.Heartbeat()), p.Assign)
    assert assign.attempt == "s0-p00000-a2"
    assert of_type(rig.exchange(silent, p.Heartbeat()), p.Reconnect)


def test_status_reply_lists_workers_and_jobs():
    """A status request is answered with the workers and jobs tables."""
    rig = Rig()
    rig.worker("w1", slots=3)
    (reply,) = of_type(rig.exchange(rig.peer("cli"), p.StatusRequest()), p.StatusReply)
    assert reply.status["workers"][0]["slots"] == 3 and reply.status["jobs"] == []


def test_cancel_stops_the_attempts_and_reports_cancelled():
    """A client's CancelJob cancels running attempts and ends the job cancelled."""
    rig = Rig()
    worker = rig.worker("w1")
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (assign,) = of_type(rig.exchange(worker), p.Assign)
    (result,) = of_type(rig.exchange(client, p.CancelJob("j")), p.JobResult)
    assert result.state == "cancelled"
    assert p.CancelAttempt("j", assign.attempt) in rig.exchange(worker)


# --- authorization by key role (a coordinator with keys) ---------------------------------

KEYED = Roles(wkey={"worker"}, skey={"submitter"}, both={"worker", "submitter"})


def test_worker_key_cannot_submit_or_cancel_a_job():
    """Submit and CancelJob from a worker key are refused, and no job exists afterwards."""
    rig = Rig(KEYED)
    intruder = rig.peer("w", key="wkey")
    replies = rig.exchange(intruder, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (reject,) = of_type(replies, p.Reject)
    assert reject.code == "unauthorized" and "submitter key" in reject.reason
    assert rig.coordinator.scheduler.jobs == {} and rig.coordinator.records == {}
    rig.exchange(rig.peer("c", key="skey"), p.Submit("j2", "job", 1, {}, "cloudpickle", b"x"))
    (reject,) = of_type(rig.exchange(intruder, p.CancelJob("j2")), p.Reject)
    assert rig.coordinator.scheduler.jobs["j2"].state is s.JobState.RUNNING


def test_submitter_key_cannot_register_as_a_worker():
    """Ready from a submitter key earns a Reject; the worker table stays empty."""
    rig = Rig(KEYED)
    replies = rig.exchange(rig.peer("w", key="skey"), p.Ready("w", "h", 1, 1, "tcp://w:1"))
    (reject,) = of_type(replies, p.Reject)
    assert reject.code == "unauthorized" and "worker key" in reject.reason
    assert rig.coordinator.scheduler.workers == {}


def test_revoked_key_is_refused_on_a_connection_already_open():
    """Messages are checked one by one: a key with no role left gets nothing done."""
    rig = Rig(KEYED)
    worker = rig.peer("w1", key="gone")
    replies = rig.exchange(worker, p.Ready("w1", "h", 1, 1, "tcp://w:1"), p.Heartbeat())
    assert len(of_type(replies, p.Reject)) == 2 and rig.coordinator.scheduler.workers == {}


def test_authorized_keys_work_in_their_roles_and_both_may_ask_status():
    """A worker key registers, a submitter key submits, and each may ask for the status."""
    rig = Rig(KEYED)
    conn = rig.peer("w1", key="wkey")
    assert of_type(rig.exchange(conn, p.Ready("w1", "h", 1, 1, "tcp://w:1", SERVER_KEY)), p.Welcome)
    # the shuffle key reducers check is the key it authenticated with, whatever it claims
    assert rig.coordinator.scheduler.workers["w1"].shuffle_key == "wkey"
    client = rig.peer("c", key="skey")
    assert of_type(rig.exchange(client, p.Submit("j", "n", 1, {}, "cloudpickle", b"")), p.Submitted)
    for peer in (conn, client):
        assert of_type(rig.exchange(peer, p.StatusRequest()), p.StatusReply)
    (reject,) = of_type(rig.exchange(rig.peer("x", key="nobody"), p.StatusRequest()), p.Reject)
    assert reject.code == "unauthorized"


def test_reduce_inputs_carry_the_map_holders_shuffle_key():
    """A reduce assignment names each map output's server key (the key its holder
    authenticated with), so fetches can check it."""
    rig = Rig(Roles(**{SERVER_KEY: {"worker", "submitter"}}))
    worker = rig.peer("w1", key=SERVER_KEY)
    rig.exchange(worker, p.Ready("w1", "h", 1, 1, "tcp://w:1", "x" * 40))
    (assign,) = of_type(
        rig.exchange(worker, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x")), p.Assign
    )
    listing = p.TaskLists(({"step": 0, "index": 0, "reducers": 1},), ({"step": 0, "partition": 0},))
    (assign,) = of_type(
        rig.exchange(worker, p.TaskDone("j", assign.attempt, listing, {}, 0)), p.Assign
    )
    output = p.MapOutputRef(1, 5)
    (assign,) = of_type(
        rig.exchange(worker, p.TaskDone("j", assign.attempt, output, {}, 0)), p.Assign
    )
    assert assign.kind == "reduce" and assign.inputs.holders[0].key == SERVER_KEY


# --- hostile messages (tests/hostile.py) -------------------------------------------------


class Driver:
    """Plays an honest worker for one job: answers each of its assignments correctly."""

    def __init__(self, rig: Rig, conn, client) -> None:
        self.rig, self.conn, self.client = rig, conn, client
        self.live: dict[str, p.Assign] = {}
        self.result: p.JobResult | None = None

    def take(self, messages: list) -> None:
        for message in messages:
            if isinstance(message, p.Assign):
                self.live[message.attempt] = message
            elif isinstance(message, p.CancelAttempt):
                self.live.pop(message.attempt, None)

    def send(self, *messages: p.Message) -> None:
        self.take(self.rig.exchange(self.conn, *messages))
        attempts = self.rig.coordinator.scheduler.attempts  # a bent result may have ended one
        self.live = {a: m for a, m in self.live.items() if (m.job_id, a) in attempts}
        for message in self.rig.exchange(self.client):
            if isinstance(message, p.JobResult):
                self.result = message

    def answer(self, assign: p.Assign) -> None:
        self.live.pop(assign.attempt, None)
        if assign.kind == "prepare":
            output = p.TaskLists(
                ({"step": 0, "index": 0, "reducers": 2}, {"step": 0, "index": 1, "reducers": 2}),
                ({"step": 0, "partition": 0}, {"step": 0, "partition": 1}),
            )
        elif assign.kind == "map":
            output = p.MapOutputRef(2, 10)
        else:
            output = None
        if assign.kind == "reduce":
            self.send(p.CommitRequest(assign.job_id, assign.attempt))
        self.send(p.TaskDone(assign.job_id, assign.attempt, output, {"g": {"n": 1}}, 0.1))

    def finish(self) -> p.JobResult:
        for _ in range(100):
            if self.result is not None:
                return self.result
            if not self.live:
                self.send(p.Heartbeat())
                continue
            self.answer(next(iter(self.live.values())))
        raise AssertionError(f"the job did not end; live: {list(self.live)}")


def started_job(rig: Rig, attempts: int = 1000) -> Driver:
    """A job 'real' submitted to one honest worker, its prepare answered (maps running)."""
    driver = Driver(rig, rig.worker("w1", slots=2), rig.peer("client"))
    driver.send()
    driver.rig.exchange(
        driver.client, p.Submit("real", "job", 1, p.Options(max_attempts=attempts), "cp", b"x")
    )
    driver.send(p.Heartbeat())
    (prepare,) = driver.live.values()
    driver.answer(prepare)
    return driver


def test_no_hostile_message_from_a_stranger_or_a_client_stops_the_coordinator(caplog):
    """Every bent message, from an unknown peer and a client, mid-job: none fails to be
    served, and the job then ends as it would have."""
    rig = Rig()
    driver = started_job(rig)
    stranger, client = rig.peer("stranger"), rig.peer("another-client")
    for number, case in enumerate(hostile.cases()):
        (stranger if number % 2 else client).send(case.frames)
        if number % 200 == 0:
            rig.coordinator.turn()
    stranger.send(wire.encode(p.Bye()))
    rig.coordinator.turn()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:2000]
    result = driver.finish()
    assert result.state == "succeeded", result.error


def test_no_hostile_message_or_batch_from_a_keyed_peer_fails_to_be_served(caplog):
    """Every bent message and every hostile batch, from a submitter's key and a worker's, at
    a coordinator with keys: each is refused or dropped, none fails to be served (a bent
    Welcome or Chunk, which no key may send, failed looking up its role)."""
    rig = Rig(KEYED)
    client, worker = rig.peer("c", key="skey"), rig.peer("w", key="wkey")
    batches = [case.frames for case in hostile.batch_cases()]
    for number, frames in enumerate([*(case.frames for case in hostile.cases()), *batches]):
        (worker if number % 2 else client).send(frames)
        if number % 200 == 0:
            rig.coordinator.turn()
    rig.coordinator.turn()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[-3000:]
    assert of_type(rig.exchange(client, p.StatusRequest()), p.StatusReply)


#: a placeholder attempt id in the targeted samples, replaced by a live attempt's
PLACEHOLDER = "s9-m99999-a9"
TARGETED = (
    p.TaskDone("real", PLACEHOLDER, p.MapOutputRef(2, 10), {"g": {"n": 1}}, 0.5),
    p.TaskDone(
        "real",
        PLACEHOLDER,
        p.TaskLists(({"step": 0, "index": 0, "reducers": 1},), ({"step": 0, "partition": 0},)),
        {},
        0.1,
    ),
    p.TaskFailed("real", PLACEHOLDER, "boom", record=p.RecordLocation(3, "r", "k", "v")),
    p.FetchFailed("real", PLACEHOLDER, ((0, "s0-m00000-a1"),), "timeout"),
    p.CommitRequest("real", PLACEHOLDER),
)


def test_no_hostile_result_about_a_live_attempt_stops_the_coordinator(caplog):
    """A worker's bent results about its own live attempts fail those attempts at worst;
    none is served with an error, and the job ends as it would have."""
    rig = Rig()
    driver = started_job(rig)
    for case in hostile.cases(TARGETED):
        if case.base is p.TaskFailed and case.where == ("final",):
            continue  # a worker may say no retry can succeed: that fails the job, by design
        if not driver.live:
            driver.send(p.Heartbeat())
        attempt = next(iter(driver.live), PLACEHOLDER)
        frames = [f.replace(PLACEHOLDER.encode(), attempt.encode()) for f in case.frames]
        driver.conn.send(frames)
        driver.send()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:2000]
    result = driver.finish()
    assert result.state == "succeeded", result.error


def test_a_map_output_that_does_not_fit_its_task_fails_that_attempt_on_that_worker():
    """999 partitions for 2 reducers: the attempt fails (counted, naming the worker) and the
    map runs again; nothing of it reaches a reduce."""
    rig = Rig()
    driver = started_job(rig, attempts=2)
    map0 = next(a for a in driver.live.values() if a.task["index"] == 0)
    wrong = p.MapOutputRef(999, 999)
    driver.send(p.TaskDone("real", map0.attempt, wrong, {}, 0.1))
    task = rig.coordinator.scheduler.jobs["real"].tasks["s0-m00000"]
    assert task.failures == 1 and task.output is None
    assert "999 partitions, the step has 2 reducers" in task.errors[0]["error"]
    assert task.errors[0]["worker"] == "w1"
    assert driver.finish().state == "succeeded"


def test_a_malformed_result_fails_the_attempt_it_names():
    """A partition count that is not a number: the message does not decode, yet its attempt fails
    at once instead of hanging until a timeout."""
    rig = Rig()
    driver = started_job(rig, attempts=2)
    map0 = next(a for a in driver.live.values() if a.task["index"] == 0)
    frames = wire.encode(p.TaskDone("real", map0.attempt, p.MapOutputRef(2, 1), {}, 0))
    driver.conn.send([frames[0], frames[1].replace(b'"partitions":2', b'"partitions":"x"')])
    driver.send()
    task = rig.coordinator.scheduler.jobs["real"].tasks["s0-m00000"]
    assert task.failures == 1 and "malformed TaskDone" in task.errors[0]["error"]
    assert driver.finish().state == "succeeded"


def test_a_submit_with_non_finite_options_is_refused_and_serving_goes_on():
    """Options holding Infinity are refused with the reason; the next job runs."""
    rig = Rig()
    client = rig.peer("client")
    frames = wire.encode(p.Submit("bad", "job", 1, p.Options(task_timeout=5.0), "cp", b"x"))
    body = frames[1].replace(b'"task_timeout":5.0', b'"task_timeout":Infinity')
    client.send([frames[0], body, frames[2]])
    rig.coordinator.turn()
    replies = [m for f in iter(client.recv, None) for m in wire.decode_all(f)]
    (reject,) = of_type(replies, p.Reject)
    assert reject.code == "malformed" and "Infinity" in reject.reason
    assert "bad" not in rig.coordinator.scheduler.jobs
    assert started_job(rig).finish().state == "succeeded"


def test_a_malformed_status_request_is_refused_unless_a_worker_sent_it():
    """A status request (a message a worker's key may send too) that does not decode is
    refused with the reason, in a batch or alone, so that its client does not wait in vain;
    from a registered worker it is only dropped (a Reject would end that worker)."""
    rig = Rig()
    head, body = wire.encode(p.StatusRequest("j"))
    bent = [head, body.replace(b'"history":false', b'"history":"yes"')]
    client = rig.peer("client")
    for frames in (bent, wire.batch([bent, wire.encode(p.StatusRequest())])):
        client.send(frames)
        rig.coordinator.turn()
        replies = [m for f in iter(client.recv, None) for m in wire.decode_all(f)]
        assert isinstance(replies[0], p.Reject) and replies[0].code == "malformed", replies
        assert "history" in replies[0].reason
    worker = rig.worker("w1")
    worker.send(bent)
    rig.coordinator.turn()
    replies = [m for f in iter(worker.recv, None) for m in wire.decode_all(f)]
    assert not of_type(replies, p.Reject) and "w1" in rig.coordinator.scheduler.workers


def test_status_of_one_job_is_its_detail_and_an_unknown_job_is_refused():
    """StatusRequest with a job id answers that job's detail (phases, tasks, attempts); an
    unknown id is refused."""
    rig = Rig()
    rig.worker("w1")
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (reply,) = of_type(rig.exchange(client, p.StatusRequest("j")), p.StatusReply)
    job = reply.status["job"]
    assert job["state"] == "running" and job["phases"][0]["kind"] == "prepare"
    assert job["tasks"][0]["attempts"][0]["worker"] == "w1"
    (reject,) = of_type(rig.exchange(client, p.StatusRequest("nope")), p.Reject)
    assert reject.code == "unknown-job"


def test_cancel_from_another_client_answers_it_and_names_it():
    """A CancelJob from a client that did not submit the job (its submitter gone) is answered
    with the job's result, and the job records who cancelled it."""
    rig = Rig()
    rig.worker("w1")
    rig.exchange(rig.peer("gone"), p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    other = rig.peer("other")
    (result,) = of_type(rig.exchange(other, p.CancelJob("j", "minimr cancel")), p.JobResult)
    assert result.state == "cancelled"
    assert rig.coordinator.scheduler.jobs["j"].cancelled_by == (
        "minimr cancel (connection 'other')")
    (again,) = of_type(rig.exchange(other, p.CancelJob("j")), p.JobResult)
    assert again.state == "cancelled"
    (reject,) = of_type(rig.exchange(other, p.CancelJob("nope")), p.Reject)
    assert reject.code == "unknown-job"


def test_the_history_of_a_state_dir_lists_finished_jobs_and_answers_for_forgotten_ones(tmp_path):
    """With a history, ended jobs are summarized there: status --all lists them, and a job the
    scheduler forgot is still answered from it."""
    from minimr.cluster.coordinator.history import History

    rig = Rig()
    rig.coordinator.history = History(str(tmp_path))
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    rig.exchange(client, p.CancelJob("j", "me"))
    (reply,) = of_type(rig.exchange(client, p.StatusRequest(history=True)), p.StatusReply)
    (entry,) = reply.status["history"]
    assert entry["job_id"] == "j" and entry["state"] == "cancelled"
    del rig.coordinator.scheduler.jobs["j"]
    (reply,) = of_type(rig.exchange(client, p.StatusRequest("j")), p.StatusReply)
    assert reply.status["from_history"] and reply.status["job"]["cancelled_by"].startswith("me")


def test_notices_go_to_the_coordinators_log(caplog):
    """The scheduler's notices are logged: a worker joining, a job queued."""
    caplog.set_level("INFO", logger="minimr.coordinator")
    rig = Rig()
    rig.worker("w1")
    rig.exchange(rig.peer("client"), p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    logged = [r.getMessage() for r in caplog.records]
    assert "worker w1 joined: 1 slot, host host" in logged
    assert "job j (job) queued: 1 step, 0 unfinished jobs ahead of it" in logged


def test_without_keys_any_client_may_watch_and_cancel_a_job():
    """Without keys (one user: the embedded cluster, an --insecure one) every client is that
    user: another connection may watch and cancel the job, and status shows every job."""
    rig = Rig()
    rig.exchange(rig.peer("first"), p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    other = rig.peer("second")
    assert of_type(rig.exchange(other, p.Watch("j")), p.Progress)
    (reply,) = of_type(rig.exchange(other, p.StatusRequest()), p.StatusReply)
    assert [j["job_id"] for j in reply.status["jobs"]] == ["j"] and "other_jobs" not in reply.status
    (result,) = of_type(rig.exchange(other, p.CancelJob("j")), p.JobResult)
    assert result.state == "cancelled"


def test_with_keys_only_the_owner_or_an_admin_may_watch_or_cancel():
    """alice's job: bob is refused Watch, CancelJob, its id, its logs and its detail, and sees
    it as a count; an admin key watches and cancels it."""
    rig = Rig(Roles(alice={"submitter"}, bob={"submitter"}, root={"admin"}))
    alice = rig.peer("a", key="alice")
    rig.exchange(alice, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    bob = rig.peer("b", key="bob")
    for message in (p.Watch("j"), p.CancelJob("j"), p.Submit("j", "x", 1, p.Options(), "c", b""),
                    p.LogRequest("j", "s0-p00000-a1"), p.StatusRequest("j")):
        (reject,) = of_type(rig.exchange(bob, message), p.Reject)
        assert reject.code == "unauthorized"
    (reply,) = of_type(rig.exchange(bob, p.StatusRequest()), p.StatusReply)
    assert reply.status["jobs"] == [] and reply.status["other_jobs"]["running"] == 1
    assert rig.coordinator.scheduler.jobs["j"].state is s.JobState.RUNNING
    root = rig.peer("r", key="root")
    assert of_type(rig.exchange(root, p.Watch("j")), p.Progress)
    assert of_type(rig.exchange(root, p.CancelJob("j")), p.JobResult)


def test_a_log_request_goes_to_the_attempts_worker_and_its_answer_to_the_client():
    """LogRequest -> FetchLog to the worker that ran the attempt; its LogData comes back to
    the asking client as a LogReply; an answer from another worker, or a late one, is
    dropped."""
    rig = Rig()
    worker = rig.worker("w1")
    other = rig.worker("w2")
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (assign,) = of_type(rig.exchange(worker) + rig.exchange(other), p.Assign)
    on_w1 = rig.coordinator.scheduler.attempts[("j", assign.attempt)].worker == "w1"
    holder, bystander = (worker, other) if on_w1 else (other, worker)
    rig.exchange(client, p.LogRequest("j", assign.attempt, 5))
    (fetch,) = of_type(rig.exchange(holder), p.FetchLog)
    assert (fetch.job_id, fetch.attempt, fetch.offset) == ("j", assign.attempt, 5)
    rig.exchange(bystander, p.LogData(fetch.request, "j", assign.attempt, 9, True, "", b"no"))
    assert rig.exchange(client) == []
    rig.exchange(holder, p.LogData(fetch.request, "j", assign.attempt, 9, True, "", b"data"))
    (reply,) = of_type(rig.exchange(client), p.LogReply)
    assert (reply.data, reply.offset, reply.running) == (b"data", 9, True)
    rig.exchange(holder, p.LogData(fetch.request, "j", assign.attempt, 9, True, "", b"again"))
    assert rig.exchange(client) == []


def test_a_log_request_is_answered_with_why_when_no_worker_can_send_it():
    """An attempt whose worker is gone, an attempt the job does not have, and a worker that
    never answers each get a LogReply saying so."""
    rig = Rig()
    worker = rig.worker("w1")
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (assign,) = of_type(rig.exchange(worker), p.Assign)
    (missing,) = of_type(rig.exchange(client, p.LogRequest("j", "s0-m00009-a1")), p.LogReply)
    assert "has no attempt s0-m00009-a1" in missing.error
    assert of_type(rig.exchange(client, p.LogRequest("j", assign.attempt)), p.LogReply) == []
    rig.clock.now += 6.0  # past LOG_TIMEOUT: the worker did not answer
    (late,) = of_type(rig.exchange(client), p.LogReply)
    assert late.error == "worker w1 did not send the log within 5 s"
    rig.exchange(worker, p.Bye())
    (gone,) = of_type(rig.exchange(client, p.LogRequest("j", assign.attempt)), p.LogReply)
    assert gone.error == (f"worker w1, which ran {assign.attempt}, is gone (it left or died): "
                          "its logs went with it")


def test_an_idle_coordinator_rests_between_turns_and_a_busy_one_does_not():
    """With no job running, messages gather for IDLE_REST between turns (an idle cluster's
    heartbeats are served in batches); while a job runs, never (its tasks wait for nothing)."""
    rig = Rig()
    worker = rig.worker("w1")
    assert rig.coordinator.rest() == IDLE_REST > 0
    rig.exchange(worker, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    assert rig.coordinator.rest() == 0
    rig.exchange(rig.peer("client"), p.CancelJob("j"))
    assert rig.coordinator.rest() == IDLE_REST


def test_the_tasks_of_the_slots_freed_in_a_turn_go_to_their_worker_in_one_batch():
    """Free slots are served once a turn: a worker of two slots whose two maps finished in one
    delivery gets its next two tasks in one message, not one message per task."""
    rig = Rig()
    conn = rig.worker("w1", slots=2)
    client = rig.peer("client")
    rig.exchange(client, p.Submit("j", "job", 1, p.Options(), "cloudpickle", b"x"))
    (prepare,) = of_type(rig.exchange(conn), p.Assign)
    maps = tuple({"step": 0, "index": i, "reducers": 1} for i in range(4))
    listing = p.TaskLists(maps, ({"step": 0, "partition": 0},))
    conn.send(wire.encode(p.TaskDone("j", prepare.attempt, listing, {}, 0)))
    rig.coordinator.turn()
    (delivery,) = list(iter(conn.recv, None))
    first = wire.decode_all(delivery)
    assert [m.task["index"] for m in first] == [0, 1]
    assert delivery[0][4:6] == p.Command.BATCH.to_bytes(2, "big")
    done = [wire.encode(p.TaskDone("j", m.attempt, p.MapOutputRef(1, 5), {}, 0)) for m in first]
    conn.send(wire.batch(done))
    rig.coordinator.turn()
    (delivery,) = list(iter(conn.recv, None))
    assert [m.task["index"] for m in wire.decode_all(delivery)] == [2, 3]
    job = rig.coordinator.scheduler.jobs["j"]
    assert job.tasks["s0-m00000"].state is s.TaskState.DONE
    assert job.tasks["s0-m00001"].state is s.TaskState.DONE


class SlowClock(Clock):
    """A clock that moves ``step`` seconds each time it is read: serving takes time."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_worker_heard_behind_a_long_batch_is_not_declared_dead():
    """A batch of more messages than a turn serves, slow to serve (five seconds on the clock
    here), ahead of a worker's heartbeat: time passes for the scheduler only up to when the
    coordinator last read all it was sent, so the worker is not declared dead for the time
    spent on someone else's batch (a hostile peer's batch of 10,000 requests took 1.1 s, past
    the liveness of an end-to-end cluster, and every worker was declared dead)."""
    rig = Rig()
    conn = rig.worker("w1")
    stranger = rig.peer("stranger")
    stranger.send(wire.batch([wire.encode(p.StatusRequest())] * (BATCH + 500)))
    conn.send(wire.encode(p.Heartbeat()))
    clock = SlowClock(0.002)
    clock.now = rig.clock.now
    rig.coordinator.clock = clock
    rig.coordinator.turn()
    assert clock.now - 100.0 > rig.coordinator.scheduler.dead_after  # (the batch took long)
    rig.coordinator.turn()
    assert "w1" in rig.coordinator.scheduler.workers
    clock.now += rig.coordinator.scheduler.dead_after + 1  # a worker silent that long is dead
    rig.coordinator.turn()
    assert "w1" not in rig.coordinator.scheduler.workers


def test_a_batch_longer_than_a_turn_serves_is_served_over_turns_with_heartbeats_between():
    """A batch of more messages than a turn serves is served over several turns, in order,
    and the turns between go on (heartbeats to the workers): one peer's long batch does not
    silence the coordinator (10,000 messages took 1.1 s in one turn, past the liveness an
    end-to-end cluster's workers give the coordinator)."""
    rig = Rig()
    conn = rig.worker("w1")
    stranger = rig.peer("stranger")
    requests = [wire.encode(p.StatusRequest(f"j{i}")) for i in range(BATCH + 500)]
    stranger.send(wire.batch(requests))
    rig.clock.now += rig.coordinator.scheduler.heartbeat_interval
    rig.coordinator.turn()
    first = [m for f in iter(stranger.recv, None) for m in wire.decode_all(f)]
    assert len(first) == BATCH
    assert of_type([m for f in iter(conn.recv, None) for m in wire.decode_all(f)], p.Heartbeat)
    rig.coordinator.turn()
    rest = [m for f in iter(stranger.recv, None) for m in wire.decode_all(f)]
    assert len(rest) == 500
    assert [r.reason for r in [*first, *rest][-2:]] == [  # (unknown jobs: refused, in order)
        r.reason for r in rig.exchange(stranger, *[wire.decode(m) for m in requests[-2:]])]


def test_every_hostile_batch_from_the_jobs_own_worker_is_logged_and_dropped(caplog):
    """Every hostile batch, from the registered worker running the job, mid-job: a layout
    that does not add up is logged and dropped whole, the rest message by message; nothing
    is served with an error, the worker stays registered, and the job then ends as it would
    have, every task counted once."""
    rig = Rig()
    driver = started_job(rig)
    cases = list(hostile.batch_cases())
    for case in cases:
        driver.conn.send(case.frames)
        rig.coordinator.turn()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[-3000:]
    dropped = caplog.text.count("dropping a malformed batch")
    assert dropped == sum(case.messages is None for case in cases) > 20
    assert list(rig.coordinator.scheduler.workers) == ["w1"]
    result = driver.finish()
    assert result.state == "succeeded", result.error
    # each task's counters once (a Ready among the pieces registers the worker again, which
    # runs its maps again, by design; nothing is lost or counted twice)
    assert sum(c.get("g", {}).get("n", 0) for c in result.counters) == 6


def test_a_batchs_messages_are_served_one_by_one_a_malformed_one_costing_only_itself():
    """A batch holding a good result and a malformed one: the good one is taken, the
    malformed one fails the attempt it names, and a batch that does not add up is dropped
    without stopping the loop."""
    rig = Rig()
    driver = started_job(rig, attempts=2)
    map0, map1 = sorted(driver.live.values(), key=lambda a: a.task["index"])
    good = wire.encode(p.TaskDone("real", map0.attempt, p.MapOutputRef(2, 1), {}, 0))
    bent = wire.encode(p.TaskDone("real", map1.attempt, p.MapOutputRef(2, 1), {}, 0))
    bent = [bent[0], bent[1].replace(b'"partitions":2', b'"partitions":"x"')]
    past = hostile.table([hostile.entry(good)] * 2)
    past[-1] += 1  # a length past the body's end: the batch does not add up
    driver.conn.send(hostile.laid_out([hostile.entry(good)] * 2, words=past))
    driver.conn.send(wire.batch([good, bent]))
    driver.send()
    job = rig.coordinator.scheduler.jobs["real"]
    assert job.tasks["s0-m00000"].state is s.TaskState.DONE
    failed = job.tasks["s0-m00001"]
    assert failed.failures == 1 and "malformed TaskDone" in failed.errors[0]["error"]
    assert driver.finish().state == "succeeded"


def test_a_signal_landing_inside_the_rests_wait_stops_the_loop():
    """SIGTERM's handler runs in the loop's thread, maybe inside the rest's Event.wait, which
    holds the Event's lock: stopping from there must not take that lock (Event.set did, and a
    coordinator in CI ran on 10 s after SIGTERM). Here the lock is held, as there, by the
    thread that stops the coordinator; then the loop returns at once."""
    rig = Rig()
    coordinator = rig.coordinator

    def as_a_handler_inside_the_wait() -> None:
        with coordinator._stop._cond:  # what Event.wait holds around its wait
            coordinator.stop_from_signal()

    thread = threading.Thread(target=as_a_handler_inside_the_wait, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "stopping from a signal handler waited for the Event's lock"
    done = threading.Thread(target=coordinator.serve_forever, daemon=True)
    done.start()
    done.join(5)
    assert not done.is_alive()


@pytest.mark.parametrize("how", ["stop", "stop_from_signal"])
def test_a_stop_ends_the_loops_wait_for_messages_at_once(monkeypatch, how):
    """The loop waits up to a tick for a message; a stop, from another thread or a signal
    handler, wakes it rather than letting it sleep that wait out (an embedded cluster's every
    job ended 0.1 s late). With a tick of 60 s the loop must still return within seconds."""
    from minimr.cluster.coordinator import coordinator as coordinator_module

    monkeypatch.setattr(coordinator_module, "TICK_INTERVAL", 60.0)
    monkeypatch.setattr(coordinator_module, "IDLE_REST", 0.0)
    rig = Rig()
    done = threading.Thread(target=rig.coordinator.serve_forever, daemon=True)
    done.start()
    time.sleep(0.3)  # the loop is in its wait by now
    getattr(rig.coordinator, how)()
    done.join(10)
    assert not done.is_alive(), f"{how}() left the loop waiting out its 60 s tick"
