# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of ``pairscan.py``'s functions (see there): same arguments, same results."""

from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem
from cpython.list cimport PyList_Append
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


def group_counted(counted):
    """``key -> [value, ...]`` from a dict of ``(key, value) -> times`` (exact tuples of two,
    keys of exact types): each value repeated ``times``, the values of a key in the dict's
    order."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *pair
    cdef PyObject *times
    cdef PyObject *found
    cdef object key, value, values
    cdef dict groups = {}
    if not isinstance(counted, dict):
        raise TypeError("group_counted needs a dict")
    while PyDict_Next(counted, &pos, &pair, &times):
        key = <object>PyTuple_GET_ITEM(<tuple><object>pair, 0)
        value = <object>PyTuple_GET_ITEM(<tuple><object>pair, 1)
        found = PyDict_GetItem(groups, key)
        if found is NULL:
            PyDict_SetItem(groups, key, [value] * <object>times)
        elif <object>times == 1:
            PyList_Append(<object>found, value)
        else:
            (<list><object>found).extend([value] * <object>times)
    return groups


def counted_runs(counted):
    """``key -> (value, times)`` from a dict of ``(key, value) -> times`` (exact tuples of
    two, keys of exact types) when no key has two values; None at the first that has."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *pair
    cdef PyObject *times
    cdef object key
    cdef dict runs = {}
    if not isinstance(counted, dict):
        raise TypeError("counted_runs needs a dict")
    while PyDict_Next(counted, &pos, &pair, &times):
        key = <object>PyTuple_GET_ITEM(<tuple><object>pair, 0)
        if PyDict_GetItem(runs, key) is not NULL:
            return None
        PyDict_SetItem(runs, key, (<object>PyTuple_GET_ITEM(<tuple><object>pair, 1),
                                   <object>times))
    return runs


def group_pairs(dict groups, list pairs, Py_ssize_t start):
    """Append the value of each pair of ``pairs[start:]`` to its key's entry of ``groups``
    (``key -> [key to write, values]``, made when missing) while the pair is an exact tuple
    of two whose key is of an exact canonical type and, when its key is there already, of
    the type of the key to write there. Returns the index of the first pair it left
    (``len(pairs)`` when none)."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef object item, key, kind
    cdef PyObject *found
    for i in range(start, n):
        item = pairs[i]
        if type(item) is not tuple or PyTuple_GET_SIZE(item) != 2:
            return i
        key = <object>PyTuple_GET_ITEM(item, 0)
        kind = type(key)
        if not (kind is str or kind is int or kind is bytes or kind is bool
                or key is None):
            return i
        found = PyDict_GetItem(groups, key)
        if found is NULL:
            PyDict_SetItem(groups, key, [key, [<object>PyTuple_GET_ITEM(item, 1)]])
        elif type((<list><object>found)[0]) is not kind:
            return i
        else:
            PyList_Append((<list><object>found)[1], <object>PyTuple_GET_ITEM(item, 1))
    return n
