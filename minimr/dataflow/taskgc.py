"""The cyclic garbage collector while a task runs: a young-generation threshold that adapts.

A task holds its buffers (hundreds of thousands of tuples and lists) while it allocates
millions more objects. At CPython's default threshold (700 allocations) the collector walks
the live ones again and again: measured on 64 MB map tasks, a threshold of 200,000 took word
count from 6.6 to 6.2 s, its batch form from 5.4 to 5.0 s, a sort from 3.1 to 2.3 s.

A fixed threshold is still a trade. A sort's map task holds 224,000 pairs a spill; at 200,000
it ran 17 young collections of ~23 ms each, walking pairs that were all alive (4 tasks: 5.73 s
CPU; 5.24 s with no collection). But cycles made by user code wait for a collection: a map
making one reference cycle a record peaked at 100 MiB with the 200,000 threshold, 317 MiB
with 1,048,576. So the threshold starts at ``FLOOR`` and follows what collections find: one
that frees (almost) nothing doubles it, up to the ceiling; one that frees cyclic garbage sets
it back to the floor.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: the young-generation threshold a task starts with, and returns to when it makes garbage
FLOOR = 200_000
#: a collection that frees less than this share of the threshold found only live objects
STRAY = 0.01


@contextmanager
def adaptive(ceiling: int) -> Iterator[None]:
    """Run the body with the young-generation threshold between ``FLOOR`` and ``ceiling``.

    The process's own thresholds (and callbacks) are back when the body ends, however it ends.
    """
    before = gc.get_threshold()
    ceiling = max(FLOOR, ceiling)

    def follow(phase: str, info: dict) -> None:
        if phase != "stop":
            return
        threshold = gc.get_threshold()[0]
        if info["collected"] > STRAY * threshold:  # user code's cycles: collect them often
            gc.set_threshold(FLOOR, *before[1:])
        elif info["generation"] == 0 and threshold < ceiling:  # walked live objects only
            gc.set_threshold(min(ceiling, threshold * 2), *before[1:])

    gc.set_threshold(FLOOR, *before[1:])
    gc.callbacks.append(follow)
    try:
        yield
    finally:
        gc.callbacks.remove(follow)
        gc.set_threshold(*before)
