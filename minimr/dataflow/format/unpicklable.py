"""Which record of a block could not be pickled: looked for only once pickling has failed.

Blocks are pickled whole (``blocks.py``), and part files pickle the values that have no
literal form (``output.py``); both are the hot path, so neither checks a record before
writing it. When pickling fails, whatever the error (``PicklingError``, ``TypeError: cannot
pickle '_thread.lock' object``, ``AttributeError: Can't pickle local object``, a
``RecursionError``), the writer looks through that one block's records for the first key or
value that does not pickle on its own, and raises :class:`UnpicklableRecord` naming it. The
task that wrote the block knows which user function yielded the record, and turns this into
a ``JobCodeError`` that says so (``dataflow.tasks``).
"""

from __future__ import annotations

import pickle
import reprlib
from collections.abc import Iterable
from typing import Any

#: characters of a key's repr shown in a message
SHOWN = 80

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = SHOWN
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8


class UnpicklableRecord(Exception):
    """A key or value of a record cannot be pickled; the pickling error is the ``__cause__``.

    Attributes:
        key: the record's key.
        culprit: the object that does not pickle: the key or the value.
        in_key: True when the key is the culprit.
    """

    def __init__(self, key: Any, culprit: Any, in_key: bool) -> None:
        self.key = key
        self.culprit = culprit
        self.in_key = in_key
        super().__init__(f"cannot pickle the {self.where}: a {self.type_name}")

    @property
    def type_name(self) -> str:
        """The culprit's type as pickle names it (``_thread.lock``, ``job.Model``, ``list``)."""
        kind = type(self.culprit)
        if kind.__module__ == "builtins":
            return kind.__qualname__
        return f"{kind.__module__}.{kind.__qualname__}"

    @property
    def where(self) -> str:
        """``key <repr>`` or ``value of key <repr>``, the repr cut to about ``SHOWN``."""
        return f"{'key' if self.in_key else 'value of key'} {shown(self.key)}"


def shown(value: Any) -> str:
    """A short repr of ``value``: long strings and containers cut, a failing repr replaced."""
    try:
        text = _repr.repr(value)
    except Exception:  # the user's __repr__ is not ours to fail on
        return f"<{type(value).__qualname__} object>"
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _pickles(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=5)
    except Exception:
        return False
    return True


def find_unpicklable(pairs: Iterable[tuple[Any, Any]], grouped: bool = False
                     ) -> UnpicklableRecord | None:
    """The first ``(key, value)`` of ``pairs`` whose key or value does not pickle, or None.

    With ``grouped``, each "value" is a list of a key's values (a segment's entries): the
    culprit is then the first of them that does not pickle, not the engine's list.
    """
    for key, value in pairs:
        if not _pickles(key):
            return UnpicklableRecord(key, key, True)
        if _pickles(value):
            continue
        if grouped and (type(value) is list or type(value) is tuple):
            value = next((item for item in value if not _pickles(item)), value)
        return UnpicklableRecord(key, value, False)
    return None


def raise_culprit(pairs: Iterable[tuple[Any, Any]], error: Exception, grouped: bool = False
                  ) -> None:
    """Raise :class:`UnpicklableRecord` from ``error`` for the first record of ``pairs`` that
    does not pickle (``grouped`` as in ``find_unpicklable``); return when every one does (the
    caller then raises ``error`` itself)."""
    found = find_unpicklable(pairs, grouped)
    if found is not None:
        raise found from error
