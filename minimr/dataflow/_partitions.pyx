# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled twin of ``partition.HashPartitioner.partition_many``'s path for str keys:
``str_partitions`` gives the same numbers as the C calls there (encode, ``zlib.crc32``,
modulo), by zlib's CRC-32 computed a byte at a time from a table, over a compact ASCII str's
own bytes (its UTF-8, so no bytes object is made); other strs are encoded as before.
"""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.list cimport PyList_New, PyList_SET_ITEM

cdef extern from "Python.h":
    # the borrowed-pointer forms (no reference counting in the loops)
    void *_type_of "Py_TYPE"(PyObject *)
    void *_data "PyUnicode_DATA"(PyObject *)
    Py_ssize_t _length "PyUnicode_GET_LENGTH"(PyObject *)
    bint PyUnicode_IS_COMPACT_ASCII(object)
    char *PyBytes_AS_STRING(PyObject *)
    Py_ssize_t PyBytes_GET_SIZE(PyObject *)
    PyObject *_list_item "PyList_GET_ITEM"(PyObject *, Py_ssize_t)

cdef void *STR = <void *>str


cdef unsigned int CRC_TABLE[256]  # zlib's CRC-32 (reflected, 0xEDB88320), a byte at a time


cdef void _crc_table():
    cdef unsigned int c, i, k
    for i in range(256):
        c = i
        for k in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        CRC_TABLE[i] = c


_crc_table()


cdef inline unsigned int _crc32(unsigned int crc, const unsigned char *data, Py_ssize_t n):
    """``zlib.crc32(data, crc)``."""
    cdef Py_ssize_t i
    crc = ~crc
    for i in range(n):
        crc = CRC_TABLE[(crc ^ data[i]) & 0xFF] ^ (crc >> 8)
    return ~crc


def str_partitions(list keys, Py_ssize_t partitions, unsigned int seed):
    """``zlib.crc32(key.encode("utf-8", "surrogatepass"), seed) % partitions`` for every key
    when all are exact str (a compact ASCII str's own bytes are its UTF-8: no bytes object
    made); None otherwise. ``partition.HashPartitioner.partition_many``'s compiled path."""
    cdef Py_ssize_t i, n = len(keys)
    cdef PyObject *key
    cdef object encoded, number
    cdef unsigned int crc
    if partitions < 1:
        raise ValueError(f"{partitions} partitions")
    for i in range(n):
        if _type_of(_list_item(<PyObject *>keys, i)) is not STR:
            return None
    numbers = PyList_New(n)
    for i in range(n):
        key = _list_item(<PyObject *>keys, i)
        if PyUnicode_IS_COMPACT_ASCII(<object>key):
            crc = _crc32(seed, <const unsigned char *>_data(key), _length(key))
        else:
            encoded = (<str>key).encode("utf-8", "surrogatepass")
            crc = _crc32(seed, <const unsigned char *>PyBytes_AS_STRING(<PyObject *>encoded),
                         PyBytes_GET_SIZE(<PyObject *>encoded))
        number = <Py_ssize_t>(crc % <unsigned long long>partitions)
        Py_INCREF(number)
        PyList_SET_ITEM(numbers, i, number)
    return numbers
