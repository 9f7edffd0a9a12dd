"""minimr: a MapReduce batch-processing engine for Python.

    from minimr import Job
    class WordCount(Job):
        def map(self, key, line): ...
        def reduce(self, word, counts): ...

    result = minimr.run(WordCount, inputs=["data/text"], output="out/wc")
    for word, count in result.records(): ...
"""

from __future__ import annotations

from minimr.dataflow.counters import Counters, increment_counter
from minimr.dataflow.format.output import read_output
from minimr.errors import (
    InputError,
    JobDefinitionError,
    JobFailed,
    JobLoadError,
    MinimrError,
    OutputExistsError,
    UnknownOptionError,
    UntrustedOutputError,
    UsageError,
)
from minimr.job import Job, Step
from minimr.runner import Result, run

__version__ = "0.1.0"

__all__ = [
    "Counters", "InputError", "Job", "JobDefinitionError", "JobFailed", "JobLoadError",
    "MinimrError", "OutputExistsError", "Result", "Step", "UnknownOptionError",
    "UntrustedOutputError", "UsageError",
    "increment_counter", "read_output", "run", "__version__",
]
