"""minimr: a MapReduce batch-processing engine for Python.

    from minimr import Job
    class WordCount(Job):
        def map(self, key, line): ...
        def reduce(self, word, counts): ...

    result = minimr.run(WordCount, inputs=["data/text"], output="out/wc")
    for word, count in result.records(): ...

A job declares options of its own (``options = [minimr.Option("--threshold", type=int)]``,
read in tasks as ``self.options.threshold`` or ``minimr.options().threshold``) and side files
(``files = ["stop_words.txt"]``, opened by name, or at ``minimr.side_file(name)``).
Its input format (``input_format = minimr.CSV(header=True)``, ``"jsonl"``...) and output
format (``output_format = "jsonl"``) are class options too (docs/formats.md).
"""

from __future__ import annotations

from minimr.dataflow.counters import Counters, increment_counter
from minimr.dataflow.folds import Fold, fold
from minimr.dataflow.format.output import read_output
from minimr.dataflow.inputs.csvformat import CSV, TSV
from minimr.dataflow.inputs.inputformats import InputFormat, JSONLines, Text, WholeFile
from minimr.dataflow.taskenv import Options, options, side_file
from minimr.errors import (
    BadRecordError,
    InputError,
    JobCodeError,
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
from minimr.joboptions import Option
from minimr.result import Result
from minimr.runner import run

__version__ = "0.1.0"

__all__ = [
    "BadRecordError", "CSV", "InputFormat", "JSONLines", "TSV", "Text", "WholeFile",
    "Counters", "Fold", "InputError", "Job", "JobCodeError", "JobDefinitionError", "JobFailed",
    "JobLoadError", "MinimrError", "Option", "Options", "OutputExistsError", "Result", "Step",
    "UnknownOptionError", "UntrustedOutputError", "UsageError", "fold",
    "increment_counter", "options", "read_output", "run", "side_file", "__version__",
]
