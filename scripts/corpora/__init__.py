"""The corpora of scripts/gen_corpus.py, one module per kind: ``text``, ``sort``, ``events``.

Each module renders its kind's bytes and writes one part file (returning its size and
sha256); ``gen_corpus.py`` cuts the total size into parts, runs the writers (in worker
processes) and writes the manifest.
"""

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
