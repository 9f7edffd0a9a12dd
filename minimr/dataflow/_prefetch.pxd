# Hints to the CPU for the compiled helpers: load the cache line at ``p``, which the loop
# reads (``prefetch``) or writes (``prefetch_write``) soon. After a sort, or in a table built
# long before, the objects a loop visits in turn lie scattered in memory; asked for a few
# items ahead, they arrive while the item at hand is worked on. They change nothing a loop
# computes, and are nothing where the compiler has no such builtin. One definition for every
# helper:
#
#     from minimr.dataflow._prefetch cimport prefetch, prefetch_write

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define MINIMR_PREFETCH(p) __builtin_prefetch((const void *)(p))
    #define MINIMR_PREFETCH_W(p) __builtin_prefetch((const void *)(p), 1)
    #else
    #define MINIMR_PREFETCH(p) ((void)0)
    #define MINIMR_PREFETCH_W(p) ((void)0)
    #endif
    """
    void prefetch "MINIMR_PREFETCH"(const void *p) noexcept nogil
    void prefetch_write "MINIMR_PREFETCH_W"(const void *p) noexcept nogil
