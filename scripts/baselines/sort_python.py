#!/usr/bin/env python3
"""Sort baseline: read every record into memory as bytes, list.sort(), write.

usage: sort_python.py INPUT_DIR OUTPUT_FILE

Bytes compare like ``LC_ALL=C sort``, so the output equals GNU sort's.
"""

from __future__ import annotations

import sys

from _inputs import input_files


def main(indir: str, outfile: str) -> None:
    """Sort the lines of every input file into one output file."""
    lines: list[bytes] = []
    for path in input_files(indir):
        with open(path, "rb") as f:
            lines.extend(f.readlines())
    lines.sort()
    with open(outfile, "wb") as out:
        out.writelines(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
