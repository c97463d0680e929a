"""utils.cli: the option types shared by utils.fast.bench and benchmarks.vs_airbench."""

import argparse
import subprocess
import sys

import pytest

from utils import cli


def test_accepted_values():
    assert cli.positive_int("3") == 3 and cli.any_int("-2") == -2
    assert cli.non_negative_int("0") == 0 and cli.non_negative_float("0") == 0.0
    assert cli.positive_float("1e-3") == 1e-3 and cli.percent("94") == 94.0
    assert cli.widths("32, 64,128") == (32, 64, 128)
    assert cli.subset_size("1000") == 1000


@pytest.mark.parametrize(
    "kind, text, message",
    [
        (cli.positive_int, "0", "positive int"),
        (cli.positive_int, "2.5", "positive int"),
        (cli.any_int, "x", "must be an int"),
        (cli.non_negative_int, "-1", ">= 0"),
        (cli.non_negative_float, "-0.5", ">= 0"),
        (cli.positive_float, "nan", "positive finite"),
        (cli.positive_float, "inf", "positive finite"),
        (cli.percent, "101", r"\[0, 100\]"),
        (cli.widths, "32,64", "three comma-separated"),
        (cli.widths, "32,0,8", "three comma-separated"),
        (cli.subset_size, "15", "multiple of 10"),
    ],
)
def test_refused_values_name_the_problem(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)


def test_json_path(tmp_path):
    assert cli.json_path(str(tmp_path / "r.json")) == tmp_path / "r.json"
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        cli.json_path(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist"):
        cli.json_path(str(tmp_path / "missing" / "r.json"))


def test_imports_neither_keras_nor_tensorflow():
    code = (
        "import sys, utils.cli; "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_step_timing_options_defaults_and_checks(tmp_path, capsys):
    p = argparse.ArgumentParser()
    cli.add_step_timing_options(p)
    args = p.parse_args([])
    assert (args.steps, args.repeats, args.seed, args.json) == (5, 5, 0, None)
    args = p.parse_args(["--steps", "2", "--json", str(tmp_path / "r.json")])
    assert args.steps == 2 and args.json == tmp_path / "r.json"
    for bad in (["--repeats", "0"], ["--seed", "-1"], ["--json", "/no/such/x.json"]):
        with pytest.raises(SystemExit):
            p.parse_args(bad)
    assert "--json" in capsys.readouterr().err
