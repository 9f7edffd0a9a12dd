# cython: language_level=3, boundscheck=False, wraparound=False
"""The reduce side's merge of column blocks, compiled: what ``merge_blocks`` and
``grouping.pair_columns`` (or ``group_batches``) give, with no pair or entry made.

``ColumnMerge`` is the identity reduce's: ``MergedPairs.columns`` (``merge.py``) uses it when
it is built and every run holds keys of one native kind; otherwise (and without a compiler
where minimr was installed) the merge of ``(key, value)`` pairs in Python. A loser tree of
the runs, each at its next key, ordered by key and then by the run's place (equal keys come
out in run order: stable, as ``heapq.merge``); str keys of one byte a character and bytes
keys are compared by their first 8 bytes first, as integers, then (both at most 8 long) by
their lengths, and through Python's ``<`` only past that, so a comparison hardly ever leaves
C. Each key equal to the one before it is given that one's object (the key to write of its
group), and the groups are counted, as ``pair_columns`` does.

``composite``: the runs are a secondary sort's composite segments of one signature (kind
``c``, ``sortvalues``: columns of plain keys and values, ordered by ``(key, value)``). Keys
that are equal are then ordered by their values (Python's ``<``, as the composite tuples
compare: tuples item by item and str of one byte a character in C, anything else through
Python), then by run. ``ColumnGroups`` hands the same merge on as key groups, a list of
values each (``grouping.group_lists`` makes the reducer's chunks of them).

Nothing here runs user code: a key that is not an exact str or bytes (composite: str,
bytes, int or tuple, and a value one of these) is refused (a ``TypeError``;
``SegmentReader.column_runs`` checks every block's keys before), so every comparison is
CPython's own, and no list changes under the merge.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport Py_EQ, Py_LT, PyObject_RichCompareBool
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp

from minimr.dataflow._prefetch cimport prefetch

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

# tuples nested deeper than this are compared by Python (which guards its recursion)
cdef int _DEEPEST = 32


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


cdef int _equal(object a, object b) except -1:
    """``a == b`` as a tuple compares its items (the same object is equal), str in C."""
    cdef Py_ssize_t n
    if a is b:
        return 1
    if type(a) is str and type(b) is str:
        n = PyUnicode_GET_LENGTH(a)
        if n != PyUnicode_GET_LENGTH(b) or PyUnicode_KIND(a) != PyUnicode_KIND(b):
            return 0  # CPython's str are canonical: equal text, one kind
        return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), n * PyUnicode_KIND(a)) == 0
    return PyObject_RichCompareBool(a, b, Py_EQ)


cdef int _less(object a, object b, int depth) except -1:
    """``a < b`` as Python has it: tuples item by item (the first unequal items decide, else
    the lengths), str of one byte a character by ``memcmp`` and length, as CPython does;
    anything else, or tuples past ``_DEEPEST``, by Python's ``<``."""
    cdef Py_ssize_t n, m, k
    cdef int c
    cdef object x, y
    if type(a) is tuple and type(b) is tuple and depth < _DEEPEST:
        n = PyTuple_GET_SIZE(a)
        m = PyTuple_GET_SIZE(b)
        for k in range(n if n < m else m):
            x = <object>PyTuple_GET_ITEM(a, k)
            y = <object>PyTuple_GET_ITEM(b, k)
            if not _equal(x, y):
                return _less(x, y, depth + 1)
        return n < m
    if (type(a) is str and type(b) is str and PyUnicode_KIND(a) == PyUnicode_1BYTE_KIND
            and PyUnicode_KIND(b) == PyUnicode_1BYTE_KIND):
        n = PyUnicode_GET_LENGTH(a)
        m = PyUnicode_GET_LENGTH(b)
        c = memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), n if n < m else m)
        return c < 0 if c != 0 else n < m
    return PyObject_RichCompareBool(a, b, Py_LT)


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
    cdef Py_ssize_t *_lengths  # and its length (a key of at most 8 is its prefix and length)
    cdef unsigned char *_kinds  # what that prefix stands for (``*_PREFIX``)
    # A loser tree over the runs (a comparison a level a pair, where a heap takes two):
    # node p of 1..n-1 holds the run that lost the match there, run r's leaf is n + r, and
    # _tree[0] the run whose pair comes next. A run with none left loses every match.
    cdef Py_ssize_t *_tree
    cdef Py_ssize_t _runs
    cdef unsigned char *_done
    cdef Py_ssize_t _live  # runs with pairs left
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
        self._tree = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
        self._done = <unsigned char *>malloc(n + 1)
        self._prefixes = <unsigned long long *>malloc((n + 1) * sizeof(unsigned long long))
        self._lengths = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
        self._kinds = <unsigned char *>malloc(n + 1)
        if (self._at is NULL or self._end is NULL or self._tree is NULL or self._done is NULL
                or self._prefixes is NULL or self._lengths is NULL or self._kinds is NULL):
            raise MemoryError()
        self._runs = n
        self._live = 0
        for i in range(n + 1):
            self._tree[i] = -1  # no match played there yet
        for i in range(n):
            self._at[i] = self._end[i] = 0
            self._done[i] = not self._refill(i)
            self._live += not self._done[i]
        for i in range(n):
            self._play(i)

    def __dealloc__(self):
        free(self._at)
        free(self._end)
        free(self._tree)
        free(self._done)
        free(self._prefixes)
        free(self._lengths)
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
        if self._at[i] + 1 < self._end[i]:
            # the run's next key and value, scattered in memory, fetched while the other
            # runs are merged: the run's turn comes again about a run count of pairs later
            prefetch(PyList_GET_ITEM(<list>self._keys[i], self._at[i] + 1))
            prefetch(PyList_GET_ITEM(<list>self._values[i], self._at[i] + 1))
        if self._composite:
            value = <object>PyList_GET_ITEM(<list>self._values[i], self._at[i])
            if not _plain(value):
                raise TypeError(f"a merged composite value of type {type(value).__name__}:"
                                " str, bytes, int or tuple expected")
        if type(key) is str and PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND:
            self._lengths[i] = PyUnicode_GET_LENGTH(key)
            self._prefixes[i] = _prefix(<const unsigned char *>PyUnicode_DATA(key),
                                        self._lengths[i])
            self._kinds[i] = STR_PREFIX
        elif type(key) is bytes:
            self._lengths[i] = PyBytes_GET_SIZE(key)
            self._prefixes[i] = _prefix(<const unsigned char *>PyBytes_AS_STRING(key),
                                        self._lengths[i])
            self._kinds[i] = BYTES_PREFIX
        elif type(key) is str or (self._composite and _plain(key)):
            self._kinds[i] = NO_PREFIX
        else:
            raise TypeError(f"a merged key of type {type(key).__name__}: str or bytes expected")
        return 0

    cdef inline int _before(self, Py_ssize_t i, Py_ssize_t j) except -1:
        """1 when run ``i``'s next pair comes before run ``j``'s (``i != j``): its key is
        less, or equal and (composite) its value less, or equal too and ``i`` the earlier
        run; a run with no pair left comes after every other."""
        cdef object a, b
        cdef bint settled = False  # the keys known equal
        if self._done[i] or self._done[j]:
            return not self._done[i] or (self._done[j] and i < j)
        if self._kinds[i] != NO_PREFIX and self._kinds[i] == self._kinds[j]:
            if self._prefixes[i] != self._prefixes[j]:
                return self._prefixes[i] < self._prefixes[j]
            if self._lengths[i] <= 8 and self._lengths[j] <= 8:
                # the same first 8 bytes, zero-padded: the shorter is the longer's prefix
                if self._lengths[i] != self._lengths[j]:
                    return self._lengths[i] < self._lengths[j]
                settled = True
        if not self._composite:
            if settled:
                return i < j
            a = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
            b = <object>PyList_GET_ITEM(<list>self._keys[j], self._at[j])
            if i < j:
                return not PyObject_RichCompareBool(b, a, Py_LT)
            return PyObject_RichCompareBool(a, b, Py_LT)
        # (key, value) tuples' order: the values settle equal keys
        if not settled:
            a = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
            b = <object>PyList_GET_ITEM(<list>self._keys[j], self._at[j])
            if not _equal(a, b):
                return _less(a, b, 0)
        a = <object>PyList_GET_ITEM(<list>self._values[i], self._at[i])
        b = <object>PyList_GET_ITEM(<list>self._values[j], self._at[j])
        if i < j:
            return not _less(b, a, 0)
        return _less(a, b, 0)

    cdef int _play(self, Py_ssize_t run) except -1:
        """Play run ``run`` up its path (it is entering the tree, or was the winner and has
        moved on): at each node the run that lost there plays the winner so far, and the
        loser stays. While the tree is first built, a node no run has reached yet keeps the
        winner, which waits there for the other side's."""
        cdef Py_ssize_t winner = run, node = (self._runs + run) // 2, other
        while node > 0:
            other = self._tree[node]
            if other < 0:
                self._tree[node] = winner
                return 0
            if self._before(other, winner):
                self._tree[node] = winner
                winner = other
            node //= 2
        self._tree[0] = winner
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
            i = self._tree[0]
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
        """Move run ``i``, the tree's winner, on by a pair, and play its matches again."""
        self._at[i] += 1
        if self._at[i] < self._end[i]:
            self._load_prefix(i)
        elif not self._refill(i):
            self._live -= 1
            self._done[i] = True
        if self._live:
            self._play(i)
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
            i = self._tree[0]
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
            i = self._tree[0]
            key = <object>PyList_GET_ITEM(<list>self._keys[i], self._at[i])
            self._running = key is self._previous or PyObject_RichCompareBool(
                key, self._previous, Py_EQ)
        return keys, lists, self._running
