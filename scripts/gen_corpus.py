#!/usr/bin/env python3
"""Deterministic input corpora for minimr's examples, tests and benchmarks.

Three kinds of data, written as OUTDIR/part-00000.txt, part-00001.txt, ... (events:
part-00000.jsonl ...) plus a
_MANIFEST.sha256 that `sha256sum -c` understands (its `_` keeps it out of the folder's input
for minimr and Hadoop-style readers, which skip names starting with `_` or `.`):

  text  English-like word-count input. Words follow Zipf's law (s = 1) over a 200,000-word
        vocabulary: 100 real English function words first, then synthetic syllable words,
        shorter words more frequent. Lines hold 5-20 tokens; the first word of a line is
        capitalised, a few others are Capitalised or UPPER; punctuation, quotes, parentheses,
        hyphen joins, 's and a few numbers. ASCII only. The total size is exactly --size.
  sort  Fixed-width records for a total-order sort, 100 bytes each including the newline:
        a 10-byte random key of printable ASCII '!'..'~' (no space), 2 spaces, the record
        number as 32 hex digits, 2 spaces, 53 filler letters, '\\n'. Keys are unique with
        overwhelming probability and whole lines are unique, so any correct sort gives the
        same bytes. The total size is --size rounded down to a whole number of records.
  events  JSON lines, one web event a line (about 150 bytes): a timestamp, a user (Zipf over
        50,000 ids u00000..u49999, s = 1), a kind (view, click, search, cart, buy, with
        falling weights), a page, a duration in ms, a few tags and a short text of corpus
        words. Keys in a fixed order, ASCII only. The total size is --size, short by less
        than one line per file. For JSON-lines jobs (group and count by a field).

Output depends only on (kind, --size, --files, --seed): the same arguments give
byte-identical files on any machine and with any --jobs. Text is fast because lines are
rendered once into a pool of a few MiB (Zipf-sampled, with random.Random) and the files are
then assembled by picking pool lines with a seeded generator; sort records are built with
strided bytearray writes, never one Python call per record.

examples:
  python scripts/gen_corpus.py text /tmp/corpus/text-256m --size 256MB
  python scripts/gen_corpus.py sort /tmp/corpus/sort-1g --size 1GB --files 16 --seed 7
  python scripts/gen_corpus.py events /tmp/corpus/events-256m --size 256MB
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import corpora.events
import corpora.sort
import corpora.text
from corpora import GiB, KiB, MiB  # each kind's generator: scripts/corpora/

MANIFEST = "_MANIFEST.sha256"
PART_NAME = "part-{:05d}.txt"
PART_SUFFIX = {"text": ".txt", "sort": ".txt", "events": ".jsonl"}
# the manifest's name before it took its "_" (an earlier output of ours, replaced like one)
_OLD_MANIFEST = "MANIFEST.sha256"
_OWN_FILE = re.compile("|".join([r"part-\d{5}\.(txt|jsonl)", re.escape(MANIFEST),
                                 re.escape(_OLD_MANIFEST)]))

# ---------------------------------------------------------------------------------------------
# sizes


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)
_UNIT = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Parse a size such as ``256MB``, ``1GB``, ``64KB``, ``1.5G`` or ``1000000``.

    Units are binary: KB = KiB = 2**10, MB = 2**20, GB = 2**30 (``B`` and ``iB`` are optional).

    Raises:
        ValueError: the text is not a size, or the size is zero.
    """
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(f"size must look like 256MB, 1GB, 64KB or a byte count (got {text!r})")
    value = int(float(m.group(1)) * _UNIT[m.group(2).lower()])
    if value <= 0:
        raise ValueError(f"size must be positive (got {text!r})")
    return value



# ---------------------------------------------------------------------------------------------
# driver


def _executor(jobs: int) -> ProcessPoolExecutor | None:
    """A fork-based process pool, or None to run inline (jobs == 1 or no fork here)."""
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))


def _run_all(jobs: int, fn: Callable[..., object], calls: list[tuple]) -> list:
    """``fn(*args)`` for each of ``calls``, in up to ``jobs`` forked worker processes."""
    pool = _executor(min(jobs, len(calls)))
    if pool is None:
        return [fn(*args) for args in calls]
    with pool:
        return list(pool.map(fn, *zip(*calls, strict=True)))


def _prepare_outdir(outdir: str) -> None:
    """Create ``outdir``, clearing earlier output of ours; refuse to mix with other files."""
    os.makedirs(outdir, exist_ok=True)
    names = os.listdir(outdir)
    foreign = sorted(n for n in names if not _OWN_FILE.fullmatch(n))
    if foreign:
        raise SystemExit(f"gen_corpus: {outdir} holds files this script did not write "
                         f"({', '.join(foreign[:3])}{'...' if len(foreign) > 3 else ''}); "
                         "give an empty or new directory")
    for name in names:   # stale parts of an earlier run with more --files
        os.remove(os.path.join(outdir, name))


def generate(kind: str, outdir: str, size: int, files: int = 16, seed: int = 1,
             jobs: int = 1, manifest: bool = True) -> list[tuple[str, int, str]]:
    """Write a corpus and return (file name, bytes, sha256) per part.

    Args:
        kind: "text", "sort" or "events".
        outdir: directory to write; created if needed, must hold only earlier output.
        size: total bytes (text: exact; sort: rounded down to whole 100-byte records;
            events: short by less than a line per file).
        files: number of part files; sizes differ by at most one line or record.
        seed: any integer; same arguments give the same bytes.
        jobs: worker processes (the output does not depend on it).
        manifest: also write _MANIFEST.sha256.

    Raises:
        ValueError: size too small for the number of files, or unknown kind.
    """
    if files < 1:
        raise ValueError(f"files must be at least 1 (got {files})")
    if kind == "text" and size < 64 * files:
        raise ValueError(f"text size must be at least 64 bytes per file "
                         f"({64 * files} for {files} files; got {size})")
    record = corpora.sort.RECORD
    if kind == "sort" and size // record < files:
        raise ValueError(f"sort size must hold at least one {record}-byte record per file "
                         f"({record * files} bytes for {files} files; got {size})")
    if kind == "events" and size < 512 * files:
        raise ValueError(f"events size must be at least 512 bytes per file "
                         f"({512 * files} for {files} files; got {size})")
    if kind not in PART_SUFFIX:
        raise ValueError(f"kind must be 'text', 'sort' or 'events' (got {kind!r})")
    _prepare_outdir(outdir)
    names = [PART_NAME.format(i).replace(".txt", PART_SUFFIX[kind]) for i in range(files)]
    paths = [os.path.join(outdir, n) for n in names]
    if kind == "text":
        results = corpora.text.write_parts(partial(_run_all, jobs), paths, size, seed)
    elif kind == "events":
        bounds = [size * i // files for i in range(files + 1)]
        results = _run_all(jobs, corpora.events.write_part,
                           [(paths[i], bounds[i + 1] - bounds[i], seed, i) for i in range(files)])
    else:
        records = size // record
        bounds = [records * i // files for i in range(files + 1)]
        results = _run_all(jobs, corpora.sort.write_part,
                           [(paths[i], seed, i, bounds[i], bounds[i + 1] - bounds[i])
                            for i in range(files)])
    parts = [(name, n, digest) for name, (n, digest) in zip(names, results, strict=True)]
    if manifest:
        with open(os.path.join(outdir, MANIFEST), "w") as out:
            out.writelines(f"{digest}  {name}\n" for name, _, digest in parts)
    return parts


def _size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="gen_corpus.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=tuple(PART_SUFFIX), help="which corpus to write")
    parser.add_argument("outdir", help="output directory (created; must be empty or hold only "
                        "an earlier output of this script, which is replaced)")
    parser.add_argument("--size", type=_size_arg, default=256 * MiB, metavar="SIZE",
                        help="total size: 256MB, 1GB, 64KB or a byte count; units are binary "
                        "(MB = 2**20 bytes, GB = 2**30). Default 256MB")
    parser.add_argument("--files", type=_positive_int, default=16,
                        help="number of part files (default 16)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                        help="worker processes; does not change the output "
                        "(default: CPU count, %(default)s here)")
    parser.add_argument("--no-manifest", dest="manifest", action="store_false",
                        help=f"do not write {MANIFEST} (e.g. when a tool would read every "
                        "file in the directory as input)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        parts = generate(args.kind, args.outdir, args.size, args.files, args.seed, args.jobs,
                         args.manifest)
    except ValueError as e:
        parser.error(str(e))
    total = sum(n for _, n, _ in parts)
    print(f"gen_corpus: wrote {args.kind} corpus, {len(parts)} files, {total:,} bytes "
          f"to {args.outdir} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
