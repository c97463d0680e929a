"""utils.fast.bench (chapter 10): option checks, summary arithmetic, records, the GPU
guard."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils import env, fast
from utils.fast import bench

ROOT = Path(__file__).resolve().parent.parent


def test_help_runs_and_names_the_options():
    out = subprocess.run(
        [sys.executable, "-m", "utils.fast.bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0
    for option in (
        "--runs",
        "--profile",
        "--allow-cpu",
        "--json",
        "cpu",
        "quick",
        "full",
    ):
        assert option in out.stdout


def test_parse_defaults():
    args = bench.parse_args([])
    assert args.runs == 1 and args.profile == "cpu" and args.target == 94.0
    assert args.json is None and args.widths is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--runs", "0"], "--runs: must be a positive int"),
        (["--profile", "huge"], "invalid choice"),
        (
            ["--widths", "32,64"],
            "--widths: must be three comma-separated positive ints",
        ),
        (
            ["--widths", "a,b,c"],
            "--widths: must be three comma-separated positive ints",
        ),
        (["--widths", "8,0,8"], "--widths: must be three"),
        (["--epochs", "0"], "--epochs: must be a positive finite number"),
        (["--epochs", "inf"], "--epochs: must be a positive finite number"),
        (["--batch-size", "0"], "--batch-size: must be a positive int"),
        (["--train-size", "7"], "--train-size: must be a positive multiple of 10"),
        (["--test-size", "-10"], "--test-size: must be a positive"),
        (["--lr", "nan"], "--lr: must be a positive finite number"),
        (["--lr", "-1"], "--lr: must be a positive finite number"),
        (["--target", "101"], "--target: must be a percentage"),
        (["--seed", "x"], "--seed: must be an int"),
        (["--json", "/missing/dir/out.json"], "does not exist"),
        (
            ["--profile", "quick", "--train-size", "100", "--batch-size", "128"],
            "larger than the training set",
        ),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_json_folder_is_checked_before_training(monkeypatch, tmp_path, capsys):
    from utils import data

    def no_load(*args, **kwargs):
        raise AssertionError("data were loaded before the options were checked")

    monkeypatch.setattr(data, "load_cifar10", no_load)
    with pytest.raises(SystemExit) as exc:
        bench.main(
            ["--profile", "quick", "--json", str(tmp_path / "missing" / "o.json")]
        )
    assert exc.value.code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--profile", "quick", "--json", str(tmp_path)])  # a folder


def test_config_overrides_and_data_sizes():
    args = bench.parse_args(
        ["--profile", "full", "--widths", "8,16,32", "--epochs", "2", "--lr", "3"]
    )
    cfg = bench.config_from_args(args)
    assert cfg.widths == (8, 16, 32) and cfg.epochs == 2 and cfg.lr == 3
    assert bench.data_sizes(args) == (50000, 10000)
    args = bench.parse_args(["--profile", "quick", "--test-size", "500"])
    assert bench.data_sizes(args) == (fast.PROFILE_DATA["quick"][0], 500)


def test_summarize():
    s = bench.summarize([0.95, 0.93, 0.94], [10.0, 12.0, 14.0], 94.0)
    assert s["mean"] == pytest.approx(0.94)
    assert s["std"] == pytest.approx(np.std([0.95, 0.93, 0.94], ddof=1))
    assert s["reached"] == 2 and s["time_to_target"] == pytest.approx(12.0)
    assert bench.summarize([0.5], [3.0], 94.0)["time_to_target"] is None
    assert bench.summarize([0.5], [3.0], 94.0)["std"] == 0.0
    with pytest.raises(ValueError, match="no runs"):
        bench.summarize([], [], 94.0)
    with pytest.raises(ValueError, match="2 accuracies but 1 times"):
        bench.summarize([0.5, 0.6], [3.0], 94.0)


@pytest.mark.skipif(env.has_gpu(), reason="checks the no-GPU guard")
def test_full_profile_needs_a_gpu():
    with pytest.raises(env.NoGPUError, match="needs a GPU"):
        bench.main(["--profile", "full"])


def test_load_records_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        bench.load_records(tmp_path / "none")
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match="a.json is not valid JSON"):
        bench.load_records(tmp_path)
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(ValueError, match="a.json lacks the record fields"):
        bench.load_records(tmp_path)


def test_tiny_benchmark_end_to_end(monkeypatch, tmp_path, capsys):
    from utils import data, fast

    rng = np.random.default_rng(0)

    def fake_load(data_dir=None, *, subset=None):
        x = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=(64, 1)).astype(np.uint8)
        return (x, y), (x[:20], y[:20])

    monkeypatch.setattr(data, "load_cifar10", fake_load)
    small = fast.PROFILES["quick"].replace(eval_batch=20, whiten_samples=32)
    monkeypatch.setitem(fast.PROFILES, "quick", small)
    out_json = tmp_path / "bench.json"
    argv = [
        "--profile",
        "quick",
        "--widths",
        "8,8,8",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--runs",
        "2",
        "--precision",
        "float32",
        "--track-epochs",
        "--json",
        str(out_json),
    ]
    assert bench.main(argv) == 0
    captured = capsys.readouterr()
    printed = captured.out
    # progress: one line per epoch and run on stderr, with the time left
    progress = [line for line in captured.err.splitlines() if "left" in line]
    assert len(progress) == 2, captured.err
    assert progress[0].startswith("run 1/2: epoch 1/1 (step 4/4): ")
    assert (
        progress[1].startswith("run 2/2: epoch 1/1")
        and "about 0 s left" in (progress[1])
    )
    assert "accuracy" in progress[0]  # --track-epochs: the epoch's accuracy too
    assert bench.main([*argv[:-2], "--quiet"]) == 0  # --quiet: no progress lines
    assert "left" not in capsys.readouterr().err
    for text in (
        "run 1/2: test accuracy",
        "run 2/2",
        "accuracy:",
        "per epoch (no TTA)",
        "time to 94%: not reached",
        "images per second",
        "compile time",
        "hardware: CPU",
    ):
        assert text in printed
    (rec,) = bench.load_records(tmp_path)
    assert rec["argv"] == argv and rec["command"].startswith(
        "python -m utils.fast.bench"
    )
    assert len(rec["metrics"]["runs"]) == 2 and rec["data"]["train_images"] == 64
    assert (
        rec["metrics"]["time_to_target"] is None
        and len(rec["metrics"]["per_epoch"]) == 1
    )
    assert rec["versions"]["backend"] in rec["versions"] and rec["date"]
    assert rec["config"] == json.loads(
        json.dumps(small.replace(widths=(8, 8, 8), batch_size=16, epochs=1.0).to_dict())
    )
    assert "[quick] widths 8/8/8, 1 epochs" in bench.format_record(rec)
