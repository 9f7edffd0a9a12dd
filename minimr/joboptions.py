"""A job's own options: declared on the job, parsed and checked before any task runs.

A class job lists them in its ``options`` class attribute and reads their values, in every
task, from ``self.options``::

    class Grep(Job):
        options = [
            Option("--pattern", required=True, help="a Python regular expression"),
            Option("--min-length", type=int, default=0, help="skip shorter lines"),
            Option("--ignore-case", type=bool, help="match without regard to case"),
        ]

        def map(self, key, line):
            if len(line) >= self.options.min_length and ...

A function job sets a module-level ``options = [...]`` and reads the values with
``minimr.options()``. The values come from the command line (``minimr submit grep.py ...
--pattern 'x+' --min-length 5``) or from ``minimr.run(..., options={"pattern": "x+"})``;
either way they are checked against the declarations (type, choices, required) before any
task runs, and travel to the tasks as plain data in the job plan.

On the class, ``options`` is the list of declarations; on an instance that runs, it is
replaced by the run's values (an :class:`Options`), so that ``self.options.pattern`` reads
like mrjob's. ``steps()`` runs after the values are set, so a job may shape its steps by them
(``jobs/pagerank.py``: one step per ``--iterations``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import click
from click.core import ParameterSource

from minimr.dataflow.taskenv import Options
from minimr.errors import JobDefinitionError, UsageError

__all__ = ["Option", "Options", "RESERVED_FLAGS", "check_declarations", "click_option",
           "command_args", "resolve"]

#: the value types an option may have: plain data, the same on every machine
TYPES: tuple[type, ...] = (str, int, float, bool)
_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool"}
_METAVARS = {str: "TEXT", int: "INTEGER", float: "FLOAT"}

#: the flags of ``minimr submit`` and ``minimr replay`` (and those the design reserves for
#: them), which no job option may take: the job's options share their command line
RESERVED_FLAGS = frozenset({
    "--input", "-i", "--output", "-o", "--reducers", "-r", "--inline", "--workers", "-w",
    "--coordinator", "-c", "--keys", "--identity", "--split-size", "--combine-files",
    "--sort-buffer", "--max-attempts", "--no-speculation", "--task-timeout", "--worker-timeout",
    "--skip-bad-records", "--max-skips", "--serializer", "--max-message-size", "--overwrite",
    "--quiet", "-q", "--file", "--help", "-h", "--version", "--dashboard-address", "--insecure",
    "--split", "--task", "--pdb",  # minimr replay's own
    "--output-format", "--input-format", "--compress", "--dashboard",  # DESIGN.md's
})

_LONG = re.compile(r"--[a-z0-9][a-z0-9-]*", re.IGNORECASE)
_SHORT = re.compile(r"-[a-z]", re.IGNORECASE)


class Option:
    """One option a job declares: its flags, the type of its value, and how it is given.

    Args:
        *flags: one long flag (``"--min-length"``) and optionally short ones (``"-m"``).
        type: ``str`` (default), ``int``, ``float`` or ``bool``. A ``bool`` option is a
            flag: ``--ignore-case`` sets it, ``--no-ignore-case`` clears it.
        default: the value when the option is not given (``None`` if not set; ``False`` for
            a ``bool``; an empty list for ``multiple``).
        help: one line for ``minimr submit JOB.py --help``.
        required: the run fails before any task when the option is not given.
        choices: the values allowed.
        multiple: the option may be given several times; its value is a list.
        dest: the attribute the value is read from (default: the long flag without its
            dashes, ``-`` as ``_``: ``--min-length`` gives ``self.options.min_length``).

    Raises:
        JobDefinitionError: a declaration that cannot work, naming what is wrong.
    """

    def __init__(self, *flags: str, type: type = str, default: Any = None, help: str = "",
                 required: bool = False, choices: Sequence[Any] | None = None,
                 multiple: bool = False, dest: str | None = None) -> None:
        longs = [f for f in flags if isinstance(f, str) and _LONG.fullmatch(f)]
        shorts = [f for f in flags if isinstance(f, str) and _SHORT.fullmatch(f)]
        if len(longs) != 1 or len(longs) + len(shorts) != len(flags):
            raise JobDefinitionError(
                f"Option needs one long flag like '--min-length' and optionally short ones"
                f" like '-m' (got {', '.join(map(repr, flags)) or 'none'})")
        self.flags = tuple(flags)
        self.long = longs[0]
        self.dest = dest if dest is not None else self.long[2:].replace("-", "_")
        if not self.dest.isidentifier():
            raise JobDefinitionError(f"option {self.long}: dest must be an identifier"
                                     f" (got {self.dest!r})")
        if type not in TYPES:
            raise JobDefinitionError(
                f"option {self.long}: type must be one of str, int, float, bool"
                f" (got {type!r})")
        self.type = type
        self.help = help
        self.required = required
        self.multiple = multiple
        self.choices = tuple(choices) if choices is not None else None
        if type is bool and (required or multiple or choices is not None):
            raise JobDefinitionError(f"option {self.long}: a bool option is a flag, which"
                                     " cannot be required, multiple or have choices")
        if self.choices is not None:
            for choice in self.choices:
                self._check_one(choice, "a choice")
        if default is None:
            default = [] if multiple else False if type is bool else None
        self.default = default if default is None else self.check(default, "its default")

    @property
    def names(self) -> tuple[str, ...]:
        """Every flag of the option on a command line (a bool's ``--no-`` form too)."""
        if self.type is bool:
            return (*self.flags, "--no-" + self.long[2:])
        return self.flags

    def type_name(self) -> str:
        """``<int>``, or ``<list of int>`` for a multiple option: for messages."""
        name = _TYPE_NAMES[self.type]
        return f"<list of {name}>" if self.multiple else f"<{name}>"

    def check(self, value: Any, what: str = "the value") -> Any:
        """``value`` checked against the declaration, as the tasks will see it.

        An int is taken for a float (as ``5.0``); a multiple option takes a list or tuple
        (and gives a list).

        Raises:
            UsageError: a value of the wrong type or not among the choices; the message
                names the option, what it expected and what it got.
        """
        if not self.multiple:
            return self._check_one(value, what)
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"option {self.long}: {what} must be {self.type_name()}"
                             f" (got {value!r} that is a <{type(value).__name__}>)")
        return [self._check_one(item, what) for item in value]

    def _check_one(self, value: Any, what: str) -> Any:
        if self.type is float and type(value) is int:
            value = float(value)
        if type(value) is not self.type:
            raise UsageError(f"option {self.long}: {what} must be <{_TYPE_NAMES[self.type]}>"
                             f" (got {value!r} that is a <{type(value).__name__}>)")
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"option {self.long}: {what} must be one of"
                             f" {', '.join(map(repr, self.choices))} (got {value!r})")
        return value

    def from_text(self, text: str) -> Any:
        """The value of one command-line word (``"5"`` -> ``5`` for an int).

        Raises:
            ValueError: the word is not of the option's type, or not a choice.
        """
        if self.type is int:
            value: Any = int(text)
        elif self.type is float:
            value = float(text)
        else:
            value = text
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(map(str, self.choices))}")
        return value

    def to_args(self, value: Any) -> list[str]:
        """The command-line words that give this option ``value`` (``minimr replay``)."""
        if self.type is bool:
            return [self.long if value else "--no-" + self.long[2:]]
        items = value if self.multiple else [value]
        return [word for item in items for word in (self.long, _text(item))]

    def __repr__(self) -> str:
        return f"Option({', '.join(map(repr, self.flags))}, type={self.type.__name__})"


def _text(value: Any) -> str:
    """A value as a command-line word that ``from_text`` reads back exactly."""
    if type(value) is float and math.isfinite(value):
        return repr(value)
    return str(value)


def check_declarations(declared: Any, where: str) -> tuple[Option, ...]:
    """A job's option declarations, checked as a whole.

    Raises:
        JobDefinitionError: not a list of ``Option``, two options with one flag or one
            attribute, or a flag of ``minimr submit`` itself.
    """
    if isinstance(declared, Option) or not isinstance(declared, (list, tuple)):
        raise JobDefinitionError(f"{where}.options must be a list of minimr.Option"
                                 f" (got {declared!r})")
    seen_flags: dict[str, Option] = {}
    seen_dests: dict[str, Option] = {}
    for option in declared:
        if not isinstance(option, Option):
            raise JobDefinitionError(f"{where}.options must hold minimr.Option only"
                                     f" (got {option!r})")
        for flag in option.names:
            if flag in RESERVED_FLAGS:
                raise JobDefinitionError(
                    f"{where} option {flag} clashes with minimr submit's own {flag}:"
                    " give the option another name")
            if flag in seen_flags:
                raise JobDefinitionError(f"{where} declares {flag} twice")
            seen_flags[flag] = option
        if option.dest in seen_dests:
            raise JobDefinitionError(f"{where} options {seen_dests[option.dest].long} and"
                                     f" {option.long} both set {option.dest!r}")
        seen_dests[option.dest] = option
    return tuple(declared)


def resolve(declared: Sequence[Option], given: Mapping[str, Any], where: str) -> Options:
    """The values of a run: ``given`` (by ``dest``) checked, the defaults for the rest.

    Raises:
        UsageError: an unknown name (with the closest known one), a value of the wrong
            type or not a choice, a required option missing.
    """
    if not isinstance(given, Mapping):
        raise UsageError(f"options must be a dict of option values (got {given!r})")
    by_dest = {option.dest: option for option in declared}
    for name in given:
        if name not in by_dest:
            close = difflib.get_close_matches(str(name), list(by_dest), n=1)
            hint = (f": did you mean {close[0]!r}?" if close else
                    f" (its options: {', '.join(by_dest) or 'none'})")
            raise UsageError(f"{where} has no option {name!r}{hint}")
    values = {}
    for dest, option in by_dest.items():
        if dest in given:
            values[dest] = option.check(given[dest])
        elif option.required:
            raise UsageError(f"{where} needs option {option.long} ({dest}=...)")
        else:
            values[dest] = option.default
    return Options(values)


def command_args(declared: Sequence[Option], values: Options) -> list[str]:
    """The command-line words that give the options their ``values`` (those that differ
    from the defaults): what ``minimr replay`` needs to run a task as the job ran it."""
    found = values.as_dict()
    return [word for option in declared
            if option.dest in found and found[option.dest] != option.default
            for word in option.to_args(found[option.dest])]


class _OptionType(click.ParamType):
    """Reads one command-line word with ``Option.from_text``, failing as click does."""

    def __init__(self, option: Option) -> None:
        self.option = option
        self.name = _TYPE_NAMES[option.type]

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, str):
            return value  # a default: already checked
        try:
            return self.option.from_text(value)
        except ValueError:
            expected = (f"one of {', '.join(map(str, self.option.choices))}"
                        if self.option.choices is not None
                        else f"an {self.name}" if self.option.type is int else f"a {self.name}")
            self.fail(f"{value!r} is not {expected}", param, ctx)


def click_option(option: Option, store: dict[str, Any]) -> click.Option:
    """The click parameter of ``option``; its value goes to ``store[dest]`` when given.

    The value never reaches the command function's keyword arguments (the parameter has a
    name of its own, ``job_option_DEST``), and a default is shown in ``--help`` but not
    stored: :func:`resolve` applies defaults, for the CLI and the library alike.
    """
    def keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if ctx.get_parameter_source(param.name) is not ParameterSource.DEFAULT:
            store[option.dest] = list(value) if option.multiple else value

    name = f"job_option_{option.dest}"
    if option.type is bool:
        return click.Option([f"{option.long}/--no-{option.long[2:]}", *option.flags[1:], name],
                            default=option.default, show_default=True, help=option.help,
                            expose_value=False, callback=keep)
    metavar = (f"[{'|'.join(map(str, option.choices))}]" if option.choices is not None
               else _METAVARS[option.type])
    # no default at all when there is none: click takes an explicit None for a given value
    default = {} if option.default in (None, []) else {"default": option.default}
    return click.Option([*option.flags, name], type=_OptionType(option), show_default=True,
                        multiple=option.multiple, required=option.required, help=option.help,
                        metavar=metavar, expose_value=False, callback=keep, **default)
