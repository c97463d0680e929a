"""utils.bench (chapter 9): the command line, its summary arithmetic and its GPU guard."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils import bench, env

ROOT = Path(__file__).resolve().parent.parent


def test_help_runs_and_names_the_options():
    out = subprocess.run([sys.executable, "-m", "utils.bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for option in ("--runs", "--profile", "--allow-cpu", "--json", "cpu", "quick", "full"):
        assert option in out.stdout


def test_parse_defaults_and_errors():
    args = bench.parse_args([])
    assert args.runs == 1 and args.profile == "cpu" and args.target == 94.0
    with pytest.raises(SystemExit):
        bench.parse_args(["--runs", "0"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--profile", "huge"])


def test_config_overrides():
    cfg = bench.config_from_args(bench.parse_args(["--profile", "full", "--widths", "8,16,32", "--epochs", "2", "--lr", "3"]))
    assert cfg.widths == (8, 16, 32) and cfg.epochs == 2 and cfg.lr == 3
    with pytest.raises(ValueError, match="--widths"):
        bench.config_from_args(bench.parse_args(["--widths", "a,b,c"]))


def test_summarize():
    s = bench.summarize([0.95, 0.93, 0.94], [10.0, 12.0, 14.0], 94.0)
    assert s["mean"] == pytest.approx(0.94)
    assert s["std"] == pytest.approx(np.std([0.95, 0.93, 0.94], ddof=1))
    assert s["reached"] == 2 and s["time_to_target"] == pytest.approx(12.0)
    assert bench.summarize([0.5], [3.0], 94.0)["time_to_target"] is None
    assert bench.summarize([0.5], [3.0], 94.0)["std"] == 0.0
    with pytest.raises(ValueError, match="no runs"):
        bench.summarize([], [], 94.0)


@pytest.mark.skipif(env.has_gpu(), reason="checks the no-GPU guard")
def test_full_profile_needs_a_gpu():
    with pytest.raises(env.NoGPUError, match="needs a GPU"):
        bench.main(["--profile", "full"])


def test_tiny_benchmark_end_to_end(monkeypatch, tmp_path, capsys):
    from utils import data

    rng = np.random.default_rng(0)

    def fake_load(data_dir=None, *, subset=None):
        x = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=(64, 1)).astype(np.uint8)
        return (x, y), (x[:20], y[:20])

    monkeypatch.setattr(data, "load_cifar10", fake_load)
    out_json = tmp_path / "bench.json"
    argv = ["--profile", "quick", "--widths", "8,8,8", "--batch-size", "16", "--epochs", "1", "--runs", "2",
            "--precision", "float32", "--json", str(out_json)]
    from utils import fast

    monkeypatch.setitem(fast.PROFILES, "quick", fast.PROFILES["quick"].replace(eval_batch=20, whiten_samples=32))
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    for text in ("run 1/2: test accuracy", "run 2/2", "accuracy:", "time to 94%: not reached", "images per second",
                 "compile time", "hardware: CPU"):
        assert text in printed
    record = json.loads(out_json.read_text())
    assert len(record["runs"]) == 2 and record["train_images"] == 64 and record["summary"]["time_to_target"] is None
