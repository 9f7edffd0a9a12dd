"""Shared by the baseline scripts: which files of an input directory are data."""

from __future__ import annotations

import os


def input_files(indir: str) -> list[str]:
    """Paths of the ``part-*`` files in ``indir``, in name order.

    Anything else (a _MANIFEST.sha256, a _SUCCESS marker, hidden files) is not input, so
    every baseline counts exactly the same bytes.
    """
    names = sorted(n for n in os.listdir(indir) if n.startswith("part-"))
    if not names:
        raise SystemExit(f"{indir}: no part-* files to read")
    return [os.path.join(indir, n) for n in names]
