"""--overwrite deletes only an old output: never /, a home or the current folder, a folder
holding an input or the job file (links resolved), nor a folder that is no minimr output
unless asked twice.

These tests never delete anything real: each runs in its own world under tmp_path, with HOME
and the current folder pointed there; ``/`` is only ever given to the checking function, or
to the CLI with every deleting function replaced by one that raises.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import minimr
from minimr.cli import main
from minimr.dataflow.format.output import prepare_output
from minimr.dataflow.format.overwrite import FORCE, overwrite_mode, refuse_unsafe
from minimr.errors import MinimrError, OutputExistsError, UnsafeOutputError, UsageError
from tests.conftest import write_file

JOB = """
def map(key, line):
    yield line, 1

def reduce(key, values):
    yield key, sum(values)
"""


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A home with a project (the current folder) in it: a job, inputs, an old output."""
    home = tmp_path / "home"
    proj = home / "proj"
    write_file(proj / "job.py", JOB)
    write_file(proj / "data" / "a.txt", "a\nb\n")
    write_file(proj / "data" / "b.txt", "c\n")
    write_file(proj / "hidden" / "_x", "x\n")
    write_file(proj / "hidden" / ".y", "y\n")
    write_file(proj / "old" / "part-00000", "'a'\t1\n")
    (proj / "old" / "_SUCCESS").touch()
    write_file(proj / "notes" / "todo.txt", "mine\n")
    (proj / "empty").mkdir()
    (proj / "outlink").symlink_to("old")
    (proj / "datalink").symlink_to("data")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(proj)
    return proj


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``, links not followed: kind and content or target."""
    tree = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                tree[path] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                tree[path] = ("dir",)
            else:
                tree[path] = ("file", Path(path).read_bytes())
    return tree


def where(path: str) -> str:
    """Where an entry itself is: its folder's links resolved, not its own."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# --- the checking function: refusals, never a deletion -------------------------------------


@pytest.mark.parametrize("spelling", ["/", "//", "/.", "/tmp/..", "/../..", "file:///"])
def test_the_root_folder_is_refused_however_spelled(world, spelling):
    """``/`` in any spelling is refused by the check (which deletes nothing)."""
    with pytest.raises(UnsafeOutputError, match="root folder"):
        refuse_unsafe(spelling, [str(world / "data")])


@pytest.mark.parametrize("spelling", [".", "./", "../proj", "../proj/.", "..", "../..",
                                      "~", "datalink/.."])
def test_the_current_and_home_folders_and_their_ancestors_are_refused(world, spelling):
    """The current folder, HOME and every ancestor of them are refused."""
    with pytest.raises(UnsafeOutputError):
        refuse_unsafe(os.path.expanduser(spelling), [])


def test_the_accounts_own_home_is_refused_even_when_home_points_elsewhere(world):
    """The passwd home is guarded too, whatever $HOME says (only checked, never deleted)."""
    with pytest.raises(UnsafeOutputError, match="home folder"):
        refuse_unsafe(pwd.getpwuid(os.getuid()).pw_dir, [])


@pytest.mark.parametrize(("output", "inputs", "what"), [
    ("data", ["data"], "is the input"),
    ("hidden", ["hidden"], "is the input"),  # a folder of _ and . files: nothing expands
    ("data", ["data/*.txt"], "is the input"),
    ("datalink", ["data/a.txt"], "holds the input"),  # the output is a link to the inputs
    ("old", ["datalink/../old/part-00000"], "holds the input"),
    ("old/", ["outlink/part-00000"], "holds the input"),  # the input is reached by a link
    ("old", [], "holds the job file"),
])
def test_a_folder_holding_an_input_or_the_job_is_refused(world, output, inputs, what):
    """An output that is or holds an input or the job file, links resolved, is refused."""
    job = "old/job.py" if not inputs else "job.py"
    if not inputs:
        write_file(world / "old" / "job.py", JOB)
    with pytest.raises(UnsafeOutputError, match=what):
        refuse_unsafe(output, inputs, job)


def test_an_input_linked_from_elsewhere_into_the_output_is_refused(world):
    """An input file that is a link into the output folder protects that folder."""
    (world / "data" / "into_old").symlink_to(world / "old" / "part-00000")
    with pytest.raises(UnsafeOutputError, match="holds the input"):
        refuse_unsafe("old", [str(world / "data" / "into_old")])


@pytest.mark.parametrize("url", ["s3://bucket", "s3://bucket/", "s3://bucket//", "memory://"])
def test_a_bucket_or_file_system_root_is_refused(url):
    """A URL output at a bucket's or a file system's root is refused."""
    with pytest.raises(UnsafeOutputError, match="root"):
        refuse_unsafe(url, [])


def test_a_remote_folder_holding_an_input_is_refused():
    """A URL output holding a URL input (a glob's fixed part too) is refused."""
    with pytest.raises(UnsafeOutputError, match="holds the input"):
        refuse_unsafe("memory://minimr-ow/out", ["memory://minimr-ow/out/logs/*.txt"])
    refuse_unsafe("memory://minimr-ow/out2", ["memory://minimr-ow/out/logs/*.txt"])


def test_overwrite_takes_false_true_or_force():
    """Any other overwrite value is a usage error."""
    assert [overwrite_mode(v) for v in (False, True, FORCE)] == [False, True, FORCE]
    for bad in ("yes", 2, None):
        with pytest.raises(UsageError, match="overwrite must be"):
            overwrite_mode(bad)


# --- preparing the output ------------------------------------------------------------------


def test_a_folder_that_is_no_minimr_output_needs_overwrite_twice(world):
    """--overwrite leaves a non-empty folder without _SUCCESS/_temporary/part-* alone and
    says how to force it; forced, it is emptied and kept."""
    with pytest.raises(OutputExistsError, match="--overwrite twice"):
        prepare_output("notes", True, [])
    assert (world / "notes" / "todo.txt").read_text() == "mine\n"
    prepare_output("notes", FORCE, [])
    assert os.listdir(world / "notes") == ["_temporary"]


def test_an_empty_folder_is_used_without_overwrite(world):
    """An empty existing folder holds nothing to lose: it is used as it is."""
    assert prepare_output("empty", False, []).created == ()
    assert os.listdir(world / "empty") == ["_temporary"]


def test_emptying_an_old_output_never_follows_its_links(world):
    """Links inside an old output are removed, not what they point to."""
    (world / "old" / "dir_link").symlink_to(world / "data")
    (world / "old" / "file_link").symlink_to(world / "notes" / "todo.txt")
    write_file(world / "old" / "_temporary" / "x" / "link", "")
    before = snapshot(world / "data") | snapshot(world / "notes")
    prepare_output("outlink", True, [str(world / "data")])  # through a link to the output
    assert snapshot(world / "data") | snapshot(world / "notes") == before
    assert os.listdir(world / "old") == ["_temporary"] and os.path.islink(world / "outlink")


# --- a generator of dangerous layouts: nothing outside an old output is ever deleted --------

OUTPUTS = ["old", "old/", "./old", "../proj/old", "outlink", "outlink/", "old/../old", "notes",
           "notes/", "empty", "new/deep", "data", "datalink", "datalink/", "hidden", ".", "./",
           "..", "../..", "../proj", "data/..", "old/job", "old/part-00000", "{home}", "{proj}",
           "{proj}/old", "{proj}/datalink/../old"]
INPUTS = ["data", "data/a.txt", "datalink/b.txt", "data/*.txt", "hidden", "{proj}/data",
          "data/into", "old/part-00000", "outlink/part-00000", "notes/todo.txt"]


def _layout(world: Path, rng: random.Random) -> str:
    """Add random dangers to the world; returns the job file's path."""
    if rng.random() < 0.3:
        (world / "data" / "into").symlink_to("../old/part-00000")  # an input linked into old
    if rng.random() < 0.3:
        (world / "old" / "out_link").symlink_to("../data")  # a link out of the old output
    if rng.random() < 0.3:
        (world / "old" / "job").mkdir()
        write_file(world / "old" / "job" / "job.py", JOB)
        return str(world / "old" / "job" / "job.py")
    return str(world / "job.py") if rng.random() < 0.5 else "job.py"


def _guarded_entries(before: dict, paths: list[str]) -> list[str]:
    """The entries of ``before`` that are, or lie under, one of ``paths`` (links resolved)."""
    real = [os.path.realpath(p.replace("*.txt", "")) for p in paths]
    return [e for e in before if any(under(where(e), r) or under(e, r) for r in real)]


@pytest.mark.parametrize("seed", range(8))
def test_dangerous_layouts_never_lose_a_file_outside_an_old_output(world, seed):
    """Random outputs, inputs, links and job places: a run (refused or not) changes nothing
    outside its output folder, never an input or the job file, never the home or current
    folder, and never a folder that was no minimr output without force."""
    rng = random.Random(seed)
    for case in range(25):
        root = world.parent.parent / f"case-{seed}-{case}"
        shutil.copytree(world.parent.parent / "home", root / "home", symlinks=True)
        home, proj = root / "home", root / "home" / "proj"
        os.chdir(proj)
        os.environ["HOME"] = str(home)
        job = _layout(proj, rng)
        output = rng.choice(OUTPUTS).format(home=home, proj=proj)
        inputs = [p.format(home=home, proj=proj) for p in rng.sample(INPUTS, rng.randint(1, 3))]
        inputs = [p for p in inputs if os.path.lexists(p.replace("*.txt", "a.txt"))] or ["data"]
        mode = rng.choice([True, FORCE])
        target = os.path.realpath(output)
        foreign = os.path.isdir(target) and os.listdir(target) and not any(
            n in ("_SUCCESS", "_temporary") or n.startswith("part-") for n in os.listdir(target))
        before = snapshot(root)
        try:
            minimr.run(job, inputs, output, overwrite=mode, runner="inline", reducers=1)
        except MinimrError:
            pass
        after = snapshot(root)
        story = (seed, case, output, inputs, mode, job)
        outside = [e for e in before if not under(where(e), target)]
        kept = outside + _guarded_entries(before, [job, *inputs])
        if mode is True and foreign:
            kept += [e for e in before if under(where(e), target)]
        for entry in kept:
            assert after.get(entry) == before[entry], (story, entry)
        if under(str(proj), target) or any(under(where(e), target) for e in
                                           _guarded_entries(before, [job, *inputs])):
            assert after == before, story  # refused: nothing at all changed


def test_an_input_folder_of_hidden_files_guards_itself_even_when_forced(world):
    """A folder given as input whose files all start with _ or . (none is read) is still an
    input: a forced overwrite of it is refused and its files stay."""
    before = snapshot(world)
    with pytest.raises(UnsafeOutputError, match="is the input 'hidden'"):
        minimr.run("job.py", ["hidden"], "hidden", overwrite=FORCE, runner="inline")
    assert snapshot(world) == before


# --- the command line ------------------------------------------------------------------------


def _no_deleting(monkeypatch):
    """Make every deleting function raise, so that a bug cannot delete a real file."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"something tried to delete {args!r}")

    for module, name in ((shutil, "rmtree"), (os, "unlink"), (os, "remove"), (os, "rmdir")):
        monkeypatch.setattr(module, name, refuse)


def test_the_cli_refuses_root_before_anything_runs(world, monkeypatch):
    """`-o / --overwrite` with an input folder of _ and . files only is refused with a clear
    message, and nothing is deleted (every deleting function raises if called)."""
    _no_deleting(monkeypatch)
    result = CliRunner().invoke(main, ["submit", "job.py", "-i", "hidden", "-i", "data",
                                       "-o", "/", "--overwrite", "--inline"])
    assert result.exit_code == 2 and "the root folder /" in result.output, result.output


def test_the_cli_refuses_the_current_folder(world):
    """`-o . --overwrite` is refused: the job file and everything else stay."""
    before = snapshot(world)
    result = CliRunner().invoke(main, ["submit", "job.py", "-i", "data", "-o", ".",
                                       "--overwrite", "--overwrite", "--inline"])
    assert result.exit_code == 2 and "refusing output '.'" in result.output
    assert "is the current folder" in result.output
    assert snapshot(world) == before


def test_the_cli_asks_twice_for_a_folder_that_is_no_output(world):
    """One --overwrite refuses a folder of other files and says to give it twice; twice
    replaces it; --help says so."""
    args = ["submit", "job.py", "-i", "data", "-o", "notes", "--inline", "--overwrite"]
    once = CliRunner().invoke(main, args)
    assert once.exit_code == 2 and "pass --overwrite twice" in once.output
    assert (world / "notes" / "todo.txt").exists()
    twice = CliRunner().invoke(main, [*args, "--overwrite"])
    assert twice.exit_code == 0, twice.output
    assert sorted(os.listdir(world / "notes")) == ["_SUCCESS", "part-00000", "part-00001",
                                                   "part-00002", "part-00003"]
    shown = CliRunner().invoke(main, ["submit", "--help"]).output
    assert "Twice (--overwrite --overwrite): empty any folder" in " ".join(shown.split())
