"""An mrjob job's arguments become minimr options, and the run's values become the words its
own argparse reads back to them."""

from __future__ import annotations

import pytest

from minimr.compat.mrjob_options import arguments_of, file_values, task_words
from minimr.errors import JobDefinitionError

mrjob_job = pytest.importorskip("mrjob.job")


def _job(configure):
    """An MRJob subclass whose ``configure_args`` runs ``configure(self)`` after mrjob's."""

    class MRArgs(mrjob_job.MRJob):
        def configure_args(self):
            super().configure_args()
            configure(self)

    return MRArgs


def _arguments(configure):
    return arguments_of(_job(configure), mrjob_job.MRJob)


def test_each_kind_of_argument_becomes_an_option():
    """Types, defaults (a str default converted as argparse does), choices, flags, appends
    and file arguments map onto ``minimr.Option``."""
    def configure(job):
        job.add_passthru_arg("--n", type=int, default="7", help="count (%(default)s)")
        job.add_passthru_arg("--ratio", type=float, default=1)
        job.add_passthru_arg("--mode", "-m", choices=["a", "b"], default="a", required=False)
        job.add_passthru_arg("--loud", action="store_true")
        job.add_passthru_arg("--color", action="append")
        job.add_file_arg("--model")

    args = {a.option.dest: a for a in _arguments(configure)}
    assert list(args) == ["n", "ratio", "mode", "loud", "color", "model"]
    n = args["n"].option
    assert (n.type, n.default, n.help) == (int, 7, "count (7)")
    assert (args["ratio"].option.type, args["ratio"].option.default) == (float, 1.0)
    assert args["mode"].option.choices == ("a", "b") and args["mode"].option.flags == (
        "--mode", "-m")
    assert args["loud"].option.type is bool
    assert args["color"].option.multiple and args["color"].option.default == []
    assert args["model"].is_file and args["model"].option.type is str


def test_a_type_of_the_jobs_own_is_a_str_its_argparse_converts():
    """A ``type`` function: minimr takes the word, with no default or choices of its own."""
    def configure(job):
        job.add_passthru_arg("--when", type=lambda text: text.split("-"), default=["x"],
                             choices=[["a"]])

    [argument] = _arguments(configure)
    assert (argument.option.type, argument.option.default, argument.option.choices) == (
        str, None, None)


def test_mrjobs_own_switches_are_not_options():
    """``--runner`` and mrjob's other switches are not the job's: only what it passes through."""
    assert _arguments(lambda job: None) == []


@pytest.mark.parametrize(("configure", "message"), [
    (lambda job: job.add_passthru_arg("--x", action="count"), "action='count'"),
    (lambda job: job.add_passthru_arg("--x", action="store_const", const=1),
     "action='store_const'"),
    (lambda job: job.add_passthru_arg("--x", nargs="+"), "nargs='\\+'"),
    (lambda job: job.add_passthru_arg("--x", "--y"), "one long flag"),
    (lambda job: job.pass_arg_through("--cat-output"), "pass_arg_through"),
])
def test_what_minimr_cannot_take_is_refused(configure, message):
    """An argument minimr cannot take fails the load, naming it and why."""
    with pytest.raises(JobDefinitionError, match=message):
        _arguments(configure)


def test_values_become_argparse_words_read_back_exactly():
    """Given values reach the job's argparse unchanged (floats exactly, values that start
    with '-' too); unset ones stay out, so the job's own defaults apply."""
    def configure(job):
        job.add_passthru_arg("--n", type=int)
        job.add_passthru_arg("--ratio", type=float)
        job.add_passthru_arg("--pattern")
        job.add_passthru_arg("--loud", action="store_true")
        job.add_passthru_arg("--color", action="append")
        job.add_file_arg("--model")

    cls = _job(configure)
    arguments = arguments_of(cls, mrjob_job.MRJob)
    values = {"n": -3, "ratio": 0.1 + 0.2, "pattern": "-x+", "loud": True,
              "color": ["a", "b"], "model": "/data/models/m.bin"}
    words = task_words(arguments, values, in_task=True)
    parsed = cls(args=words).options
    assert (parsed.n, parsed.ratio, parsed.pattern, parsed.loud, parsed.color) == (
        -3, 0.1 + 0.2, "-x+", True, ["a", "b"])
    assert parsed.model == "m.bin"  # a task opens the side file by its base name
    assert cls(args=task_words(arguments, values, in_task=False)).options.model == (
        "/data/models/m.bin")
    unset = {"n": None, "ratio": None, "pattern": None, "loud": False, "color": [], "model": None}
    assert task_words(arguments, unset, in_task=True) == []


def test_file_values_are_absolute_from_the_current_folder(tmp_path, monkeypatch):
    """A file argument's path is relative to where the command runs, not the job file."""
    monkeypatch.chdir(tmp_path)
    arguments = _arguments(lambda job: job.add_file_arg("--model", action="append"))
    assert file_values(arguments, {"model": ["m.bin", "/abs/n.bin"]}) == [
        str(tmp_path / "m.bin"), "/abs/n.bin"]
