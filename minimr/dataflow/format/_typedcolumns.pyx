# cython: language_level=3, boundscheck=False, wraparound=False
"""A block of two typed columns, compiled: ``encode`` writes the layout of
``typedcolumns.py`` (see there), ``decode`` is the twin of its ``decode_py``.

Nothing here runs user code: only exact int, float, str and tuple objects are read (an int
through ``PyLong_AsLongLongAndOverflow``, which calls nothing on an exact int), so the
columns cannot change between the pass that checks them and the pass that writes them.
Ints and floats are copied in the machine's byte order: ``typedcolumns`` uses this module
only on a little-endian machine.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from minimr.dataflow._prefetch cimport prefetch

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    object PyUnicode_New(Py_ssize_t, Py_UCS4)
    long long PyLong_AsLongLongAndOverflow(object, int *)

cdef enum:
    HEAD = 6  # the tag, the count, the signature's length
    TAG = 84  # b"T"
    MAX_FIELDS = 32  # a tuple of more is pickled
    AHEAD = 16  # how many items ahead the check prefetches an item (half as far, its fields)
    INT = 105  # b"i"
    FLOAT = 102  # b"f"
    STR = 115  # b"s"
    OPEN = 40  # b"("
    CLOSE = 41  # b")"


cdef inline void _put_u32(char *at, uint32_t n) noexcept:
    memcpy(at, &n, 4)  # little-endian, as the layout is (see the module docstring)


cdef inline uint32_t _get_u32(const unsigned char *at) noexcept:
    cdef uint32_t n
    memcpy(&n, at, 4)
    return n


cdef inline int _letter(object item) noexcept:
    """The field letter of an exact int, float or str; 0 for anything else."""
    cdef type kind = type(item)
    if kind is int:
        return INT
    if kind is float:
        return FLOAT
    if kind is str:
        return STR
    return 0


cdef int _shape(object item, char *letters) noexcept:
    """The field letters of ``item``'s shape into ``letters``: its number of fields (a
    scalar: 1), negative for a tuple; 0 when it has no shape of this layout."""
    cdef Py_ssize_t j, width
    cdef int letter
    if type(item) is tuple:
        width = PyTuple_GET_SIZE(item)
        if width == 0 or width > MAX_FIELDS:
            return 0
        for j in range(width):
            letter = _letter(<object>PyTuple_GET_ITEM(item, j))
            if not letter:
                return 0
            letters[j] = <char>letter
        return -<int>width
    letter = _letter(item)
    if not letter:
        return 0
    letters[0] = <char>letter
    return 1


cdef bint _fits(object item, char letter, Py_ssize_t *text) noexcept:
    """True when ``item`` is a field of ``letter`` (adding a str's length to ``text``)."""
    cdef int overflow = 0
    cdef Py_ssize_t length
    if letter == INT:
        if type(item) is not int:
            return False
        PyLong_AsLongLongAndOverflow(item, &overflow)  # an exact int: no error, no call
        return overflow == 0
    if letter == FLOAT:
        return type(item) is float
    if type(item) is not str or not PyUnicode_IS_ASCII(item):
        return False
    length = PyUnicode_GET_LENGTH(item)
    if length > 0xFFFFFFFF:
        return False
    text[0] += length
    return True


cdef bint _column_fits(list column, int shape, const char *letters, Py_ssize_t *texts) noexcept:
    """True when every item of ``column`` has the shape (adding the text of each str field
    to its ``texts``)."""
    cdef Py_ssize_t i, j, width = -shape if shape < 0 else 1, n = PyList_GET_SIZE(column)
    cdef object item
    for i in range(n):
        # a spill's columns come in key order, their objects scattered in memory: each item
        # fetched ahead, and a tuple's fields once it is there (a float average's values)
        if i + AHEAD < n:
            prefetch(PyList_GET_ITEM(column, i + AHEAD))
        if shape < 0 and i + AHEAD // 2 < n:
            item = <object>PyList_GET_ITEM(column, i + AHEAD // 2)
            if type(item) is tuple:
                for j in range(PyTuple_GET_SIZE(item) if PyTuple_GET_SIZE(item) < 4 else 4):
                    prefetch(PyTuple_GET_ITEM(item, j))
        item = <object>PyList_GET_ITEM(column, i)
        if shape < 0:
            if type(item) is not tuple or PyTuple_GET_SIZE(item) != width:
                return False
            for j in range(width):
                if not _fits(<object>PyTuple_GET_ITEM(item, j), letters[j], &texts[j]):
                    return False
        elif not _fits(item, letters[0], &texts[0]):
            return False
    return True


cdef inline object _field(list column, Py_ssize_t i, int shape, Py_ssize_t j):
    cdef object item = <object>PyList_GET_ITEM(column, i)
    return <object>PyTuple_GET_ITEM(item, j) if shape < 0 else item


cdef char *_write_field(list column, int shape, Py_ssize_t j, char letter, char *out):
    """Write field ``j`` of every item of ``column``; returns where the next field goes."""
    cdef Py_ssize_t i, n = PyList_GET_SIZE(column), length
    cdef int overflow = 0
    cdef int64_t number
    cdef double real
    cdef char *lengths
    cdef object item
    if letter == INT:
        for i in range(n):
            number = PyLong_AsLongLongAndOverflow(_field(column, i, shape, j), &overflow)
            memcpy(out + 8 * i, &number, 8)
        return out + 8 * n
    if letter == FLOAT:
        for i in range(n):
            real = PyFloat_AS_DOUBLE(_field(column, i, shape, j))
            memcpy(out + 8 * i, &real, 8)
        return out + 8 * n
    lengths = out
    out += 4 * n
    for i in range(n):
        item = _field(column, i, shape, j)
        length = PyUnicode_GET_LENGTH(item)
        _put_u32(lengths + 4 * i, <uint32_t>length)
        memcpy(out, PyUnicode_DATA(item), length)
        out += length
    return out


cdef bytes _signature(int shape, const char *letters):
    cdef bytes fields = letters[: (-shape if shape < 0 else 1)]
    return b"(" + fields + b")" if shape < 0 else fields


def encode(list keys, list values):
    """The block of columns ``keys``, ``values`` (of one length, at least one row) when each
    column's items are all of one shape (see ``typedcolumns``); otherwise None (the caller
    pickles it)."""
    cdef Py_ssize_t n = PyList_GET_SIZE(keys), j, size
    cdef char key_letters[MAX_FIELDS]
    cdef char value_letters[MAX_FIELDS]
    cdef Py_ssize_t key_texts[MAX_FIELDS]
    cdef Py_ssize_t value_texts[MAX_FIELDS]
    cdef int key_shape, value_shape
    cdef bytes signature
    cdef object block
    cdef char *out
    if n == 0 or PyList_GET_SIZE(values) != n or n > 0xFFFFFFFF:
        return None
    key_shape = _shape(<object>PyList_GET_ITEM(keys, 0), key_letters)
    if not key_shape:
        return None
    value_shape = _shape(<object>PyList_GET_ITEM(values, 0), value_letters)
    if not value_shape:
        return None
    for j in range(MAX_FIELDS):
        key_texts[j] = 0
        value_texts[j] = 0
    if not _column_fits(keys, key_shape, key_letters, key_texts):
        return None
    if not _column_fits(values, value_shape, value_letters, value_texts):
        return None
    signature = _signature(key_shape, key_letters) + _signature(value_shape, value_letters)
    size = HEAD + len(signature)
    for j in range(-key_shape if key_shape < 0 else 1):
        size += 4 * n + key_texts[j] if key_letters[j] == STR else 8 * n
    for j in range(-value_shape if value_shape < 0 else 1):
        size += 4 * n + value_texts[j] if value_letters[j] == STR else 8 * n
    block = PyBytes_FromStringAndSize(NULL, size)
    out = PyBytes_AS_STRING(block)
    out[0] = TAG
    _put_u32(out + 1, <uint32_t>n)
    out[5] = <char>len(signature)
    memcpy(out + HEAD, PyBytes_AS_STRING(signature), len(signature))
    out += HEAD + len(signature)
    for j in range(-key_shape if key_shape < 0 else 1):
        out = _write_field(keys, key_shape, j, key_letters[j], out)
    for j in range(-value_shape if value_shape < 0 else 1):
        out = _write_field(values, value_shape, j, value_letters[j], out)
    return block


cdef list _columns(bytes signature):
    """The two columns of ``signature``: ``(shape, letters)`` each, as ``_shape`` gives a
    shape.

    Raises:
        ValueError: not two columns of known letters, or an empty or unclosed tuple.
    """
    cdef list columns = []
    cdef Py_ssize_t at = 0, end
    cdef bytes fields
    while at < len(signature):
        if signature[at] in (INT, FLOAT, STR):
            columns.append((1, signature[at : at + 1]))
            at += 1
            continue
        end = signature.find(b")", at)
        fields = signature[at + 1 : end] if signature[at] == OPEN and end > 0 else b""
        if not fields or len(fields) > MAX_FIELDS or fields.strip(b"ifs"):
            raise ValueError(f"a block of typed columns of signature {signature!r}")
        columns.append((-len(fields), fields))
        at = end + 1
    if len(columns) != 2:
        raise ValueError(f"a block of typed columns of signature {signature!r}")
    return columns


cdef inline void _put(list column, Py_ssize_t i, int shape, Py_ssize_t j, object item):
    Py_INCREF(item)  # PyList_SET_ITEM and PyTuple_SET_ITEM steal a reference: one for it
    if shape < 0:
        PyTuple_SET_ITEM(<object>PyList_GET_ITEM(column, i), j, item)
    else:
        PyList_SET_ITEM(column, i, item)


def decode(bytes block):
    """The ``(keys, values)`` columns of a block ``encode`` wrote.

    Raises:
        ValueError: a block of another layout or signature, lengths that do not add up to
            its size, or text that is not ASCII (a damaged block).
    """
    cdef Py_ssize_t size = PyBytes_GET_SIZE(block), n, i, j, c, at, start
    cdef const unsigned char *data = <const unsigned char *>PyBytes_AS_STRING(block)
    cdef uint64_t total, need
    cdef uint32_t length
    cdef int64_t number
    cdef double real
    cdef int shape
    cdef bytes letters
    cdef list columns, made = [], column
    cdef object item, text
    if size < HEAD or data[0] != TAG:
        raise ValueError("not a block of typed columns")
    n = _get_u32(data + 1)
    at = HEAD + data[5]
    if at > size:
        raise ValueError(f"a block of typed columns of {size} bytes cut in its signature")
    columns = _columns(block[HEAD:at])
    start = at
    # every field's bounds checked, and its text ASCII, before any object is made
    for shape, letters in columns:
        for j in range(len(letters)):
            need = (8 if letters[j] != STR else 4) * <uint64_t>n
            if need > <uint64_t>(size - at):
                raise ValueError(f"a block of typed columns of {n} rows cannot fit in"
                                 f" {size} bytes")
            if letters[j] == STR:
                total = 0
                for i in range(n):
                    total += _get_u32(data + at + 4 * i)
                at += 4 * n
                if total > <uint64_t>(size - at):
                    raise ValueError("a block of typed columns whose lengths overrun it")
                if not block[at : at + <Py_ssize_t>total].isascii():
                    raise ValueError("a block of typed columns holds text that is not ASCII")
                at += <Py_ssize_t>total
            else:
                at += 8 * n
    if at != size:
        raise ValueError(f"a block of typed columns of {size} bytes whose columns end at {at}")
    at = start
    for shape, letters in columns:
        column = PyList_New(n)
        if shape < 0:
            for i in range(n):
                item = PyTuple_New(-shape)
                Py_INCREF(item)
                PyList_SET_ITEM(column, i, item)
        for j in range(len(letters)):
            c = letters[j]
            if c == INT:
                for i in range(n):
                    memcpy(&number, data + at + 8 * i, 8)
                    _put(column, i, shape, j, PyLong_FromLongLong(number))
                at += 8 * n
            elif c == FLOAT:
                for i in range(n):
                    memcpy(&real, data + at + 8 * i, 8)
                    _put(column, i, shape, j, PyFloat_FromDouble(real))
                at += 8 * n
            else:
                start = at + 4 * n
                for i in range(n):
                    length = _get_u32(data + at + 4 * i)
                    text = PyUnicode_New(length, 127)
                    memcpy(PyUnicode_DATA(text), data + start, length)
                    _put(column, i, shape, j, text)
                    start += length
                at = start
        made.append(column)
    return made[0], made[1]
