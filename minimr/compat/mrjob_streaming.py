"""One mrjob step run in minimr's tasks as Hadoop streaming runs it: lines through protocols.

mrjob runs each step's mapper, combiner and reducer as streaming scripts: a script reads
lines, decodes each with a protocol (``job.pick_protocols(step, "mapper")``), calls the
job's function and encodes what it yields as lines again; between the scripts, Hadoop cuts
every line at its first tab into key and value, partitions and sorts by the key's bytes and
groups equal keys. :class:`StreamingStep` does the same inside minimr's tasks:

- the engine's records are the two halves of a line, ``(key bytes, value bytes)``, or
  ``(line, None)`` for a line with no tab: partitioned, sorted and grouped by the key bytes,
  as Hadoop does (so keys group by their encoding, and a step's values sort, with
  ``SORT_VALUES``, by theirs);
- a substep decodes the line it is given and encodes what the job's function yields, through
  the protocols the job picks, so values go through JSON (tuples become lists, dict keys
  strings) exactly as in mrjob, and the last substep's lines are its ``OUTPUT_PROTOCOL``'s
  bytes, written as they are (``("line", None)`` records in the ``lines`` part format);
- each substep of a task has an instance of the job class of its own, made with the run's
  arguments and mrjob's ``--mapper``/``--combiner``/``--reducer --step-num=N`` (so
  ``self.options`` and ``is_task()`` are what they are in an mrjob task);
  ``increment_counter`` and ``set_status`` write Hadoop's ``reporter:`` lines to the job's
  ``stderr``, which :class:`Reporter` turns into minimr counters and log lines.

``mapper_init``'s pairs come before the task's first mapper output and ``mapper_final``'s
after its last (minimr's ``map_final``); ``reducer_init``'s and ``reducer_final``'s alike
(minimr's ``reduce_final``), even in a task with no key. A combiner runs on the keys of
several values, as minimr's combiners do, each key on its own: ``combiner_init``, the
combiner, then ``combiner_final`` (Hadoop may run a combiner on any part of the map output,
any number of times; what a combiner yields must keep the key it was given). With
``SORT_VALUES``, a step's values are sorted by their encoded bytes, the order of Hadoop's
lines.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from minimr.compat.mrjob_protocols import Codec
from minimr.dataflow import counters as _counters
from minimr.errors import JobCodeError

__all__ = ["Reporter", "StepShape", "StreamingStep", "raw_text"]

log = logging.getLogger("minimr.mrjob")

#: the variable mrjob's ``jobconf_from_env("mapreduce.map.input.file")`` reads
INPUT_FILE_VARIABLE = "mapreduce_map_input_file"

@dataclass(frozen=True)
class StepShape:
    """What one mrjob step runs, read from its ``description()`` at submit.

    Attributes:
        index: the step's number.
        mapper: it has a mapper substep (the job's or mrjob's identity mapper: step 0
            always does, to decode the input with ``INPUT_PROTOCOL``); without one, the
            previous step's lines pass unchanged, as Hadoop's identity mapper passes them.
        mapper_hooks: it has ``mapper_init`` or ``mapper_final``.
        combiner: it has a combiner substep.
        reducer: it has a reducer substep; without one, the map's lines are the output.
        reducer_hooks: it has ``reducer_init`` or ``reducer_final``.
        last: the job's last step (its last substep writes ``OUTPUT_PROTOCOL`` lines).
    """

    index: int
    mapper: bool
    mapper_hooks: bool
    combiner: bool
    reducer: bool
    last: bool
    reducer_hooks: bool = False


class Reporter:
    """A job's ``stderr`` in a task: Hadoop streaming's ``reporter:`` lines become counters
    and log lines; anything else goes on to the process's stderr."""

    _COUNTER = b"reporter:counter:"
    _STATUS = b"reporter:status:"

    def __init__(self) -> None:
        self._pending = b""

    def write(self, data: bytes) -> int:
        """Take bytes the job wrote; act on each whole line."""
        self._pending += data
        while b"\n" in self._pending:
            line, _, self._pending = self._pending.partition(b"\n")
            self._line(line)
        return len(data)

    def flush(self) -> None:
        """Nothing is held but a line's unfinished end."""

    def _line(self, line: bytes) -> None:
        if line.startswith(self._COUNTER):
            # mrjob turns commas in the names into semicolons: the last two are separators
            group, name, amount = line[len(self._COUNTER):].decode("utf-8", "replace"
                                                                   ).rsplit(",", 2)
            _counters.increment_counter(group, name, int(amount))
        elif line.startswith(self._STATUS):
            log.info("status: %s", line[len(self._STATUS):].decode("utf-8", "replace"))
        else:
            out = getattr(sys.stderr, "buffer", None)
            if out is not None:
                out.write(line + b"\n")
            else:
                sys.stderr.write(line.decode("utf-8", "replace") + "\n")


class _Substep:
    """A substep's job instance in one task, with its protocols and functions."""

    def __init__(self, job_cls: type, words: list[str], index: int, kind: str) -> None:
        self.job = job_cls(args=[*words, f"--{kind}", f"--step-num={index}"])
        self.job.sandbox(stderr=Reporter())
        step = self.job.steps()[index]
        self.codec = Codec(*self.job.pick_protocols(index, kind))
        self.fn: Callable = step[kind]
        self.init: Callable | None = step[f"{kind}_init"]
        self.final: Callable | None = step[f"{kind}_final"]


class StreamingStep:
    """One mrjob step as minimr's map, combine and reduce (see the module docstring).

    Made at submit from the job class, the words of its arguments and the step's shape; it
    travels to the workers with the plan. Its per-task state (the substeps' job instances)
    is made in the task and never pickled.
    """

    def __init__(self, job_cls: type, words: list[str], shape: StepShape,
                 raw_input: bool) -> None:
        self.job_cls = job_cls
        self.words = words
        self.shape = shape
        self.raw_input = raw_input  # step 0 reads lines with mrjob's default, as text
        self.setup()

    def __getstate__(self) -> dict:
        return {"job_cls": self.job_cls, "words": self.words, "shape": self.shape,
                "raw_input": self.raw_input}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.setup()

    # -- the task's lifecycle ---------------------------------------------------------------

    def setup(self) -> None:
        """A new task: no substep made yet (each is made when the task first needs it)."""
        self._mapper: _Substep | None = None
        self._combiner: _Substep | None = None
        self._reducer: _Substep | None = None
        self._pending: list = []
        self._input_file: str | None = None

    def teardown(self) -> None:
        """The task is over: forget its job instances, and the input file it named."""
        if self._input_file is not None:
            os.environ.pop(INPUT_FILE_VARIABLE, None)
        self.setup()

    def _substep(self, kind: str) -> _Substep:
        substep = _Substep(self.job_cls, self.words, self.shape.index, kind)
        if substep.init is not None:  # an _init's pairs come before the function's
            self._pending = list(substep.init() or ())
        return substep

    # -- map --------------------------------------------------------------------------------

    def map(self, key: Any, value: Any) -> list[tuple[bytes, bytes | None]]:
        """The mapper substep on one record: its line decoded, the mapper's pairs encoded."""
        substep = self._mapper or self._start_mapper()
        if self.shape.index == 0:
            if key[0] != self._input_file:
                self._name_input_file(key[0])
            decoded = ((None, value) if self.raw_input
                       else substep.codec.read(value.encode("utf-8")))
        else:
            decoded = substep.codec.pair(key, value)
        produced = substep.fn(*decoded)
        records = [] if produced is None else self._emitted(substep.codec, produced)
        if self._pending:  # mapper_init's pairs, with the task's first record's
            records = self._emitted(substep.codec, self._take_pending()) + records
        return records

    def map_final(self) -> list[tuple[bytes, bytes | None]]:
        """``mapper_init``'s pairs (a task with no record) and ``mapper_final``'s."""
        substep = self._mapper or self._start_mapper()
        pairs = self._take_pending()
        if substep.final is not None:
            pairs = chain(pairs, substep.final() or ())
        return self._emitted(substep.codec, pairs)

    def relay(self, key: bytes, value: bytes | None) -> Iterator[tuple[bytes, bytes | None]]:
        """No mapper substep: the previous step's lines go on unchanged (Hadoop's identity)."""
        yield key, value

    def _start_mapper(self) -> _Substep:
        self._mapper = self._substep("mapper")
        return self._mapper

    def _name_input_file(self, path: str) -> None:
        """Say which file the mapper reads, as Hadoop does (mrjob's ``jobconf_from_env``)."""
        self._input_file = path
        os.environ[INPUT_FILE_VARIABLE] = path if "://" in path else "file://" + path

    def _emitted(self, codec: Codec, pairs: Iterable) -> list[tuple[bytes, Any]]:
        """The map side's records of what a mapper yields: lines cut at their tab, or whole
        (the output's lines, when the step has no reducer)."""
        if self.shape.last and not self.shape.reducer:
            return [(codec.line(out_key, out_value), None) for out_key, out_value in pairs]
        record = codec.record
        return [record(out_key, out_value) for out_key, out_value in pairs]

    def _take_pending(self) -> list:
        pending, self._pending = self._pending, []
        return pending

    # -- combine ----------------------------------------------------------------------------

    def combine(self, key: bytes, values: Iterator) -> Iterator[tuple[bytes, bytes | None]]:
        """The combiner substep on one key, wrapped in its ``_init`` and ``_final``."""
        substep = self._combiner or self._start_combiner()
        produced: Iterable = ()
        if substep.init is not None:
            produced = substep.init() or ()
        decoded_key, decoded = substep.codec.group(key, values)
        produced = chain(produced, substep.fn(decoded_key, decoded) or ())
        if substep.final is not None:
            produced = chain(produced, _later(substep.final))
        for out_key, out_value in produced:
            kept, value = substep.codec.record(out_key, out_value)
            if kept != key:
                raise JobCodeError(
                    f"the combiner of step {self.shape.index} yielded key {kept!r} for key"
                    f" {key!r}: a combiner must yield the key it was given (minimr, like"
                    " Hadoop, keeps what it yields with that key)")
            yield key, value

    def _start_combiner(self) -> _Substep:
        self._combiner = _Substep(self.job_cls, self.words, self.shape.index, "combiner")
        return self._combiner

    # -- reduce -----------------------------------------------------------------------------

    def reduce(self, key: bytes, values: Iterator) -> Iterator[tuple[bytes, bytes | None]]:
        """The reducer substep on one key: its lines decoded, the reducer's pairs encoded."""
        substep = self._reducer or self._start_reducer()
        if self._pending:
            yield from self._reduced(substep.codec, self._take_pending())
        produced = substep.fn(*substep.codec.group(key, values))
        if produced is not None:
            yield from self._reduced(substep.codec, produced)

    def reduce_final(self) -> list[tuple[bytes, bytes | None]]:
        """``reducer_init``'s pairs (a task with no key) and ``reducer_final``'s."""
        substep = self._reducer or self._start_reducer()
        pairs: Iterable = self._take_pending()
        if substep.final is not None:
            pairs = chain(pairs, substep.final() or ())
        return list(self._reduced(substep.codec, pairs))

    def _start_reducer(self) -> _Substep:
        self._reducer = self._substep("reducer")
        return self._reducer

    def _reduced(self, codec: Codec, pairs: Iterable) -> Iterator[tuple[bytes, Any]]:
        """The records of what a reducer yields: the output's whole lines in the last step,
        lines cut at their tab for the next step otherwise."""
        if self.shape.last:
            for out_key, out_value in pairs:
                yield codec.line(out_key, out_value), None
        else:
            for out_key, out_value in pairs:
                yield codec.record(out_key, out_value)


def _later(final: Callable) -> Iterator:
    """``final``'s pairs, calling it only when they are asked for (after the combiner's)."""
    yield from final() or ()


def raw_text(read: Callable) -> bool:
    """True when ``read`` is mrjob's default input protocol's, which decodes a line as UTF-8
    text with no key: minimr's text lines are that already."""
    text_value = getattr(sys.modules.get("mrjob.protocol"), "TextValueProtocol", None)
    return text_value is not None and getattr(read, "__func__", None) is text_value.read

