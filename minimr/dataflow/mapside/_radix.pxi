# The radix sort of ``_keysort.pyx`` (included there): records, prefixes, comparisons, and
# the sort by partition number and key. See ``_keysort.pyx``'s docstring for the method.

cdef extern from *:
    """
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
    unsigned long long ks_load_be64(const unsigned char *) noexcept nogil

# the exact types a key or a signature is made of, compared with ``Py_TYPE``
cdef enum:
    SMALL = 32  # a bucket of up to this many is merge-sorted (insertion-sorted), not split
    PARTITION_CAP = 1 << 16  # partition numbers from 0 below this; others: None
    AHEAD = 16  # how many items ahead the loops prefetch what they will touch
    # how deep the radix sort recurses (a split a level, 4 KiB of stack each) before the
    # merge sort finishes a bucket: keys built to split one off at every byte stay bounded
    DEEPEST = 64


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


cdef inline unsigned long long _str_prefix(PyObject *key, Py_ssize_t offset) noexcept:
    """The 8 bytes from ``offset`` of the key's UTF-8 (surrogates as their 3 bytes, which
    keeps the code points' order), without encoding the whole key."""
    cdef unsigned int kind = _kind(key)
    cdef const void *data = _data(key)
    cdef Py_ssize_t i, at = 0, length = _length(key)
    cdef unsigned long long prefix = 0
    cdef int filled = 0, size, j
    cdef unsigned int c
    cdef unsigned char code[4]
    if _is_ascii(key):
        if length <= offset:
            return 0
        return _bytes_prefix(<const unsigned char *>data + offset, length - offset)
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
            at += 1
            if at <= offset:  # a byte before the 8 wanted
                continue
            prefix = (prefix << 8) | code[j]
            filled += 1
            if filled == 8:
                return prefix
    return prefix << (8 * (8 - filled)) if filled else 0


cdef inline unsigned long long _prefix(PyObject *key, Py_ssize_t offset,
                                       bint bytes_keys) noexcept:
    """The 8 bytes from ``offset`` of a str key's UTF-8 or of a bytes key, big-endian,
    0-padded."""
    cdef Py_ssize_t length
    if not bytes_keys:
        return _str_prefix(key, offset)
    length = PyBytes_GET_SIZE(key)
    if length <= offset:
        return 0
    return _bytes_prefix(<const unsigned char *>PyBytes_AS_STRING(key) + offset,
                         length - offset)


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


cdef bint _refill(Rec *recs, Py_ssize_t n, Py_ssize_t offset, bint bytes_keys) noexcept:
    """Each record's prefix made the key's 8 bytes from ``offset``; whether any is not 0
    (else the keys are past their ends, or 0 bytes there: nothing left to tell apart)."""
    cdef Py_ssize_t i
    cdef bint any_set = False
    for i in range(n):
        if i + AHEAD < n:
            prefetch(<char *>recs[i + AHEAD].key + 56)
        recs[i].prefix = _prefix(recs[i].key, offset, bytes_keys)
        any_set |= recs[i].prefix != 0
    return any_set


cdef void _radix(Rec *src, Rec *other, Py_ssize_t n, int byte, bint here,
                 Compare compare, Py_ssize_t offset, bint bytes_keys, int level) noexcept:
    """``src[:n]``, whose keys agree before byte ``offset + byte`` (their prefixes hold
    bytes ``offset`` to ``offset + 7``), sorted stably by ``compare``; the result left in
    ``src`` when ``here``, else in ``other`` (as long: the scatter's room). ``level``: how
    many calls deep this one is."""
    cdef Py_ssize_t counts[256]
    cdef Py_ssize_t places[256]
    cdef Py_ssize_t i, start
    cdef int shift, b
    while True:
        if byte == 8 and n > SMALL:  # a tie past 8 bytes (URLs, ids): the next 8
            offset += 8
            byte = 0
            if not _refill(src, n, offset, bytes_keys):
                byte = 8
        if n <= SMALL or byte == 8 or level >= DEEPEST:
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
            _radix(other + start, src + start, counts[b], byte + 1, not here, compare,
                   offset, bytes_keys, level + 1)
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
                prefetch(ahead)
                if not keyed:  # a str's text starts 40-48 bytes in: often the next line
                    prefetch(<char *>ahead + 56)
            if keyed and i + AHEAD // 2 < n:
                ahead = _list_item(listed, i + AHEAD // 2)
                if _type_of(ahead) == TUPLE and Py_SIZE(ahead) == 2:
                    prefetch(_tuple_item(ahead, 0))
                    prefetch(<char *>_tuple_item(ahead, 0) + 56)
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
                recs[i].prefix = _str_prefix(key, 0)
            else:
                recs[i].prefix = _bytes_prefix(<const unsigned char *>PyBytes_AS_STRING(key),
                                               PyBytes_GET_SIZE(key))
            recs[i].key = key
        if kind == BYTES and compare == _compare_str:
            compare = _compare_bytes
        if numbers is None:
            _radix(recs, scratch, n, 0, True, compare, 0, kind == BYTES, 0)
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
            _radix(scratch + start, recs + start, places[i] - start, 0, False, compare, 0,
                   kind == BYTES, 0)
            start = places[i]
        free(parts)
        free(sizes)
        return recs
    except BaseException:  # a partition number that is not an int
        free(parts)
        free(sizes)
        free(recs)
        raise
