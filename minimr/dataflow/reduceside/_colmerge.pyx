# cython: language_level=3, boundscheck=False, wraparound=False
"""The reduce side's merge of column blocks, compiled: what ``merge_blocks`` and
``grouping.pair_columns`` (or ``group_batches``) give, with no pair or entry made.

``ColumnMerge`` is the identity reduce's: ``MergedPairs.columns`` (``merge.py``) uses it when
it is built and every run holds keys of one native kind; otherwise (and without a compiler
where minimr was installed) the merge of ``(key, value)`` pairs in Python. A heap of the
runs, each at its next key, ordered by key and then by the run's place (equal keys come out
in run order: stable, as ``heapq.merge``); str keys of one byte a character and bytes keys
are compared by their first 8 bytes first, as integers, and through Python's ``<`` only past
equal prefixes, so a comparison hardly ever leaves C. Each key equal to the one before it is
given that one's object (the key to write of its group), and the groups are counted, as
``pair_columns`` does.

``composite``: the runs are a secondary sort's composite segments of one signature (kind
``c``, ``sortvalues``: columns of plain keys and values, ordered by ``(key, value)``). Keys
that are equal are then ordered by their values (Python's ``<``: the composite tuples'
order, with no tuple made), then by run. ``ColumnGroups`` hands the same merge on as key
groups, a list of values each (``grouping.group_lists`` makes the reducer's chunks of them).

Nothing here runs user code: a key that is not an exact str or bytes (composite: str,
bytes, int or tuple, and a value one of these) is refused (a ``TypeError``;
``SegmentReader.column_runs`` checks every block's keys before), so every comparison is
CPython's own, and no list changes under the merge.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport Py_EQ, Py_LT, PyObject_RichCompareBool
from libc.stdlib cimport free, malloc

cdef extern from "Python.h":
    unsigned int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    unsigned int PyUnicode_1BYTE_KIND

# what a run's next key's prefix stands for: the first 8 characters of a str of one byte a
# character, the first 8 bytes of a bytes, or nothing (a wider str, compared through Python)
cdef enum:
    NO_PREFIX = 0
    STR_PREFIX = 1
    BYTES_PREFIX = 2


cdef inline unsigned long long _prefix(const unsigned char *data, Py_ssize_t length) noexcept:
    """The first 8 bytes of ``data``, big-endian, zero-padded: ordered as the text is, up to
    ties (which the full comparison settles)."""
    cdef unsigned long long prefix = 0
    cdef Py_ssize_t j
    for j in range(8):
        prefix <<= 8
        if j < length:
            prefix |= data[j]
    return prefix


cdef class ColumnMerge:
    """Iterates over ``(keys, values, groups)``: the merged pairs of ``sources`` as column
    lists of at most ``size`` pairs, and the number of key groups starting in them.

    Args:
        sources: one iterator a sorted run, of ``(keys, values)`` blocks (tuples of two lists
            of one length), in run order.
        size: the most pairs a batch holds.
        composite: the runs are composite segments' columns (above): pairs of equal keys
            ordered by value.

    Raises:
        ValueError: a block that is not two lists of one length.
        TypeError: a key not an exact str or bytes (composite: or int or tuple, and a
            value of these four), or keys (values) of two types together.
    """

    cdef list _sources
    cdef list _keys  # each run's current block's keys column
    cdef list _values
    cdef Py_ssize_t *_at  # each run's next pair in its block
    cdef Py_ssize_t *_end
    cdef unsigned long long *_prefixes  # each run's next key's prefix
    cdef unsigned char *_kinds  # what that prefix stands for (``*_PREFIX``)
    cdef Py_ssize_t *_heap  # the runs with pairs left, the least at the top
    cdef Py_ssize_t _live
    cdef Py_ssize_t _size
    cdef object _previous  # the last key handed on (the key to write of its group)
    cdef bint _started
    cdef bint _composite

    def __cinit__(self, sources, Py_ssize_t size, bint composite=False):
        cdef Py_ssize_t n = len(sources), i
        self._composite = composite
        self._sources = [iter(source) for source in sources]
        self._keys = [None] * n
        self._values = [None] * n
        self._size = size if size > 0 else 1
        self._at = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
        self._end = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
        self._heap = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
        self._prefixes = <unsigned long long *>malloc((n + 1) * sizeof(unsigned long long))
        self._kinds = <unsigned char *>malloc(n + 1)
        if (self._at is NULL or self._end is NULL or self._heap is NULL
                or self._prefixes is NULL or self._kinds is NULL):
            raise MemoryError()
        self._live = 0
        for i in range(n):
            self._at[i] = self._end[i] = 0
            if self._refill(i):
                self._heap[self._live] = i
                self._live += 1
        for i in range(self._live // 2 - 1, -1, -1):
            self._sift_down(i)

    def __dealloc__(self):
        free(self._at)
        free(self._end)
        free(self._heap)
        free(self._prefixes)
        free(self._kinds)

    cdef bint _refill(self, Py_ssize_t i) except -1:
        """Load run ``i``'s next block that holds pairs; False when the run has none left."""
        cdef object block, keys, values
        for block in self._sources[i]:
            if type(block) is not tuple or len(block) != 2:
                raise ValueError("a column block is not a (keys, values) pair")
            keys, values = block
            if type(keys) is not list or type(values) is not list:
                raise ValueError("a column block's columns are not lists")
            if PyList_GET_SIZE(keys) != PyList_GET_SIZE(values):
                raise ValueError(f"a column block of {len(keys)} keys and {len(values)}"
                                 " values")
            if PyList_GET_SIZE(keys) == 0:
                continue
            self._keys[i] = keys
            self._values[i] = values
            self._at[i] = 0
            self._end[i] = PyList_GET_SIZE(keys)
            self._load_prefix(i)
            return True
        self._keys[i] = self._values[i] = None
        return False

    cdef inline int _load_prefix(self, Py_ssize_t i) except -1:
        """Take run ``i``'s next key's prefix.

        Raises:
            TypeError: the key is not an exact str or bytes (composite: or int or tuple;
                and the value not one of these four).
        """
        cdef object key = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
        cdef object value
        if self._composite:
            value = <object>PyList_GET_ITEM(<list>self._values[i], self._at[i])
            if not _plain(value):
                raise TypeError(f"a merged composite value of type {type(value).__name__}:"
                                " str, bytes, int or tuple expected")
        if type(key) is str and PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND:
            self._prefixes[i] = _prefix(<const unsigned char *>PyUnicode_DATA(key),
                                        PyUnicode_GET_LENGTH(key))
            self._kinds[i] = STR_PREFIX
        elif type(key) is bytes:
            self._prefixes[i] = _prefix(<const unsigned char *>PyBytes_AS_STRING(key),
                                        PyBytes_GET_SIZE(key))
            self._kinds[i] = BYTES_PREFIX
        elif type(key) is str or (self._composite and _plain(key)):
            self._kinds[i] = NO_PREFIX
        else:
            raise TypeError(f"a merged key of type {type(key).__name__}: str or bytes expected")
        return 0

    cdef inline int _before(self, Py_ssize_t i, Py_ssize_t j) except -1:
        """1 when run ``i``'s next pair comes before run ``j``'s (``i != j``): its key is
        less, or equal and (composite) its value less, or equal too and ``i`` the earlier
        run."""
        cdef object a, b
        if (self._kinds[i] != NO_PREFIX and self._kinds[i] == self._kinds[j]
                and self._prefixes[i] != self._prefixes[j]):
            return self._prefixes[i] < self._prefixes[j]
        a = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
        b = <object>PyList_GET_ITEM(<list>self._keys[j], self._at[j])
        if self._composite:  # (key, value) tuples' order: the values settle equal keys
            if a is not b and not PyObject_RichCompareBool(a, b, Py_EQ):
                return PyObject_RichCompareBool(a, b, Py_LT)
            a = <object>PyList_GET_ITEM(<list>self._values[i], self._at[i])
            b = <object>PyList_GET_ITEM(<list>self._values[j], self._at[j])
        if i < j:
            return not PyObject_RichCompareBool(b, a, Py_LT)
        return PyObject_RichCompareBool(a, b, Py_LT)

    cdef int _sift_down(self, Py_ssize_t position) except -1:
        """Restore the heap below ``position``, whose run may have moved on."""
        cdef Py_ssize_t *heap = self._heap
        cdef Py_ssize_t item = heap[position], child
        while True:
            child = 2 * position + 1
            if child >= self._live:
                break
            if child + 1 < self._live and self._before(heap[child + 1], heap[child]):
                child += 1
            if not self._before(heap[child], item):
                break
            heap[position] = heap[child]
            position = child
        heap[position] = item
        return 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef list keys, values
        cdef Py_ssize_t i, groups = 0, n = 0
        cdef object key
        if self._live == 0:
            raise StopIteration
        keys = []
        values = []
        while self._live and n < self._size:
            i = self._heap[0]
            key = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
            if self._started and (key is self._previous
                                  or PyObject_RichCompareBool(key, self._previous, Py_EQ)):
                keys.append(self._previous)
            else:
                keys.append(key)
                self._previous = key
                self._started = True
                groups += 1
            values.append(<object>PyList_GET_ITEM(<list>self._values[i], self._at[i]))
            n += 1
            self._advance(i)
        return keys, values, groups

    cdef int _advance(self, Py_ssize_t i) except -1:
        """Move run ``i``, the heap's top, on by a pair, and restore the heap."""
        self._at[i] += 1
        if self._at[i] < self._end[i]:
            self._load_prefix(i)
        elif not self._refill(i):
            self._live -= 1
            self._heap[0] = self._heap[self._live]
        if self._live:
            self._sift_down(0)
        return 0


cdef inline bint _plain(object item) noexcept:
    """An exact str, bytes, int or tuple: what a composite segment's keys and values are."""
    cdef type kind = type(item)
    return kind is str or kind is bytes or kind is int or kind is tuple


cdef class ColumnGroups(ColumnMerge):
    """Iterates over ``(keys, lists, runs_on)``: the merge of ``ColumnMerge`` (the same
    arguments) as key groups, each key once with the list of its values, at most ``size``
    values a batch.

    A key whose values run past a batch's end is its last: ``runs_on`` is then True, and the
    next batch's first list holds more of its values (under the same key object, listed
    again), so a hot key is never one list in memory. Every group's key is its first pair's
    key object, the key to write.
    """

    cdef bint _running  # the last batch's last group runs on into the next

    def __next__(self):
        cdef list keys, lists, current = None
        cdef Py_ssize_t i, n = 0
        cdef object key
        if self._live == 0:
            raise StopIteration
        keys = []
        lists = []
        if self._running:
            current = []
            keys.append(self._previous)
            lists.append(current)
        while self._live and n < self._size:
            i = self._heap[0]
            key = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
            if current is None or not (key is self._previous or PyObject_RichCompareBool(
                    key, self._previous, Py_EQ)):
                current = []
                keys.append(key)
                lists.append(current)
                self._previous = key
            current.append(<object>PyList_GET_ITEM(<list>self._values[i], self._at[i]))
            n += 1
            self._advance(i)
        self._running = False
        if self._live:
            i = self._heap[0]
            key = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
            self._running = key is self._previous or PyObject_RichCompareBool(
                key, self._previous, Py_EQ)
        return keys, lists, self._running
