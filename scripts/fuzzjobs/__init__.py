"""Differential testing of minimr: generated jobs against a plain-Python model of MapReduce.

``spec`` generates a job (its steps' map, combine and reduce forms, its key and value tables
from ``pools``) and its input files from a seed; ``render`` writes it as a real job file;
``model`` computes what the job must output, from the job's own functions, in a few dozen
lines; ``check`` runs the job with ``minimr.run`` and compares typed records; ``shrink`` cuts a
divergent job and its input down to a small reproduction. ``scripts/fuzz_jobs.py`` is the
command, ``tests/e2e/test_differential.py`` the test. Only minimr's public API is used.
"""
