#!/usr/bin/env python3
"""Inverted-index baseline: word -> sorted documents, multiprocessing.Pool, a task per file.

usage: index_pool.py INPUT_DIR OUTPUT_FILE [WORKERS]     (WORKERS default 2)

The work of ``jobs/inverted_index.py``: a document is an input file, named by its base name;
words are runs of a-z after lowercasing. Each worker returns the set of words of its file;
the parent files each word under that document. Writes the text minimr writes,
``repr(word)<TAB>repr(sorted list of documents)``, sorted by word.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

from _inputs import input_files
from wc_serial import WORD


def words_of(path: str) -> tuple[str, set[str]]:
    """(document name, the distinct words of the file) (runs in a worker)."""
    words: set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            words.update(WORD.findall(line.lower()))
    return os.path.basename(path), words


def main(indir: str, outfile: str, workers: int = 2) -> None:
    """Index the words under ``indir`` with ``workers`` processes into ``outfile``."""
    index: dict[str, list[str]] = {}
    with multiprocessing.Pool(workers) as pool:
        for document, words in pool.imap_unordered(words_of, input_files(indir)):
            for word in words:
                index.setdefault(word, []).append(document)
    with open(outfile, "w", encoding="utf-8") as out:
        out.writelines(f"{word!r}\t{sorted(docs)!r}\n" for word, docs in sorted(index.items()))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
