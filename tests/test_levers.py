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


def test_every_second_round_runs_the_levers_in_reverse():
    assert levers.run_order(["a", "b", "c"], 3) == [
        ["baseline", "a", "b", "c", "baseline"],
        ["baseline", "c", "b", "a", "baseline"],
        ["baseline", "a", "b", "c", "baseline"],
    ]
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match="rounds must be a positive int"):
            levers.run_order(["a"], bad)


def _round(first, last, xla):
    return {
        "baseline": {
            "images_per_second": [first, last],
            "step_seconds": [[1], [2]],
            "compile_seconds": [5, 6],
        },
        "xla": {"images_per_second": xla, "step_seconds": [0.5], "compile_seconds": 9},
        "bf16": {"skipped": "no bf16"},
    }


def test_rounds_combine_to_the_mean_ratio_and_keep_each():
    rows, rel = levers.combine_rounds([_round(100, 100, 120), _round(90, 110, 80)])
    assert rows["xla"]["ratio_rounds"] == pytest.approx([1.2, 0.8])
    assert rows["xla"]["ratio_to_baseline"] == rel["xla"] == pytest.approx(1.0)
    assert rows["xla"]["images_per_second"] == pytest.approx(100)
    assert rows["xla"]["images_per_second_rounds"] == [120, 80]
    assert rows["xla"]["step_seconds"] == [[0.5], [0.5]]
    assert rows["xla"]["compile_seconds"] == [9, 9]
    assert rows["baseline"]["images_per_second"] == [100, 100, 90, 110]
    assert rows["baseline"]["step_seconds"] == [[1], [2], [1], [2]]
    assert rows["baseline"]["compile_seconds"] == [5, 6, 5, 6]
    assert rel["baseline drift"] == pytest.approx([1.0, 110 / 90])
    assert rows["bf16"] == {"skipped": "no bf16"} and "bf16" not in rel
    assert levers.mean_ips(rows["baseline"]) == pytest.approx(100)


def test_rounds_must_measure_the_same_levers():
    other = _round(100, 100, 120)
    del other["xla"]
    with pytest.raises(ValueError, match="the same levers"):
        levers.combine_rounds([_round(100, 100, 120), other])
    with pytest.raises(ValueError, match="at least one round"):
        levers.combine_rounds([])


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
    argv += ["--rounds", "2", "--json", str(out)]
    assert levers.main(argv) == 0
    printed = capsys.readouterr().out
    assert "x baseline" in printed and "float32 matmul peak" in printed
    assert "[round 2/2] onednn-off" in printed
    rec = json.loads(out.read_text())
    assert rec["order"] == [
        ["baseline", "onednn-off", "xla", "baseline"],
        ["baseline", "xla", "onednn-off", "baseline"],
    ]
    assert rec["command"] == levers.PROG + " " + shlex.join(argv)
    base = rec["levers"]["baseline"]
    assert len(base["images_per_second"]) == 4 and len(base["step_seconds"]) == 4
    assert len(rec["baseline_drift"]) == 2
    assert rec["levers"]["onednn-off"]["onednn_env"] == "0"
    assert base["onednn_env"] == "1" and rec["levers"]["xla"]["settings"]["jit"]
    flop = rec["peak"]["training_flop_per_image"]
    peak = rec["peak"]["matmul"]["peak_flops"]
    for name in ("onednn-off", "xla"):
        row = rec["levers"][name]
        each = [16 / statistics.median(t) for t in row["step_seconds"]]
        assert row["images_per_second_rounds"] == pytest.approx(each)
        assert row["images_per_second"] == pytest.approx(sum(each) / 2)
        assert len(row["ratio_rounds"]) == 2
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
    # the order of the levers of the record's day (the default list may grow since)
    names = rec["order"][0][1:-1]
    if "--levers" in argv:
        assert names == args.lever_names
    assert set(names) <= set(levers.LEVERS) - {"baseline"}
    assert rec["order"] == levers.run_order(names, args.rounds)
    assert len(rec["baseline_drift"]) == args.rounds
    assert rec["levers"]["baseline"]["settings"] == levers.BASELINE
    for name, row in rec["levers"].items():
        assert row["settings"] == levers.lever_settings(name)
        if "skipped" not in row:  # bfloat16 against the float32 peak may pass 1
            top = 1 if row["settings"]["precision"] == "float32" else 4
            assert 0 < row["fraction_of_peak"] < top
