"""The job zoo of scripts/bench.py: its groups, their corpora, the systems and output checks.

A group is one piece of work (a word count, a join, a sort ...) done by several systems: a
hand-written baseline (a ``multiprocessing.Pool`` script of scripts/baselines/, GNU sort),
minimr running the job written plainly with the class API (``minimr-plain``), minimr running
it in the declared forms where they apply (``minimr-declared``), and PySpark and Dask where
a script exists and the package imports. Every system of a group reads the same corpus, and
its output is checked against the group's reference (the first baseline that ran).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(REPO, "scripts")
BASELINES = os.path.join(SCRIPTS, "baselines")
BENCHJOBS = "scripts/benchjobs"
JSONL_FIELD = "user"    # what the jsonl groups group by
JSONL_VALUE = "ms"      # what jsonsum adds up
TOP_N = "100"           # the topwords group's N (jobs/top_words.py reads $MINIMR_TOP_N)

# ---------------------------------------------------------------------------------------------
# corpora


@dataclass(frozen=True)
class Corpus:
    """A generated input: ``generator`` writes it into a directory.

    ``fixed`` is (bytes, files) for a corpus whose shape does not follow --size and --files
    (the small files).
    """

    name: str
    generator: str                     # a script of scripts/
    kind: str | None = None            # gen_corpus.py's kind
    fixed: tuple[int, int] | None = None

    def command(self, outdir: str, size: int, files: int, seed: int) -> list[str]:
        """The command line that writes this corpus into ``outdir``."""
        script = [sys.executable, os.path.join(SCRIPTS, self.generator)]
        if self.kind is None:
            return [*script, outdir, f"--size={size}", f"--files={files}", f"--seed={seed}"]
        return [*script, self.kind, outdir, f"--size={size}", f"--files={files}",
                f"--seed={seed}", "--no-manifest"]


TEXT = Corpus("text", "gen_corpus.py", "text")
SORT = Corpus("sort", "gen_corpus.py", "sort")
EVENTS = Corpus("events", "gen_corpus.py", "events")
JOIN = Corpus("join", "gen_join_tables.py")
# 10,000 text files of about 2.3 KB, whatever --size says (issue 20, item 3)
SMALL_FILES = Corpus("smallfiles", "gen_corpus.py", "text", fixed=(23_000_000, 10_000))

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


def canonical_pair(line: str) -> str:
    """One output line as ``key<TAB>value``.

    Accepts the baselines' ``key<TAB>value``, minimr's ``repr(key)<TAB>repr(value)`` and a
    printed tuple ``('word', 42)`` (Spark's and Dask's default text form).
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


Fingerprint = tuple[object, str]     # (what is compared, a short summary for the notes)


def lines_digest(canonical: Callable[[str], str] = str.rstrip, counted: bool = False
                 ) -> Callable[[str, str], Fingerprint]:
    """A check of a small output: md5 of its sorted canonical lines.

    With ``counted``, the summary also adds up the values (counts) of ``key<TAB>count`` lines.
    """
    def digest(output: str, tmp: str) -> Fingerprint:
        lines = []
        for path in part_files(output):
            with open(path, encoding="utf-8") as f:
                lines.extend(canonical(line) for line in f if line.strip())
        lines.sort()
        md5 = hashlib.md5("".join(f"{line}\n" for line in lines).encode()).hexdigest()
        summary = f"md5 {md5}, {len(lines):,} lines"
        if counted:
            summary += f", {sum(int(line.rsplit(chr(9), 1)[1]) for line in lines):,} counted"
        return md5, summary
    return digest


# word counts and every other ``key<TAB>number`` output
COUNTS = lines_digest(canonical_pair, counted=True)


def sort_digest(output: str, tmp: str) -> Fingerprint:
    """md5 of the concatenated canonical records of a sort output (their order counts)."""
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
    return md5.hexdigest(), f"md5 {md5.hexdigest()}, {records:,} records"


_JOIN_DROP = b"'()"


def join_digest(output: str, tmp: str) -> Fingerprint:
    """md5 of a join output's rows as sorted ``user_id<TAB>name<TAB>country<TAB>order<TAB>amount``.

    minimr writes ``'24'<TAB>('Ken Goldwasser', 'US', '100001', '85.66')``: dropping quotes and
    parentheses and turning ``, `` into a tab gives the baseline's line (the tables hold no
    quote, parenthesis or comma). Too many rows to sort in Python: GNU sort does it.
    """
    rows_path = os.path.join(tmp, "join-rows")
    with open(rows_path, "wb") as out:
        for path in part_files(output):
            with open(path, "rb") as f:
                while lines := f.readlines(1 << 22):     # whole lines, about 4 MiB
                    if not lines[-1].endswith(b"\n"):    # Dask ends a part without one
                        lines[-1] += b"\n"
                    out.write(b"".join(lines).translate(None, _JOIN_DROP).replace(b", ", b"\t"))
    subprocess.run(["sort", "-S", "1G", "-T", tmp, "-o", rows_path, rows_path], check=True,
                   env={**os.environ, "LC_ALL": "C"})
    md5, rows = hashlib.md5(), 0
    with open(rows_path, "rb") as f:
        while block := f.read(1 << 22):
            md5.update(block)
            rows += block.count(b"\n")
    os.remove(rows_path)
    return md5.hexdigest(), f"md5 {md5.hexdigest()}, {rows:,} rows"


def float_values(output: str, tmp: str) -> Fingerprint:
    """A ``key<TAB>float`` output as a dict: float sums depend on their order, so two
    correct outputs agree to rounding only (compared by ``close_values``)."""
    values: dict[str, float] = {}
    for path in part_files(output):
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, value = line.rstrip("\n").split("\t")
                values[_unrepr(key)] = float(value)
    mean = math.fsum(values.values()) / max(len(values), 1)
    return values, f"{len(values):,} keys, mean of values {mean:.6f}"


def close_values(a: object, b: object) -> bool:
    """Whether two ``float_values`` dicts have the same keys and values within 1e-9."""
    assert isinstance(a, dict) and isinstance(b, dict)
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


def _equal(a: object, b: object) -> bool:
    return a == b


@dataclass(frozen=True)
class Group:
    """One piece of work of the zoo, done by every system that names this group."""

    name: str
    corpus: Corpus
    reference: tuple[str, ...]                  # the systems whose output is the reference
    fingerprint: Callable[[str, str], Fingerprint]
    same: Callable[[object, object], bool] = _equal
    inputs: tuple[str, ...] = ("",)            # sub-folders of the corpus the systems read
    about: str = ""
    versus: str = "pool"                        # the baseline the zoo table's ratios divide by


GROUPS = (
    Group("wordcount", TEXT, ("serial", "pool"), COUNTS,
          about="the README's word count"),
    Group("wcfilter", TEXT, ("pool",), COUNTS,
          about="words longer than two letters; loops add up in combine and reduce"),
    Group("index", TEXT, ("pool",), lines_digest(), about="inverted index: word -> documents"),
    Group("join", JOIN, ("pool",), join_digest, inputs=("users", "orders"),
          about="users x orders on user_id, inner"),
    Group("joinmap", JOIN, ("pool",), join_digest, inputs=("users", "orders"),
          about="the join, replicated: the users a side file loaded by each map task, map-only"),
    Group("jsonl", EVENTS, ("pool",), COUNTS,
          about=f"JSON lines counted by {JSONL_FIELD!r}"),
    Group("jsonsum", EVENTS, ("pool",), COUNTS,
          about=f"JSON lines: sum of {JSONL_VALUE!r} by {JSONL_FIELD!r}"),
    Group("average", JOIN, ("pool",), float_values, close_values, inputs=("orders",),
          about="mean order amount (float) per user"),
    Group("sort", SORT, ("gnusort", "pysort"), sort_digest, about="100-byte records",
          versus="gnusort"),
    Group("topwords", TEXT, ("pool",), lines_digest(),
          about=f"two steps: word count, then the top {TOP_N}"),
    Group("smallfiles", SMALL_FILES, ("pool",), COUNTS,
          about="word count of 10,000 files of 2.3 KB"),
)
GROUP = {g.name: g for g in GROUPS}

# ---------------------------------------------------------------------------------------------
# systems


@dataclass(frozen=True)
class Setup:
    """What a command line needs besides its input and output paths."""

    workers: int
    tmp: str
    minimr: list[str]
    inline: bool = False       # run the minimr rows in one process (checks, not timings)


Command = Callable[[Setup, list[str], str], list[str]]   # (setup, input dirs, output path)


@dataclass(frozen=True)
class System:
    """One row of the table: how to run it and how to read what it wrote.

    ``zoo`` rows run by default; the others when --systems names them.
    """

    name: str
    group: str
    baseline: bool
    command: Command
    requires: tuple[str, ...] = ()                    # modules that must import
    output_dir: bool = True                           # writes a directory of part files
    env: dict[str, str] = field(default_factory=dict)
    zoo: bool = True
    job: str | None = None                            # a minimr row's job file


def _script(name: str, *args: str) -> Command:
    """A baseline script run on the input folders, the output and then ``args``."""
    def command(s: Setup, inputs: list[str], out: str) -> list[str]:
        extra = [a.replace("{workers}", str(s.workers)) for a in args]
        return [sys.executable, os.path.join(BASELINES, name), *inputs, out, *extra]
    return command


def _minimr_system(name: str, group: str, job: str, *extra: str, inline: bool = False,
                   zoo: bool = True, requires: tuple[str, ...] = (),
                   env: dict[str, str] | None = None, side_files: int = 0) -> System:
    """A minimr row: ``job`` submitted on the group's inputs, the first ``side_files`` of
    them shipped as side files (``--file``) rather than read as inputs."""
    def command(s: Setup, inputs: list[str], out: str) -> list[str]:
        where = ["--inline"] if inline or s.inline else ["--workers", str(s.workers)]
        return [*s.minimr, "submit", os.path.join(REPO, job),
                *(arg for i in inputs[:side_files] for arg in ("--file", i)),
                *(arg for i in inputs[side_files:] for arg in ("--input", i)), "--output", out,
                "--overwrite", "--quiet", *where, *extra]
    return System(name, group, False, command, requires, env=env or {}, zoo=zoo, job=job)


def _gnu_sort(s: Setup, inputs: list[str], out: str) -> list[str]:
    return ["sort", f"--parallel={s.workers}", "-S", "4G", "-T", s.tmp, "-o", out,
            *part_files(inputs[0])]


def _pool(group: str, script: str, *args: str) -> System:
    return System("pool", group, True, _script(script, *args, "{workers}"), output_dir=False)


def _spark(group: str, script: str | None = None) -> System:
    """A PySpark row: ``script INPUT OUTPUT WORKERS``, else the job of zoo_spark.py."""
    command = _script(script, "{workers}") if script else _engine("zoo_spark.py", group)
    return System("spark", group, True, command, ("pyspark",))


def _dask(group: str, script: str | None = None) -> System:
    """A Dask row: ``script INPUT OUTPUT WORKERS``, else the job of zoo_dask.py."""
    command = _script(script, "{workers}") if script else _engine("zoo_dask.py", group)
    return System("dask", group, True, command, ("dask.bag", "distributed"))


def _engine(script: str, group: str) -> Command:
    """zoo_spark.py's or zoo_dask.py's command line: the job's name first."""
    def command(s: Setup, inputs: list[str], out: str) -> list[str]:
        return [sys.executable, os.path.join(BASELINES, script), group, str(s.workers), out,
                *inputs]
    return command


def _mrjob_files(s: Setup, inputs: list[str], out: str) -> list[str]:
    return [sys.executable, os.path.join(BASELINES, "wc_mrjob.py"), "-r", "local", "--no-conf",
            *part_files(inputs[0]), "--output-dir", out]


JSONL_ARGS = ("--field", JSONL_FIELD)
SUM_ARGS = ("--field", JSONL_FIELD, "--value", JSONL_VALUE)

SYSTEMS = (
    # wordcount
    System("serial", "wordcount", True, _script("wc_serial.py"), output_dir=False, zoo=False),
    _pool("wordcount", "wc_pool.py"),
    _spark("wordcount", "wc_spark.py"),
    _dask("wordcount", "wc_dask.py"),
    System("mrjob", "wordcount", True, _mrjob_files, ("mrjob",), zoo=False),
    _minimr_system("minimr-plain", "wordcount", f"{BENCHJOBS}/wordcount_class.py"),
    _minimr_system("minimr-declared", "wordcount", "jobs/wordcount.py"),
    _minimr_system("minimr-inline", "wordcount", "jobs/wordcount.py", inline=True, zoo=False),
    _minimr_system("minimr-local", "wordcount", "jobs/wordcount.py", zoo=False),
    _minimr_system("minimr-batch", "wordcount", "jobs/wordcount_batch.py", zoo=False),
    _minimr_system("minimr-final", "wordcount", "jobs/wordcount_final.py", zoo=False),
    _minimr_system("minimr-functions", "wordcount", "jobs/wordcount_functions.py", zoo=False),
    _minimr_system("minimr-mrjob", "wordcount", "scripts/baselines/wc_mrjob.py", zoo=False,
                   requires=("mrjob",)),
    # wcfilter
    _pool("wcfilter", "wc_filtered_pool.py"),
    _spark("wcfilter"),
    _dask("wcfilter"),
    _minimr_system("minimr-plain", "wcfilter", "jobs/wordcount_filtered.py"),
    _minimr_system("minimr-declared", "wcfilter", f"{BENCHJOBS}/wordcount_filter_declared.py"),
    # index
    _pool("index", "index_pool.py"),
    _spark("index"),
    _dask("index"),
    _minimr_system("minimr-plain", "index", "jobs/inverted_index.py"),
    _minimr_system("minimr-declared", "index", f"{BENCHJOBS}/inverted_index_declared.py"),
    # join
    System("pool", "join", True, _script("join_pool.py", "{workers}")),
    _spark("join"),
    _dask("join"),
    _minimr_system("minimr-plain", "join", "jobs/join.py"),
    # joinmap: the users table (a folder of parts) shipped to every map task
    System("pool", "joinmap", True, _script("join_pool.py", "{workers}")),
    _minimr_system("minimr-plain", "joinmap", "jobs/join_replicated.py", "--users", "users",
                   side_files=1),
    # jsonl
    _pool("jsonl", "events_pool.py", JSONL_FIELD),
    _spark("jsonl"),
    _dask("jsonl"),
    _minimr_system("minimr-plain", "jsonl", "jobs/count_by.py", *JSONL_ARGS),
    _minimr_system("minimr-declared", "jsonl", f"{BENCHJOBS}/count_by_declared.py",
                   *JSONL_ARGS),
    _minimr_system("minimr-inline", "jsonl", "jobs/count_by.py", *JSONL_ARGS, inline=True,
                   zoo=False),
    _minimr_system("minimr-local", "jsonl", "jobs/count_by.py", *JSONL_ARGS, zoo=False),
    # jsonsum
    _pool("jsonsum", "sum_pool.py", JSONL_FIELD, JSONL_VALUE),
    _spark("jsonsum"),
    _dask("jsonsum"),
    _minimr_system("minimr-plain", "jsonsum", f"{BENCHJOBS}/sum_by.py", *SUM_ARGS),
    _minimr_system("minimr-declared", "jsonsum", f"{BENCHJOBS}/sum_by_declared.py", *SUM_ARGS),
    # average
    _pool("average", "avg_pool.py"),
    _spark("average"),
    _dask("average"),
    _minimr_system("minimr-plain", "average", f"{BENCHJOBS}/average_by.py"),
    # sort
    System("gnusort", "sort", True, _gnu_sort, output_dir=False, env={"LC_ALL": "C"}),
    System("pysort", "sort", True, _script("sort_python.py"), output_dir=False, zoo=False),
    _spark("sort", "sort_spark.py"),
    _minimr_system("minimr-plain", "sort", "jobs/sort.py"),
    _minimr_system("minimr-inline", "sort", "jobs/sort.py", inline=True, zoo=False),
    _minimr_system("minimr-local", "sort", "jobs/sort.py", zoo=False),
    # topwords
    _pool("topwords", "top_pool.py"),
    _spark("topwords"),
    _dask("topwords"),
    _minimr_system("minimr-plain", "topwords", "jobs/top_words.py",
                   env={"MINIMR_TOP_N": TOP_N}),
    _minimr_system("minimr-declared", "topwords", f"{BENCHJOBS}/top_words_declared.py"),
    # smallfiles
    _pool("smallfiles", "wc_pool.py"),
    _spark("smallfiles"),
    _dask("smallfiles"),
    _minimr_system("minimr-plain", "smallfiles", f"{BENCHJOBS}/wordcount_class.py"),
    _minimr_system("minimr-declared", "smallfiles", "jobs/wordcount.py"),
)


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
    if system.job and not os.path.exists(os.path.join(REPO, system.job)):
        return f"{system.job} does not exist"
    return None
