"""benchmarks/levers.py: settings of chapter 10's trainer timed against a baseline."""

import json
import os
import shlex
import statistics
from pathlib import Path

import pytest

from benchmarks import levers, vs_airbench

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "results" / "levers").glob("*.json"))


def test_every_lever_is_one_change_from_the_baseline():
    assert levers.lever_settings("baseline") == levers.BASELINE
    for name in levers.LEVERS:
        settings = levers.lever_settings(name)
        assert set(settings) == set(levers.BASELINE)
        changed = {k for k in settings if settings[k] != levers.BASELINE[k]}
        assert changed == set(levers.LEVERS[name]), name
    assert levers.lever_settings("xla+bf16")["precision"] == "mixed_bfloat16"
    assert levers.lever_settings("whiten-frozen")["whiten_gate"] == 0.0


def test_unknown_lever_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown lever 'fast'.*xla"):
        levers.lever_settings("fast")


def test_bf16_is_skipped_without_bf16_instructions():
    bf16 = levers.lever_settings("bf16")
    assert "avx512_bf16" in levers.skip_reason(bf16, ["avx2", "avx512f"])
    assert levers.skip_reason(bf16, ["avx512f", "avx512_bf16"]) is None
    assert levers.skip_reason(bf16, ["amx_bf16"]) is None
    assert levers.skip_reason(levers.lever_settings("xla"), []) is None


def test_ratios_are_over_the_mean_of_the_two_baselines():
    rows = {
        "baseline": {"images_per_second": [100.0, 110.0]},
        "xla": {"images_per_second": 126.0},
        "bf16": {"skipped": "no bf16"},
    }
    out = levers.ratios(rows)
    assert out["xla"] == pytest.approx(1.2)
    assert out["baseline drift"] == pytest.approx(1.1)
    assert "bf16" not in out


@pytest.mark.parametrize("base", [None, [100.0], [0.0, 10.0], 100.0])
def test_ratios_need_two_positive_baselines(base):
    with pytest.raises(ValueError, match="baseline needs two positive"):
        levers.ratios({"baseline": {"images_per_second": base}})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--levers", "xla,turbo"], "unknown ['turbo']"),
        (["--levers", "baseline"], "unknown ['baseline']"),
        (["--levers", ","], "unknown empty list"),
        (["--levers", "xla,bf16,xla"], "names xla twice: list each once"),
        (["--steps", "0"], "--steps: must be a positive int"),
        (["--profile", "huge"], "invalid choice"),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        levers.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_tiny_run_writes_a_complete_record(tmp_path, capsys):
    out = tmp_path / "tiny.json"
    argv = ["--profile", "quick", "--widths", "8,8,8", "--batch-size", "16"]
    argv += ["--steps", "2", "--repeats", "1", "--levers", "onednn-off,xla"]
    argv += ["--json", str(out)]
    assert levers.main(argv) == 0
    printed = capsys.readouterr().out
    assert "x baseline" in printed and "float32 matmul peak" in printed
    rec = json.loads(out.read_text())
    assert rec["order"] == ["baseline", "onednn-off", "xla", "baseline"]
    assert rec["command"] == levers.PROG + " " + shlex.join(argv)
    base = rec["levers"]["baseline"]
    assert len(base["images_per_second"]) == 2 and len(base["step_seconds"]) == 2
    assert rec["levers"]["onednn-off"]["onednn_env"] == "0"
    assert base["onednn_env"] == "1" and rec["levers"]["xla"]["settings"]["jit"]
    flop = rec["peak"]["training_flop_per_image"]
    peak = rec["peak"]["matmul"]["peak_flops"]
    for name in ("onednn-off", "xla"):
        row = rec["levers"][name]
        assert row["images_per_second"] == pytest.approx(
            16 / statistics.median(row["step_seconds"])
        )
        assert row["fraction_of_peak"] == pytest.approx(
            flop * row["images_per_second"] / peak
        )
    assert rec["hardware"]["cpu"]["cores"] == os.cpu_count()
    assert rec["versions"]["tensorflow"]


def test_vs_airbench_passes_our_levers_and_checks_them(capsys):
    args = vs_airbench.parse_args(
        ["--jit", "on", "--precision", "mixed_bfloat16", "--inter-op-threads", "1"]
    )
    assert vs_airbench.ours_levers(args) == {
        "jit": "on",
        "precision": "mixed_bfloat16",
        "inter_op_threads": 1,
    }
    assert vs_airbench.ours_levers(vs_airbench.parse_args([])) == (
        vs_airbench.OURS_DEFAULTS
    )
    with pytest.raises(SystemExit):
        vs_airbench.parse_args(["--precision", "float8"])
    assert "--precision" in capsys.readouterr().err


def test_vs_airbench_refuses_tensorflow_threads_on_jax(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(SystemExit) as exc:
        vs_airbench.parse_args(["--inter-op-threads", "1"])
    assert exc.value.code == 2
    assert "KERAS_BACKEND=tensorflow" in capsys.readouterr().err
    assert vs_airbench.parse_args([]).inter_op_threads == 0  # the default is fine


def test_there_are_committed_records():
    assert RECORDS, "results/levers/ holds the chapter's lever measurements"


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_committed_record_matches_its_command(path):
    rec = json.loads(path.read_text())
    argv = shlex.split(rec["command"])[3:]
    assert argv == rec["argv"]
    args = levers.parse_args(argv)
    cfg = vs_airbench.recipe().profile_config(
        args.profile, widths=args.widths, batch_size=args.batch_size
    )
    assert cfg.to_dict() == rec["config"]  # today's profile is the recorded one
    assert rec["order"] == ["baseline", *args.lever_names, "baseline"]
    assert rec["levers"]["baseline"]["settings"] == levers.BASELINE
    for name, row in rec["levers"].items():
        assert row["settings"] == levers.lever_settings(name)
        if "skipped" not in row:
            assert 0 < row["fraction_of_peak"] < 1
