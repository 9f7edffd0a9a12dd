#!/usr/bin/env python3
"""minimr's benchmark harness: minimr against the tools a user would otherwise pick.

Generates the corpora with scripts/gen_corpus.py under --work (once; they are reused while
the size, file count, seed and generator are unchanged), warms the page cache, runs every
chosen system --runs times, checks that all outputs agree, and prints one table.

systems
  wordcount  serial        baselines/wc_serial.py: one process, Counter per line
             pool          baselines/wc_pool.py: multiprocessing.Pool(W), one task per file
             spark, dask, mrjob
                           baselines/wc_{spark,dask,mrjob}.py, when the package imports
             minimr-inline minimr submit jobs/wordcount.py ... --inline
             minimr-local  minimr submit jobs/wordcount.py ... --workers W
             minimr-batch  minimr submit jobs/wordcount_batch.py ... --workers W (map_batch)
             minimr-final  minimr submit jobs/wordcount_final.py ... --workers W (map_final)
             minimr-plain  minimr submit jobs/wordcount_functions.py ... --workers W (plain
                           generator functions, run as written)
             minimr-mrjob  minimr submit baselines/wc_mrjob.py ... --workers W: the mrjob
                           row's job, unchanged (docs/mrjob.md)
  jsonl      pool          baselines/events_pool.py: multiprocessing.Pool(W), json.loads a line,
                           a Counter by the field 'user' per file, Counters merged
             minimr-inline, minimr-local   minimr submit jobs/count_by.py ... --field user
                           (input_format "jsonl": the same json module)
  sort       gnusort       LC_ALL=C sort --parallel=W -S 4G
             pysort        baselines/sort_python.py: sorted(readlines) in one process
             spark         baselines/sort_spark.py, when pyspark imports
             minimr-inline, minimr-local   minimr submit jobs/sort.py ...
A system whose package is missing is skipped with a note; one whose command fails is
skipped after printing the command and the tail of its stderr.

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
  check     the output, canonicalised, against the reference (first baseline that ran;
            GNU sort for sort): word count and jsonl compare sorted ``key<TAB>count``
            lines, sort compares the concatenated part files byte for byte

examples
  python scripts/bench.py --size 64MB --runs 1 --systems serial,pool,gnusort,pysort
  python scripts/bench.py --size 1GB --only wordcount --json /tmp/minimr-bench/runs.jsonl
  python scripts/bench.py --size 256MB --runs 3 --only jsonl
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_CORPUS = os.path.join(REPO, "scripts", "gen_corpus.py")
BASELINES = os.path.join(REPO, "scripts", "baselines")
TASKS = ("wordcount", "sort", "jsonl")
CORPUS_KIND = {"wordcount": "text", "sort": "sort", "jsonl": "events"}
MINIMR_JOB = {"wordcount": "jobs/wordcount.py", "sort": "jobs/sort.py",
              "jsonl": "jobs/count_by.py"}
JSONL_FIELD = "user"  # what the jsonl task groups and counts by
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY = 0.1

# ---------------------------------------------------------------------------------------------
# systems


@dataclass(frozen=True)
class Setup:
    """What a command line needs besides its input and output paths."""

    workers: int
    tmp: str
    minimr: list[str]


@dataclass(frozen=True)
class System:
    """One row of the table: how to run it and how to read what it wrote."""

    name: str
    task: str
    baseline: bool
    command: Callable[[Setup, str, str], list[str]]   # (setup, input dir, output path)
    requires: tuple[str, ...] = ()                    # modules that must import
    output_dir: bool = True                           # writes a directory of part files
    env: dict[str, str] = field(default_factory=dict)


def _script(name: str) -> list[str]:
    return [sys.executable, os.path.join(BASELINES, name)]


def _minimr(task: str, mode: str, job: str | None = None, extra: tuple[str, ...] = ()
            ) -> Callable[[Setup, str, str], list[str]]:
    def command(s: Setup, indir: str, out: str) -> list[str]:
        where = ["--inline"] if mode == "inline" else ["--workers", str(s.workers)]
        return [*s.minimr, "submit", os.path.join(REPO, job or MINIMR_JOB[task]), "--input", indir,
                "--output", out, "--overwrite", "--quiet", *where, *extra]
    return command


def _gnu_sort(s: Setup, indir: str, out: str) -> list[str]:
    return ["sort", f"--parallel={s.workers}", "-S", "4G", "-T", s.tmp, "-o", out,
            *part_files(indir)]


SYSTEMS = (
    System("serial", "wordcount", True, lambda s, i, o: [*_script("wc_serial.py"), i, o],
           output_dir=False),
    System("pool", "wordcount", True,
           lambda s, i, o: [*_script("wc_pool.py"), i, o, str(s.workers)], output_dir=False),
    System("spark", "wordcount", True,
           lambda s, i, o: [*_script("wc_spark.py"), i, o, str(s.workers)], ("pyspark",)),
    System("dask", "wordcount", True,
           lambda s, i, o: [*_script("wc_dask.py"), i, o, str(s.workers)],
           ("dask.bag", "distributed")),
    System("mrjob", "wordcount", True,
           lambda s, i, o: [*_script("wc_mrjob.py"), "-r", "local", "--no-conf",
                            *part_files(i), "--output-dir", o], ("mrjob",)),
    System("minimr-inline", "wordcount", False, _minimr("wordcount", "inline")),
    System("minimr-local", "wordcount", False, _minimr("wordcount", "local")),
    System("minimr-batch", "wordcount", False,
           _minimr("wordcount", "local", "jobs/wordcount_batch.py")),
    System("minimr-final", "wordcount", False,
           _minimr("wordcount", "local", "jobs/wordcount_final.py")),
    System("minimr-plain", "wordcount", False,
           _minimr("wordcount", "local", "jobs/wordcount_functions.py")),
    System("minimr-mrjob", "wordcount", False,
           _minimr("wordcount", "local", "scripts/baselines/wc_mrjob.py"), ("mrjob",)),
    System("gnusort", "sort", True, _gnu_sort, output_dir=False, env={"LC_ALL": "C"}),
    System("pysort", "sort", True, lambda s, i, o: [*_script("sort_python.py"), i, o],
           output_dir=False),
    System("spark", "sort", True,
           lambda s, i, o: [*_script("sort_spark.py"), i, o, str(s.workers)], ("pyspark",)),
    System("minimr-inline", "sort", False, _minimr("sort", "inline")),
    System("minimr-local", "sort", False, _minimr("sort", "local")),
    System("pool", "jsonl", True,
           lambda s, i, o: [*_script("events_pool.py"), i, o, JSONL_FIELD, str(s.workers)],
           output_dir=False),
    System("minimr-inline", "jsonl", False,
           _minimr("jsonl", "inline", extra=("--field", JSONL_FIELD))),
    System("minimr-local", "jsonl", False,
           _minimr("jsonl", "local", extra=("--field", JSONL_FIELD))),
)
# The reference output each task's check compares against, in order of preference.
REFERENCE = {"wordcount": ("serial", "pool"), "sort": ("gnusort", "pysort"), "jsonl": ("pool",)}


def missing_requirement(system: System) -> str | None:
    """Why ``system`` cannot run here, or None if it can."""
    for module in system.requires:
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:      # the parent package is missing
            found = False
        if not found:
            return f"{module} is not installed"
    if "pyspark" in system.requires and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "pyspark needs Java, and java is not on PATH"
    if system.name.startswith("minimr"):
        job = os.path.join(REPO, MINIMR_JOB[system.task])
        if not os.path.exists(job):
            return f"{os.path.relpath(job, REPO)} does not exist yet"
    return None


# ---------------------------------------------------------------------------------------------
# output checks


def _natural(name: str) -> list:
    """Sort key that puts part-2 before part-10 (Dask numbers parts without padding)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def part_files(path: str) -> list[str]:
    """The data files of an output or input: ``path`` itself, or its part-* files in order."""
    if not os.path.isdir(path):
        return [path]
    names = sorted((n for n in os.listdir(path) if n.startswith("part-")), key=_natural)
    return [os.path.join(path, n) for n in names]


def _unrepr(text: str) -> str:
    """A field written as a Python literal ('the', b'x', 42) as plain text; others as is."""
    if text[:1] in ("'", '"') or text[:2] in ("b'", 'b"'):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        return value.decode() if isinstance(value, bytes) else str(value)
    return text


def canonical_wordcount(line: str) -> str:
    """One output line as ``word<TAB>count``.

    Accepts the baselines' ``word<TAB>count``, minimr's ``repr(key)<TAB>repr(value)`` and
    a printed tuple ``('word', 42)`` (Spark's and Dask's default text form).
    """
    line = line.rstrip("\n")
    if "\t" in line:
        key, value = line.split("\t", 1)
        return f"{_unrepr(key)}\t{_unrepr(value)}"
    if line.startswith("("):
        key, value = ast.literal_eval(line)
        return f"{key}\t{value}"
    return line


def canonical_sort_record(line: str) -> str:
    """One output line of a sort as the raw 99-character record.

    Raw records (the baselines) contain no tab. A minimr line ``repr(key)<TAB>repr(value)``
    becomes ``key + value``, as jobs/sort.py splits a record into (line[:10], line[10:]);
    a None value means the key was the whole record. Change this if that job changes.
    """
    line = line.rstrip("\n")
    if "\t" not in line:
        return line
    key_text, value_text = line.split("\t", 1)
    if value_text == "None":
        return _unrepr(key_text)
    return _unrepr(key_text) + _unrepr(value_text)


def wordcount_digest(output: str) -> tuple[str, str]:
    """(md5 of the sorted canonical lines, a short summary) of a word-count output, or of
    any output of ``key<TAB>count`` lines (the jsonl task's)."""
    lines = []
    for path in part_files(output):
        with open(path, encoding="utf-8") as f:
            lines.extend(canonical_wordcount(line) for line in f if line.strip())
    lines.sort()
    digest = hashlib.md5("".join(f"{line}\n" for line in lines).encode()).hexdigest()
    tokens = sum(int(line.rsplit("\t", 1)[1]) for line in lines)
    return digest, f"{len(lines):,} keys, {tokens:,} counted"


def sort_digest(output: str) -> tuple[str, str]:
    """(md5 of the concatenated canonical records, a short summary) of a sort output."""
    md5, records = hashlib.md5(), 0
    for path in part_files(output):
        with open(path, "rb") as f:
            first = f.readline()
            f.seek(0)
            if b"\t" not in first:     # raw records: hash the bytes, no per-line Python
                tail = b"\n"
                while block := f.read(1 << 22):
                    md5.update(block)
                    records += block.count(b"\n")
                    tail = block[-1:]
                if tail != b"\n":
                    md5.update(b"\n")
                    records += 1
                continue
            for line in f:
                md5.update(canonical_sort_record(line.decode()).encode() + b"\n")
                records += 1
    return md5.hexdigest(), f"{records:,} records"


DIGEST = {"wordcount": wordcount_digest, "sort": sort_digest, "jsonl": wordcount_digest}

# ---------------------------------------------------------------------------------------------
# measuring one run


def host_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (user+nice+system+irq+softirq)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:8]]
    return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / TICK


def tree_rss(root: int) -> int:
    """Summed RSS in bytes of ``root``, its descendants, and anything left in its session.

    The session catches daemons that double-forked away from the tree (the root was
    started as a session leader).
    """
    children: dict[int, list[int]] = {}
    rss, session = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:            # exited between listdir and open
            continue
        fields = stat[stat.rindex(b")") + 2:].split()   # the name may hold spaces
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        session[pid], rss[pid] = int(fields[3]), int(fields[21])
    members = {pid for pid, sid in session.items() if sid == root}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        members.add(pid)
        frontier.extend(children.get(pid, ()))
    return sum(rss.get(pid, 0) for pid in members) * PAGE


@dataclass
class Run:
    """Measurements of one run of one command."""

    rc: int
    wall: float
    cpu_children: float
    cpu_host: float
    rss_peak: int
    stderr_tail: str


def measure(argv: list[str], env: dict[str, str], log_prefix: str, timeout: float) -> Run:
    """Run ``argv`` in a new session; measure wall time, CPU and the tree's peak RSS."""
    peak = [0]
    done = threading.Event()
    with open(log_prefix + ".stdout", "wb") as out, open(log_prefix + ".stderr", "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, t0 = host_cpu_seconds(), time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO,
                                start_new_session=True, stdin=subprocess.DEVNULL)

        def sample() -> None:
            while not done.wait(SAMPLE_EVERY):
                peak[0] = max(peak[0], tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            err.write(f"\nbench: killed after {timeout:.0f} s\n".encode())
        wall = time.perf_counter() - t0
        cpu_host = host_cpu_seconds() - cpu0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        done.set()
        sampler.join()
    try:   # daemons left behind (a JVM, a dask worker) would skew the next run
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    with open(log_prefix + ".stderr", "rb") as f:
        tail = f.read()[-2000:].decode(errors="replace")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(rc, wall, cpu, cpu_host, peak[0], tail)


# ---------------------------------------------------------------------------------------------
# corpora


def size_tag(size: int) -> str:
    """A directory-name tag for a byte count: 256m, 1g, or the number itself."""
    for unit, letter in ((1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")):
        if size % unit == 0:
            return f"{size // unit}{letter}"
    return str(size)


def ensure_corpus(kind: str, size: int, files: int, seed: int, data_dir: str) -> str:
    """Generate the corpus unless an identical one is already there; return its directory.

    A stamp (arguments plus the generator's own hash) is written after the data, so an
    interrupted or outdated generation is redone rather than reused.
    """
    outdir = os.path.join(data_dir, f"{kind}-{size_tag(size)}")
    stamp_path = outdir + ".json"
    with open(GEN_CORPUS, "rb") as f:
        generator = hashlib.sha256(f.read()).hexdigest()
    stamp = dict(kind=kind, size=size, files=files, seed=seed, generator=generator)
    try:
        with open(stamp_path) as f:
            if json.load(f) == stamp and len(part_files(outdir)) == files:
                return outdir
    except (OSError, ValueError):
        pass
    if os.path.exists(stamp_path):
        os.remove(stamp_path)
    print(f"bench: generating {kind} corpus {outdir} ...", file=sys.stderr, flush=True)
    # No manifest in the data folder, so every system can be given the folder as input.
    subprocess.run([sys.executable, GEN_CORPUS, kind, outdir, f"--size={size}",
                    f"--files={files}", f"--seed={seed}", "--no-manifest"], check=True)
    with open(stamp_path, "w") as f:
        json.dump(stamp, f)
    return outdir


def warm_page_cache(indir: str) -> int:
    """Read every input file once so no run pays for the disk; return the bytes read."""
    total = 0
    for path in part_files(indir):
        with open(path, "rb") as f:
            while block := f.read(1 << 23):
                total += len(block)
    return total


# ---------------------------------------------------------------------------------------------
# driver


@dataclass
class Row:
    """Aggregated results of one system on one task."""

    task: str
    system: str
    baseline: bool
    input_bytes: int
    runs: list[Run]
    check: str = "-"


def run_system(system: System, setup: Setup, indir: str, work: str, runs: int,
               timeout: float) -> tuple[list[Run], str | None, str]:
    """Run one system ``runs`` times; return (runs, a failure note or None, output path)."""
    out_root = os.path.join(work, "out", system.task)
    os.makedirs(out_root, exist_ok=True)
    output = os.path.join(out_root, system.name + ("" if system.output_dir else ".out"))
    env = {**os.environ, "TMPDIR": setup.tmp, "PYTHONPATH": REPO, **system.env}
    results = []
    for i in range(1, runs + 1):
        # A fresh output every time, removed outside the timed region.
        shutil.rmtree(output, ignore_errors=True)
        if os.path.exists(output):
            os.remove(output)
        argv = system.command(setup, indir, output)
        log = os.path.join(work, "logs", f"{system.task}-{system.name}-{i}")
        run = measure(argv, env, log, timeout)
        if run.rc != 0:
            tail = "\n".join("    " + line for line in run.stderr_tail.splitlines()[-15:])
            return results, (f"{system.task}/{system.name} failed (exit {run.rc}); "
                             f"skipped.\n  command: {shlex.join(argv)}\n  stderr tail:\n"
                             f"{tail}"), output
        print(f"bench: {system.task}/{system.name} run {i}/{runs}: {run.wall:.2f} s",
              file=sys.stderr, flush=True)
        results.append(run)
    return results, None, output


def fmt_row(row: Row, baselines: dict[str, float]) -> list[str]:
    """The table cells of one row."""
    walls = [r.wall for r in row.runs]
    wall = statistics.median(walls)
    versus = ", ".join(f"{name} {wall / base:.2f}" for name, base in baselines.items())
    return [row.task, row.system, str(len(walls)),
            f"{wall:.2f} ({min(walls):.2f}-{max(walls):.2f})",
            f"{statistics.median(r.cpu_children for r in row.runs):.1f}",
            f"{statistics.median(r.cpu_host for r in row.runs):.1f}",
            f"{max(r.rss_peak for r in row.runs) / (1 << 20):.0f}",
            f"{row.input_bytes / wall / 1e6:.1f}", versus or "-", row.check]


def print_table(rows: list[Row]) -> None:
    """Print the results as one Markdown table."""
    header = ["task", "system", "runs", "wall s median (min-max)", "CPU s ch", "CPU s host",
              "peak RSS MiB", "MB/s", "vs baselines (wall ratio)", "check"]
    cells = []
    for task in TASKS:
        task_rows = [r for r in rows if r.task == task]
        baselines = {r.system: statistics.median(x.wall for x in r.runs)
                     for r in task_rows if r.baseline}
        cells += [fmt_row(r, baselines) for r in task_rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *cells]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _csv(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
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
    p = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=_load_parse_size(), default=256 << 20,
                   help="corpus size per task: 256MB, 1GB, 64KB or bytes; MB = 2**20 "
                   "(default 256MB)")
    p.add_argument("--runs", type=int, default=3, help="runs per system (default 3)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes/threads for the parallel systems (default 2)")
    p.add_argument("--only", type=_csv(TASKS), default=list(TASKS),
                   help="tasks to run: wordcount,sort,jsonl (default all)")
    p.add_argument("--systems", type=_csv(names), default=list(names),
                   help=f"systems to run (default all): {','.join(names)}")
    p.add_argument("--work", default="/tmp/minimr-bench",
                   help="corpora, outputs, logs and scratch go here (default %(default)s)")
    p.add_argument("--files", type=int, default=16, help="files per corpus (default 16)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--json", metavar="FILE", help="append one JSON line per run to FILE")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before a run is killed and its system skipped (default "
                   "60 + 600 per GiB of input: about 3.5 min at 256MB)")
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
        args.timeout = 60 + 600 * args.size / (1 << 30)
    return args


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 if any check mismatched)."""
    args = parse_args(argv)
    for sub in ("data", "out", "tmp", "logs"):
        os.makedirs(os.path.join(args.work, sub), exist_ok=True)
    minimr = (shlex.split(args.minimr) if args.minimr else ["minimr"] if shutil.which("minimr")
              else [sys.executable, "-c", "from minimr.cli import main; main()"])
    setup = Setup(args.workers, os.path.join(args.work, "tmp"), minimr)
    rows: list[Row] = []
    notes: list[str] = []
    mismatched = False
    commit = _git_commit()
    for task in (t for t in TASKS if t in args.only):
        systems = [s for s in SYSTEMS if s.task == task and s.name in args.systems]
        if not systems:
            continue
        indir = ensure_corpus(CORPUS_KIND[task], args.size, args.files, args.seed,
                              os.path.join(args.work, "data"))
        input_bytes = warm_page_cache(indir)
        reference: tuple[str, str] | None = None       # (system, digest)
        for system in sorted(systems, key=lambda s: s.name not in REFERENCE[task]):
            why = missing_requirement(system)
            if why:
                notes.append(f"{task}/{system.name} skipped: {why}")
                continue
            runs, failure, output = run_system(system, setup, indir, args.work, args.runs,
                                               args.timeout)
            if failure:
                notes.append(failure)
            if not runs:
                continue
            row = Row(task, system.name, system.baseline, input_bytes, runs)
            if not failure:
                digest, summary = DIGEST[task](output)
                if reference is None:
                    reference = (system.name, digest)
                    row.check = "reference"
                else:
                    row.check = "OK" if digest == reference[1] else "MISMATCH"
                    mismatched |= row.check == "MISMATCH"
                notes.append(f"{task}/{system.name} output: md5 {digest}, {summary}")
            rows.append(row)
            if args.json:
                with open(args.json, "a") as f:
                    for i, r in enumerate(runs, 1):
                        f.write(json.dumps(dict(
                            time=time.strftime("%Y-%m-%dT%H:%M:%S%z"), commit=commit,
                            task=task, system=system.name, run=i, size=args.size,
                            input_bytes=input_bytes, files=args.files, seed=args.seed,
                            workers=args.workers, cpus=os.cpu_count(), rc=r.rc,
                            wall=round(r.wall, 3), cpu_children=round(r.cpu_children, 2),
                            cpu_host=round(r.cpu_host, 2), rss_peak_mib=round(
                                r.rss_peak / (1 << 20), 1), check=row.check)) + "\n")
    print()
    for note in notes:
        print(note)
    print(f"\nsize {args.size:,} bytes per corpus, {args.files} files, seed {args.seed}, "
          f"workers {args.workers}, {os.cpu_count()} CPUs, commit {commit or '?'}\n")
    if rows:
        print_table(rows)
    else:
        print("no system ran")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
