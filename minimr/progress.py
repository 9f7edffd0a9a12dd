"""What ``minimr submit`` shows while a job runs.

The coordinator sends snapshots of the job (``views.job_snapshot``: its phases with tasks
done, running and total, the input read so far, the workers, and notes of what happened,
such as a worker lost). A :class:`Tracker` turns successive snapshots into what a person
wants to read: a headline ("waiting for workers", "planning", "step 1/2"), each phase's
progress with its ETA, input records and bytes per second, and, in words, the notes and
any step back ("map 10/17 -> 6/17: ..."), never a silent one. Two renderers show it:

- :class:`TerminalProgress` (stderr is a terminal): a bar per phase, redrawn in place by
  ``rich``, with the notes printed above the bars as they come;
- :class:`PlainProgress` (a log, a pipe, CI): one plain line every ``PLAIN_INTERVAL``
  seconds, and each note on its own line as it comes.

``-q`` uses neither: nothing but errors. The first lines say the job's id and, with
``--dashboard``, the dashboard's address.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

#: seconds between two plain progress lines (not on a terminal)
PLAIN_INTERVAL = 5.0
#: seconds of history the input rates are measured over
RATE_WINDOW = 10.0

PHASE_ORDER = ("prepare", "map", "reduce", "commit")
PHASE_NAMES = {"prepare": "planning", "map": "map", "reduce": "reduce", "commit": "commit"}


@dataclass
class Phase:
    """One phase of one step as last reported, with its finishing rate for the ETA."""

    step: int
    kind: str
    total: int = 0
    done: int = 0
    running: int = 0
    eta: float | None = None
    _history: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))

    @property
    def name(self) -> str:
        """``map``, ``reduce``... (``planning`` for a prepare)."""
        return PHASE_NAMES.get(self.kind, self.kind)


class Tracker:
    """Successive snapshots of one job in, what to tell a person out (no I/O here).

    Args:
        clock: seconds (monotonic); the rates and ETAs are measured on it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.snapshot: dict = {}
        self.phases: dict[tuple[int, str], Phase] = {}
        self._notes_seen = 0
        self._input: deque[tuple[float, int, int]] = deque()  # (time, records, bytes)

    def update(self, snapshot: dict) -> list[str]:
        """Take a new snapshot; returns the lines to say now (notes, steps back)."""
        now = self.clock()
        self.snapshot = snapshot
        said = self._new_notes(snapshot)
        for row in snapshot.get("phases") or _phases_of(snapshot):
            key = (row["step"], row["kind"])
            phase = self.phases.setdefault(key, Phase(row["step"], row["kind"]))
            if row["done"] < phase.done and not said:
                said.append(self._step_back(phase, row))
            if row["done"] < phase.done:
                phase._history.clear()  # a rate across a step back means nothing
            phase.total, phase.done, phase.running = row["total"], row["done"], row["running"]
            phase._history.append((now, phase.done))
            phase.eta = _eta(phase)
        self._input.append((now, snapshot.get("input_records", 0), snapshot.get("input_bytes", 0)))
        while len(self._input) > 2 and now - self._input[1][0] >= RATE_WINDOW:
            self._input.popleft()
        return said

    def _new_notes(self, snapshot: dict) -> list[str]:
        notes = [n for n in snapshot.get("notes") or () if n["seq"] > self._notes_seen]
        if notes:
            self._notes_seen = notes[-1]["seq"]
        return [n["text"] for n in notes]

    @staticmethod
    def _step_back(phase: Phase, row: dict) -> str:
        lost = phase.done - row["done"]
        return (f"{phase.name} {phase.done}/{phase.total} -> {row['done']}/{row['total']}: "
                f"{lost} finished {phase.name} task{'s' * (lost > 1)} must run again "
                "(their output was lost)")

    # --- what to show ---------------------------------------------------------------------

    def headline(self) -> str:
        """Where the job stands, in words: never ``map 0/0``."""
        snap = self.snapshot
        if not snap:
            return "submitting"
        state = snap.get("state", "running")
        if state == "queued":
            return "queued behind other jobs" if snap.get("workers") else "waiting for workers"
        if state != "running":
            return state
        if not snap.get("workers"):
            return "waiting for workers"
        step = f"step {snap['step'] + 1}/{snap['steps']}" if snap.get("steps", 1) > 1 else ""
        if not self.current():
            return (step + ": " if step else "") + "planning"
        return step or snap.get("name", "running")

    def current(self) -> list[Phase]:
        """The phases of the current step with tasks (planning only while nothing else)."""
        step = self.snapshot.get("step", 0)
        mine = [p for (s, _), p in self.phases.items() if s == step and p.kind in ("map", "reduce")
                and p.total]
        return sorted(mine, key=lambda p: PHASE_ORDER.index(p.kind))

    def rates(self) -> tuple[float, float] | None:
        """Input records and bytes per second over the last ``RATE_WINDOW`` seconds."""
        if len(self._input) < 2:
            return None
        (t0, r0, b0), (t1, r1, b1) = self._input[0], self._input[-1]
        if t1 - t0 < 0.5:
            return None
        return max(0, r1 - r0) / (t1 - t0), max(0, b1 - b0) / (t1 - t0)

    def workers(self) -> str:
        """``2 workers, 3 running``."""
        snap = self.snapshot
        n = snap.get("workers", 0)
        return f"{n} worker{'s' * (n != 1)}, {snap.get('running', 0)} running"

    def throughput(self) -> str:
        """``1.2 MB/s, 41,000 records/s`` (empty before there is a rate)."""
        rates = self.rates()
        if rates is None or not (rates[0] or rates[1]):
            return ""
        return f"{_size(rates[1])}/s, {rates[0]:,.0f} records/s"

    def line(self) -> str:
        """The whole progress in one plain line."""
        parts = [self.headline()]
        if parts[0] in ("submitting", "waiting for workers"):
            return parts[0]
        phases = ", ".join(
            f"{p.name} {p.done}/{p.total}" + (f" ({p.running} running)" if p.running else "")
            for p in self.current()
        )
        if phases:
            parts.append(phases)
        parts.append(self.workers())
        if self.throughput():
            parts.append(self.throughput())
        eta = next((p.eta for p in self.current() if p.done < p.total and p.eta is not None), None)
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        return "; ".join(parts)


def _phases_of(snapshot: dict) -> list[dict]:
    """Phases from an older coordinator's snapshot (totals over all steps)."""
    step = snapshot.get("step", 0)
    return [
        {"step": step, "kind": kind, "total": snapshot.get(f"{kind}s_total", 0),
         "done": snapshot.get(f"{kind}s_done", 0), "running": 0}
        for kind in ("map", "reduce")
    ]


def _eta(phase: Phase) -> float | None:
    """Seconds left at the rate the phase's tasks have finished lately (None before two
    readings that differ)."""
    left = phase.total - phase.done
    if left <= 0:
        return 0.0
    history = phase._history
    if len(history) < 2:
        return None
    (t0, d0), (t1, d1) = history[0], history[-1]
    if d1 <= d0 or t1 <= t0:
        return None
    return left / ((d1 - d0) / (t1 - t0))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"


# --- renderers ------------------------------------------------------------------------------


def _kind(update: Any) -> str:
    """What a progress update is: ``text`` (the inline runner's), ``snapshot`` (a cluster's
    progress), ``dashboard`` (its address) or ``line`` (anything else, said once: the id)."""
    if isinstance(update, str):
        return "text"
    from minimr.cluster.client.client import JobProgress  # a cluster run: loaded
    from minimr.cluster.client.localcluster import DashboardStarted

    if isinstance(update, JobProgress):
        return "snapshot"
    return "dashboard" if isinstance(update, DashboardStarted) else "line"


class PlainProgress:
    """A plain line every ``interval`` seconds, each note as it comes (not a terminal).

    Args:
        stream: where to write (stderr).
        clock: seconds (monotonic).
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = PLAIN_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.clock = clock
        self.tracker = Tracker(clock)
        self.started = clock()
        self._last = float("-inf")
        self._last_text = ""

    def __call__(self, update: Any) -> None:
        """Take one update: a snapshot, a line to say first, or an inline runner's text."""
        now = self.clock()
        kind = _kind(update)
        if kind == "text":  # the inline runner says where it is in words
            text = update
        elif kind == "snapshot":
            for said in self.tracker.update(update.snapshot):
                self._write(said)
            text = self.tracker.line()
        else:  # the job's id, the dashboard's address: said once, at once
            self._write(str(update), stamp=False)
            return
        if now - self._last >= self.interval and text != self._last_text:
            self._last, self._last_text = now, text
            self._write(text)

    def _write(self, text: str, stamp: bool = True) -> None:
        prefix = f"[{self.clock() - self.started:5.0f}s] " if stamp else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()

    def done(self) -> None:
        """Nothing to tidy."""


class TerminalProgress:
    """A headline and a bar per phase redrawn in place (``rich``), notes printed above them
    as they come."""

    def __init__(self, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.text import Text

        self.console = Console(file=stream if stream is not None else sys.stderr)
        self.tracker = Tracker(clock)
        self.clock = clock
        self.started = clock()
        self.head = Text()
        self.bars = Progress(
            TextColumn("  {task.description:<8}"), BarColumn(bar_width=36),
            MofNCompleteColumn(), TextColumn("{task.fields[info]}"), console=self.console,
        )
        self.live = Live(Group(self.head, self.bars), console=self.console,
                         auto_refresh=False, transient=True)
        self._rows: dict[tuple[int, str], Any] = {}
        self._live = False

    def __call__(self, update: Any) -> None:
        """Take one update: a snapshot, a line to say first, or an inline runner's text."""
        kind = _kind(update)
        if kind == "text":
            self._headline(update)
        elif kind == "snapshot":
            for said in self.tracker.update(update.snapshot):
                self.console.print(said, highlight=False, markup=False)
            self._draw()
        else:
            self.console.print(str(update), highlight=False, markup=False, soft_wrap=True)
            return
        if not self._live:
            self.live.start()
            self._live = True
        self.live.refresh()

    def _headline(self, text: str) -> None:
        self.head.plain = f"{text}   elapsed {_duration(self.clock() - self.started)}"

    def _draw(self) -> None:
        tracker = self.tracker
        self._headline("   ".join(x for x in (tracker.headline(), tracker.workers(),
                                              tracker.throughput()) if x))
        current = tracker.current()
        for key in [k for k in self._rows if k not in {(p.step, p.kind) for p in current}]:
            self.bars.remove_task(self._rows.pop(key))
        for phase in current:
            info = (f"  {phase.running} running" if phase.running else "") + (
                f"  ETA {_duration(phase.eta)}" if phase.eta and phase.done < phase.total else "")
            if (phase.step, phase.kind) not in self._rows:
                self._rows[phase.step, phase.kind] = self.bars.add_task(
                    phase.name, total=phase.total, completed=phase.done, info=info)
            self.bars.update(self._rows[phase.step, phase.kind], total=phase.total,
                             completed=phase.done, info=info)

    def done(self) -> None:
        """Take the bars off the screen (the counters table follows)."""
        if self._live:
            self.live.stop()
            self._live = False


class QuietProgress:
    """``-q``: nothing but errors, and the dashboard's address if one was asked for."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr

    def __call__(self, update: Any) -> None:
        """Say nothing but where the dashboard is."""
        if _kind(update) == "dashboard":
            self.stream.write(f"{update}\n")
            self.stream.flush()

    def done(self) -> None:
        """Nothing to tidy."""


def reporter(quiet: bool, stream: IO[str] | None = None
             ) -> PlainProgress | TerminalProgress | QuietProgress:
    """The progress display for ``minimr submit``: quiet, bars on a terminal, else lines."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        return QuietProgress(stream)
    if stream.isatty():
        return TerminalProgress(stream)
    return PlainProgress(stream)
