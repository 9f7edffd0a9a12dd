# cython: language_level=3, boundscheck=False, wraparound=False
"""A block of two str columns as their text, compiled: ``encode`` writes the layout of
``strcolumns.py`` (see there), ``decode`` is the twin of its ``decode_py``.

Nothing here runs user code: the columns are lists of exact str, read as they are.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    object PyUnicode_DecodeUTF8(const char *, Py_ssize_t, const char *)
    object PyUnicode_New(Py_ssize_t, Py_UCS4)

cdef enum:
    HEAD = 5  # the tag and the count
    TAG = 83  # b"S"


cdef inline void _put_u32(char *at, uint32_t n) noexcept:
    at[0] = n & 0xFF
    at[1] = (n >> 8) & 0xFF
    at[2] = (n >> 16) & 0xFF
    at[3] = (n >> 24) & 0xFF


cdef inline uint32_t _get_u32(const unsigned char *at) noexcept:
    return at[0] | (<uint32_t>at[1] << 8) | (<uint32_t>at[2] << 16) | (<uint32_t>at[3] << 24)


cdef Py_ssize_t _ascii_total(list column) except -2:
    """The characters of a column of exact ASCII str, or -1 when one is anything else."""
    cdef Py_ssize_t i, total = 0, length
    cdef object item
    for i in range(PyList_GET_SIZE(column)):
        item = <object>PyList_GET_ITEM(column, i)
        if type(item) is not str or not PyUnicode_IS_ASCII(item):
            return -1
        length = PyUnicode_GET_LENGTH(item)
        if length > 0xFFFFFFFF:
            return -1
        total += length
    return total


def encode(list keys, list values):
    """The block of columns ``keys``, ``values`` (of one length) when every item is an
    exact str of ASCII characters; otherwise None (the caller pickles it)."""
    cdef Py_ssize_t n = PyList_GET_SIZE(keys), i, key_total, value_total, length
    cdef object item, block
    cdef char *out
    cdef char *lengths
    if PyList_GET_SIZE(values) != n or n > 0xFFFFFFFF:
        return None
    if n and (type(<object>PyList_GET_ITEM(keys, 0)) is not str
              or type(<object>PyList_GET_ITEM(values, 0)) is not str):
        return None
    key_total = _ascii_total(keys)
    if key_total < 0:
        return None
    value_total = _ascii_total(values)
    if value_total < 0:
        return None
    block = PyBytes_FromStringAndSize(NULL, HEAD + 8 * n + key_total + value_total)
    out = PyBytes_AS_STRING(block)
    out[0] = TAG
    _put_u32(out + 1, <uint32_t>n)
    lengths = out + HEAD
    out += HEAD + 8 * n
    # no user code runs in this loop (exact str only): the lists cannot change
    for i in range(n):
        item = <object>PyList_GET_ITEM(keys, i)
        length = PyUnicode_GET_LENGTH(item)
        _put_u32(lengths + 4 * i, <uint32_t>length)
        memcpy(out, PyUnicode_DATA(item), length)
        out += length
    for i in range(n):
        item = <object>PyList_GET_ITEM(values, i)
        length = PyUnicode_GET_LENGTH(item)
        _put_u32(lengths + 4 * (n + i), <uint32_t>length)
        memcpy(out, PyUnicode_DATA(item), length)
        out += length
    return block


cdef bint _ascii(const unsigned char *data, Py_ssize_t n) noexcept:
    """True when no byte of ``data`` has its high bit set."""
    cdef unsigned char seen = 0
    cdef Py_ssize_t i
    for i in range(n):
        seen |= data[i]
    return seen < 128


def decode(bytes block):
    """The ``(keys, values)`` columns of a block ``encode`` wrote.

    Raises:
        ValueError: a block of another layout, lengths that do not add up to its size, or
            text that is not UTF-8 (a damaged block).
    """
    cdef Py_ssize_t size = PyBytes_GET_SIZE(block), n, i, column, start
    cdef const unsigned char *data = <const unsigned char *>PyBytes_AS_STRING(block)
    cdef uint64_t total = 0
    cdef uint32_t length
    cdef list keys, values, out
    cdef object text
    if size < HEAD or data[0] != TAG:
        raise ValueError("not a block of str columns")
    n = _get_u32(data + 1)
    if <uint64_t>n * 8 > <uint64_t>(size - HEAD):
        raise ValueError(f"a block of str columns of {n} rows cannot fit in {size} bytes")
    for i in range(2 * n):
        total += _get_u32(data + HEAD + 4 * i)
    if total != <uint64_t>(size - HEAD - 8 * n):
        raise ValueError(f"a block of str columns whose lengths add up to {total} bytes,"
                         f" not the {size - HEAD - 8 * n} it holds")
    keys = PyList_New(n)
    values = PyList_New(n)
    start = HEAD + 8 * n
    ascii = _ascii(data + start, size - start)
    for column in range(2):
        out = keys if column == 0 else values
        for i in range(n):
            length = _get_u32(data + HEAD + 4 * (column * n + i))
            if ascii:  # what the writer writes: each str made and filled, no decoder
                text = PyUnicode_New(length, 127)
                memcpy(PyUnicode_DATA(text), data + start, length)
            else:
                try:
                    text = PyUnicode_DecodeUTF8(<const char *>data + start, length, "strict")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"a block of str columns holds text that is not UTF-8"
                                     f" ({exc.reason})") from None
            start += length
            Py_INCREF(text)  # PyList_SET_ITEM steals a reference: one is taken for it
            PyList_SET_ITEM(out, i, text)
    return keys, values
