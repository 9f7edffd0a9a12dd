"""The input side: files named by ``--input`` become splits, splits become records.

``splits`` turns inputs into byte-range splits and tasks, ``records`` reads a split's lines,
``inputformats`` and ``csvformat`` turn them into a job's records, ``compression`` opens
compressed files as they stream.
"""
