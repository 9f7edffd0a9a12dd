"""Tests for scripts/fuzz_jobs.py and its generator, model and shrinker (scripts/fuzzjobs)."""

from __future__ import annotations

import importlib.util
import math
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "fuzz_jobs.py"
sys.path.insert(0, str(ROOT / "scripts"))  # the generator, as the script imports it

from fuzzjobs import check, model, pools, spec  # noqa: E402
from fuzzjobs.render import render  # noqa: E402
from fuzzjobs.shrink import shrink  # noqa: E402


def load_script():
    """scripts/fuzz_jobs.py as a module."""
    loaded = importlib.util.spec_from_file_location("fuzz_jobs_script", SCRIPT)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def fake_engine(tmp: Path, corrupt=lambda record: record):
    """A stand-in for ``minimr.run`` that outputs the model's records, each passed through
    ``corrupt``: the checker and shrinker tested apart from the engine."""
    empty = tmp / "no-parts"
    empty.mkdir(exist_ok=True)

    def runs(job, inputs, output, runner, case):
        records = [corrupt(r) for r in check.expected(case, job, inputs)]
        return SimpleNamespace(records=lambda: iter(records), output=str(empty), counters=None)
    return runs


def zero_sign_lost(record):
    """The engine bug of issue 16: a value ``-0.0`` comes back as ``0.0``."""
    key, value = record
    return key, (0.0 if type(value) is float and value == 0 else value)


# -- the model ----------------------------------------------------------------------------------
def test_text_records_follow_the_line_rules() -> None:
    """Lines split on \\n alone, lose one \\r, keep empty lines; a last line needs no newline."""
    data = "a\r\n\n\rb\x0cc\u2028d\r\r\ne".encode() + b"\xff"
    assert model.text_records("p", data) == [
        (("p", 0), "a"), (("p", 3), ""), (("p", 4), "\rb\x0cc\u2028d\r"), (("p", 15), "e\ufffd")]
    assert model.text_records("p", b"") == []
    assert model.text_records("p", b"x\n") == [(("p", 0), "x")]


def test_group_keeps_equal_keys_together_under_the_least_one() -> None:
    """1, 1.0, True and Decimal('1') are one group, carried by Decimal('1'); -0.0 beats 0.0."""
    groups = model.group([(1, "a"), (True, "b"), (1.0, "c"), (Decimal("1"), "d"), (0.0, "e"),
                          (-0.0, "f"), ("1", "g")])
    assert [(model.canon(k), v) for k, v in groups] == [
        (("Decimal", "Decimal('1')"), ["a", "b", "c", "d"]), (("float", "-0.0"), ["e", "f"]),
        (("str", "'1'"), ["g"])]


def test_canon_tells_apart_what_equality_does_not() -> None:
    """Equal values of different types or signs differ; NaNs are alike; set order is not kept."""
    forms = [model.canon(v) for v in (1, 1.0, True, Decimal("1"), -0.0, 0.0, (1,), (1.0,))]
    assert len(set(forms)) == len(forms)
    assert model.canon((float("nan"), 1)) == model.canon((math.nan, 1))
    assert model.canon(frozenset({"a", "b"})) == model.canon(frozenset({"b", "a"}))
    assert model.multiset([(1, -0.0)]) != model.multiset([(1, 0.0)])


# -- the generator ------------------------------------------------------------------------------
def test_generated_jobs_are_valid_job_files(tmp_path: Path) -> None:
    """Every generated job compiles, keeps the generator's rules and runs in the model."""
    for index in range(60):
        case = spec.make_case(5, index)
        assert spec.families(case.spec) is not None
        compile(render(case.spec, case.label), "job.py", "exec")
        job, inputs = check.write_case(case, tmp_path / f"job-{index}")
        check.expected(case, job, inputs)  # raises InvalidCase if the model cannot run it


def test_a_step_after_values_in_order_gets_a_tuple_a_key() -> None:
    """``in_order`` yields each key's values as one tuple, so the next step's values are of
    any family, and a summing reducer there is no valid job (seed 34, job 154 was made:
    its reducer added up tuples, and the model itself failed)."""
    first = spec.StepSpec(map="keys", combine="each", reduce="in_order", reducers=3,
                          partitioner="range")
    assert spec.reduce_output(first, "ints") == "any"
    job = spec.JobSpec(style="class", key_family="tuples", value_family="order",
                       keys=("(1.0,)", "(1, 2)"), values=("(1, 2.0)", "()"), const="1",
                       steps=(first, spec.StepSpec(map="pass", reduce="loop_sum", reducers=3)))
    assert spec.families(job) is None


def test_keys_keep_their_repr_through_pickling() -> None:
    """A key's repr, which decides which of equal keys is written, survives pickling."""
    for source in pools.KEY_FAMILIES["mixed"]:
        key = pools.evaluate(source)
        again = key
        for _ in range(3):
            again = pickle.loads(pickle.dumps(again))
            assert repr(again) == repr(key), source


def test_a_seed_gives_the_same_jobs() -> None:
    """Job I of seed S is the same job and input every time it is made."""
    assert spec.make_case(3, 7) == spec.make_case(3, 7)
    assert spec.make_case(3, 7) != spec.make_case(4, 7)


# -- checking and shrinking ---------------------------------------------------------------------
def test_check_finds_a_lost_zero_sign(tmp_path: Path) -> None:
    """An engine that turns -0.0 into 0.0 diverges; one that outputs the model's records not."""
    case = spec.Case(spec=spec.JobSpec(
        style="class", key_family="mixed", value_family="any", keys=("1", "'a'"),
        values=("-0.0", "0"), steps=(spec.StepSpec("filter", "each", "each", 2),)),
        inputs=(("in0.txt", b"0.0 1.1\n1.0\n"),))
    ok = check.check(case, tmp_path / "ok", "inline", runs=fake_engine(tmp_path))
    bad = check.check(case, tmp_path / "bad", "inline", runs=fake_engine(tmp_path, zero_sign_lost))
    assert ok.ok
    assert bad.kind == "output" and "('float', '-0.0')" in bad.detail


def test_shrink_leaves_the_one_word_that_diverges(tmp_path: Path) -> None:
    """A divergent job with several files, steps and table entries shrinks to one word."""
    words = b" ".join(b"%d.%d" % (k, v) for k in range(3) for v in range(4))
    case = spec.Case(spec=spec.JobSpec(
        style="class", key_family="mixed", value_family="any",
        keys=("1", "'a'", "(1, 2.0)"), values=("'x'", "-0.0", "Decimal('1')", "None"),
        steps=(spec.StepSpec("filter", "each", "each", 3), spec.StepSpec("pass", "none", "none",
                                                                           2))),
        inputs=(("in0.txt", (words + b"\r\n") * 5), ("in1.txt", b"x\n\n0.0\n"),
                ("in2.txt", b"")), label="hand-made")
    runs = fake_engine(tmp_path, zero_sign_lost)
    found = check.check(case, tmp_path / "first", "inline", runs=runs)
    assert found.kind == "output"
    small, outcome = shrink(case, found, tmp_path / "shrink", runs=runs)
    assert outcome.kind == "output"
    assert len(small.spec.steps) == 1 and small.spec.steps[0].reducers == 1
    assert small.spec.values == ("-0.0",) and len(small.spec.keys) == 1
    assert [data for _, data in small.inputs] == [b"0.0"]


# -- the command --------------------------------------------------------------------------------
def test_the_command_counts_the_jobs_it_ran(tmp_path: Path, capsys) -> None:
    """With no divergence the command exits 0 and says how many jobs ran on which runners."""
    script = load_script()
    status = script.main(["--jobs", "3", "--seed", "2", "--runner", "both", "--out",
                          str(tmp_path / "found")], runs=fake_engine(tmp_path))
    assert status == 0
    assert "ran 3 generated jobs (seed 2): 3 on inline, 3 on local" in capsys.readouterr().out
    assert not (tmp_path / "found").exists()


def test_the_command_writes_a_small_reproduction(tmp_path: Path, capsys) -> None:
    """A divergence exits 1 and leaves a shrunk job file, its input and a README."""
    script = load_script()
    broken = fake_engine(tmp_path, lambda record: (record[0], "wrong"))
    status = script.main(["--jobs", "2", "--seed", "2", "--runner", "inline", "--out",
                          str(tmp_path / "found"), "--max-divergences", "1"], runs=broken)
    out = capsys.readouterr().out
    assert status == 1
    folders = list((tmp_path / "found").iterdir())
    assert len(folders) == 1 and "DIVERGENCE (output) on inline" in out
    readme = (folders[0] / "README.txt").read_text()
    assert "minimr submit job.py --input input --output out --inline" in readme
    assert (folders[0] / "job.py").read_text() in out
    assert sum(len(p.read_bytes()) for p in (folders[0] / "input").iterdir()) <= 20


@pytest.mark.parametrize("argv", [["--help"]])
def test_the_script_runs_from_a_checkout(argv: list[str]) -> None:
    """``python scripts/fuzz_jobs.py`` finds its generator beside it, from any folder."""
    done = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True,
                          timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "--runner" in done.stdout
