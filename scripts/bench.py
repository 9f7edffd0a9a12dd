#!/usr/bin/env python3
"""minimr's benchmark harness: the job zoo, minimr beside the tools a user would otherwise pick.

Each job of the zoo (scripts/zoo.py) is one piece of work done by several systems: a
hand-written baseline (a multiprocessing.Pool(W) script of scripts/baselines/, as a competent
Python programmer would write it, with the same tokenising and parsing library; GNU sort for
sort), minimr running the job written plainly with the class API (minimr-plain), minimr
running it in the declared forms (map_keys, minimr.fold; map_batch and map_final for the
index) where they apply (minimr-declared), and PySpark and Dask where a script exists and
the package imports. The harness generates the
corpora under --work (once; reused while size, file count, seed and generator are unchanged),
warms the page cache, runs every chosen system --runs times, checks that the outputs of a
job agree, and prints one table of every row and then the zoo table: each job's seconds and
its ratio to the baseline, per system.

jobs (--only)  baseline (scripts/baselines/)    minimr-plain / minimr-declared (jobs/, benchjobs/)
  wordcount    pool wc_pool.py                 benchjobs/wordcount_class.py (the README's job)
                                               / jobs/wordcount.py
  wcfilter     pool wc_filtered_pool.py        jobs/wordcount_filtered.py (len(word) > 2,
                                               `total += c` loops) /
                                               benchjobs/wordcount_filter_declared.py
  index        pool index_pool.py              jobs/inverted_index.py /
                                               benchjobs/inverted_index_declared.py
  join         pool join_pool.py (a hash join) jobs/join.py, on gen_join_tables.py's users x
                                               orders: 0.96M x 9.6M rows at 256MB
  joinmap      pool join_pool.py               jobs/join_replicated.py: the same join, the users
                                               a side file (--file users/) loaded by each map
                                               task, the orders its input; map-only (no shuffle)
  jsonl        pool events_pool.py             jobs/count_by.py --field user /
                                               benchjobs/count_by_declared.py
  jsonsum      pool sum_pool.py                benchjobs/sum_by.py (sum of ms by user) /
                                               benchjobs/sum_by_declared.py
  average      pool avg_pool.py                benchjobs/average_by.py (mean float amount per
                                               user of the join's orders)
  sort         gnusort: LC_ALL=C sort --parallel=W -S 4G    jobs/sort.py
  topwords     pool top_pool.py                jobs/top_words.py (MINIMR_TOP_N=100) /
                                               benchjobs/top_words_declared.py
  smallfiles   pool wc_pool.py                 the wordcount rows on 10,000 files of 2.3 KB
                                               (23 MB, whatever --size says)
Other rows, run when --systems names them: serial (wc_serial.py), mrjob, minimr-inline,
minimr-batch (map_batch), minimr-final (map_final), minimr-functions (plain functions),
minimr-mrjob (wordcount); pysort (sort); minimr-local (wordcount, jsonl, sort: the jobs/ file
on local workers, the name docs/ command lines use). spark and dask rows, when the packages
import (docs/performance.md says how): baselines/wc_{spark,dask}.py (wordcount),
sort_spark.py (sort; no Dask row), zoo_{spark,dask}.py (the other jobs).
A system whose package is missing is skipped with a note; one whose command fails is
skipped after printing the command and the tail of its stderr. --inline runs the minimr rows
in one process: a cheap check of the outputs (tests/test_bench_zoo.py), not a timing.

columns
  wall      seconds, median of the runs (min-max)
  CPU ch    user+sys of the waited-for process tree (getrusage(RUSAGE_CHILDREN) delta)
  CPU host  user+nice+sys+irq of the whole machine (/proc/stat delta): also sees daemons
            nobody waits for, such as Spark's JVM; includes unrelated load, if any
  RSS       peak of the summed resident memory of the process and all its descendants,
            sampled every 0.1 s (MiB)
  MB/s      input bytes / median wall, 1 MB = 10**6 bytes (input sizes use MiB)
  vs        median wall / the baseline's median wall, for each baseline that ran
            (0.50 = twice as fast as that baseline)
  check     the output, canonicalised, against the job's reference (its first baseline
            that ran): sorted ``key<TAB>value`` lines (md5), the sort's concatenated records,
            the join's rows sorted by GNU sort, the average's floats to 1e-9 relative

examples (one benchmark on the machine at a time: flock /tmp/minimr-bench.lock python ...)
  python scripts/bench.py --size 256MB --runs 1                 # the whole zoo
  /tmp/pv/bin/python scripts/bench.py --size 256MB --runs 1 --minimr .venv/bin/minimr
                                     # with PySpark and Dask from a venv of their own
  python scripts/bench.py --size 1GB --runs 1 --only wordcount,wcfilter,jsonl
  python scripts/bench.py --size 256MB --runs 3 --only sort --systems gnusort,pysort,minimr-plain
  python scripts/bench.py --size 256KB --runs 1 --inline --work /tmp/zoo-check
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from measuring import Run, compile_bytecode, measure, stale_warning
from zoo import GROUP, GROUPS, REPO, SYSTEMS, Corpus, Group, Setup, System, missing_requirement

GEN_CORPUS = os.path.join(REPO, "scripts", "gen_corpus.py")


# ---------------------------------------------------------------------------------------------
# corpora


def size_tag(size: int) -> str:
    """A directory-name tag for a byte count: 256m, 1g, or the number itself."""
    for unit, letter in ((1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")):
        if size % unit == 0:
            return f"{size // unit}{letter}"
    return str(size)


def ensure_corpus(corpus: Corpus, size: int, files: int, seed: int, data_dir: str) -> str:
    """Generate the corpus unless an identical one is already there; return its directory.

    A stamp (arguments plus the generator's own hash) is written after the data, so an
    interrupted or outdated generation is redone rather than reused.
    """
    size, files = corpus.fixed or (size, files)
    outdir = os.path.join(data_dir, f"{corpus.name}-{size_tag(size)}")
    stamp_path = outdir + ".json"
    argv = corpus.command(outdir, size, files, seed)
    stamp = dict(argv=argv[2:], generator=generator_hash(argv[1]))
    try:
        with open(stamp_path) as f:
            if json.load(f) == stamp and os.path.isdir(outdir):
                return outdir
    except (OSError, ValueError):
        pass
    if os.path.exists(stamp_path):
        os.remove(stamp_path)
    print(f"bench: generating {corpus.name} corpus {outdir} ...", file=sys.stderr, flush=True)
    # No manifest in the data folder, so every system can be given the folder as input.
    subprocess.run(argv, check=True)
    with open(stamp_path, "w") as f:
        json.dump(stamp, f)
    return outdir


def generator_hash(script: str) -> str:
    """The sha256 of a corpus generator's code: the script, and for gen_corpus.py the modules
    of scripts/corpora/ that write each kind, so that a change to any of them is seen."""
    sources = [script]
    if os.path.basename(script) == "gen_corpus.py":
        folder = os.path.join(os.path.dirname(script), "corpora")
        sources += sorted(os.path.join(folder, name) for name in os.listdir(folder)
                          if name.endswith(".py"))
    digest = hashlib.sha256()
    for path in sources:
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def warm_page_cache(indirs: list[str]) -> int:
    """Read every file under ``indirs`` once so no run pays for the disk; return the bytes."""
    total = 0
    for indir in indirs:
        for folder, _, names in os.walk(indir):
            for name in names:
                with open(os.path.join(folder, name), "rb") as f:
                    while block := f.read(1 << 23):
                        total += len(block)
    return total


# ---------------------------------------------------------------------------------------------
# driver


@dataclass
class Row:
    """Aggregated results of one system on one group."""

    group: str
    system: str
    baseline: bool
    input_bytes: int
    runs: list[Run]
    check: str = "-"


def run_system(system: System, setup: Setup, inputs: list[str], work: str, runs: int,
               timeout: float) -> tuple[list[Run], str | None, str]:
    """Run one system ``runs`` times; return (runs, a failure note or None, output path)."""
    out_root = os.path.join(work, "out", system.group)
    os.makedirs(out_root, exist_ok=True)
    output = os.path.join(out_root, system.name + ("" if system.output_dir else ".out"))
    env = {**os.environ, "TMPDIR": setup.tmp, "PYTHONPATH": REPO, **system.env}
    results = []
    for i in range(1, runs + 1):
        # A fresh output every time, removed outside the timed region.
        shutil.rmtree(output, ignore_errors=True)
        if os.path.exists(output):
            os.remove(output)
        argv = system.command(setup, inputs, output)
        log = os.path.join(work, "logs", f"{system.group}-{system.name}-{i}")
        run = measure(argv, env, log, timeout)
        if run.rc != 0:
            tail = "\n".join("    " + line for line in run.stderr_tail.splitlines()[-15:])
            return results, (f"{system.group}/{system.name} failed (exit {run.rc}); "
                             f"skipped.\n  command: {shlex.join(argv)}\n  stderr tail:\n"
                             f"{tail}"), output
        print(f"bench: {system.group}/{system.name} run {i}/{runs}: {run.wall:.2f} s",
              file=sys.stderr, flush=True)
        results.append(run)
    return results, None, output


def median_wall(row: Row) -> float:
    """The median wall time of a row's runs."""
    return statistics.median(r.wall for r in row.runs)


def fmt_row(row: Row, baselines: dict[str, float]) -> list[str]:
    """The table cells of one row."""
    walls = [r.wall for r in row.runs]
    wall = statistics.median(walls)
    versus = ", ".join(f"{name} {wall / base:.2f}" for name, base in baselines.items())
    return [row.group, row.system, str(len(walls)),
            f"{wall:.2f} ({min(walls):.2f}-{max(walls):.2f})",
            f"{statistics.median(r.cpu_children for r in row.runs):.1f}",
            f"{statistics.median(r.cpu_host for r in row.runs):.1f}",
            f"{max(r.rss_peak for r in row.runs) / (1 << 20):.0f}",
            f"{row.input_bytes / wall / 1e6:.1f}", versus or "-", row.check]


def print_markdown(header: list[str], cells: list[list[str]]) -> None:
    """Print one Markdown table."""
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *cells]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def print_table(rows: list[Row]) -> None:
    """Print every row, grouped, with its ratio to each baseline of its group."""
    header = ["job", "system", "runs", "wall s median (min-max)", "CPU s ch", "CPU s host",
              "peak RSS MiB", "MB/s", "vs baselines (wall ratio)", "check"]
    cells = []
    for group in GROUPS:
        group_rows = [r for r in rows if r.group == group.name]
        baselines = {r.system: median_wall(r) for r in group_rows if r.baseline}
        cells += [fmt_row(r, baselines) for r in group_rows]
    print_markdown(header, cells)


def print_zoo(rows: list[Row]) -> None:
    """Print the zoo table: per group, each other row's wall time over the baseline's."""
    others = ["minimr-plain", "minimr-declared", "spark", "dask"]
    header = ["job", "input MiB", "baseline s", *(f"{name} (x)" for name in others)]
    cells = []
    for group in GROUPS:
        by_name = {r.system: r for r in rows if r.group == group.name}
        base = by_name.get(group.versus)
        if base is None:
            continue
        line = [group.name, f"{base.input_bytes / (1 << 20):.1f}",
                f"{group.versus} {median_wall(base):.2f}"]
        for name in others:
            row = by_name.get(name)
            line.append("-" if row is None else
                        f"{median_wall(row):.2f} ({median_wall(row) / median_wall(base):.2f})"
                        + ("" if row.check in ("OK", "reference") else f" {row.check}"))
        cells.append(line)
    if cells:
        print("\nthe zoo: wall seconds (ratio to the baseline)\n")
        print_markdown(header, cells)


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _csv(choices: tuple[str, ...], everything: str | None = None) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        if everything and names == [everything]:
            return list(choices)
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)} (got {text!r})")
        return names
    return parse


def _load_parse_size() -> Callable[[str], int]:
    """gen_corpus.parse_size, so both scripts read sizes the same way."""
    spec = importlib.util.spec_from_file_location("gen_corpus", GEN_CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def parse(text: str) -> int:
        try:
            return module.parse_size(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    names = tuple(dict.fromkeys(s.name for s in SYSTEMS))
    groups = tuple(GROUP)
    p = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=_load_parse_size(), default=256 << 20,
                   help="corpus size per job: 256MB, 1GB, 64KB or bytes; MB = 2**20 "
                   "(default 256MB; smallfiles is always 23 MB)")
    p.add_argument("--runs", type=int, default=3, help="runs per system (default 3)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes/threads for the parallel systems (default 2)")
    p.add_argument("--only", type=_csv(groups), default=list(groups),
                   help=f"jobs of the zoo to run (default all): {','.join(groups)}")
    p.add_argument("--systems", type=_csv(names, "all"), default=None,
                   help="systems to run: 'all', or some of "
                   f"{','.join(names)} (default: the zoo's rows, baselines, minimr-plain, "
                   "minimr-declared, spark, dask)")
    p.add_argument("--inline", action="store_true",
                   help="run every minimr row --inline, in one process: checks, not timings")
    p.add_argument("--work", default="/tmp/minimr-bench",
                   help="corpora, outputs, logs and scratch go here (default %(default)s)")
    p.add_argument("--files", type=int, default=16, help="files per corpus (default 16)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--json", metavar="FILE", help="append one JSON line per run to FILE")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before a run is killed and its system skipped (default "
                   "60 + 900 per GiB of input: about 4.5 min at 256MB)")
    p.add_argument("--minimr", metavar="CMD",
                   help="how to invoke the minimr CLI (default: `minimr` if on PATH, else "
                   "this Python importing minimr.cli from the repository)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.workers < 1:
        p.error("--runs and --workers must be at least 1")
    work = os.path.realpath(args.work)
    if work == REPO or work.startswith(REPO + os.sep):
        p.error(f"--work {args.work} is inside the repository; benchmark data stays out of it")
    args.work = work
    if args.timeout is None:
        args.timeout = 60 + 900 * args.size / (1 << 30)
    return args


def chosen_systems(group: Group, names: list[str] | None) -> list[System]:
    """The systems of ``group`` to run, its reference candidates first."""
    systems = [s for s in SYSTEMS if s.group == group.name
               and (s.name in names if names is not None else s.zoo)]
    return sorted(systems, key=lambda s: s.name not in group.reference)


def _minimr_python(command: list[str]) -> str | None:
    """The Python the ``--minimr`` command runs (its script's ``#!`` line), or None when that
    cannot be told."""
    script = shutil.which(command[0]) if command else None
    if command and command[0] == sys.executable:
        return command[0]
    if not script:
        return None
    with open(script, "rb") as f:
        first = f.readline()
    return first[2:].decode(errors="replace").strip() if first.startswith(b"#!") else None


def _minimr_package(python: str | None) -> str | None:
    """The minimr package folder ``python`` imports, or None when that cannot be told."""
    if not python:
        return None
    where = "import minimr, os; print(os.path.dirname(minimr.__file__))"
    ask = subprocess.run([python, "-c", where], capture_output=True, text=True)
    return ask.stdout.strip() if ask.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 if any check mismatched)."""
    args = parse_args(argv)
    for sub in ("data", "out", "tmp", "logs"):
        os.makedirs(os.path.join(args.work, sub), exist_ok=True)
    minimr = (shlex.split(args.minimr) if args.minimr else ["minimr"] if shutil.which("minimr")
              else [sys.executable, "-c", "from minimr.cli import main; main()"])
    setup = Setup(args.workers, os.path.join(args.work, "tmp"), minimr, args.inline)
    python = _minimr_python(minimr)
    package = _minimr_package(python)
    warning = stale_warning(package)
    if warning:
        print(warning, file=sys.stderr)
    if package:
        compile_bytecode(python, package)
    rows: list[Row] = []
    notes: list[str] = []
    mismatched = False
    commit = _git_commit()
    for group in (g for g in GROUPS if g.name in args.only):
        systems = chosen_systems(group, args.systems)
        if not systems:
            continue
        corpus = ensure_corpus(group.corpus, args.size, args.files, args.seed,
                               os.path.join(args.work, "data"))
        inputs = [os.path.join(corpus, sub) if sub else corpus for sub in group.inputs]
        input_bytes = warm_page_cache(inputs)
        reference: tuple[str, object] | None = None       # (system, fingerprint)
        for system in systems:
            why = missing_requirement(system)
            if why:
                notes.append(f"{group.name}/{system.name} skipped: {why}")
                continue
            runs, failure, output = run_system(system, setup, inputs, args.work, args.runs,
                                               args.timeout)
            if failure:
                notes.append(failure)
            if not runs:
                continue
            row = Row(group.name, system.name, system.baseline, input_bytes, runs)
            if not failure:
                fingerprint, summary = group.fingerprint(output, setup.tmp)
                if reference is None:
                    reference = (system.name, fingerprint)
                    row.check = "reference"
                else:
                    row.check = "OK" if group.same(fingerprint, reference[1]) else "MISMATCH"
                    mismatched |= row.check == "MISMATCH"
                notes.append(f"{group.name}/{system.name} output: {summary}")
            rows.append(row)
            if args.json:
                with open(args.json, "a") as f:
                    for i, r in enumerate(runs, 1):
                        f.write(json.dumps(dict(
                            time=time.strftime("%Y-%m-%dT%H:%M:%S%z"), commit=commit,
                            task=group.name, system=system.name, run=i, size=args.size,
                            input_bytes=input_bytes, files=args.files, seed=args.seed,
                            workers=args.workers, cpus=os.cpu_count(), rc=r.rc,
                            wall=round(r.wall, 3), cpu_children=round(r.cpu_children, 2),
                            cpu_host=round(r.cpu_host, 2), rss_peak_mib=round(
                                r.rss_peak / (1 << 20), 1), check=row.check)) + "\n")
    print()
    for note in notes:
        print(note)
    if warning:
        print(warning)
    print(f"\nsize {args.size:,} bytes per corpus, {args.files} files, seed {args.seed}, "
          f"workers {args.workers}, {os.cpu_count()} CPUs, commit {commit or '?'}\n")
    if rows:
        print_table(rows)
        print_zoo(rows)
    else:
        print("no system ran")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
