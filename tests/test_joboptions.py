"""minimr/joboptions.py: declaring a job's options, checking their values, and the values'
way back to a command line."""

from __future__ import annotations

import pickle

import click
import pytest

import minimr
from minimr.cli import main
from minimr.errors import JobDefinitionError, UsageError
from minimr.job import Job, declared_options
from minimr.joboptions import (
    RESERVED_FLAGS,
    Option,
    Options,
    check_declarations,
    click_option,
    command_args,
    resolve,
)

DECLARED = (
    Option("--pattern", "-p", required=True, help="a regular expression"),
    Option("--threshold", type=int, default=5),
    Option("--ratio", type=float, default=0.5),
    Option("--verbose", type=bool),
    Option("--mode", choices=["fast", "exact"], default="fast"),
    Option("--tag", multiple=True),
)


def test_a_long_flag_names_the_value():
    """--min-length is read as options.min_length; dest renames it."""
    assert Option("--min-length").dest == "min_length"
    assert Option("--x", dest="other").dest == "other"


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((), {}, "Option needs one long flag"),
    (("-p",), {}, "Option needs one long flag"),
    (("--a", "--b"), {}, "Option needs one long flag"),
    (("pattern",), {}, "Option needs one long flag"),
    (("--n",), {"type": list}, "type must be one of str, int, float, bool"),
    (("--n",), {"type": int, "default": "5"}, r"its default must be <int> \(got '5'"),
    (("--n",), {"choices": ["a", 1]}, r"a choice must be <str> \(got 1"),
    (("--n",), {"default": "c", "choices": ["a", "b"]}, "must be one of 'a', 'b'"),
    (("--v",), {"type": bool, "required": True}, "a bool option is a flag"),
    (("--n",), {"dest": "not-an-identifier"}, "dest must be an identifier"),
])
def test_a_declaration_that_cannot_work_is_refused(args, kwargs, message):
    """Each impossible declaration raises JobDefinitionError saying what is wrong."""
    with pytest.raises((JobDefinitionError, UsageError), match=message):
        Option(*args, **kwargs)


def test_defaults_by_kind():
    """No default: None, False for a flag, an empty list for a multiple option."""
    assert Option("--a").default is None
    assert Option("--a", type=bool).default is False
    assert Option("--a", multiple=True).default == []
    assert Option("--a", type=float, default=2).default == 2.0


def test_resolve_checks_values_and_applies_defaults():
    """Given values are checked (an int is taken for a float), the others get defaults."""
    values = resolve(DECLARED, {"pattern": "x+", "ratio": 1, "tag": ("a", "b")}, "Grep")
    assert values.as_dict() == {"pattern": "x+", "threshold": 5, "ratio": 1.0,
                                "verbose": False, "mode": "fast", "tag": ["a", "b"]}
    assert type(values.ratio) is float


@pytest.mark.parametrize(("given", "message"), [
    ({"pattern": "x", "threshold": "5"}, r"--threshold: the value must be <int> \(got '5'"
                                         r" that is a <str>\)"),
    ({"pattern": "x", "threshold": True}, r"must be <int> \(got True that is a <bool>\)"),
    ({"pattern": "x", "mode": "slow"}, r"must be one of 'fast', 'exact' \(got 'slow'\)"),
    ({"pattern": "x", "tag": "a"}, r"must be <list of str>"),
    ({"pattern": "x", "tag": ["a", 2]}, r"must be <str> \(got 2"),
    ({"pattern": "x", "treshold": 3}, r"Grep has no option 'treshold': did you mean"
                                      r" 'threshold'\?"),
    ({"pattern": "x", "zzz": 3}, r"Grep has no option 'zzz' \(its options: pattern,"),
    ({}, r"Grep needs option --pattern \(pattern=...\)"),
])
def test_resolve_refuses_bad_values(given, message):
    """A wrong type, a value not among the choices, an unknown or missing option."""
    with pytest.raises(UsageError, match=message):
        resolve(DECLARED, given, "Grep")


def test_options_are_read_only_plain_data_that_pickles():
    """Options reads by attribute, refuses writes, names the known options on a typo."""
    values = Options({"threshold": 5})
    assert values.threshold == 5 and pickle.loads(pickle.dumps(values)) == values
    with pytest.raises(AttributeError, match=r"no option 'treshold' \(its options: threshold"):
        values.treshold  # noqa: B018
    with pytest.raises(AttributeError, match="read-only"):
        values.threshold = 6


@pytest.mark.parametrize("flag", ["--input", "-o", "--reducers", "--file", "--task"])
def test_a_flag_of_minimr_itself_is_refused_when_the_job_is_loaded(flag):
    """A job option that takes one of submit's or replay's flags cannot be declared."""

    class Clash(Job):
        options = [Option("--fine", flag if flag.startswith("-") and len(flag) == 2 else "-f"),
                   *([Option(flag)] if len(flag) > 2 else [])]

        def map(self, key, value):
            yield key, value

    with pytest.raises(JobDefinitionError, match=f"option {flag} clashes with minimr"):
        minimr.run(Clash, [], "out")


def test_a_bool_options_no_form_is_reserved_too():
    """--speculation as a flag would make --no-speculation, which is submit's."""
    with pytest.raises(JobDefinitionError, match="--no-speculation clashes"):
        check_declarations([Option("--speculation", type=bool)], "Job")


def test_duplicates_and_non_options_are_refused():
    """Two options with one flag or one dest, or something that is not an Option."""
    with pytest.raises(JobDefinitionError, match="declares --a twice"):
        check_declarations([Option("--a"), Option("--a")], "J")
    with pytest.raises(JobDefinitionError, match="--a and --b both set 'x'"):
        check_declarations([Option("--a", dest="x"), Option("--b", dest="x")], "J")
    with pytest.raises(JobDefinitionError, match="must hold minimr.Option only"):
        check_declarations(["--a"], "J")
    with pytest.raises(JobDefinitionError, match="must be a list of minimr.Option"):
        check_declarations(Option("--a"), "J")


def test_every_flag_of_submit_and_replay_is_reserved():
    """RESERVED_FLAGS holds every flag the job commands have (a new one must join it)."""
    commands = [main.commands["submit"], main.commands["replay"]]
    flags = {flag for command in commands for param in command.params
             if isinstance(param, click.Option)
             for flag in (*param.opts, *param.secondary_opts)}
    missing = flags - RESERVED_FLAGS
    assert not missing, f"add {sorted(missing)} to minimr.joboptions.RESERVED_FLAGS"


def test_command_args_give_back_the_values_through_click():
    """The words command_args writes parse back, through the click options, to the values."""
    values = resolve(DECLARED, {"pattern": "a b'c", "threshold": -3, "ratio": 0.1,
                                "verbose": True, "mode": "exact", "tag": ["x", "y"]}, "J")
    store: dict = {}
    command = click.Command("c", params=[click_option(o, store) for o in DECLARED])
    command.main(command_args(DECLARED, values), standalone_mode=False)
    assert resolve(DECLARED, store, "J") == values


def test_command_args_leave_out_defaults():
    """Only the values that differ from the defaults are written."""
    values = resolve(DECLARED, {"pattern": "x"}, "J")
    assert command_args(DECLARED, values) == ["--pattern", "x"]


def test_a_class_jobs_declarations_outlive_its_values():
    """After a run set job.options to values, the class's declarations are still read."""

    class Tuned(Job):
        options = [Option("--k", type=int, default=1)]

        def map(self, key, value):
            yield key, value

    job = Tuned()
    job.options = Options({"k": 2})
    assert [o.long for o in declared_options(job)] == ["--k"]
