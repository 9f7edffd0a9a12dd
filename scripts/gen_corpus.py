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
import hashlib
import itertools
import multiprocessing
import operator
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
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
# vocabulary

VOCAB_SIZE = 200_000

# The 100 most frequent English words (function words first): they take the top Zipf ranks,
# so the head of the frequency table looks like real text.
FUNCTION_WORDS = """
the of and to a in is you that it he was for on are as with his they i at be this have from
or one had by but not what all were we when your can said there use an each which she do how
their if will up other about out many then them these so some her would make like him into
time has look two more go see no way could people my than first been call who its now find
long down day did get come made may part over new after
""".split()

# Syllable parts for the synthetic words. Repeated entries are cheap weights.
_ONSETS = ("", "", "", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t",
           "v", "w", "y", "bl", "br", "ch", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "sl",
           "sp", "st", "str", "th", "tr", "wh")
_VOWELS = ("a", "a", "e", "e", "i", "o", "o", "u", "ai", "ea", "ee", "oa", "oo", "ou", "y")
_CODAS = ("", "", "", "", "n", "n", "r", "s", "t", "l", "m", "d", "nd", "st", "ck", "ng", "rt",
          "ll", "sh", "x")
_ENDINGS = ("", "", "", "", "", "", "s", "s", "ed", "ing", "er", "ly", "ness", "tion", "ful")
_SYLLABLES = tuple(o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS)


def build_vocabulary(seed: int, size: int = VOCAB_SIZE) -> list[str]:
    """Return ``size`` distinct lowercase words, most frequent (Zipf rank 1) first.

    The function words lead; synthetic words follow, ordered by length plus a random jitter
    of up to five letters, so shorter words tend to rank higher (as in real text) without the
    order being strictly by length.
    """
    rng = random.Random(f"{seed}:vocabulary")
    # Whole columns at a time through map(): one C-level loop per column, not per word.
    # 1-4 syllables, mostly 2. Half again as many candidates as needed: about an eighth are
    # duplicates, and the (jittered) longest of the rest are dropped.
    need = (size - len(FUNCTION_WORDS)) * 3 // 2
    counts = (need * 22 // 100, need * 46 // 100, need * 24 // 100, need * 8 // 100)
    candidates: list[str] = []
    for syllables, n in enumerate(counts, 1):
        words = rng.choices(_ENDINGS, k=n)
        for _ in range(syllables):
            words = list(map(operator.add, rng.choices(_SYLLABLES, k=n), words))
        candidates += words
    common = set(FUNCTION_WORDS)
    unique = [w for w in dict.fromkeys(candidates) if w not in common]
    keys = list(map(operator.add, map(len, unique), [5.0 * rng.random() for _ in unique]))
    # Sorting indices by a float key is several times faster than sorting (key, word) tuples.
    ranked = [unique[i] for i in sorted(range(len(unique)), key=keys.__getitem__)]
    synthetic = size - len(FUNCTION_WORDS)
    if len(ranked) < synthetic:
        raise RuntimeError(f"only {len(ranked)} distinct synthetic words; need {synthetic}")
    return FUNCTION_WORDS + ranked[:synthetic]


# ---------------------------------------------------------------------------------------------
# text: a pool of rendered lines, then files assembled from it

LINE_TOKENS = range(5, 21)
# What follows a token inside a line, with weights. ' "' and ' (' open a quote or a
# parenthesis on the next token; '-' makes a hyphenated compound.
_GAPS = ((" ", 8200), (", ", 700), (". ", 250), ("; ", 60), (": ", 40), ("? ", 40), ("! ", 30),
         ("-", 100), ("'s ", 80), (' "', 100), ('" ', 100), (" (", 80), (") ", 80))
_LINE_ENDS = ((".\n", 70), ("\n", 12), ("?\n", 8), ("!\n", 5), (":\n", 2), ('."\n', 3))
# Token case: lower, Capitalised, UPPER, or a number (its Zipf rank, so small numbers
# are common). Weights in 1/10000.
_CASE_WEIGHTS = (9300, 600, 40, 60)
POOL_SHARDS = 8                    # fixed, so the pool never depends on --jobs
POOL_MAX = 32 * MiB                # enough lines to use nearly every vocabulary word
POOL_MIN = 64 * KiB


def _cumulative(weights: Iterator[float] | tuple[int, ...]) -> list[float]:
    return list(itertools.accumulate(weights))


class TextTables:
    """Everything needed to render lines: word spellings per case and cumulative weights."""

    def __init__(self, seed: int) -> None:
        vocab = build_vocabulary(seed)
        self.vocab = vocab
        self.ranks = range(len(vocab))
        self.zipf_cum = _cumulative(1.0 / r for r in range(1, len(vocab) + 1))
        lower, capital = vocab, list(map(str.capitalize, vocab))
        self.cases = (lower, capital, list(map(str.upper, vocab)),
                      list(map(str, range(1, len(vocab) + 1))))
        self.case_cum = _cumulative(_CASE_WEIGHTS)
        self.capital = capital
        self.gaps = [g for g, _ in _GAPS]
        self.gap_cum = _cumulative(w for _, w in _GAPS)
        self.ends = [e for e, _ in _LINE_ENDS]
        self.end_cum = _cumulative(w for _, w in _LINE_ENDS)
        self.by_length: dict[int, list[str]] = {}
        for w in vocab:
            self.by_length.setdefault(len(w), []).append(w)
        missing = [n for n in range(1, 13) if n not in self.by_length]
        if missing:    # filler_line relies on every length 1..12 existing
            raise RuntimeError(f"vocabulary has no words of length {missing}")

    def render_lines(self, rng: random.Random, count: int) -> list[str]:
        """Render ``count`` random lines (each ending in a newline)."""
        lengths = rng.choices(LINE_TOKENS, k=count)
        total = sum(lengths)
        ranks = rng.choices(self.ranks, cum_weights=self.zipf_cum, k=total)
        cases = rng.choices(self.cases, cum_weights=self.case_cum, k=total)
        gaps = rng.choices(self.gaps, cum_weights=self.gap_cum, k=total)
        ends = rng.choices(self.ends, cum_weights=self.end_cum, k=count)
        # map(getitem, ...) spells every token in C; only the per-line work is Python.
        words = list(map(operator.getitem, cases, ranks))
        tokens = list(map(operator.add, words, gaps))
        lower, capital = self.cases[0], self.capital
        lines = []
        start = 0
        for n, end in zip(lengths, ends, strict=True):
            last = start + n - 1
            first = capital[ranks[start]] if cases[start] is lower else words[start]
            lines.append(first + gaps[start] + "".join(tokens[start + 1:last]) + words[last]
                         + end)
            start = last + 1
        return lines

    def filler_line(self, rng: random.Random, nbytes: int) -> bytes:
        """A line of exactly ``nbytes`` bytes (newline included) made of vocabulary words."""
        room = nbytes - 1
        words = []
        while room > 0:
            if room <= 12:
                words.append(rng.choice(self.by_length[room]))
                room = 0
            else:      # leave at least one letter after the space
                n = rng.randint(2, min(10, room - 2))
                words.append(rng.choice(self.by_length[n]))
                room -= n + 1
        return (" ".join(words).capitalize() + "\n").encode("ascii")


# Set in the parent before worker processes fork, so workers share them copy-on-write
# instead of receiving megabytes of pickled state per task.
_TABLES: TextTables | None = None
_POOL: list[bytes] = []
_LONGEST = 0                       # max(map(len, _POOL)), once, not once per file


def _pool_shard(seed: int, shard: int, nbytes: int) -> list[bytes]:
    assert _TABLES is not None
    rng = random.Random(f"{seed}:pool:{shard}")
    lines: list[bytes] = []
    have = 0
    while have < nbytes:
        batch = [s.encode("ascii") for s in _TABLES.render_lines(rng, 2048)]
        lines.extend(batch)
        have += sum(map(len, batch))
    return lines


def _write_text_part(path: str, target: int, seed: int, index: int) -> tuple[int, str]:
    """Write exactly ``target`` bytes of pool lines to ``path``; return (bytes, sha256)."""
    assert _TABLES is not None
    rng = random.Random(f"{seed}:text-part:{index}")
    pool, longest = _POOL, _LONGEST
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as out:
        def emit(data: bytes) -> None:
            nonlocal written
            out.write(data)
            digest.update(data)
            written += len(data)

        # Batches sized so they can never overshoot: k lines of at most `longest` bytes.
        while (k := min(65_536, (target - written) // longest)) > 0:
            emit(b"".join(rng.choices(pool, k=k)))
        # Top up line by line, then one filler line makes the size exact.
        while True:
            line = rng.choice(pool)
            if len(line) > target - written - 16:
                break
            emit(line)
        if target > written:
            emit(_TABLES.filler_line(rng, target - written))
    return written, digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# sort records

RECORD = 100
_KEY_CHARS = 94                          # '!' (0x21) .. '~' (0x7e)
# Random bytes >= 188 are dropped and the rest mapped b -> '!' + b % 94, which keeps every key
# character equally likely (188 = 2 * 94) using only C-level bytes.translate.
_KEY_TABLE = bytes(0x21 + b % _KEY_CHARS for b in range(256))
_KEY_DROP = bytes(range(2 * _KEY_CHARS, 256))
_HEX = b"0123456789ABCDEF"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Records whose numbers differ by 26 look alike apart from key and number, so a 26-record
# template tiles every chunk.
_TEMPLATE = b"".join(
    b" " * 10 + b"  " + b"0" * 32 + b"  " + (_ALPHABET * 3)[m:m + 53] + b"\n" for m in range(26))
_HEX_COLUMN_END = 43                     # offset of the last hex digit in a record
_CYCLIC_DIGITS = 4                       # digits 0..3 repeat with a period of <= 64 KiB


def _random_keys(rng: random.Random, nbytes: int) -> bytes:
    keys = bytearray()
    while len(keys) < nbytes:
        keys += rng.randbytes((nbytes - len(keys)) * 4 // 3 + 64).translate(_KEY_TABLE, _KEY_DROP)
    return bytes(keys[:nbytes])


def _digit_column(first: int, count: int, digit: int) -> bytes:
    """Hex digit number ``digit`` (0 = least significant) of records first..first+count-1."""
    run = 16 ** digit                    # consecutive records sharing this digit's value
    if digit < _CYCLIC_DIGITS:
        period = b"".join(bytes([h]) * run for h in _HEX)
        start = first % len(period)
        reps = (start + count) // len(period) + 1
        return (period * reps)[start:start + count]
    runs, n, end = [], first, first + count
    while n < end:
        stop = min(end, (n // run + 1) * run)
        runs.append(bytes((_HEX[(n >> (4 * digit)) & 15],)) * (stop - n))
        n = stop
    return b"".join(runs)


def sort_chunks(seed: int, index: int, first: int, count: int,
                chunk: int = 65_536) -> Iterator[bytes]:
    """Yield the ``count`` records numbered from ``first`` of part ``index``, in chunks."""
    rng = random.Random(f"{seed}:sort-part:{index}")
    n, end = first, first + count
    while n < end:
        k = min(chunk, end - n)
        start = n % 26
        buf = bytearray((_TEMPLATE * ((start + k) // 26 + 1))[start * RECORD:(start + k) * RECORD])
        keys = _random_keys(rng, 10 * k)
        for c in range(10):
            buf[c::RECORD] = keys[c::10]
        digit = 0
        while (n + k - 1) >> (4 * digit):        # higher digits are all '0' already
            buf[_HEX_COLUMN_END - digit::RECORD] = _digit_column(n, k, digit)
            digit += 1
        yield bytes(buf)
        n += k


def _write_sort_part(path: str, seed: int, index: int, first: int,
                     count: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as out:
        for data in sort_chunks(seed, index, first, count):
            out.write(data)
            digest.update(data)
            written += len(data)
    return written, digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# events: JSON lines, rendered a batch at a time from columns

EVENT_USERS = 50_000
EVENT_KINDS = (("view", 60), ("click", 25), ("search", 8), ("cart", 5), ("buy", 2))
EVENT_TAGS = ("new", "sale", "mobile", "desktop", "returning", "promo", "beta", "eu", "us")
EVENT_BATCH = 4096
_EVENT = ('{"ts": %d, "user": "u%05d", "kind": "%s", "page": "/%s/%d", "ms": %d, '
          '"tags": [%s], "text": "%s"}\n')
_USER_CUM = _cumulative(1.0 / r for r in range(1, EVENT_USERS + 1))
_KIND_CUM = _cumulative(w for _, w in EVENT_KINDS)
_TAG_LISTS = tuple(", ".join(f'"{t}"' for t in EVENT_TAGS[i:i + n])
                   for n in range(4) for i in range(len(EVENT_TAGS) - n + 1))


def event_lines(rng: random.Random, first: int, count: int) -> list[bytes]:
    """``count`` event lines numbered from ``first`` (their timestamps follow it)."""
    words = FUNCTION_WORDS
    kinds = rng.choices([k for k, _ in EVENT_KINDS], cum_weights=_KIND_CUM, k=count)
    columns = zip(range(1_700_000_000 + first, 1_700_000_000 + first + count),
                  rng.choices(range(EVENT_USERS), cum_weights=_USER_CUM, k=count),
                  kinds, rng.choices(("item", "list", "cart", "home"), k=count),
                  rng.choices(range(10_000), k=count), rng.choices(range(5, 3000), k=count),
                  rng.choices(_TAG_LISTS, k=count),
                  (" ".join(rng.choices(words, k=n)) for n in rng.choices(range(3, 12), k=count)),
                  strict=False)
    return [(_EVENT % fields).encode("ascii") for fields in columns]


def _write_events_part(path: str, target: int, seed: int, index: int) -> tuple[int, str]:
    """Write event lines to ``path`` until the next would pass ``target`` bytes."""
    rng = random.Random(f"{seed}:events-part:{index}")
    digest = hashlib.sha256()
    written = number = 0
    with open(path, "wb") as out:
        while written < target:
            lines = event_lines(rng, index * 10**9 + number, EVENT_BATCH)
            number += EVENT_BATCH
            data = b"".join(lines)
            if written + len(data) > target:  # the last batch: the lines that fit
                sizes = itertools.accumulate(map(len, lines))
                data = b"".join(itertools.compress(
                    lines, (written + n <= target for n in sizes)))
                if not data:
                    break
            out.write(data)
            digest.update(data)
            written += len(data)
    return written, digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# driver


def _executor(jobs: int) -> ProcessPoolExecutor | None:
    """A fork-based process pool, or None to run inline (jobs == 1 or no fork here)."""
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))


def _run_all(jobs: int, fn: Callable[..., object], calls: list[tuple]) -> list:
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
    global _TABLES, _POOL, _LONGEST
    if files < 1:
        raise ValueError(f"files must be at least 1 (got {files})")
    if kind == "text" and size < 64 * files:
        raise ValueError(f"text size must be at least 64 bytes per file "
                         f"({64 * files} for {files} files; got {size})")
    if kind == "sort" and size // RECORD < files:
        raise ValueError(f"sort size must hold at least one {RECORD}-byte record per file "
                         f"({RECORD * files} bytes for {files} files; got {size})")
    if kind == "events" and size < 512 * files:
        raise ValueError(f"events size must be at least 512 bytes per file "
                         f"({512 * files} for {files} files; got {size})")
    if kind not in PART_SUFFIX:
        raise ValueError(f"kind must be 'text', 'sort' or 'events' (got {kind!r})")
    _prepare_outdir(outdir)
    names = [PART_NAME.format(i).replace(".txt", PART_SUFFIX[kind]) for i in range(files)]
    paths = [os.path.join(outdir, n) for n in names]
    if kind == "text":
        _TABLES = TextTables(seed)
        # Twice the output (up to POOL_MAX) keeps repeated lines rare in small corpora.
        pool_bytes = min(max(2 * size, POOL_MIN), POOL_MAX)
        shards = _run_all(jobs, _pool_shard,
                          [(seed, s, pool_bytes // POOL_SHARDS) for s in range(POOL_SHARDS)])
        _POOL = [line for shard in shards for line in shard]
        _LONGEST = max(map(len, _POOL))
        bounds = [size * i // files for i in range(files + 1)]
        results = _run_all(jobs, _write_text_part,
                           [(paths[i], bounds[i + 1] - bounds[i], seed, i) for i in range(files)])
        _POOL, _LONGEST = [], 0
    elif kind == "events":
        bounds = [size * i // files for i in range(files + 1)]
        results = _run_all(jobs, _write_events_part,
                           [(paths[i], bounds[i + 1] - bounds[i], seed, i) for i in range(files)])
    else:
        records = size // RECORD
        bounds = [records * i // files for i in range(files + 1)]
        results = _run_all(jobs, _write_sort_part,
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
