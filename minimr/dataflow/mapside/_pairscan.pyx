# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of ``pairscan.py``'s functions (see there): same arguments, same results."""

from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem
from cpython.list cimport PyList_Append, PyList_GET_ITEM
from cpython.long cimport PyLong_FromSsize_t
from cpython.object cimport Py_EQ, PyObject, PyObject_Hash, PyObject_RichCompareBool
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdlib cimport free, malloc, realloc
from libc.stdint cimport uint32_t
from libc.string cimport memcpy, memset

from minimr.dataflow._prefetch cimport prefetch


def one_value_key_types(list pairs, object one):
    """The types of the keys when every item of ``pairs`` is an exact tuple of two whose value
    is the object ``one``; otherwise None."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef object item, kind
    cdef object last = None
    types = set()
    for i in range(n):
        item = pairs[i]
        if type(item) is not tuple or PyTuple_GET_SIZE(item) != 2:
            return None
        if <object>PyTuple_GET_ITEM(item, 1) is not one:
            return None
        kind = type(<object>PyTuple_GET_ITEM(item, 0))
        if kind is not last:
            types.add(kind)
            last = kind
    return types


def group_counted(counted):
    """``key -> [value, ...]`` from a dict of ``(key, value) -> times`` (exact tuples of two,
    keys of exact types): each value repeated ``times``, the values of a key in the dict's
    order."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *pair
    cdef PyObject *times
    cdef PyObject *found
    cdef object key, value, values
    cdef dict groups = {}
    if not isinstance(counted, dict):
        raise TypeError("group_counted needs a dict")
    while PyDict_Next(counted, &pos, &pair, &times):
        key = <object>PyTuple_GET_ITEM(<tuple><object>pair, 0)
        value = <object>PyTuple_GET_ITEM(<tuple><object>pair, 1)
        found = PyDict_GetItem(groups, key)
        if found is NULL:
            PyDict_SetItem(groups, key, [value] * <object>times)
        elif <object>times == 1:
            PyList_Append(<object>found, value)
        else:
            (<list><object>found).extend([value] * <object>times)
    return groups


def counted_runs(counted):
    """``key -> (value, times)`` from a dict of ``(key, value) -> times`` (exact tuples of
    two, keys of exact types) when no key has two values; None at the first that has."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *pair
    cdef PyObject *times
    cdef object key
    cdef dict runs = {}
    if not isinstance(counted, dict):
        raise TypeError("counted_runs needs a dict")
    while PyDict_Next(counted, &pos, &pair, &times):
        key = <object>PyTuple_GET_ITEM(<tuple><object>pair, 0)
        if PyDict_GetItem(runs, key) is not NULL:
            return None
        PyDict_SetItem(runs, key, (<object>PyTuple_GET_ITEM(<tuple><object>pair, 1),
                                   <object>times))
    return runs


def group_pairs(dict groups, list pairs, Py_ssize_t start):
    """Append the value of each pair of ``pairs[start:]`` to its key's entry of ``groups``
    (``key -> [key to write, values]``, made when missing) while the pair is an exact tuple
    of two whose key is of an exact canonical type and, when its key is there already, of
    the type of the key to write there. Returns the index of the first pair it left
    (``len(pairs)`` when none)."""
    cdef Py_ssize_t i, n = len(pairs)
    cdef object item, key, kind
    cdef PyObject *found
    for i in range(start, n):
        item = pairs[i]
        if type(item) is not tuple or PyTuple_GET_SIZE(item) != 2:
            return i
        key = <object>PyTuple_GET_ITEM(item, 0)
        kind = type(key)
        if not (kind is str or kind is int or kind is bytes or kind is bool
                or key is None):
            return i
        found = PyDict_GetItem(groups, key)
        if found is NULL:
            PyDict_SetItem(groups, key, [key, [<object>PyTuple_GET_ITEM(item, 1)]])
        elif type((<list><object>found)[0]) is not kind:
            return i
        else:
            PyList_Append((<list><object>found)[1], <object>PyTuple_GET_ITEM(item, 1))
    return n


cdef extern from "<stdlib.h>":
    void *aligned_alloc(size_t alignment, size_t size)


cdef extern from "Python.h":
    dict _PyDict_NewPresized(Py_ssize_t minused)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    void *PyUnicode_DATA(object o)


cdef struct Slot:  # 32 bytes: two a cache line
    Py_hash_t hash
    PyObject *key  # borrowed: the table's ``_order`` list holds the reference
    uint32_t index  # the key's place in ``_order``, and in ``_counts``
    uint32_t count  # the key's count not yet carried to ``_counts``
    unsigned long long text  # a short ASCII str key's text (``_text``), else 0


cdef Slot *_new_slots(Py_ssize_t size) except NULL:
    """``size`` empty slots, aligned to a cache line."""
    cdef Slot *slots = <Slot *>aligned_alloc(64, size * sizeof(Slot))
    if slots is NULL:
        raise MemoryError()
    memset(slots, 0, size * sizeof(Slot))
    return slots


cdef Py_ssize_t FIRST_SLOTS = 1024
cdef Py_ssize_t MAX_KEYS = 0xFFFFFFFF  # a slot's place is 32 bits
# keys hashed (and their slots prefetched) ahead of the one counted
DEF AHEAD = 8
DEF RING = 16  # a power of two over AHEAD: the hashes ahead, by position


cdef inline unsigned long long _text(object key):
    """An exact str's text in one word when it is compact ASCII of 1 to 7 characters: the
    characters in the low bytes, the length in the top one; else 0. Two such words are equal
    exactly when the strs are (equal strs are both ASCII, the same characters)."""
    cdef unsigned long long text = 0
    cdef Py_ssize_t n
    if type(key) is not str or not PyUnicode_IS_COMPACT_ASCII(key):
        return 0
    n = PyUnicode_GET_LENGTH(key)
    if n < 1 or n > 7:
        return 0
    memcpy(&text, PyUnicode_DATA(key), n)
    return text | (<unsigned long long>n << 56)


cdef inline void _add_one(Slot *slot, Py_ssize_t *counts, uint32_t limit):
    """One more of the slot's key: its count carried to ``counts`` first at ``limit``."""
    if slot.count >= limit:
        counts[slot.index] += slot.count
        slot.count = 0
    slot.count += 1


cdef inline object _key_at(list items, Py_ssize_t i, bint paired):
    """``items[i]``, or its first item when ``paired``."""
    if paired:
        return <object>PyTuple_GET_ITEM(<tuple>items[i], 0)
    return items[i]


cdef class KeyCounter:
    """Keys counted in an open-addressed table of ``(hash, key, place, count, text)`` slots,
    probed linearly as a ``set`` is, at most half full: one look-up a key and a C count,
    where a dict of counts looks a key up twice and makes a new int for a count past 256
    (``pairscan``). The keys are of exact types (``exact``): hashing and comparing them runs
    no code of the user's. Tests pass a ``hash_mask`` of a few bits, for keys' hashes to
    collide, and a low ``slot_limit``, for counts to be carried.

    A batch's keys are hashed ``AHEAD`` keys before they are counted and their slots
    prefetched, a short ASCII str key's text is kept in its slot (``_text``), and the count
    is the slot's (32 bits, carried to an array in first-seen order, ``_counts``, when it
    reaches ``slot_limit`` and when the counts are taken), so that finding a word already
    counted touches its slot alone: a 16 MiB text's 3 million words (167,000 distinct) cost
    three cache misses a word before, the slot's, the stored key's and the count's.

    ``counts`` makes its dict from the keys and counts in first-seen order, one insertion a
    key; a dict built in the table's order and copied into first-seen order took 800-1,200
    ns a key (a 16 MiB text's 167,000 words), each key's hash and slot read in random order
    twice over."""

    cdef Slot *_slots
    cdef Py_ssize_t _mask
    cdef Py_ssize_t _total
    cdef list _order  # the keys, first seen first
    cdef Py_ssize_t *_counts  # each key of ``_order``'s count carried from its slot
    cdef Py_ssize_t _room  # how many counts ``_counts`` has room for
    cdef Py_hash_t _hash_mask  # the bits of a key's hash used: all but in tests
    cdef uint32_t _slot_limit  # a slot's count carried to ``_counts`` when it gets here

    def __cinit__(self, Py_hash_t hash_mask=-1, uint32_t slot_limit=0xFFFFFFFF):
        self._slots = _new_slots(FIRST_SLOTS)
        self._counts = <Py_ssize_t *>malloc(FIRST_SLOTS * sizeof(Py_ssize_t))
        if self._counts is NULL:
            raise MemoryError()
        self._slot_limit = slot_limit
        self._mask = FIRST_SLOTS - 1
        self._room = FIRST_SLOTS
        self._total = 0
        self._order = []
        self._hash_mask = hash_mask

    def __dealloc__(self):
        free(self._slots)
        free(self._counts)

    def __len__(self):
        return len(self._order)

    cdef int _grow(self) except -1:
        cdef Py_ssize_t i, j, size = (self._mask + 1) * 2
        cdef Slot *old = self._slots
        cdef Slot *slots = _new_slots(size)
        for i in range(self._mask + 1):
            if old[i].key is not NULL:
                j = <size_t>old[i].hash & (size - 1)
                while slots[j].key is not NULL:
                    j = (j + 1) & (size - 1)
                slots[j] = old[i]
        free(old)
        self._slots = slots
        self._mask = size - 1
        return 0

    cdef int _count(self, object key, Py_hash_t h) except -1:
        """Count ``key``, of hash ``h``."""
        cdef Py_ssize_t j = <size_t>h & self._mask
        cdef Py_ssize_t index
        cdef Py_ssize_t *counts
        cdef Slot *slot
        cdef unsigned long long text = _text(key)
        while True:
            slot = &self._slots[j]
            if slot.key is NULL:
                index = len(self._order)
                if index == MAX_KEYS:
                    raise OverflowError("more than 2**32 - 1 distinct keys in one table")
                if index == self._room:
                    counts = <Py_ssize_t *>realloc(self._counts,
                                                   2 * self._room * sizeof(Py_ssize_t))
                    if counts is NULL:
                        raise MemoryError()
                    self._counts = counts
                    self._room *= 2
                self._order.append(key)
                slot.key = <PyObject *>key
                slot.hash = h
                slot.index = <uint32_t>index
                slot.count = 1
                slot.text = text
                self._counts[index] = 0
                if (index + 1) * 2 > self._mask:
                    self._grow()
                return 0
            if slot.hash == h:
                # both short ASCII strs: the texts decide, the stored key left unread
                if text != 0 and slot.text != 0:
                    if slot.text == text:
                        _add_one(slot, self._counts, self._slot_limit)
                        return 0
                elif slot.key is <PyObject *>key or PyObject_RichCompareBool(
                        <object>slot.key, key, Py_EQ):
                    _add_one(slot, self._counts, self._slot_limit)
                    return 0
            j = (j + 1) & self._mask

    cdef int _count_all(self, list items, bint paired) except -1:
        """Count every key of ``items``: the items themselves, or the first item of each
        (``paired``: exact tuples of two), each hashed and its slot prefetched ``AHEAD``
        keys before it is counted."""
        cdef Py_ssize_t i, n = len(items)
        cdef Py_hash_t hashes[RING]
        cdef object key
        for i in range(n + AHEAD):
            if i < n:
                key = _key_at(items, i, paired)
                hashes[i % RING] = PyObject_Hash(key) & self._hash_mask
                prefetch(&self._slots[<size_t>hashes[i % RING] & self._mask])
            if i >= AHEAD:
                self._count(_key_at(items, i - AHEAD, paired), hashes[(i - AHEAD) % RING])
        self._total += n
        return 0

    def count_pairs(self, list pairs):
        """Count the key of every pair (exact tuples of two)."""
        self._count_all(pairs, True)

    def count_keys(self, list keys):
        """Count every key."""
        self._count_all(keys, False)

    def first(self, Py_ssize_t n):
        """The first ``n`` keys counted."""
        return self._order[:n]

    cdef void _carry(self):
        """Every slot's count carried to ``_counts``."""
        cdef Py_ssize_t i
        cdef Slot *slot
        for i in range(self._mask + 1):
            slot = &self._slots[i]
            if slot.key is not NULL:
                self._counts[slot.index] += slot.count
                slot.count = 0

    def counts(self):
        """``key -> count``, first seen first: a dict made at its size (no resizing), one
        insertion a key."""
        cdef Py_ssize_t i, n = len(self._order)
        cdef dict counts = _PyDict_NewPresized(n)
        self._carry()
        for i in range(n):
            PyDict_SetItem(counts, <object>PyList_GET_ITEM(self._order, i),
                           PyLong_FromSsize_t(self._counts[i]))
        return counts

    def take(self):
        """``(the counts, the keys counted)``, the table emptied: the counts a ``Counted``,
        the table itself handed over (no dict made)."""
        cdef Slot *slots = _new_slots(FIRST_SLOTS)
        cdef Py_ssize_t *counts = <Py_ssize_t *>malloc(FIRST_SLOTS * sizeof(Py_ssize_t))
        cdef Counted taken = Counted.__new__(Counted)
        if counts is NULL:
            free(slots)
            raise MemoryError()
        taken._slots, taken._mask, taken._order, taken._counts = (
            self._slots, self._mask, self._order, self._counts)
        taken._hash_mask = self._hash_mask
        total = self._total
        self._slots, self._mask, self._order, self._counts = slots, FIRST_SLOTS - 1, [], counts
        self._room = FIRST_SLOTS
        self._total = 0
        return taken, total


cdef class Counted:
    """A ``KeyCounter``'s table, taken: ``key -> count`` as a read-only mapping in first-seen
    order (``dict(counted)`` is ``counts()``), whose ``counts_of`` looks many keys up in one
    compiled pass. A spill's keys, sorted, are looked up in an order unrelated to where they
    are in memory: each key's hash is read and its slot prefetched ``AHEAD`` keys before it
    is found, where a dict of counts (made first, one insertion a key) was looked up one key
    at a time."""

    cdef Slot *_slots
    cdef Py_ssize_t _mask
    cdef list _order
    cdef Py_ssize_t *_counts
    cdef Py_hash_t _hash_mask

    def __dealloc__(self):
        free(self._slots)
        free(self._counts)

    def __len__(self):
        return len(self._order)

    def __iter__(self):
        return iter(self._order)

    def keys(self):
        """The keys, first seen first."""
        return list(self._order)

    cdef Py_ssize_t _count_of(self, object key, Py_hash_t h) except -1:
        cdef Py_ssize_t j = <size_t>h & self._mask
        cdef Slot *slot
        cdef unsigned long long text = _text(key)
        while True:
            slot = &self._slots[j]
            if slot.key is NULL:
                raise KeyError(key)
            if slot.key is <PyObject *>key or (slot.hash == h and (
                    slot.text == text if text != 0 and slot.text != 0
                    else PyObject_RichCompareBool(<object>slot.key, key, Py_EQ))):
                return self._counts[slot.index] + slot.count
            j = (j + 1) & self._mask

    def __getitem__(self, key):
        return self._count_of(key, PyObject_Hash(key) & self._hash_mask)

    def counts_of(self, list keys):
        """The count of each of ``keys`` (KeyError for a key not counted)."""
        cdef Py_ssize_t i, n = len(keys)
        cdef Py_hash_t hashes[RING]
        cdef list counts = [None] * n
        for i in range(n + AHEAD):
            if i + AHEAD < n:  # the hash is read from the key's object, scattered in memory
                prefetch(PyList_GET_ITEM(keys, i + AHEAD))
            if i < n:
                hashes[i % RING] = PyObject_Hash(keys[i]) & self._hash_mask
                prefetch(&self._slots[<size_t>hashes[i % RING] & self._mask])
            if i >= AHEAD:
                counts[i - AHEAD] = self._count_of(keys[i - AHEAD], hashes[(i - AHEAD) % RING])
        return counts
