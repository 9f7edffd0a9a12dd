#!/usr/bin/env python3
"""Word-count baseline: one process, one Counter, line by line.

usage: wc_serial.py INPUT_DIR OUTPUT_FILE

Tokens are runs of a-z after lowercasing (the tokenization every word-count row uses).
Writes ``word<TAB>count`` lines sorted by word.
"""

from __future__ import annotations

import collections
import re
import sys

from _inputs import input_files

WORD = re.compile(r"[a-z]+")


def count_words(paths: list[str]) -> collections.Counter[str]:
    """Count the words of every file in ``paths``."""
    counts: collections.Counter[str] = collections.Counter()
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                counts.update(WORD.findall(line.lower()))
    return counts


def write_counts(counts: collections.Counter[str], path: str) -> None:
    """Write ``word<TAB>count`` lines sorted by word."""
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(f"{word}\t{n}\n" for word, n in sorted(counts.items()))


def main(indir: str, outfile: str) -> None:
    """Count the words under ``indir`` into ``outfile``."""
    write_counts(count_words(input_files(indir)), outfile)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
