# cython: language_level=3, boundscheck=False, wraparound=False
"""A repr part file's lines of str and int records, compiled: the bytes ``ReprEncoding.encode``
(``encodings.py``) gives for them, ``repr(key) TAB repr(value) NEWLINE`` each, in UTF-8.

An ASCII str's repr is written here by CPython's own rule (``unicode_repr``): between single
quotes, or double quotes when the text holds a single quote and no double quote; a backslash
and the quote in use escaped, tab, newline and carriage return as ``\\t \\n \\r``, the other
characters below space and DEL as ``\\xhh``. Any other str and every int are written as their
``repr`` (an int of more digits than Python writes raises its ``ValueError``, as ``repr``
does). A batch holding anything else gives None: the caller encodes it in Python.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    const char *PyUnicode_AsUTF8AndSize(object, Py_ssize_t *) except NULL

cdef const char *_HEX = b"0123456789abcdef"


cdef struct Buffer:
    char *data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int _reserve(Buffer *buffer, Py_ssize_t more) except -1:
    """Room for ``more`` bytes past the buffer's end."""
    cdef Py_ssize_t wanted = buffer.size + more, capacity
    cdef char *grown
    if wanted <= buffer.capacity:
        return 0
    capacity = 2 * buffer.capacity if 2 * buffer.capacity > wanted else wanted
    grown = <char *>realloc(buffer.data, capacity)
    if grown is NULL:
        raise MemoryError()
    buffer.data = grown
    buffer.capacity = capacity
    return 0


# what an ASCII character asks of its str's repr: a single quote, a double quote, an escape
# (a backslash, a control character, DEL); 0 for one written as it is
cdef enum:
    SINGLE = 1
    DOUBLE = 2
    ESCAPE = 4
cdef unsigned char _CLASS[128]
for _c in range(128):
    _CLASS[_c] = (SINGLE if _c == 39 else DOUBLE if _c == 34
                  else ESCAPE if _c == 92 or _c < 32 or _c == 127 else 0)


cdef int _put_ascii_repr(Buffer *buffer, const unsigned char *text, Py_ssize_t n) except -1:
    """``repr`` of an ASCII str of ``n`` characters (``text``), as CPython writes it."""
    cdef Py_ssize_t i, j = 1
    cdef unsigned char c, seen = 0, quote = 39  # '
    cdef char *out
    for i in range(n):  # one table look-up a character, no branch
        seen |= _CLASS[text[i] & 127]
    if seen & SINGLE and not seen & DOUBLE:
        quote = 34
    _reserve(buffer, 4 * n + 2)  # at most 4 bytes a character (\xhh), and the quotes
    out = buffer.data + buffer.size
    out[0] = quote
    if not seen & ESCAPE and (not seen & SINGLE or quote == 34):  # nothing to escape
        memcpy(out + 1, text, n)
        j += n
    else:
        for i in range(n):
            c = text[i]
            if c == quote or c == 92:
                out[j] = 92
                out[j + 1] = c
                j += 2
            elif c == 9 or c == 10 or c == 13:
                out[j] = 92
                out[j + 1] = 116 if c == 9 else (110 if c == 10 else 114)  # t, n, r
                j += 2
            elif c < 32 or c == 127:
                out[j] = 92
                out[j + 1] = 120  # x
                out[j + 2] = _HEX[c >> 4]
                out[j + 3] = _HEX[c & 15]
                j += 4
            else:
                out[j] = c
                j += 1
    out[j] = quote
    buffer.size += j + 1
    return 0


cdef int _put_repr(Buffer *buffer, object item) except -1:
    """``repr(item)`` in UTF-8 for an exact str or int; 1 (nothing written) for another."""
    cdef object text
    cdef const char *data
    cdef Py_ssize_t n
    if type(item) is str and PyUnicode_IS_ASCII(item):
        return _put_ascii_repr(buffer, <const unsigned char *>PyUnicode_DATA(item),
                               PyUnicode_GET_LENGTH(item))
    if type(item) is not str and type(item) is not int:
        return 1
    text = repr(item)
    data = PyUnicode_AsUTF8AndSize(text, &n)
    _reserve(buffer, n)
    memcpy(buffer.data + buffer.size, data, n)
    buffer.size += n
    return 0


cdef int _put_byte(Buffer *buffer, char c) except -1:
    _reserve(buffer, 1)
    buffer.data[buffer.size] = c
    buffer.size += 1
    return 0


def repr_lines(list keys, list values):
    """The UTF-8 lines ``repr(keys[i]) TAB repr(values[i])`` of records whose keys and values
    are all exact str or int; None when one is anything else.

    Raises:
        ValueError: columns of unequal lengths; an int too long for its decimal text.
    """
    cdef Py_ssize_t i, n = PyList_GET_SIZE(keys)
    cdef Buffer buffer
    if PyList_GET_SIZE(values) != n:
        raise ValueError(f"{n} keys and {len(values)} values")
    buffer.data = NULL
    buffer.size = buffer.capacity = 0
    try:
        _reserve(&buffer, 128 * n + 16)
        for i in range(n):
            # no user code runs below (exact str and int only): the lists cannot change
            if _put_repr(&buffer, <object>PyList_GET_ITEM(keys, i)):
                return None
            _put_byte(&buffer, 9)
            if _put_repr(&buffer, <object>PyList_GET_ITEM(values, i)):
                return None
            _put_byte(&buffer, 10)
        return PyBytes_FromStringAndSize(buffer.data, buffer.size)
    finally:
        free(buffer.data)
