# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled twins of ``keysort.py``'s ``sorted_columns``, ``sorted_keys``,
``sorted_composite_columns``, ``run_firsts``, ``gather``, ``take_slices`` and
``partition_sizes`` (see there): same arguments, and the same result whenever they give one (the sorts give None where a partition
number is negative or past ``PARTITION_CAP``).

The sort: a stable counting pass by partition number, then, within each partition, an MSD
radix sort on each key's first 8 bytes (the UTF-8 bytes of a str: their order is the code
points' order, the order Python compares str by). A larger bucket whose keys tie on those
bytes takes the next 8 of each key and goes on; buckets of ``SMALL`` or fewer, and keys with
no byte left to tell them apart, are finished by a stable merge sort comparing the whole keys
(and, for a secondary sort, the values). Every pass moves 24-byte records (prefix, key, value), and every
pass is stable, so ties end in input order: the order is (partition, key[, value], place),
what ``qsort`` of the same entries by the same comparison gave before.
"""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.list cimport PyList_New, PyList_SET_ITEM
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memset

from minimr.dataflow._prefetch cimport prefetch, prefetch_write

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    # the borrowed-pointer forms (no reference counting in the sort's loops)
    void *_type_of "Py_TYPE"(PyObject *)
    unsigned int _kind "PyUnicode_KIND"(PyObject *)
    void *_data "PyUnicode_DATA"(PyObject *)
    Py_ssize_t _length "PyUnicode_GET_LENGTH"(PyObject *)
    int _is_ascii "PyUnicode_IS_ASCII"(PyObject *)
    unsigned int _read "PyUnicode_READ"(unsigned int, const void *, Py_ssize_t)
    int PyUnicode_Compare(PyObject *, PyObject *)
    char *PyBytes_AS_STRING(PyObject *)
    Py_ssize_t PyBytes_GET_SIZE(PyObject *)
    Py_ssize_t Py_SIZE(PyObject *)
    PyObject *_list_item "PyList_GET_ITEM"(PyObject *, Py_ssize_t)
    PyObject *_tuple_item "PyTuple_GET_ITEM"(PyObject *, Py_ssize_t)
    long long PyLong_AsLongLongAndOverflow(PyObject *, int *)
    int PyObject_RichCompareBool(PyObject *, PyObject *, int)
    int Py_LT
    int Py_GT

# the exact types a key or a signature is made of, compared with ``Py_TYPE``
cdef void *STR = <void *>str
cdef void *INT = <void *>int
cdef void *BYTES = <void *>bytes
cdef void *TUPLE = <void *>tuple

include "_radix.pxi"  # the sort itself: records, prefixes, comparisons, passes


cdef list _column(const Rec *recs, Py_ssize_t n, bint values):
    """The sorted records' keys (or values) as a new list."""
    cdef Py_ssize_t i
    cdef PyObject *item
    column = PyList_New(n)
    for i in range(n):  # PyList_SET_ITEM steals a reference: one is taken for it
        if i + AHEAD < n:  # the object whose count is taken a few turns ahead
            prefetch_write(recs[i + AHEAD].value if values else recs[i + AHEAD].key)
        item = recs[i].value if values else recs[i].key
        Py_INCREF(<object>item)
        PyList_SET_ITEM(column, i, <object>item)
    return column


def sorted_columns(list pairs, list numbers=None):
    """``(keys, values)`` of ``pairs`` sorted stably by partition number (``numbers``, one a
    pair, or None) and key, when every pair is an exact tuple of two and the keys are all exact
    str or all exact bytes; otherwise None."""
    cdef Py_ssize_t n = len(pairs)
    cdef Rec *recs = _sorted(pairs, numbers, True, True, _compare_str)
    if recs is NULL:
        return None
    try:  # the pairs (and so their keys' text) are held by the list while it sorts
        return _column(recs, n, False), _column(recs, n, True)
    finally:
        free(recs)


def sorted_keys(list keys, list numbers=None):
    """``keys`` sorted by partition number (``numbers``, one a key, or None) and key, when
    they are all exact str or all exact bytes; otherwise None."""
    cdef Rec *recs = _sorted(keys, numbers, False, True, _compare_str)
    if recs is NULL:
        return None
    try:  # the list holds the keys while it sorts
        return _column(recs, len(keys), False)
    finally:
        free(recs)


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
        at = _signature(_tuple_item(value, i), out, at)
        if at < 0:
            return -1
    if at >= SIGNATURE_CAP - 1:
        return -1
    out[at] = b')'
    return at + 1


def sorted_composite_columns(list pairs, list numbers=None):
    """``(keys, values, signature)`` of ``pairs`` sorted stably by partition number
    (``numbers``, one a pair, or None), key and value, when every pair is an exact tuple of
    two whose key is an exact str and the pairs have a ``partition.native_order`` signature
    (of at most 255 bytes); otherwise None."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef Py_ssize_t length, first_length = 0
    cdef char first[SIGNATURE_CAP]
    cdef char other[SIGNATURE_CAP]
    cdef PyObject *pair
    cdef Rec *recs
    if n == 0:  # no signature: native_order of nothing is None
        return None
    for i in range(n):  # every value of the same signature (the first's), keys str
        pair = <PyObject *>pairs[i]
        if _type_of(pair) != TUPLE or Py_SIZE(pair) != 2 or _type_of(_tuple_item(pair, 0)) != STR:
            return None
        if i == 0:
            first_length = _signature(_tuple_item(pair, 1), first, 0)
            if first_length < 0:
                return None
            continue
        length = _signature(_tuple_item(pair, 1), other, 0)
        if length != first_length or memcmp(first, other, length):
            return None
    recs = _sorted(pairs, numbers, True, False, _compare_composite)
    if recs is NULL:
        return None
    try:
        return (_column(recs, n, False), _column(recs, n, True),
                b"(s" + first[:first_length] + b")")
    finally:
        free(recs)


cdef extern from "Python.h":
    ctypedef struct PyListObject:
        PyObject **ob_item
    int PyList_SetSlice(object, Py_ssize_t, Py_ssize_t, PyObject *) except -1


def take_slices(list column, sizes):
    """``column`` cut into consecutive new lists of ``sizes`` (which add up to its length),
    its items moved into them rather than copied, so that no item is touched (a slice takes a
    reference to each, and the column's end drops them again: two writes to every object,
    scattered in memory); ``column`` is left empty."""
    cdef Py_ssize_t start = 0, size, n = len(column)
    cdef list counts = list(sizes)
    cdef list parts
    if any(size < 0 for size in counts) or sum(counts) != n:
        raise ValueError(f"slices of sizes {counts} for a list of {n}")
    parts = [PyList_New(size) for size in counts]  # made first: nothing moved if one fails
    for i in range(len(parts)):
        size = counts[i]
        if size:
            memcpy((<PyListObject *>parts[i]).ob_item, (<PyListObject *>column).ob_item + start,
                   size * sizeof(PyObject *))
        start += size
    # the column forgets its items without releasing them: the parts hold them now
    memset((<PyListObject *>column).ob_item, 0, n * sizeof(PyObject *))
    PyList_SetSlice(column, 0, n, NULL)
    return parts


def gather(list column, list places):
    """``[column[i] for i in places]`` (``places`` ints from 0 below ``len(column)``), the
    items a few places ahead prefetched: after a sort a column's objects lie scattered in
    memory, and taking a reference to each is a cache miss (a map over ``__getitem__``:
    235 ns an item of 446,000 sorted user ids)."""
    cdef Py_ssize_t i, at, n = len(places), size = len(column)
    cdef PyObject *listed = <PyObject *>column
    cdef PyObject *item
    cdef list taken
    for i in range(n):  # checked first: nothing taken if one is out of range
        at = places[i]
        if at < 0 or at >= size:
            raise IndexError(f"place {at} of a column of {size}")
    taken = PyList_New(n)
    for i in range(n):
        if i + AHEAD < n:
            prefetch_write(_list_item(listed, <Py_ssize_t>places[i + AHEAD]))
        item = _list_item(listed, <Py_ssize_t>places[i])
        Py_INCREF(<object>item)
        PyList_SET_ITEM(taken, i, <object>item)
    return taken


cdef inline bint _equal_keys(PyObject *a, PyObject *b, bint bytes_keys) noexcept:
    """Whether two exact str (or two exact bytes) keys are equal: one length and the same
    bytes (an equal str has the same kind in CPython: a str is stored in its narrowest)."""
    cdef Py_ssize_t n
    if a == b:
        return True
    if bytes_keys:
        n = PyBytes_GET_SIZE(a)
        return n == PyBytes_GET_SIZE(b) and not memcmp(PyBytes_AS_STRING(a),
                                                       PyBytes_AS_STRING(b), n)
    n = _length(a)
    return (n == _length(b) and _kind(a) == _kind(b)
            and not memcmp(_data(a), _data(b), n * _kind(a)))


def run_firsts(list keys, list numbers=None):
    """``firsts[i]`` True where sorted ``keys[i]`` is not ``keys[i - 1]``'s text or a
    partition starts (the first of each partition number's keys, ``numbers`` holding one a
    key, unsorted), when the keys are all exact str or all exact bytes; else None.

    ``!=`` of neighbours in Python reads both keys' objects, scattered through memory after
    the sort: 550-750 ns a key of a table's 600,000 user ids. Here the keys a few places
    ahead are prefetched while the one at hand is compared."""
    cdef Py_ssize_t i, start, n = len(keys)
    cdef PyObject *listed = <PyObject *>keys
    cdef PyObject *key
    cdef PyObject *last
    cdef PyObject *ahead
    cdef void *kind
    cdef bint bytes_keys
    cdef list firsts
    cdef list sizes
    if not n:
        return []
    kind = _type_of(_list_item(listed, 0))
    if kind != STR and kind != BYTES:
        return None
    bytes_keys = kind == BYTES
    firsts = [False] * n
    firsts[0] = True
    last = _list_item(listed, 0)
    for i in range(1, n):
        if i + AHEAD < n:
            ahead = _list_item(listed, i + AHEAD)
            prefetch(ahead)
            prefetch(<char *>ahead + 56)
        key = _list_item(listed, i)
        if _type_of(key) != kind:
            return None
        if not _equal_keys(key, last, bytes_keys):
            firsts[i] = True
        last = key
    if numbers is not None:  # sorted by number first: each partition's first starts a run
        if len(numbers) != n:
            raise ValueError(f"{len(numbers)} partition numbers for {n} keys")
        sizes = partition_sizes(numbers, max(numbers) + 1)
        start = 0
        for i in range(len(sizes)):
            if start < n:
                firsts[start] = True
            start += sizes[i]
    return firsts


def partition_sizes(list numbers, Py_ssize_t partitions):
    """How many of ``numbers`` each partition (0 to ``partitions`` - 1) has, in one C pass
    (``list.count`` a partition compares every number each time: 40 ns a key for 4)."""
    cdef Py_ssize_t i, number, n = len(numbers)
    cdef Py_ssize_t *counts
    if partitions < 0:
        raise ValueError(f"{partitions} partitions")
    counts = <Py_ssize_t *>calloc(partitions if partitions else 1, sizeof(Py_ssize_t))
    if counts is NULL:
        raise MemoryError()
    try:
        for i in range(n):
            number = numbers[i]
            if number < 0 or number >= partitions:
                raise ValueError(f"partition number {number} of {partitions} partitions")
            counts[number] += 1
        return [counts[i] for i in range(partitions)]
    finally:
        free(counts)

