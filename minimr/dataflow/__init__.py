"""What happens to the data: the same code runs a task inline and on a cluster worker.

Shared by every stage: ``plan`` (what the tasks are), ``tasks`` (running one), ``splits`` and
``records`` (the input), ``partition`` (which reducer a key goes to, and the key order),
``storage`` (local paths and URLs), ``counters``, ``skips`` (skip mode) and ``taskgc``.

The stages, in the order the data goes through them:

``mapside/``     a map task's output buffer: the stores that hold its pairs, the combiner,
                 sorting and spilling
``format/``      bytes on disk: framed pickle blocks, sorted segments, part files
``reduceside/``  the k-way merge of sorted segments and the cutting of it into key groups
"""
