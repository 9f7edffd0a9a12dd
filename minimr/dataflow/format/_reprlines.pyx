# cython: language_level=3, boundscheck=False, wraparound=False
"""A repr part file's lines of literal records, compiled: the bytes ``ReprEncoding.encode``
(``encodings.py``) gives for them, ``repr(key) TAB repr(value) NEWLINE`` each, in UTF-8.

A literal here is an exact str, int, float (finite), bool, None or bytes, or an exact tuple or
list of literals (to ``MAX_DEPTH`` levels): what ``repr`` writes as text that
``ast.literal_eval`` reads back as the same value and type. A join's rows (tuples of str), an
index's lists of names and an average's floats are written here, not only a count's ints.

An ASCII str's repr is written here by CPython's own rule (``unicode_repr``): between single
quotes, or double quotes when the text holds a single quote and no double quote; a backslash
and the quote in use escaped, tab, newline and carriage return as ``\\t \\n \\r``, the other
characters below space and DEL as ``\\xhh``. A tuple or list is written as ``tuple_repr`` and
``list_repr`` write it: its items' reprs joined by ``", "`` between brackets, a tuple of one
item with a comma (``('a',)``). Any other str, and every int, float and bytes, is written as
its ``repr`` (an int of more digits than Python writes raises its ``ValueError``, as ``repr``
does). A batch holding anything else (a subclass, a NaN or an infinity, a dict, a set, a list
nested deeper) gives None: the caller encodes it in Python, which pickles what has no literal.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdlib cimport free, realloc
from libc.math cimport isfinite
from libc.string cimport memcpy, strlen

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    const char *PyUnicode_AsUTF8AndSize(object, Py_ssize_t *) except NULL
    double PyFloat_AS_DOUBLE(object)
    Py_ssize_t PyTuple_GET_SIZE(object)
    void *PyTuple_GET_ITEM(object, Py_ssize_t)
    char *PyOS_double_to_string(double, char, int, int, int *) except NULL
    void PyMem_Free(void *)
    int Py_DTSF_ADD_DOT_0


# how deep tuples and lists are written here; a deeper one (or one holding itself) is left to
# the caller
cdef enum:
    MAX_DEPTH = 8

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


cdef int _put_text(Buffer *buffer, object text) except -1:
    """A str's UTF-8 bytes, as they are."""
    cdef const char *data
    cdef Py_ssize_t n
    data = PyUnicode_AsUTF8AndSize(text, &n)
    _reserve(buffer, n)
    memcpy(buffer.data + buffer.size, data, n)
    buffer.size += n
    return 0


cdef int _put_float(Buffer *buffer, double value) except -1:
    """A finite float's repr, as ``float_repr`` makes it (shortest round trip, ``.0`` added to
    a whole number), with no str made; 1 for a NaN or an infinity (no literal)."""
    cdef char *text
    cdef Py_ssize_t n
    if not isfinite(value):
        return 1
    text = PyOS_double_to_string(value, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        n = strlen(text)
        _reserve(buffer, n)
        memcpy(buffer.data + buffer.size, text, n)
        buffer.size += n
    finally:
        PyMem_Free(text)
    return 0


cdef int _put_items(Buffer *buffer, object items, bint is_tuple, int depth) except -1:
    """The items of an exact tuple or list between its brackets, as its repr; 1 (the buffer
    then holds part of it) when an item is not a literal here."""
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(items) if is_tuple else PyList_GET_SIZE(items)
    cdef object item
    _put_byte(buffer, 40 if is_tuple else 91)  # ( or [
    for i in range(n):
        if i:
            _put_byte(buffer, 44)  # ,
            _put_byte(buffer, 32)
        # no user code runs while a literal is written: the list cannot change under us
        item = <object>(PyTuple_GET_ITEM(items, i) if is_tuple else PyList_GET_ITEM(items, i))
        if _put_repr(buffer, item, depth + 1):
            return 1
    if is_tuple and n == 1:
        _put_byte(buffer, 44)
    _put_byte(buffer, 41 if is_tuple else 93)  # ) or ]
    return 0


cdef int _put_repr(Buffer *buffer, object item, int depth) except -1:
    """``repr(item)`` in UTF-8 for a literal (the module's docstring); 1 for another (the
    buffer may then hold part of it: the caller gives the batch up)."""
    cdef type kind = type(item)
    if kind is str:
        if PyUnicode_IS_ASCII(item):
            return _put_ascii_repr(buffer, <const unsigned char *>PyUnicode_DATA(item),
                                   PyUnicode_GET_LENGTH(item))
        return _put_text(buffer, repr(item))
    if kind is int or kind is bytes:
        return _put_text(buffer, repr(item))
    if kind is float:
        return _put_float(buffer, PyFloat_AS_DOUBLE(item))
    if kind is tuple or kind is list:
        if depth >= MAX_DEPTH:
            return 1
        return _put_items(buffer, item, kind is tuple, depth)
    if kind is bool:
        return _put_text(buffer, "True" if item else "False")
    if item is None:
        return _put_text(buffer, "None")
    return 1


cdef int _put_byte(Buffer *buffer, char c) except -1:
    _reserve(buffer, 1)
    buffer.data[buffer.size] = c
    buffer.size += 1
    return 0


def repr_lines(list keys, list values):
    """The UTF-8 lines ``repr(keys[i]) TAB repr(values[i])`` of records whose keys and values
    are all literals (the module's docstring); None when one is anything else.

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
            # no user code runs below (exact literal types only): the lists cannot change
            if _put_repr(&buffer, <object>PyList_GET_ITEM(keys, i), 0):
                return None
            _put_byte(&buffer, 9)
            if _put_repr(&buffer, <object>PyList_GET_ITEM(values, i), 0):
                return None
            _put_byte(&buffer, 10)
        return PyBytes_FromStringAndSize(buffer.data, buffer.size)
    finally:
        free(buffer.data)
