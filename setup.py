"""Builds the optional compiled helpers ``minimr.dataflow._partitions``,
``minimr.dataflow.mapside._pairscan``, ``_keysort``, ``minimr.dataflow.reduceside._colmerge``,
``minimr.dataflow.format._reprlines``, ``_strcolumns`` and ``_typedcolumns`` (Cython); the
project's metadata is in pyproject.toml. Without Cython or a C compiler, minimr installs
without them and uses their pure-Python twins (the C calls of
``HashPartitioner.partition_many`` in ``minimr/dataflow/partition.py``;
``mapside/pairscan.py``, ``keysort.py``; the merge of pairs in ``reduceside/merge.py``;
``ReprEncoding.encode`` in ``format/encodings.py``; pickle, and ``strcolumns.decode_py``,
``typedcolumns.decode_py``). An sdist carries each helper's .pyx and the .c Cython made of
it (MANIFEST.in), so it builds them without Cython too."""

from __future__ import annotations

import os

from setuptools import Extension, setup

MODULES = ("minimr.dataflow._partitions",
           "minimr.dataflow.mapside._pairscan", "minimr.dataflow.mapside._keysort",
           "minimr.dataflow.reduceside._colmerge", "minimr.dataflow.format._reprlines",
           "minimr.dataflow.format._strcolumns", "minimr.dataflow.format._typedcolumns")


def extensions() -> list[Extension]:
    """The helpers from their .pyx (Cython), or from the .c an sdist carries; none without."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    sources = {name: name.replace(".", "/") for name in MODULES}
    if cythonize is not None and all(os.path.exists(s + ".pyx") for s in sources.values()):
        try:
            return cythonize([Extension(name, [source + ".pyx"], optional=True)
                              for name, source in sources.items()],
                             language_level=3, quiet=True)
        except Exception as exc:  # a Cython that cannot compile them: minimr without them
            print(f"minimr: the compiled helpers are left out ({exc})")
            return []
    return [Extension(name, [source + ".c"], optional=True)
            for name, source in sources.items() if os.path.exists(source + ".c")]


setup(ext_modules=extensions())
