# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of ``keysort.py``'s ``sorted_columns`` (see there): same arguments, and
the same result whenever it gives one (None where its keys are not all one byte a
character)."""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcmp

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    unsigned int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    unsigned int PyUnicode_1BYTE_KIND


ctypedef struct Entry:
    unsigned long long prefix  # the key's first 8 bytes, big-endian, zero-padded
    const unsigned char *data
    Py_ssize_t length
    Py_ssize_t index  # the pair's place: ties end in input order (a stable sort)
    PyObject *key
    PyObject *value


cdef int _compare(const void *a, const void *b) noexcept nogil:
    cdef const Entry *x = <const Entry *>a
    cdef const Entry *y = <const Entry *>b
    cdef Py_ssize_t shorter
    cdef int c
    if x.prefix != y.prefix:
        return -1 if x.prefix < y.prefix else 1
    shorter = x.length if x.length < y.length else y.length
    c = memcmp(x.data, y.data, shorter)
    if c:
        return c
    if x.length != y.length:
        return -1 if x.length < y.length else 1
    return -1 if x.index < y.index else (1 if x.index > y.index else 0)


def sorted_columns(list pairs):
    """``(keys, values)`` of ``pairs`` sorted stably by key, when every pair is an exact
    tuple of two whose key is an exact str of one byte a character (code points below 256,
    compared as Python compares them); otherwise None."""
    cdef Py_ssize_t i, j, n = len(pairs)
    cdef Entry *entries
    cdef object item, key
    cdef const unsigned char *data
    cdef Py_ssize_t length
    cdef unsigned long long prefix
    entries = <Entry *>malloc((n if n else 1) * sizeof(Entry))
    if entries is NULL:
        raise MemoryError()
    try:
        for i in range(n):
            item = pairs[i]
            if type(item) is not tuple or PyTuple_GET_SIZE(item) != 2:
                return None
            key = <object>PyTuple_GET_ITEM(item, 0)
            if type(key) is not str:
                return None
            PyUnicode_READY(key)
            if PyUnicode_KIND(key) != PyUnicode_1BYTE_KIND:
                return None
            data = <const unsigned char *>PyUnicode_DATA(key)
            length = PyUnicode_GET_LENGTH(key)
            prefix = 0
            for j in range(8):
                prefix <<= 8
                if j < length:
                    prefix |= data[j]
            entries[i].prefix = prefix
            entries[i].data = data
            entries[i].length = length
            entries[i].index = i
            entries[i].key = <PyObject *>key
            entries[i].value = PyTuple_GET_ITEM(item, 1)
        # the pairs (and so their keys' text) are held by the list while it sorts
        qsort(entries, n, sizeof(Entry), _compare)
        keys = PyList_New(n)
        values = PyList_New(n)
        for i in range(n):  # PyList_SET_ITEM steals a reference: one is taken for it
            Py_INCREF(<object>entries[i].key)
            PyList_SET_ITEM(keys, i, <object>entries[i].key)
            Py_INCREF(<object>entries[i].value)
            PyList_SET_ITEM(values, i, <object>entries[i].value)
        return keys, values
    finally:
        free(entries)
