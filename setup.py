"""Builds the optional compiled helper ``minimr.dataflow.mapside._pairscan`` (Cython); the
project's metadata is in pyproject.toml. Without Cython or a C compiler, minimr installs
without it and uses the pure-Python twin (``minimr/dataflow/mapside/pairscan.py``)."""

from __future__ import annotations

import os

from setuptools import Extension, setup

SOURCE = "minimr/dataflow/mapside/_pairscan"


def extensions() -> list[Extension]:
    """The helper from its .pyx (Cython), or from the .c an sdist carries; none without."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    if cythonize is not None and os.path.exists(SOURCE + ".pyx"):
        try:
            return cythonize([Extension("minimr.dataflow.mapside._pairscan", [SOURCE + ".pyx"],
                                        optional=True)], language_level=3, quiet=True)
        except Exception as exc:  # a Cython that cannot compile it: minimr without it
            print(f"minimr: the compiled helper is left out ({exc})")
            return []
    if os.path.exists(SOURCE + ".c"):
        return [Extension("minimr.dataflow.mapside._pairscan", [SOURCE + ".c"], optional=True)]
    return []


setup(ext_modules=extensions())
