"""The ``text`` corpus: English-like word-count input.

A Zipf vocabulary (real function words first, then synthetic syllable words), lines
rendered once into a pool of a few MiB, and part files assembled by picking pool lines
with a seeded generator; one filler line makes each file's size exact.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import random
from collections.abc import Callable, Iterator

from corpora import KiB, MiB

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


def cumulative(weights: Iterator[float] | tuple[int, ...]) -> list[float]:
    """Cumulative weights, as ``random.choices(cum_weights=...)`` takes them."""
    return list(itertools.accumulate(weights))


class TextTables:
    """Everything needed to render lines: word spellings per case and cumulative weights."""

    def __init__(self, seed: int) -> None:
        vocab = build_vocabulary(seed)
        self.vocab = vocab
        self.ranks = range(len(vocab))
        self.zipf_cum = cumulative(1.0 / r for r in range(1, len(vocab) + 1))
        lower, capital = vocab, list(map(str.capitalize, vocab))
        self.cases = (lower, capital, list(map(str.upper, vocab)),
                      list(map(str, range(1, len(vocab) + 1))))
        self.case_cum = cumulative(_CASE_WEIGHTS)
        self.capital = capital
        self.gaps = [g for g, _ in _GAPS]
        self.gap_cum = cumulative(w for _, w in _GAPS)
        self.ends = [e for e, _ in _LINE_ENDS]
        self.end_cum = cumulative(w for _, w in _LINE_ENDS)
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


def write_parts(run_all: Callable[[Callable[..., object], list[tuple]], list],
                paths: list[str], size: int, seed: int) -> list:
    """Write ``size`` bytes of text over the part files ``paths``, sizes differing by at most
    one line; return (bytes, sha256) per part. ``run_all(fn, calls)`` runs the calls, in
    worker processes forked after the pool is made, so that they share it."""
    global _TABLES, _POOL, _LONGEST
    files = len(paths)
    _TABLES = TextTables(seed)
    # Twice the output (up to POOL_MAX) keeps repeated lines rare in small corpora.
    pool_bytes = min(max(2 * size, POOL_MIN), POOL_MAX)
    shards = run_all(_pool_shard,
                     [(seed, s, pool_bytes // POOL_SHARDS) for s in range(POOL_SHARDS)])
    _POOL = [line for shard in shards for line in shard]
    _LONGEST = max(map(len, _POOL))
    bounds = [size * i // files for i in range(files + 1)]
    results = run_all(_write_text_part,
                      [(paths[i], bounds[i + 1] - bounds[i], seed, i) for i in range(files)])
    _POOL, _LONGEST = [], 0
    return results
