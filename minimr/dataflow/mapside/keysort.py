"""A map task's listed pairs sorted by key into key and value columns, in one C pass.

A map output buffer with no combiner lists its pairs when they hardly repeat (a sort's
records, a join's rows) and writes them sorted by key (``spill``). ``list.sort`` with a key
function compares the keys through their objects, scattered in memory: a sort's 168,000
random 10-character keys take about 480 ns a pair, most of it waiting on memory. Compiled
(``_keysort.pyx``, built by ``pip install`` when a compiler is there), ``sorted_columns``
sorts an array of each key's first 8 bytes beside where its text is (``qsort``, the text
compared only past equal prefixes, ties in input order) and makes the key and value columns
in the same pass. It takes str keys of one byte a character (code points below 256), whose
bytes compare as Python compares the str; for any other batch it returns None and the caller
sorts as before. Without the compiled module, ``sorted_columns_py`` sorts with ``list.sort``.

Nothing here runs user code: the pairs are exact tuples and the keys exact str.
"""

from __future__ import annotations

from operator import countOf, itemgetter

__all__ = ["COMPILED", "sorted_columns", "sorted_columns_py"]

_first = itemgetter(0)
_second = itemgetter(1)


def sorted_columns_py(pairs: list) -> tuple[list, list] | None:
    """``(keys, values)`` of ``pairs`` sorted stably by key, when every pair is an exact
    tuple of two whose key is an exact str; otherwise None."""
    n = len(pairs)
    if countOf(map(type, pairs), tuple) != n or countOf(map(len, pairs), 2) != n:
        return None
    if countOf(map(type, map(_first, pairs)), str) != n:
        return None
    ordered = sorted(pairs, key=_first)
    return list(map(_first, ordered)), list(map(_second, ordered))


sorted_columns = sorted_columns_py
#: whether the compiled function is the one in use
COMPILED = False
try:
    from minimr.dataflow.mapside._keysort import (  # type: ignore[import-not-found,no-redef]
        sorted_columns,
    )
    COMPILED = True
except ImportError:  # no compiler where minimr was installed: the function above
    pass
