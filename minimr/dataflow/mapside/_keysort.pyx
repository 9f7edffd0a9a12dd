# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled twins of ``keysort.py``'s ``sorted_columns``, ``sorted_keys`` and
``sorted_composite_columns`` (see there): same arguments, and the same result whenever they
give one (None where a partition number is negative or past ``PARTITION_CAP``).

The sort: a stable counting pass by partition number, then, within each partition, an MSD
radix sort on each key's first 8 bytes (the UTF-8 bytes of a str: their order is the code
points' order, the order Python compares str by). Buckets of ``SMALL`` or fewer, and keys
whose 8 bytes tie, are finished by a stable merge sort comparing the whole keys (and, for a
secondary sort, the values). Every pass moves 24-byte records (prefix, key, value), and every
pass is stable, so ties end in input order: the order is (partition, key[, value], place),
what ``qsort`` of the same entries by the same comparison gave before.
"""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.list cimport PyList_New, PyList_SET_ITEM
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memset

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

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define KS_PREFETCH(p) __builtin_prefetch((const void *)(p))
    #define KS_PREFETCH_W(p) __builtin_prefetch((const void *)(p), 1)
    #else
    #define KS_PREFETCH(p) ((void)0)
    #define KS_PREFETCH_W(p) ((void)0)
    #endif
    /* the first 8 of at least 8 bytes as one big-endian number */
    static inline unsigned long long ks_load_be64(const unsigned char *p) {
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \\
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        unsigned long long v;
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    #else
        unsigned long long v = 0;
        int i;
        for (i = 0; i < 8; i++) v = (v << 8) | p[i];
        return v;
    #endif
    }
    """
    void KS_PREFETCH(const void *) noexcept nogil
    void KS_PREFETCH_W(const void *) noexcept nogil
    unsigned long long ks_load_be64(const unsigned char *) noexcept nogil

# the exact types a key or a signature is made of, compared with ``Py_TYPE``
cdef void *STR = <void *>str
cdef void *INT = <void *>int
cdef void *BYTES = <void *>bytes
cdef void *TUPLE = <void *>tuple

cdef enum:
    SMALL = 32  # a bucket of up to this many is merge-sorted (insertion-sorted), not split
    PARTITION_CAP = 1 << 16  # partition numbers from 0 below this; others: None
    AHEAD = 16  # how many items ahead the loops prefetch what they will touch


ctypedef struct Rec:
    unsigned long long prefix  # the key's first 8 bytes (UTF-8 for str), big-endian, 0-padded
    PyObject *key
    PyObject *value  # NULL for keys alone

ctypedef int (*Compare)(const Rec *, const Rec *) noexcept


# -- prefixes and comparisons ------------------------------------------------------------------

cdef inline unsigned long long _bytes_prefix(const unsigned char *data,
                                             Py_ssize_t length) noexcept nogil:
    cdef unsigned long long prefix = 0
    cdef Py_ssize_t j
    if length >= 8:
        return ks_load_be64(data)
    if length == 0:
        return 0
    for j in range(length):
        prefix = (prefix << 8) | data[j]
    return prefix << (8 * (8 - length))


cdef inline unsigned long long _str_prefix(PyObject *key) noexcept:
    """The first 8 bytes of the key's UTF-8 (surrogates as their 3 bytes, which keeps the
    code points' order), without encoding the whole key."""
    cdef unsigned int kind = _kind(key)
    cdef const void *data = _data(key)
    cdef Py_ssize_t i, length = _length(key)
    cdef unsigned long long prefix = 0
    cdef int filled = 0, size, j
    cdef unsigned int c
    cdef unsigned char code[4]
    if _is_ascii(key):
        return _bytes_prefix(<const unsigned char *>data, length)
    for i in range(length):
        c = _read(kind, data, i)
        if c < 0x80:
            code[0] = c
            size = 1
        elif c < 0x800:
            code[0] = 0xC0 | (c >> 6)
            code[1] = 0x80 | (c & 0x3F)
            size = 2
        elif c < 0x10000:
            code[0] = 0xE0 | (c >> 12)
            code[1] = 0x80 | ((c >> 6) & 0x3F)
            code[2] = 0x80 | (c & 0x3F)
            size = 3
        else:
            code[0] = 0xF0 | (c >> 18)
            code[1] = 0x80 | ((c >> 12) & 0x3F)
            code[2] = 0x80 | ((c >> 6) & 0x3F)
            code[3] = 0x80 | (c & 0x3F)
            size = 4
        for j in range(size):
            prefix = (prefix << 8) | code[j]
            filled += 1
            if filled == 8:
                return prefix
    return prefix << (8 * (8 - filled)) if filled else 0


cdef inline int _order(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return -1 if a < b else (1 if a > b else 0)


cdef int _compare_str(const Rec *x, const Rec *y) noexcept:
    """Python's order of two exact str keys (by code point), their prefixes first."""
    cdef PyObject *a = x.key
    cdef PyObject *b = y.key
    cdef unsigned int ka, kb
    cdef Py_ssize_t i, la, lb, shorter
    cdef unsigned int ca, cb
    cdef int c
    if x.prefix != y.prefix:
        return -1 if x.prefix < y.prefix else 1
    ka = _kind(a)
    kb = _kind(b)
    la = _length(a)
    lb = _length(b)
    shorter = la if la < lb else lb
    if ka == 1 and kb == 1:
        c = memcmp(_data(a), _data(b), shorter)
        if c:
            return -1 if c < 0 else 1
    else:
        for i in range(shorter):
            ca = _read(ka, _data(a), i)
            cb = _read(kb, _data(b), i)
            if ca != cb:
                return -1 if ca < cb else 1
    return _order(la, lb)


cdef inline int _compare_bytes_objects(PyObject *a, PyObject *b) noexcept:
    cdef Py_ssize_t la = PyBytes_GET_SIZE(a), lb = PyBytes_GET_SIZE(b)
    cdef int c = memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), la if la < lb else lb)
    if c:
        return -1 if c < 0 else 1
    return _order(la, lb)


cdef int _compare_bytes(const Rec *x, const Rec *y) noexcept:
    """The order of two exact bytes keys (byte by byte, unsigned), their prefixes first."""
    if x.prefix != y.prefix:
        return -1 if x.prefix < y.prefix else 1
    return _compare_bytes_objects(x.key, y.key)


cdef int _compare_values(PyObject *a, PyObject *b) noexcept:
    """Python's order of two values of one signature (str, bytes, int or tuples of such, of
    one shape: checked before the sort), as -1, 0 or 1. None of these comparisons can fail."""
    cdef void *kind
    cdef Py_ssize_t i, n
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
        return _compare_bytes_objects(a, b)
    n = Py_SIZE(a)  # a tuple, of the same length as b (one signature)
    for i in range(n):
        c = _compare_values(_tuple_item(a, i), _tuple_item(b, i))
        if c:
            return c
    return 0


cdef int _compare_composite(const Rec *x, const Rec *y) noexcept:
    cdef int c = _compare_str(x, y)
    return c if c else _compare_values(x.value, y.value)


# -- the sort ----------------------------------------------------------------------------------

cdef void _merge_sort(Rec *a, Rec *scratch, Py_ssize_t n, Compare compare) noexcept:
    """``a[:n]`` sorted stably by ``compare``, with ``scratch`` (as long) to merge through."""
    cdef Py_ssize_t i, j, k, half
    cdef Rec item
    if n <= SMALL:  # insertion: few moves, no calls past the first smaller item
        for i in range(1, n):
            item = a[i]
            j = i
            while j > 0 and compare(&item, &a[j - 1]) < 0:
                a[j] = a[j - 1]
                j -= 1
            a[j] = item
        return
    half = n // 2
    _merge_sort(a, scratch, half, compare)
    _merge_sort(a + half, scratch + half, n - half, compare)
    if compare(&a[half - 1], &a[half]) <= 0:  # already in order
        return
    memcpy(scratch, a, half * sizeof(Rec))
    i, j, k = 0, half, 0
    while i < half and j < n:  # the left one first on a tie: stable
        if compare(&a[j], &scratch[i]) < 0:
            a[k] = a[j]
            j += 1
        else:
            a[k] = scratch[i]
            i += 1
        k += 1
    if i < half:
        memcpy(a + k, scratch + i, (half - i) * sizeof(Rec))


cdef void _radix(Rec *src, Rec *other, Py_ssize_t n, int byte, bint here,
                 Compare compare) noexcept:
    """``src[:n]``, whose prefixes agree before ``byte``, sorted stably by ``compare``; the
    result left in ``src`` when ``here``, else in ``other`` (as long: the scatter's room)."""
    cdef Py_ssize_t counts[256]
    cdef Py_ssize_t places[256]
    cdef Py_ssize_t i, start
    cdef int shift, b
    while True:
        if n <= SMALL or byte == 8:
            _merge_sort(src, other, n, compare)
            if not here:
                memcpy(other, src, n * sizeof(Rec))
            return
        shift = 56 - 8 * byte
        memset(counts, 0, sizeof(counts))
        for i in range(n):
            counts[(src[i].prefix >> shift) & 0xFF] += 1
        if counts[(src[0].prefix >> shift) & 0xFF] != n:
            break
        byte += 1  # one bucket: on to the next byte, nothing moved
    start = 0
    for b in range(256):
        places[b] = start
        start += counts[b]
    for i in range(n):  # stable: each bucket's records in their order
        b = (src[i].prefix >> shift) & 0xFF
        other[places[b]] = src[i]
        places[b] += 1
    start = 0
    for b in range(256):
        if counts[b]:
            _radix(other + start, src + start, counts[b], byte + 1, not here, compare)
            start += counts[b]


cdef Py_ssize_t *_partition_sizes(list numbers, Py_ssize_t n, int *parts) except? NULL:
    """Each record's partition number (into ``parts``) and how many each partition has (a new
    array of as many as the greatest number + 1, the count first); NULL (no error set) when a
    number is negative or past ``PARTITION_CAP``."""
    cdef Py_ssize_t i, number, top = 0
    cdef Py_ssize_t *sizes
    for i in range(n):
        number = numbers[i]
        if number < 0 or number >= PARTITION_CAP:
            return NULL
        parts[i] = <int>number
        if number > top:
            top = number
    sizes = <Py_ssize_t *>calloc(top + 2, sizeof(Py_ssize_t))
    if sizes is NULL:
        raise MemoryError()
    sizes[0] = top + 1
    for i in range(n):
        sizes[parts[i] + 1] += 1
    return sizes


cdef Rec *_sorted(list items, object numbers, bint keyed, bint bytes_keys,
                  Compare compare) except? NULL:
    """``items`` (pairs, or keys when not ``keyed``) as records sorted by partition number
    (``numbers``, or None) and ``compare``: a new array of 2 * len(items) records, the sorted
    ones first (the caller frees it); NULL (no error set) when an item is not an exact tuple
    of two, a key is not of one exact type (str, or bytes when ``bytes_keys``), or a partition
    number is out of range."""
    cdef Py_ssize_t i, n = len(items), start
    cdef Rec *recs
    cdef Rec *scratch
    cdef PyObject *item
    cdef PyObject *key
    cdef PyObject *ahead
    cdef PyObject *listed = <PyObject *>items
    cdef void *kind = NULL
    cdef int *parts = NULL
    cdef Py_ssize_t *sizes = NULL
    cdef Py_ssize_t *places
    if numbers is not None and len(numbers) != n:
        raise ValueError(
            f"{len(numbers)} partition numbers for {n} {'pairs' if keyed else 'keys'}")
    recs = <Rec *>malloc((2 * n if n else 1) * sizeof(Rec))
    if recs is NULL:
        raise MemoryError()
    scratch = recs + n
    try:
        for i in range(n):
            if i + AHEAD < n:  # the pair (or key) a few turns ahead, its key nearer
                ahead = _list_item(listed, i + AHEAD)
                KS_PREFETCH(ahead)
                if not keyed:  # a str's text starts 40-48 bytes in: often the next line
                    KS_PREFETCH(<char *>ahead + 56)
            if keyed and i + AHEAD // 2 < n:
                ahead = _list_item(listed, i + AHEAD // 2)
                if _type_of(ahead) == TUPLE and Py_SIZE(ahead) == 2:
                    KS_PREFETCH(_tuple_item(ahead, 0))
                    KS_PREFETCH(<char *>_tuple_item(ahead, 0) + 56)
            item = _list_item(listed, i)
            if keyed:
                if _type_of(item) != TUPLE or Py_SIZE(item) != 2:
                    free(recs)
                    return NULL
                key = _tuple_item(item, 0)
                recs[i].value = _tuple_item(item, 1)
            else:
                key = item
                recs[i].value = NULL
            if kind == NULL:
                kind = _type_of(key)
                if kind != STR and not (bytes_keys and kind == BYTES):
                    free(recs)
                    return NULL
            elif _type_of(key) != kind:
                free(recs)
                return NULL
            if kind == STR:
                PyUnicode_READY(<object>key)
                recs[i].prefix = _str_prefix(key)
            else:
                recs[i].prefix = _bytes_prefix(<const unsigned char *>PyBytes_AS_STRING(key),
                                               PyBytes_GET_SIZE(key))
            recs[i].key = key
        if kind == BYTES and compare == _compare_str:
            compare = _compare_bytes
        if numbers is None:
            _radix(recs, scratch, n, 0, True, compare)
            return recs
        parts = <int *>malloc((n if n else 1) * sizeof(int))
        if parts is NULL:
            raise MemoryError()
        sizes = _partition_sizes(numbers, n, parts)
        if sizes is NULL:
            free(parts)
            free(recs)
            return NULL
        places = sizes + 1  # a stable counting pass into scratch, by partition
        start = 0
        for i in range(sizes[0]):
            start, places[i] = start + places[i], start
        for i in range(n):
            scratch[places[parts[i]]] = recs[i]
            places[parts[i]] += 1
        start = 0  # each partition from scratch, sorted back into recs
        for i in range(sizes[0]):
            _radix(scratch + start, recs + start, places[i] - start, 0, False, compare)
            start = places[i]
        free(parts)
        free(sizes)
        return recs
    except BaseException:  # a partition number that is not an int
        free(parts)
        free(sizes)
        free(recs)
        raise


cdef list _column(const Rec *recs, Py_ssize_t n, bint values):
    """The sorted records' keys (or values) as a new list."""
    cdef Py_ssize_t i
    cdef PyObject *item
    column = PyList_New(n)
    for i in range(n):  # PyList_SET_ITEM steals a reference: one is taken for it
        if i + AHEAD < n:  # the object whose count is taken a few turns ahead
            KS_PREFETCH_W(recs[i + AHEAD].value if values else recs[i + AHEAD].key)
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
