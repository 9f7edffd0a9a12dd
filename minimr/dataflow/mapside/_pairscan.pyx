# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of ``pairscan.py``'s functions (see there): same arguments, same results."""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

from _collections import _count_elements


def one_value_key_types(list pairs, object one):
    """The types of the keys when every item of ``pairs`` is an exact tuple of two whose value
    is the object ``one``; otherwise None."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef object item, kind
    cdef object last = None
    types = set()
    for i in range(n):
        item = pairs[i]
        if type(item) is not tuple or PyTuple_GET_SIZE(item) != 2:
            return None
        if <object>PyTuple_GET_ITEM(item, 1) is not one:
            return None
        kind = type(<object>PyTuple_GET_ITEM(item, 0))
        if kind is not last:
            types.add(kind)
            last = kind
    return types


def count_pair_keys(counts, list pairs):
    """Add one to ``counts[key]`` for the key of every pair (exact tuples of two)."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef object key
    cdef PyObject *old
    if not isinstance(counts, dict) or (type(counts).__getitem__ is not dict.__getitem__
                                        or type(counts).__setitem__ is not dict.__setitem__):
        # a mapping of its own: its methods, as Counter.update calls them
        _count_elements(counts, [(<tuple>item)[0] for item in pairs])
        return
    for i in range(n):
        key = <object>PyTuple_GET_ITEM(<tuple>pairs[i], 0)
        old = PyDict_GetItem(counts, key)
        if old is NULL:
            PyDict_SetItem(counts, key, 1)
        else:
            PyDict_SetItem(counts, key, <object>old + 1)
