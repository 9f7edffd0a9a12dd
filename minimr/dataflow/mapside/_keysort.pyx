# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twins of ``keysort.py``'s ``sorted_columns``, ``sorted_keys`` and
``sorted_composite_columns`` (see there): same arguments, and the same result whenever they give one (None where a key is
not of one byte a character)."""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcmp

cdef extern from "stdlib.h":
    # qsort for a comparison that calls the C API (the GIL held, as it is here)
    void qsort_with_gil "qsort"(void *, size_t, size_t,
                                int (*)(const void *, const void *) noexcept)

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    unsigned int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    unsigned int PyUnicode_1BYTE_KIND
    # the borrowed-pointer forms, for the comparisons qsort calls (no reference counting)
    void *_type_of "Py_TYPE"(PyObject *)
    int PyUnicode_Compare(PyObject *, PyObject *)
    char *PyBytes_AS_STRING(PyObject *)
    Py_ssize_t PyBytes_GET_SIZE(PyObject *)
    Py_ssize_t Py_SIZE(PyObject *)
    PyObject *PyTuple_GET_ITEM_P "PyTuple_GET_ITEM"(PyObject *, Py_ssize_t)
    long long PyLong_AsLongLongAndOverflow(PyObject *, int *)
    int PyObject_RichCompareBool(PyObject *, PyObject *, int)
    int Py_LT
    int Py_GT

# the exact types a signature is made of, compared with ``Py_TYPE``
cdef void *STR = <void *>str
cdef void *INT = <void *>int
cdef void *BYTES = <void *>bytes
cdef void *TUPLE = <void *>tuple


ctypedef struct Entry:
    Py_ssize_t part  # the pair's partition number (0 when not given): the first sort key
    unsigned long long prefix  # the key's first 8 bytes, big-endian, zero-padded
    const unsigned char *data
    Py_ssize_t length
    Py_ssize_t index  # the pair's place: ties end in input order (a stable sort)
    PyObject *key
    PyObject *value


cdef inline int _compare_keys(const Entry *x, const Entry *y) noexcept nogil:
    """The order of the entries' partitions, then of their keys; 0 for equal keys."""
    cdef Py_ssize_t shorter
    cdef int c
    if x.part != y.part:
        return -1 if x.part < y.part else 1
    if x.prefix != y.prefix:
        return -1 if x.prefix < y.prefix else 1
    shorter = x.length if x.length < y.length else y.length
    c = memcmp(x.data, y.data, shorter)
    if c:
        return c
    if x.length != y.length:
        return -1 if x.length < y.length else 1
    return 0


cdef inline int _compare_places(const Entry *x, const Entry *y) noexcept nogil:
    return -1 if x.index < y.index else (1 if x.index > y.index else 0)


cdef int _compare(const void *a, const void *b) noexcept nogil:
    cdef int c = _compare_keys(<const Entry *>a, <const Entry *>b)
    return c if c else _compare_places(<const Entry *>a, <const Entry *>b)


cdef int _compare_values(PyObject *a, PyObject *b) noexcept:
    """Python's order of two values of one signature (str, bytes, int or tuples of such, of
    one shape: checked before the sort), as -1, 0 or 1. None of these comparisons can fail."""
    cdef void *kind
    cdef Py_ssize_t i, n, la, lb
    cdef long long x, y
    cdef int overflow_a = 0, overflow_b = 0, c
    if a == b:
        return 0
    kind = _type_of(a)
    if kind == STR:
        return PyUnicode_Compare(a, b)
    if kind == INT:
        x = PyLong_AsLongLongAndOverflow(a, &overflow_a)
        y = PyLong_AsLongLongAndOverflow(b, &overflow_b)
        if not overflow_a and not overflow_b:
            return -1 if x < y else (1 if x > y else 0)
        if PyObject_RichCompareBool(a, b, Py_LT) == 1:
            return -1
        return 1 if PyObject_RichCompareBool(a, b, Py_GT) == 1 else 0
    if kind == BYTES:
        la = PyBytes_GET_SIZE(a)
        lb = PyBytes_GET_SIZE(b)
        c = memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), la if la < lb else lb)
        if c:
            return -1 if c < 0 else 1
        return -1 if la < lb else (1 if la > lb else 0)
    n = Py_SIZE(a)  # a tuple, of the same length as b (one signature)
    for i in range(n):
        c = _compare_values(PyTuple_GET_ITEM_P(a, i), PyTuple_GET_ITEM_P(b, i))
        if c:
            return c
    return 0


cdef int _compare_composite(const void *a, const void *b) noexcept:
    cdef const Entry *x = <const Entry *>a
    cdef const Entry *y = <const Entry *>b
    cdef int c = _compare_keys(x, y)
    if c:
        return c
    c = _compare_values(x.value, y.value)
    return c if c else _compare_places(x, y)


cdef enum:
    # a signature is made here up to this length, its two bytes for the pair's tuple and its
    # str key included (a segment's kind holds one of at most 255 bytes)
    SIGNATURE_CAP = 253


cdef Py_ssize_t _signature(PyObject *value, char *out, Py_ssize_t at) noexcept:
    """Write ``partition.native_order``'s signature of the one item ``value`` at ``out[at:]``;
    returns where it ends, or -1 when ``value`` has none (or it passes ``SIGNATURE_CAP``)."""
    cdef void *kind = _type_of(value)
    cdef Py_ssize_t i, n
    if at >= SIGNATURE_CAP - 1:
        return -1
    if kind == STR:
        out[at] = b's'
        return at + 1
    if kind == INT:
        out[at] = b'i'
        return at + 1
    if kind == BYTES:
        out[at] = b'b'
        return at + 1
    if kind != TUPLE:
        return -1
    out[at] = b'('
    at += 1
    n = Py_SIZE(value)
    for i in range(n):
        at = _signature(PyTuple_GET_ITEM_P(value, i), out, at)
        if at < 0:
            return -1
    if at >= SIGNATURE_CAP - 1:
        return -1
    out[at] = b')'
    return at + 1


cdef Entry *_entries(list pairs, object numbers, bint keyed=True) except? NULL:
    """The pairs (or, not ``keyed``, the keys) as entries, each key's prefix and text found;
    NULL (no error set) when a pair is not an exact tuple of two or a key not an exact str
    of one byte a character. The caller frees what is returned."""
    cdef Py_ssize_t i, j, n = len(pairs)
    cdef Entry *entries
    cdef object item, key
    cdef const unsigned char *data
    cdef Py_ssize_t length
    cdef unsigned long long prefix
    cdef list parts = None
    if numbers is not None:
        parts = numbers
        if len(parts) != n:
            raise ValueError(
                f"{len(parts)} partition numbers for {n} {'pairs' if keyed else 'keys'}")
    entries = <Entry *>malloc((n if n else 1) * sizeof(Entry))
    if entries is NULL:
        raise MemoryError()
    try:
        for i in range(n):
            item = pairs[i]
            if not keyed:
                key = item
            elif type(item) is not tuple or PyTuple_GET_SIZE(item) != 2:
                free(entries)
                return NULL
            else:
                key = <object>PyTuple_GET_ITEM(item, 0)
            if type(key) is not str:
                free(entries)
                return NULL
            PyUnicode_READY(key)
            if PyUnicode_KIND(key) != PyUnicode_1BYTE_KIND:
                free(entries)
                return NULL
            data = <const unsigned char *>PyUnicode_DATA(key)
            length = PyUnicode_GET_LENGTH(key)
            prefix = 0
            for j in range(8):
                prefix <<= 8
                if j < length:
                    prefix |= data[j]
            entries[i].part = 0 if parts is None else parts[i]
            entries[i].prefix = prefix
            entries[i].data = data
            entries[i].length = length
            entries[i].index = i
            entries[i].key = <PyObject *>key
            entries[i].value = PyTuple_GET_ITEM(item, 1) if keyed else NULL
    except BaseException:  # a partition number that is not an int
        free(entries)
        raise
    return entries


cdef tuple _columns(Entry *entries, Py_ssize_t n):
    """The sorted entries' keys and values, as two new lists."""
    cdef Py_ssize_t i
    keys = PyList_New(n)
    values = PyList_New(n)
    for i in range(n):  # PyList_SET_ITEM steals a reference: one is taken for it
        Py_INCREF(<object>entries[i].key)
        PyList_SET_ITEM(keys, i, <object>entries[i].key)
        Py_INCREF(<object>entries[i].value)
        PyList_SET_ITEM(values, i, <object>entries[i].value)
    return keys, values


def sorted_columns(list pairs, list numbers=None):
    """``(keys, values)`` of ``pairs`` sorted stably by partition number (``numbers``, one a
    pair, or None) and key, when every pair is an exact tuple of two whose key is an exact
    str of one byte a character (code points below 256, compared as Python compares them);
    otherwise None."""
    cdef Py_ssize_t n = len(pairs)
    cdef Entry *entries = _entries(pairs, numbers)
    if entries is NULL:
        return None
    try:  # the pairs (and so their keys' text) are held by the list while it sorts
        qsort(entries, n, sizeof(Entry), _compare)
        return _columns(entries, n)
    finally:
        free(entries)


def sorted_keys(list keys, list numbers=None):
    """``keys`` sorted by partition number (``numbers``, one a key, or None) and key, when
    every key is an exact str of one byte a character; otherwise None."""
    cdef Py_ssize_t i, n = len(keys)
    cdef Entry *entries = _entries(keys, numbers, False)
    if entries is NULL:
        return None
    try:  # the list holds the keys while it sorts
        qsort(entries, n, sizeof(Entry), _compare)
        ordered = PyList_New(n)
        for i in range(n):  # PyList_SET_ITEM steals a reference: one is taken for it
            Py_INCREF(<object>entries[i].key)
            PyList_SET_ITEM(ordered, i, <object>entries[i].key)
        return ordered
    finally:
        free(entries)


def sorted_composite_columns(list pairs, list numbers=None):
    """``(keys, values, signature)`` of ``pairs`` sorted stably by partition number
    (``numbers``, one a pair, or None), key and value, when every pair is an exact tuple of
    two whose key is an exact str of one byte a character and the pairs have a
    ``partition.native_order`` signature (of at most 255 bytes); otherwise None."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef Py_ssize_t length, first_length = 0
    cdef char first[SIGNATURE_CAP]
    cdef char other[SIGNATURE_CAP]
    cdef Entry *entries
    if n == 0:  # no signature: native_order of nothing is None
        return None
    entries = _entries(pairs, numbers)
    if entries is NULL:
        return None
    try:
        for i in range(n):  # every value of the same signature: the first's
            if i == 0:
                first_length = _signature(entries[i].value, first, 0)
                if first_length < 0:
                    return None
                continue
            length = _signature(entries[i].value, other, 0)
            if length != first_length or memcmp(first, other, length):
                return None
        qsort_with_gil(entries, n, sizeof(Entry), _compare_composite)
        keys, values = _columns(entries, n)
        return keys, values, b"(s" + first[:first_length] + b")"
    finally:
        free(entries)
