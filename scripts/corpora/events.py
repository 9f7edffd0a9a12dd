"""The ``events`` corpus: JSON lines, one web event a line, rendered a batch at a time from
columns."""

from __future__ import annotations

import hashlib
import itertools
import random

from corpora.text import FUNCTION_WORDS, cumulative

EVENT_USERS = 50_000
EVENT_KINDS = (("view", 60), ("click", 25), ("search", 8), ("cart", 5), ("buy", 2))
EVENT_TAGS = ("new", "sale", "mobile", "desktop", "returning", "promo", "beta", "eu", "us")
EVENT_BATCH = 4096
_EVENT = ('{"ts": %d, "user": "u%05d", "kind": "%s", "page": "/%s/%d", "ms": %d, '
          '"tags": [%s], "text": "%s"}\n')
_USER_CUM = cumulative(1.0 / r for r in range(1, EVENT_USERS + 1))
_KIND_CUM = cumulative(w for _, w in EVENT_KINDS)
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


def write_part(path: str, target: int, seed: int, index: int) -> tuple[int, str]:
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
