"""Cut a divergent case down to a small one that still diverges, and write it out.

Greedy, in passes until nothing more goes: drop later steps, simplify a step (one reducer, the
hash partitioner, no combiner), drop input files, lines (halves first, then smaller chunks),
words, ``\\r``s, table entries no word names, then replace entries by simpler values
of the same family. A candidate is kept when it still diverges in the same way (the same
``Outcome.kind``) and the model still accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from fuzzjobs import pools
from fuzzjobs.check import InvalidCase, Outcome, check, expected, write_case
from fuzzjobs.spec import Case, families

WORD = re.compile(rb"^(\d+)\.(\d+)$")


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    """Ranges ``[start, stop)`` of ``range(n)``: halves, quarters... down to single items."""
    size = n // 2
    while size >= 1:
        for start in range(0, n, size):
            yield start, min(n, start + size)
        size //= 2


def _with_inputs(case: Case, inputs: list[tuple[str, bytes]]) -> Case:
    return replace(case, inputs=tuple(inputs))


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _input_candidates(case: Case) -> Iterator[Case]:
    """Cases with a file, some lines, some words or ``\\r`` endings fewer."""
    files = list(case.inputs)
    for i in range(len(files)):
        if len(files) > 1:
            yield _with_inputs(case, files[:i] + files[i + 1:])
    for i, (name, data) in enumerate(files):
        lines = _lines(data)
        for start, stop in _chunks(len(lines)):
            kept = lines[:start] + lines[stop:]
            yield _with_inputs(case, [*files[:i], (name, b"\n".join(kept)), *files[i + 1:]])
    for i, (name, data) in enumerate(files):
        lines = _lines(data)
        for j, line in enumerate(lines):
            body, cr = (line[:-1], b"\r") if line.endswith(b"\r") else (line, b"")
            words = re.split(rb"[ \t]+", body)
            for start, stop in _chunks(len(words)):
                new = b" ".join(words[:start] + words[stop:]) + cr
                yield _with_inputs(case, [*files[:i], (name, b"\n".join(
                    [*lines[:j], new, *lines[j + 1:]])), *files[i + 1:]])
        for simpler in dict.fromkeys((data.replace(b"\r\n", b"\n"), data.replace(b"\r", b""))):
            if simpler != data:
                yield _with_inputs(case, [*files[:i], (name, simpler), *files[i + 1:]])


def _step_candidates(case: Case) -> Iterator[Case]:
    """Cases with fewer steps, or a simpler step: no combiner, one reducer, hash partitions."""
    spec = case.spec
    for n in range(1, len(spec.steps)):
        yield replace(case, spec=replace(spec, steps=spec.steps[:n]))
    for i, step in enumerate(spec.steps):
        for simpler in (replace(step, combine="none"), replace(step, reducers=1),
                        replace(step, partitioner="hash")):
            if simpler != step:
                steps = (*spec.steps[:i], simpler, *spec.steps[i + 1:])
                yield replace(case, spec=replace(spec, steps=steps))


def _named(case: Case, table: int) -> set[int]:
    """The indexes of table ``table`` (0: keys, 1: values) that some word names."""
    return {int(m.group(table + 1)) for _, data in case.inputs for line in _lines(data)
            for word in re.split(rb"[ \t\r]+", line) if (m := WORD.match(word))}


def _drop_entry(case: Case, table: int, index: int) -> Case:
    """``case`` without entry ``index`` of a table: its words dropped, later ones renumbered."""
    def fix(match: re.Match) -> bytes:
        numbers = [int(match.group(1)), int(match.group(2))]
        if numbers[table] == index:
            return b""
        if numbers[table] > index:
            numbers[table] -= 1
        return b"%d.%d" % tuple(numbers)
    word = re.compile(rb"(?<![^ \t\n])(\d+)\.(\d+)(?![^ \t\r\n])")
    inputs = [(name, word.sub(fix, data)) for name, data in case.inputs]
    spec = case.spec
    entries = spec.keys if table == 0 else spec.values
    entries = entries[:index] + entries[index + 1:]
    spec = replace(spec, keys=entries) if table == 0 else replace(spec, values=entries)
    return replace(case, spec=spec, inputs=tuple(inputs))


def _table_candidates(case: Case) -> Iterator[Case]:
    """Cases with a table entry fewer (one no word names first), or a simpler one."""
    spec = case.spec
    for table, entries in ((0, spec.keys), (1, spec.values)):
        named = _named(case, table)
        order = sorted(range(len(entries)), key=lambda i: i in named)
        for index in order:  # the entries no word names first
            if len(entries) > 1:
                yield _drop_entry(case, table, index)
    for table, entries, family, valid in (
            (0, spec.keys, spec.key_family, pools.valid_keys),
            (1, spec.values, spec.value_family, pools.valid_values)):
        for index, entry in enumerate(entries):
            for simple in pools.SIMPLE[family]:
                if simple == entry or simple in entries:
                    continue
                new = (*entries[:index], simple, *entries[index + 1:])
                if not valid(family, list(new)):
                    continue
                yield replace(case, spec=replace(spec, keys=new) if table == 0
                              else replace(spec, values=new))


def _size(case: Case) -> tuple[int, ...]:
    """How big a case is; a candidate must be smaller to be kept."""
    spec = case.spec
    simple = sum(e in pools.SIMPLE.get(spec.key_family, ()) for e in spec.keys) + sum(
        e in pools.SIMPLE.get(spec.value_family, ()) for e in spec.values)
    steps = sum((s.combine != "none") + (s.reducers > 1) + (s.partitioner != "hash")
                for s in spec.steps)
    return (len(spec.steps), sum(len(d) for _, d in case.inputs), len(case.inputs), steps,
            len(spec.keys) + len(spec.values), -simple)


def shrink(case: Case, outcome: Outcome, folder: Path, runs: Callable | None = None,
           budget: int = 400, log: Callable[[str], None] = lambda _: None) -> tuple[Case, Outcome]:
    """The smallest case found (within ``budget`` runs) that still diverges like ``outcome``.

    Args:
        folder: scratch space for the candidates.
        runs: passed on to ``check``.
    """
    runs_left = budget
    kwargs = {"runs": runs} if runs is not None else {}

    def still_fails(candidate: Case) -> Outcome | None:
        nonlocal runs_left
        runs_left -= 1
        try:
            found = check(candidate, folder, outcome.runner, **kwargs)
        except InvalidCase:
            return None
        return found if found.kind == outcome.kind else None

    best, best_outcome = case, outcome
    progress = True
    while progress and runs_left > 0:
        progress = False
        for source in (_step_candidates, _input_candidates, _table_candidates):
            for candidate in source(best):
                if runs_left <= 0:
                    break
                if families(candidate.spec) is None or _size(candidate) >= _size(best):
                    continue
                found = still_fails(candidate)
                if found is not None:
                    best, best_outcome, progress = candidate, found, True
                    log(f"  shrunk to {_size(best)}")
                    break
            if progress:
                break
    return best, best_outcome


def write_repro(case: Case, outcome: Outcome, folder: Path, command: str) -> str:
    """Write the case under ``folder`` with a README of what diverged; return the README."""
    job, inputs = write_case(case, folder)
    try:
        want = expected(case, job, inputs)
    except InvalidCase:
        want = []
    how = "--inline" if outcome.runner == "inline" else "--workers 2"
    text = (f"{case.label}: minimr diverges from the model on the {outcome.runner} runner"
            f" ({outcome.kind}).\n\nReproduce:\n  minimr submit job.py --input input --output out"
            f" {how} --split-size {case.split_size} --sort-buffer {case.sort_buffer}\n"
            f"Found by:\n  {command}\n\nWhat differs:\n{outcome.detail}\n\n"
            f"The model's records ({len(want)}):\n"
            + "".join(f"  {k!r}\t{v!r}\n" for k, v in want[:50])
            + ("  ...\n" if len(want) > 50 else ""))
    (folder / "README.txt").write_text(text, encoding="utf-8")
    return text


def show(case: Case, folder: Path) -> str:
    """The job file and the input files of a written case, as text to print."""
    parts = [f"--- {folder / 'job.py'}", (folder / "job.py").read_text(encoding="utf-8")]
    for name, data in case.inputs:
        parts.append(f"--- {folder / 'input' / name} ({len(data)} bytes): {data!r}")
    return "\n".join(parts)

