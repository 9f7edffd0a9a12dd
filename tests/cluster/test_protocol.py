"""The wire vocabulary: every message round-trips, malformed frames raise ProtocolError."""

from __future__ import annotations

import json
import struct

import pytest

from minimr.cluster.wire import protocol as p
from minimr.cluster.wire import wirecodec as wire
from minimr.cluster.wire import wiretypes as w
from tests import hostile

SAMPLES = [
    p.Ready("w", "host", 12, 2, "tcp://127.0.0.1:5000"),
    p.Heartbeat(),
    p.TaskDone("j", "s0-m00001-a1", p.MapOutputRef(1, 3), {"g": {"n": 1}}, 0.5),
    p.TaskFailed("j", "s0-m00001-a1", "Traceback...", "stderr tail", crashed=True),
    p.TaskFailed("j", "s0-m00001-a1", "JobCodeError: ...", final=True),
    p.FetchFailed("j", "s0-r00000-a1", ((1, "s0-m00001-a1"),), "timeout"),
    p.CommitRequest("j", "s0-r00000-a1"),
    p.PlanRequest("j"),
    p.Bye(),
    p.Welcome(1.0, 3),
    p.Reject("python 3.10 != 3.11"),
    p.Assign(
        "j",
        "s0-r00000-a1",
        "reduce",
        {"step": 0, "partition": 0},
        p.ReduceInputs((p.Holder("h", "tcp://h:1", "", "/w"),), (0, 0), (1, 2)),
    ),
    p.Plan("j", "cloudpickle", b"\x80\x05opaque"),
    p.CommitAnswer("j", "s0-r00000-a1", True),
    p.CancelAttempt("j", "s0-r00000-a1"),
    p.Reconnect("unknown worker"),
    p.ForgetJob("j"),
    p.Submit("j", "wc", 1, p.Options(max_attempts=4), "cloudpickle", b"blob"),
    p.Watch("j"),
    p.CancelJob("j"),
    p.CancelJob("j", "minimr cancel (user ada on vm, pid 7)"),
    p.StatusRequest(),
    p.StatusRequest("j", history=True),
    p.LogRequest("j", "s0-m00001-a1", 10),
    p.LogReply("j", "s0-m00001-a1", 15, True, "", b"hello"),
    p.FetchLog(3, "j", "s0-m00001-a1", 10),
    p.LogData(3, "j", "s0-m00001-a1", 15, False, "", b"hello"),
    p.Submitted("j"),
    p.Progress("j", {"maps_done": 1}),
    p.JobResult("j", "succeeded", {}, ({"g": {"n": 1}},), None),
    p.StatusReply({"workers": []}),
    p.FetchChunk(7, "j", "s0-m00001-a1", 1, 0, 1 << 20),
    p.Chunk(7, "", b"\x00data", total=5),
]


def test_every_command_has_a_sample():
    """The samples cover the whole vocabulary."""
    assert {type(m) for m in SAMPLES} == set(wire.MESSAGES.values())


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message):
    """decode(encode(m)) == m for every message."""
    assert wire.decode(wire.encode(message)) == message


def test_blobs_travel_as_raw_frames():
    """Opaque bytes are not put into the JSON body."""
    frames = wire.encode(p.Plan("j", "cloudpickle", b"\x00\xff"))
    assert frames[2] == b"\x00\xff" and b"blob" not in frames[1]


def header(command: int, version: int = wire.VERSION, magic: bytes = wire.MAGIC) -> bytes:
    return struct.pack(">3sBH", magic, version, command)


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [header(p.Command.HEARTBEAT)],
        [b"short", b"{}"],
        [header(p.Command.HEARTBEAT, magic=b"XYZ"), b"{}"],
        [header(999), b"{}"],
        [header(p.Command.WATCH), b"not json"],
        [header(p.Command.WATCH), b"\xff\xfe"],
        [header(p.Command.WATCH), b"[1]"],
        [header(p.Command.WATCH), b"{}"],
        [header(p.Command.WATCH), json.dumps({"job_id": 3}).encode()],
        [header(p.Command.WATCH), json.dumps({"job_id": "j", "x": 1}).encode()],
        [
            header(p.Command.READY),
            json.dumps(
                {"name": "w", "host": "h", "pid": True, "slots": 1, "shuffle_address": "a"}
            ).encode(),
        ],
        [header(p.Command.PLAN), json.dumps({"job_id": "j", "serializer": "c"}).encode()],
        [
            header(p.Command.TASK_FAILED),
            json.dumps({"job_id": "j", "attempt": "a", "error": "e", "final": 1}).encode(),
        ],
        [header(p.Command.HEARTBEAT), b"{}", b"extra"],
        [header(p.Command.WATCH), b"[" * 100_000],  # json recursion, not a crash
        [header(p.Command.WATCH), b'{"job_id": ' + b"[" * 100_000],
        [header(p.Command.WATCH), b"1" * 5000],  # past int's digit limit
    ],
)
def test_malformed_frames_raise_protocol_error(frames):
    """Anything a peer could get wrong raises ProtocolError, never something else."""
    with pytest.raises(wire.ProtocolError):
        wire.decode(frames)


def test_other_protocol_version_is_reported_as_such():
    """A header of another version raises VersionMismatch carrying that version."""
    with pytest.raises(wire.VersionMismatch) as info:
        wire.decode([header(p.Command.HEARTBEAT, version=wire.VERSION + 1), b"{}"])
    assert info.value.version == wire.VERSION + 1


@pytest.mark.parametrize("job_id", ["../etc", "a/b", ".hidden", "", "x" * 300, "a\x00b"])
def test_job_ids_that_could_name_other_folders_are_refused(job_id):
    """A job id is a folder name on workers, so paths and dot-names are protocol errors."""
    frames = wire.encode(p.CancelJob(job_id))
    with pytest.raises(wire.ProtocolError, match="job_id"):
        wire.decode(frames)


def test_generated_job_ids_are_valid():
    """The job ids minimr itself makes pass the check."""
    frames = wire.encode(p.CancelJob("WordCount-20261126-061335-062c1a"))
    assert wire.decode(frames).job_id == "WordCount-20261126-061335-062c1a"


# --- hostile messages (tests/hostile.py): every field of every message, bent -------------

#: bends the decoder must refuse wherever they land: no field may hold them
ALWAYS_REFUSED = {
    "huge int", "int64 max + 1", "Infinity", "-Infinity", "NaN", "1e400", "deep nesting",
    "deep objects", "many digits", "extra field", "body not an object", "body not JSON",
    "header alone", "0 blob frames", "1 blob frames", "2 blob frames", "40 blob frames",
    "shared frame not JSON",
}
#: fields forwarded as plain data (only their depth and strings are checked)
FREE_FORM = {("task",), ("snapshot",), ("error",), ("status",), ("counters",),
             ("output", "map_tasks"), ("output", "reduce_tasks")}


def free_form(case: hostile.Case) -> bool:
    return any(case.where[: len(prefix)] == prefix for prefix in FREE_FORM)


def test_the_hostile_generator_covers_every_message_and_field():
    """The generator bends every message class, and thousands of values in all."""
    bent = {case.base for case in hostile.cases()}
    assert bent == set(wire.MESSAGES.values())
    assert sum(1 for _ in hostile.cases()) > 3000


def test_no_hostile_message_makes_decode_raise_anything_but_protocol_error():
    """Every bent message either decodes to a valid message or raises ProtocolError."""
    for case in hostile.cases():
        try:
            message = wire.decode(case.frames)
        except wire.ProtocolError as exc:
            if case.name in ALWAYS_REFUSED or case.name == "other version":
                continue
            assert str(exc), case
            continue
        except Exception as exc:  # pragma: no cover - the failure this test looks for
            where = f"{case.base.__name__} {case.name} at {case.where}"
            raise AssertionError(f"{where}: {exc!r}") from exc
        assert case.name not in ALWAYS_REFUSED, (case.name, case.base.__name__, case.where)
        assert wire.decode(wire.encode(message)) == message  # what decodes is whole and valid


def test_bent_numbers_in_typed_fields_are_refused():
    """A negative, a float or a string where a typed field holds a count is refused."""
    for case in hostile.cases():
        if free_form(case) or case.name not in ("negative", "wrong type: string", "NaN"):
            continue
        value = hostile.fields(hostile.sample(case.base))
        for step in case.where:
            value = value[step]
        if type(value) is not int:
            continue
        with pytest.raises(wire.ProtocolError):
            wire.decode(case.frames)


def test_a_malformed_result_still_names_its_attempt():
    """A worker's result that does not decode says which attempt it was about, if it can."""
    frames = wire.encode(hostile.sample(p.TaskDone))
    body = frames[1].replace(b'"partitions":2', b'"partitions":"x"')
    with pytest.raises(wire.MalformedMessage) as info:
        wire.decode([frames[0], body])
    assert (info.value.command, info.value.job_id, info.value.attempt) == (
        p.TaskDone, "j", "s0-m00001-a1"
    )
    assert "partitions must be an int" in str(info.value)


def test_a_reduce_inputs_table_that_does_not_hold_together_is_refused():
    """A table naming a holder it lacks, an attempt 0, or more attempts than maps is
    malformed: refused as it is decoded, never handed to a reducer."""
    holder = {"host": "h", "address": "tcp://h:1", "key": "", "folder": "/w"}
    body = {"job_id": "j", "attempt": "s0-r00000-a1", "kind": "reduce", "task": {}}
    for maps, attempts in (([0, 1], [1, 1]), ([0], [0]), ([0], [1, 1])):
        table = {"holders": [holder], "maps": maps, "attempts": attempts}
        frames = [header(p.Command.ASSIGN), json.dumps(body).encode(), json.dumps(table).encode()]
        with pytest.raises(wire.MalformedMessage, match="^Assign: inputs "):
            wire.decode(frames)


def test_a_shared_table_is_encoded_once_and_sent_as_the_same_bytes():
    """Every reduce of a step carries the same table: its JSON is made at the first
    assignment, and every assignment's frame of it is those very bytes (ZeroMQ sends them
    without a copy), which decode to equal tables."""
    table = p.ReduceInputs((p.Holder("h", "tcp://h:1", "", "/w"),), (0,) * 5, (1,) * 5)
    first = wire.encode(p.Assign("j", "s0-r00000-a1", "reduce", {"partition": 0}, table))
    second = wire.encode(p.Assign("j", "s0-r00001-a1", "reduce", {"partition": 1}, table))
    assert first[2] is second[2]
    for frames, partition in ((first, 0), (second, 1)):
        message = wire.decode(frames)
        assert message.inputs == table and message.task == {"partition": partition}
    assert wire.decode(wire.encode(p.Assign("j", "s0-m00000-a1", "map", {}))).inputs is None


# --- batches -----------------------------------------------------------------------------


def test_a_batch_carries_whole_messages_each_decoded_as_if_alone():
    """Several messages to one peer in three frames: each comes back with the frames it would
    have come with alone (a reduce's shared table and a plan's blob too), and one message
    alone is not wrapped."""
    inputs = p.ReduceInputs((p.Holder("h", "tcp://h:1", "", "/w"),), (0,), (1,))
    messages = [
        p.Assign("j", "s0-r00000-a1", "reduce", {"step": 0, "partition": 0}, inputs),
        p.Plan("j", "cloudpickle", b"\x00blob"),
        p.CommitAnswer("j", "s0-r00001-a1", True),
        p.LogData(3, "j", "s0-m00001-a1", 0, False, "", b""),  # an empty part
    ]
    encoded = [wire.encode(m) for m in messages]
    frames = wire.batch(encoded)
    assert len(frames) == 3 and frames[0][4:6] == p.Command.BATCH.to_bytes(2, "big")
    assert wire.unbatch(frames) == encoded
    assert [wire.decode(part) for part in wire.unbatch(frames)] == messages
    assert wire.decode_all(frames) == messages
    alone = wire.encode(p.Heartbeat())
    assert wire.batch([alone]) is alone and wire.unbatch(alone) == [alone]


def test_the_batch_decoder_and_the_one_message_decoder_agree():
    """Every sample message, and every hostile variant of one that a batch can carry (a
    header of this version), decodes from a batch exactly as it does alone: the same
    message, or a ``ProtocolError`` of the same class saying the same."""

    def outcome(frames: list[bytes]) -> object:
        try:
            return wire.decode(frames)
        except wire.ProtocolError as exc:
            return type(exc), str(exc)

    carried = [case.frames for case in hostile.cases()
               if case.frames[0][:4] == wire.MAGIC + bytes([wire.VERSION])]
    carried += [wire.encode(m) for m in hostile.SAMPLES]
    assert len(carried) > 3000
    for start in range(0, len(carried), 500):
        chunk = carried[start:start + 500]
        parts = wire.unbatch(wire.batch(chunk))
        assert parts == chunk
        assert [outcome(part) for part in parts] == [outcome(frames) for frames in chunk]


def test_a_message_with_a_large_frame_travels_alone_between_batches():
    """A reduce's table of map output holders (a frame of ``LARGE_FRAME`` bytes or more) is
    not joined into a batch's body (it goes uncopied, the same bytes to every worker): the
    messages before and after it go as batches, in order."""
    many = 20_000
    inputs = p.ReduceInputs((p.Holder("h", "tcp://h:1", "", "/w"),), (0,) * many, (1,) * many)
    table = p.Assign("j", "s0-r00000-a1", "reduce", {"step": 0, "partition": 0}, inputs, 1)
    small = [p.CommitAnswer("j", f"s0-r0000{i}-a1", True) for i in range(1, 6)]
    messages = [small[0], small[1], table, small[2], small[3], small[4]]
    encoded = [wire.encode(m) for m in messages]
    assert len(encoded[2][2]) >= wire.LARGE_FRAME
    sent = wire.deliveries(encoded)
    assert [len(frames) for frames in sent] == [3, 3, 3]
    assert sent[1] is encoded[2]  # alone, its frame the same bytes
    assert [m for frames in sent for m in wire.decode_all(frames)] == messages
    assert wire.deliveries(encoded[:1]) == encoded[:1]
    assert wire.deliveries([encoded[2], encoded[0]]) == [encoded[2], encoded[0]]


def test_deliveries_cut_a_long_run_into_batches_of_at_most_max_batch():
    one = wire.encode(p.Heartbeat())
    sent = wire.deliveries([one] * (wire.MAX_BATCH + 1))
    assert [len(wire.unbatch(frames)) for frames in sent] == [wire.MAX_BATCH, 1]


def test_a_batch_of_too_many_messages_or_parts_is_not_made():
    one = wire.encode(p.Heartbeat())
    with pytest.raises(ValueError):
        wire.batch([one] * (wire.MAX_BATCH + 1))
    with pytest.raises(ValueError):
        wire.batch([one, [one[0], *[b"x"] * (wire.MAX_PARTS + 1)]])
    with pytest.raises(ValueError, match="version"):
        wire.batch([one, [hostile.header(p.Command.HEARTBEAT, version=4), b"{}"]])


def test_a_batch_inside_a_batch_is_refused_as_it_is_decoded():
    one = wire.encode(p.Heartbeat())
    inner = wire.batch([one, one])
    outer = wire.batch([inner, one])
    parts = wire.unbatch(outer)
    assert parts[0] == inner
    with pytest.raises(wire.ProtocolError, match="batch inside a batch"):
        wire.decode(parts[0])
    assert wire.decode(parts[1]) == p.Heartbeat()


def test_every_hostile_batch_is_refused_whole_or_taken_apart_into_its_messages():
    """Each generated hostile batch whose layout does not add up is refused whole, and
    every other is taken apart into exactly the messages its table names, each of which
    decodes or is refused: nothing but a ``ProtocolError`` escapes."""
    cases = list(hostile.batch_cases())
    assert len(cases) > 40
    for case in cases:
        if case.messages is None:
            with pytest.raises(wire.MalformedBatch):
                wire.unbatch(case.frames)
            assert not case.answers, case.name
            continue
        parts = wire.unbatch(case.frames)
        assert parts == case.messages, case.name
        for part in parts:
            try:
                wire.decode(part)
            except wire.ProtocolError:
                pass


def test_a_version_refusal_names_the_peers_own_version_so_an_old_peer_reads_it():
    """An older peer's message is answered with a Reject whose header names that peer's
    version (a Reject's layout is the same in every version): the peer can read why it was
    turned away. A newer peer's gets ours."""
    old = wire.version_refusal(4, "peer speaks minimr protocol version 4")
    assert old[0] == hostile.header(p.Command.REJECT, version=4)
    assert json.loads(old[1]) == {"reason": "peer speaks minimr protocol version 4",
                                  "code": "version"}
    with pytest.raises(wire.VersionMismatch) as info:
        wire.decode(old)
    assert (info.value.version, info.value.command) == (4, p.Command.REJECT)
    newer = wire.version_refusal(wire.VERSION + 1, "no")
    assert wire.decode(newer) == p.Reject("no", "version")


# --- the results' one-pass decoders (wirecodec._task_done_body, _commit_request_body) -----

#: usual bodies and near misses the one-pass decoders must treat as the general one does
RESULT_BODIES = [
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": {"partitions": 2, "size": 3},
     "counters": {"minimr": {"map input records": 10}}, "elapsed": 0.25},
    {"job_id": "j", "attempt": "s0-r00001-a1", "output": None, "counters": {}, "elapsed": 0.0},
    {"job_id": "j", "attempt": "s0-r00001-a1", "output": None, "counters": {}, "elapsed": 1},
    {"job_id": "j", "attempt": "s0-r00001-a1", "output": None, "counters": {}, "elapsed": -0.5},
    {"job_id": "j", "attempt": "s0-r00001-a1", "output": None, "counters": {}, "elapsed": 2e9},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": {"partitions": 2, "size": 2**53 + 1},
     "counters": {}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": {"partitions": True, "size": 3},
     "counters": {}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": {"partitions": 2},
     "counters": {}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None,
     "counters": {"g": {"n": True}}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None,
     "counters": {"gé": {"ñ": 1}}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None,
     "counters": {"g" * 257: {"n": 1}}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None,
     "counters": {"g": {"n": 1.5}}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None,
     "counters": {"g": {"n": 2**63}}, "elapsed": 0.5},
    {"job_id": "j/..", "attempt": "s0-m00001-a1", "output": None, "counters": {}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m1-a1x", "output": None, "counters": {}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s\u0663-m1-a1", "output": None, "counters": {}, "elapsed": 0.5},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None, "counters": {}},
    {"job_id": "j", "attempt": "s0-m00001-a1", "output": None, "counters": {}, "elapsed": 0.5,
     "zz": 1},
    {"job_id": "j", "attempt": "s0-r00000-a1"},
    {"job_id": "j", "attempt": 3},
    {"job_id": "j" * 201, "attempt": "s0-r00000-a1"},
    {"job_id": "j", "attempt": "s0-r00000-a1", "zz": 1},
]


def _outcome(convert, body: dict) -> object:
    try:
        return convert(body)
    except w.Invalid as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize("cls", [p.TaskDone, p.CommitRequest])
def test_the_results_one_pass_decoders_agree_with_the_general_converter(cls):
    """For every hostile variant of a TaskDone or CommitRequest and a few near misses, the
    one-pass decoder takes what the general converter takes, as the same values, and refuses
    the rest with the general converter's reason."""
    general = w.record_converter(cls, skip=cls.blobs + cls.shared, build=False)
    bodies = [_loads_or_none(case.frames[1]) for case in hostile.cases()
              if case.base is cls and len(case.frames) > 1]
    bodies = [b for b in bodies if type(b) is dict]
    bodies += [b for b in RESULT_BODIES if ("output" in b) == (cls is p.TaskDone)]
    assert len(bodies) > 30
    for body in bodies:
        fast = _outcome(wire._BODIES[cls], dict(body))
        assert fast == _outcome(general, dict(body)), body


def _loads_or_none(data: bytes) -> object:
    try:
        return w.loads(data)
    except ValueError:
        return None


def test_loads_still_detects_a_body_in_utf16():
    """JSON in UTF-16 is read as json.loads reads it: only UTF-8 skips the detection."""
    assert w.loads('{"a": 1}'.encode("utf-16-le")) == {"a": 1}
    assert w.loads('[1]'.encode("utf-16-be")) == [1]
