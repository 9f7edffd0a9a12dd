"""What minimr submit shows while a job runs: words for what happens, lines off a terminal."""

from __future__ import annotations

import io

from minimr.cluster.client.client import JobProgress
from minimr.cluster.client.localcluster import DashboardStarted
from minimr.progress import PlainProgress, QuietProgress, Tracker, reporter


class Clock:
    """Seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def snap(maps=(0, 0, 0), reduces=(0, 0, 0), workers=2, state="running", notes=(), step=0,
         records=0, bytes_=0):
    """A job snapshot as the coordinator sends it: (done, running, total) per phase."""
    phases = []
    if maps[2]:
        phases.append({"step": step, "kind": "map", "done": maps[0], "running": maps[1],
                       "total": maps[2]})
    if reduces[2]:
        phases.append({"step": step, "kind": "reduce", "done": reduces[0],
                       "running": reduces[1], "total": reduces[2]})
    return {"job_id": "J", "name": "WordCount", "state": state, "step": step, "steps": 1,
            "workers": workers, "running": maps[1] + reduces[1], "phases": phases,
            "notes": list(notes), "input_records": records, "input_bytes": bytes_}


def test_the_start_says_what_it_waits_for_never_map_0_of_0():
    """Before there are workers it says so; before the maps are listed it says planning."""
    tracker = Tracker(Clock())
    assert tracker.headline() == "submitting"
    tracker.update(snap(workers=0, state="queued"))
    assert tracker.headline() == "waiting for workers"
    assert tracker.line() == "waiting for workers"
    tracker.update(snap(workers=2))
    assert tracker.headline() == "planning"
    assert "0/0" not in tracker.line()


def test_a_step_back_is_said_in_words_unless_a_note_says_why():
    """map 10/17 -> 6/17 is explained: by the coordinator's note when it sent one, else by
    the tracker's own words; each note is said once."""
    tracker = Tracker(Clock())
    tracker.update(snap(maps=(10, 2, 17), reduces=(0, 0, 4)))
    said = tracker.update(snap(maps=(6, 2, 17), reduces=(0, 0, 4)))
    assert said == ["map 10/17 -> 6/17: 4 finished map tasks must run again (their output "
                    "was lost)"]
    note = {"seq": 1, "at": 3.0, "text": "worker vm:3413 lost: 4 map outputs will run again"}
    tracker.update(snap(maps=(10, 2, 17), reduces=(0, 0, 4)))
    said = tracker.update(snap(maps=(6, 2, 17), reduces=(0, 0, 4), notes=[note]))
    assert said == [note["text"]]
    assert tracker.update(snap(maps=(7, 2, 17), reduces=(0, 0, 4), notes=[note])) == []


def test_rates_and_eta_come_from_what_finished_lately():
    """Input records and bytes per second, and an ETA from the phase's finishing rate."""
    clock = Clock()
    tracker = Tracker(clock)
    tracker.update(snap(maps=(0, 2, 10)))
    clock.now += 2
    tracker.update(snap(maps=(4, 2, 10), records=40_000, bytes_=4_000_000))
    assert tracker.rates() == (20_000.0, 2_000_000.0)
    (phase,) = tracker.current()
    assert phase.eta == 3.0  # 6 left at 2 a second
    line = tracker.line()
    assert "map 4/10 (2 running)" in line and "2.0 MB/s, 20,000 records/s" in line
    assert "ETA 3 s" in line and "2 workers" in line


def test_off_a_terminal_a_plain_line_every_few_seconds_and_notes_at_once():
    """Not on a terminal: the dashboard's line as it comes, a progress line at most every
    interval, and each note on its own line at once."""
    clock, out = Clock(), io.StringIO()
    show = PlainProgress(out, interval=5.0, clock=clock)
    show(DashboardStarted("http://127.0.0.1:1/?token=t"))
    show(JobProgress(snap(maps=(1, 2, 10))))
    clock.now += 1
    show(JobProgress(snap(maps=(2, 2, 10))))  # too soon for another line
    note = {"seq": 1, "at": 1.0, "text": "worker vm:3413 lost: 1 map output will run again"}
    show(JobProgress(snap(maps=(1, 2, 10), notes=[note])))
    clock.now += 5
    show(JobProgress(snap(maps=(3, 2, 10), notes=[note])))
    lines = out.getvalue().splitlines()
    assert lines[0] == "dashboard: http://127.0.0.1:1/?token=t"
    assert lines[1].startswith("[    0s] WordCount; map 1/10 (2 running)")
    assert lines[2] == "[    1s] worker vm:3413 lost: 1 map output will run again"
    assert lines[3].startswith("[    6s] WordCount; map 3/10")
    assert len(lines) == 4


def test_quiet_says_nothing_but_the_dashboards_address():
    """-q prints no progress and no id, only the dashboard's address it was asked for."""
    out = io.StringIO()
    quiet = reporter(True, out)
    assert isinstance(quiet, QuietProgress)
    quiet("step 1/1: map 1/10")
    quiet(JobProgress(snap(maps=(1, 2, 10))))
    quiet(DashboardStarted("http://127.0.0.1:1/?token=t"))
    assert out.getvalue() == "dashboard: http://127.0.0.1:1/?token=t\n"
    assert isinstance(reporter(False, io.StringIO()), PlainProgress)  # not a terminal
