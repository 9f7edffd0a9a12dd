"""An mrjob job's own arguments as minimr options, and minimr's values as its arguments again.

An mrjob job declares its arguments in ``configure_args`` with ``add_passthru_arg`` and
``add_file_arg`` (argparse's ``add_argument`` underneath). Each becomes a ``minimr.Option``,
so ``minimr submit mr_job.py ... --max-ngram-size 3`` parses, checks and lists it in
``--help`` as it does a minimr job's own options:

=======================================  ==================================================
argparse                                 ``minimr.Option``
=======================================  ==================================================
``type=int`` / ``float`` / ``str``       the same type
another ``type`` (a function)            ``str``; the job's argparse converts it (checked
                                         at submit, before any task)
``action="store_true"``                  ``type=bool`` (a flag)
``action="append"``                      ``multiple=True``
``default``, ``help``, ``choices``,      the same
``required``, ``dest``
``add_file_arg``                         a ``str`` option whose value is also shipped as a
                                         side file; tasks get its base name, as mrjob's do
=======================================  ==================================================

Other actions (``store_false``, ``count``, ``store_const``...), ``nargs``, positional
arguments, and mrjob's own switches passed through (``pass_arg_through``) are refused when
the job is loaded, naming the argument. Tasks make the job with ``JobClass(args=[...])``, the
words :func:`task_words` builds from the run's values, so ``self.options`` in a task is the
job's own argparse namespace, ``load_args`` overrides included.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minimr.errors import JobDefinitionError
from minimr.joboptions import Option

__all__ = ["Argument", "arguments_of", "configured", "file_values", "task_words"]


@dataclass(frozen=True)
class Argument:
    """One argument an mrjob job declares, as a minimr option.

    Attributes:
        option: the ``minimr.Option`` made of it.
        flag: the flag that gives it to the job's own argparse.
        is_file: declared with ``add_file_arg``: its value is a side file's path.
    """

    option: Option
    flag: str
    is_file: bool = False


def configured(job_cls: type) -> Any:
    """An instance of the mrjob class with its arguments declared and none parsed.

    ``MRJob.__init__`` declares the arguments (``configure_args``) and parses the command
    line at once; a job with a required argument cannot be made without its value. This
    makes the instance as ``__init__`` does up to ``configure_args`` and stops there.
    """
    job = job_cls.__new__(job_cls)
    job._passthru_arg_dests = set()
    job._file_arg_dests = set()
    job.arg_parser = argparse.ArgumentParser(add_help=False)
    job.configure_args()
    return job


def arguments_of(job_cls: type, base_cls: type) -> list[Argument]:
    """The arguments ``job_cls`` declares, as minimr options.

    Args:
        base_cls: ``mrjob.job.MRJob``: the switches it declares itself are mrjob's, not the
            job's.

    Raises:
        JobDefinitionError: an argument minimr cannot take, naming it and why.
    """
    where = f"{job_cls.__name__}.configure_args"
    try:
        job = configured(job_cls)
        own = {action.dest for action in configured(base_cls).arg_parser._actions}
    except Exception as exc:
        raise JobDefinitionError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
    found = []
    for action in job.arg_parser._actions:
        is_file = action.dest in job._file_arg_dests
        if not is_file and action.dest not in job._passthru_arg_dests:
            continue  # mrjob's own switches (--runner...): minimr has its own
        if action.dest in own:
            raise JobDefinitionError(
                f"{where} passes mrjob's own {'/'.join(action.option_strings)} through to its"
                " tasks (pass_arg_through), which minimr does not have: read the value from"
                " an argument of the job's own (add_passthru_arg)")
        try:
            found.append(_argument(action, is_file))
        except JobDefinitionError as exc:
            raise JobDefinitionError(f"{where}: {exc}") from None
    return found


def _argument(action: argparse.Action, is_file: bool) -> Argument:
    """The ``Argument`` of one argparse action."""
    name = "/".join(action.option_strings) or action.dest
    if not action.option_strings:
        raise JobDefinitionError(f"{name} is positional; minimr takes options only")
    long = next((f for f in action.option_strings if f.startswith("--")), None)
    help_text = _help(action)
    if isinstance(action, argparse._StoreTrueAction):
        option = Option(*action.option_strings, type=bool, help=help_text, dest=action.dest)
        return Argument(option, long or action.option_strings[0], is_file)
    if not isinstance(action, (argparse._StoreAction, argparse._AppendAction)):
        raise JobDefinitionError(
            f"{name} uses action={_action_name(action)!r}, which minimr does not take (it"
            " takes store, store_true and append)")
    if action.nargs is not None:
        raise JobDefinitionError(f"{name} has nargs={action.nargs!r}, which minimr does not"
                                 " take: one value a flag (action='append' to repeat it)")
    kind = action.type if action.type in (str, int, float) else str
    typed = action.type in (None, str, int, float)  # else: the job's argparse converts it
    multiple = isinstance(action, argparse._AppendAction)
    option = Option(*action.option_strings, type=kind, help=help_text, dest=action.dest,
                    required=bool(action.required), multiple=multiple,
                    choices=action.choices if typed and action.choices is not None else None,
                    default=_default(action.default, kind, typed, multiple))
    return Argument(option, long or action.option_strings[0], is_file)


def _action_name(action: argparse.Action) -> str:
    """The ``action=`` word of an argparse action (``_StoreFalseAction``: ``store_false``)."""
    words = re.findall("[A-Z][a-z]*", type(action).__name__.removesuffix("Action"))
    return "_".join(words).lower() or type(action).__name__


def _default(default: Any, kind: type, typed: bool, multiple: bool) -> Any:
    """The minimr default of an argparse default, or None where it has no typed one (the
    job's argparse then applies its own, since the argument is not passed)."""
    if multiple:
        return None  # argparse appends given values to its default: give only those
    if isinstance(default, str) and typed and kind is not str:
        try:
            return kind(default)  # argparse converts a str default with the type
        except ValueError:
            return None
    if not typed or default is None:
        return None
    if kind is float and type(default) is int:
        return float(default)
    return default if type(default) is kind else None


def _help(action: argparse.Action) -> str:
    """The action's help, with argparse's ``%(default)s`` and the like filled in."""
    text = action.help or ""
    if "%" not in text:
        return text
    try:
        return text % {**vars(action), "prog": ""}
    except (KeyError, TypeError, ValueError):
        return text


def task_words(arguments: list[Argument], values: Mapping[str, Any],
               in_task: bool) -> list[str]:
    """The command-line words that give the job's argparse the run's ``values``.

    A value left at None (or a flag left unset) is not passed, so the job's own default
    applies. A file argument's value is its base name in a task (the side file sits in the
    task's working directory, as on Hadoop) and the path as given outside one.
    """
    words: list[str] = []
    for argument in arguments:
        option = argument.option
        value = values.get(option.dest)
        if option.type is bool:
            words.extend([argument.flag] if value else [])
            continue
        items = value if option.multiple else [value]
        for item in items or ():
            if item is None:
                continue
            if argument.is_file and in_task:
                item = os.path.basename(item)
            words.append(f"{argument.flag}={_text(item)}")  # "=": a value may start with -
    return words


def _text(value: Any) -> str:
    """A value as the word that argparse reads back to it (a float exactly)."""
    if type(value) is float and math.isfinite(value):
        return repr(value)
    return str(value)


def file_values(arguments: list[Argument], values: Mapping[str, Any]) -> list[str]:
    """The paths the run gives the job's file arguments (absolute: they are relative to the
    current folder, not the job file's)."""
    paths = []
    for argument in arguments:
        if not argument.is_file:
            continue
        value = values.get(argument.option.dest)
        items = value if argument.option.multiple else [value]
        paths.extend(os.path.abspath(os.path.expanduser(p)) for p in items or () if p)
    return paths
