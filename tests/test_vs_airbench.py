"""benchmarks.airbench_cpu and benchmarks.vs_airbench (chapter 10): the side by side.

The adapter and the command need PyTorch and airbench 0.1.8
(``pip install -r requirements-bench.txt``), which the README's set-up does not install
(no chapter needs them): without them the tests that need them skip, with a reason that
names the install command. CI installs them and sets ``BOOK_REQUIRE_BENCH=1``, which
turns that skip into a failure, so CI can never pass by skipping them. Anything that
imports PyTorch runs in a subprocess, so that TensorFlow (imported by other test files)
and PyTorch never share the test process.
Tiny runs: 1,000 training / 500 test images, widths 8/16/16, one epoch.
"""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import airbench_cpu, vs_airbench
from utils import data

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--train-size", "1000", "--test-size", "500", "--epochs", "1"]
TINY += ["--batch-size", "200", "--widths", "8,16,16"]


def require_bench_packages() -> None:
    """Skip (fail where ``BOOK_REQUIRE_BENCH=1``) when torch or airbench is missing."""
    missing = [m for m in ("torch", "airbench") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = (
        f"{' and '.join(missing)} not installed: pip install -r "
        "requirements-bench.txt (torch==2.13.0 CPU wheel, airbench==0.1.8)"
    )
    if os.environ.get("BOOK_REQUIRE_BENCH") == "1":
        pytest.fail(message + " (BOOK_REQUIRE_BENCH=1 forbids skipping)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def bench_env():
    """The environment for a subprocess: CIFAR10_DIR set; fails if something is
    missing."""
    require_bench_packages()
    candidates = [
        os.environ.get("CIFAR10_DIR"),
        str(ROOT.parent / "shared" / "data" / "cifar-10-batches-bin"),
    ]
    folder = next((c for c in candidates if c and Path(c).is_dir()), None)
    if folder is None:
        pytest.fail(
            "no CIFAR-10 copy: set CIFAR10_DIR to a cifar-10-batches-bin folder",
            pytrace=False,
        )
    return dict(os.environ, CIFAR10_DIR=folder, PYTHONUNBUFFERED="1")


def run_python(args, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


ADAPTER_SCRIPT = r"""
import hashlib, json, sys
from pathlib import Path
from benchmarks import airbench_cpu as ac

airbench = ac.import_airbench()
import torch

out = {"standin": ac.torchvision_is_standin(), "knobs": ac.airbench_knobs(airbench)}
folder = Path(sys.argv[1])
target = ac.write_cifar10_pt(folder, 1000, 500)
out["files"] = sorted(p.name for p in target.iterdir())
out["leftovers"] = sorted(p.name for p in folder.iterdir())
for name in ("train.pt", "test.pt"):
    d = torch.load(target / name)
    images = d["images"]
    out[name] = {
        "keys": sorted(d),
        "images": [str(images.dtype), list(images.shape)],
        "labels": [str(d["labels"].dtype), d["labels"].tolist()],
        "classes": d["classes"],
        "sha256": hashlib.sha256(images.numpy().tobytes()).hexdigest(),
    }
try:
    ac.write_cifar10_pt(folder / "other", 1000, 500, data_dir=folder / "nothing")
except Exception as err:
    out["missing_data"] = [type(err).__name__, str(err)]

x = torch.rand(2, 3, 4, 4).to(memory_format=torch.channels_last)
y = ac.Normalize((0.1, 0.2, 0.3), (0.5, 0.25, 2.0))(x)
mean = torch.tensor([0.1, 0.2, 0.3]).view(3, 1, 1)
std = torch.tensor([0.5, 0.25, 2.0]).view(3, 1, 1)
out["normalize"] = [
    bool(torch.allclose(y, (x - mean) / std)),
    y.is_contiguous(memory_format=torch.channels_last),
    y.data_ptr() != x.data_ptr(),
]

run = ac.run_airbench94(
    folder, widths=(8, 16, 16), epochs=1, batch_size=100, lr=11.5, seed=0, quiet=True
)
out["run"] = run.to_dict()
again = ac.run_airbench94(
    folder, widths=(8, 16, 16), epochs=1, batch_size=100, lr=11.5, seed=0, quiet=True
)
out["same_seed_same_accuracy"] = again.accuracy == run.accuracy
out["undone"] = [
    torch.zeros(1, dtype=torch.uint8).half().dtype == torch.float16,
    torch.cuda.Event is not ac.WallClockEvent,
    airbench.utils.CifarLoader.__name__ == "CifarLoader",
    airbench.utils.print_training_details.__module__ == "airbench.utils",
    torch.nn.Linear(2, 2).half().weight.dtype == torch.float16,
]
try:
    ac.run_airbench94(folder, widths=(8, 16, 16), epochs=1, batch_size=500, lr=11.5)
except ValueError as err:
    out["too_few_steps"] = str(err)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def adapter(bench_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("airbench")
    start = time.perf_counter()
    out = run_python(["-c", ADAPTER_SCRIPT, str(folder)], bench_env)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["seconds"] = time.perf_counter() - start
    result["env"] = bench_env
    return result


def test_adapter_tiny_run_gives_an_accuracy_and_a_time(adapter):
    run = adapter["run"]
    assert 0.0 <= run["accuracy"] <= 1.0
    assert 0 < run["train_seconds"] < run["seconds"]  # the TTA evaluation is timed too
    assert run["steps"] == 10 and run["batch_size"] == 100 and run["tta_level"] == 2
    assert run["images_per_second"] == pytest.approx(1000 / run["train_seconds"])
    assert run["device"] == "cpu" and run["timer"] == "wall clock"
    assert run["warmup_seconds"] > 0
    assert [e for e, _ in run["epoch_accuracy"]] == [1]
    assert adapter["same_seed_same_accuracy"]  # torch.manual_seed after the warm-up


def test_adapter_undoes_every_patch_and_refuses_too_few_steps(adapter):
    assert adapter["undone"] == [True] * 5
    # 1000 images at batch 500 for 1 epoch: 2 steps, airbench's schedule needs 5
    assert "2 steps" in adapter["too_few_steps"]
    assert "at least 5" in adapter["too_few_steps"]


def test_torchvision_standin_normalizes_like_torchvision(adapter):
    # PyPI's torchvision is not installed beside the CPU wheel: the stand-in is used
    assert adapter["standin"] is True
    # (x - mean) / std per channel, channels_last kept, a new tensor
    assert adapter["normalize"] == [True, True, True]


def test_pt_files_have_the_documented_format_and_our_labels(adapter):
    assert adapter["files"] == ["test.pt", "train.pt"]
    assert adapter["leftovers"] == ["cifar10"]  # the staging folder was renamed
    folder = adapter["env"]["CIFAR10_DIR"]
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(
        folder, subset=(1000, 500), verbose=False
    )
    for name, x, y in (("train.pt", x_train, y_train), ("test.pt", x_test, y_test)):
        rec = adapter[name]
        assert rec["keys"] == ["classes", "images", "labels"]
        assert rec["images"] == ["torch.uint8", [len(y), 32, 32, 3]]
        assert rec["labels"][0] == "torch.int64"
        assert rec["labels"][1] == y.reshape(-1).tolist()
        assert rec["sha256"] == hashlib.sha256(x.tobytes()).hexdigest()
        assert rec["classes"] == list(data.CIFAR10_CLASSES)
    assert np.bincount(y_train.reshape(-1)).tolist() == [100] * 10  # balanced


def test_missing_cifar10_is_a_clear_error(adapter):
    kind, message = adapter["missing_data"]
    assert kind == "CIFAR10Error"
    assert "airbench's data files are written from the book's CIFAR-10" in message
    assert "does not exist" in message


def test_airbench_defaults_are_our_fastconfig_defaults(adapter):
    knobs, profiles = adapter["knobs"], vs_airbench.recipe().PROFILES
    for name, cfg in profiles.items():
        assert vs_airbench.knob_mismatches(cfg.to_dict(), knobs) == [], name
    full = profiles["full"].to_dict()
    assert {k: full[k] for k in airbench_cpu.FULL_RECIPE_KNOBS} == {
        k: knobs[k] for k in airbench_cpu.FULL_RECIPE_KNOBS
    }


def test_knob_mismatches_names_each_difference():
    cfg = vs_airbench.recipe().PROFILES["cpu"].to_dict()
    knobs = {k: cfg[k] for k in airbench_cpu.SHARED_KNOBS}
    assert vs_airbench.knob_mismatches(cfg, knobs) == []
    knobs.update(momentum=0.9, flip="none")
    assert vs_airbench.knob_mismatches(cfg, knobs) == [
        "momentum: ours 0.85, airbench's 0.9",
        "flip: ours 'alternating', airbench's 'none'",
    ]


def test_import_airbench_without_torch_names_the_fix():
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from benchmarks import airbench_cpu\n"
        "try:\n    airbench_cpu.import_airbench()\n"
        "except ImportError as err:\n    print('ERR', err)\n"
    )
    out = run_python(["-c", script], dict(os.environ), timeout=60)
    assert "ERR PyTorch is not installed" in out.stdout
    assert "pip install -r requirements-bench.txt" in out.stdout


def test_wall_clock_event_measures_milliseconds():
    start, end = airbench_cpu.WallClockEvent(), airbench_cpu.WallClockEvent()
    with pytest.raises(RuntimeError, match="recorded"):
        start.elapsed_time(end)
    start.record()
    time.sleep(0.02)
    end.record()
    assert 15 <= start.elapsed_time(end) < 2000


# ----------------------------------------------------------------- the arithmetic


def make_run(side, accuracy, seconds, ips, rss):
    return {
        "side": side,
        "accuracy": accuracy,
        "seconds": seconds,
        "images_per_second": ips,
        "peak_rss_bytes": rss,
    }


def test_summary_and_ratios_on_made_up_runs():
    runs = [
        make_run("ours", 0.88, 600.0, 1000.0, 3e9),
        make_run("airbench", 0.87, 500.0, 1250.0, 4e9),
        make_run("ours", 0.90, 700.0, 1100.0, 2e9),
        make_run("airbench", 0.89, 500.0, 1250.0, 5e9),
    ]
    s = vs_airbench.summarize_runs(runs)
    ours, theirs = s["sides"]["ours"], s["sides"]["airbench"]
    assert ours["runs"] == theirs["runs"] == 2
    assert ours["accuracy_mean"] == pytest.approx(0.89)
    assert ours["accuracy_std"] == pytest.approx(np.sqrt(2) * 0.01)  # sample std
    assert ours["seconds_mean"] == 650.0 and theirs["seconds_std"] == 0.0
    assert ours["images_per_second_mean"] == 1050.0
    assert ours["peak_rss_bytes_max"] == 3e9 and theirs["peak_rss_bytes_max"] == 5e9
    assert s["ratios"]["seconds"] == pytest.approx(1.3)
    assert s["ratios"]["images_per_second"] == pytest.approx(0.84)
    assert s["ratios"]["peak_rss"] == pytest.approx(0.6)
    assert s["accuracy_difference_points"] == pytest.approx(1.0)
    text = vs_airbench.format_summary(s)
    assert "89.00 +- 1.41%" in text
    assert (
        "time 1.30x, images/s 0.84x, peak memory 0.60x; accuracy +1.00 points" in text
    )


def test_one_run_per_side_has_zero_std():
    s = vs_airbench.summarize_runs(
        [make_run("airbench", 0.5, 2.0, 10.0, 1), make_run("ours", 0.25, 1.0, 20.0, 1)]
    )
    assert s["sides"]["ours"]["accuracy_std"] == 0.0
    assert s["ratios"] == {"seconds": 0.5, "images_per_second": 2.0, "peak_rss": 1.0}
    assert s["accuracy_difference_points"] == pytest.approx(-25.0)


@pytest.mark.parametrize(
    "runs, message",
    [
        ([], "no ours runs"),
        ([make_run("ours", 0.5, 1.0, 1.0, 1)], "no airbench runs"),
        ([make_run("keras", 0.5, 1.0, 1.0, 1)], "side 'keras'"),
        ([{"side": "ours"}], "lacks"),
        ([make_run("ours", 0.5, 0.0, 1.0, 1)], "seconds must be positive"),
        ([make_run("ours", 0.5, 1.0, float("nan"), 1)], "images_per_second must"),
    ],
)
def test_summary_refuses_bad_run_lists(runs, message):
    with pytest.raises(ValueError, match=message):
        vs_airbench.summarize_runs(runs)


# ----------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--runs", "0"], "--runs: must be a positive int"),
        (["--profile", "huge"], "invalid choice"),
        (["--seed", "-1"], "--seed: must be an int >= 0"),
        (["--widths", "8,8"], "--widths: must be three comma-separated"),
        (["--epochs", "nan"], "--epochs: must be a positive finite number"),
        (["--lr", "0"], "--lr: must be a positive finite number"),
        (["--train-size", "15"], "--train-size: must be a positive multiple of 10"),
        (["--progress-every", "-1"], "--progress-every: must be a number >= 0"),
        (["--json", "/no/such/folder/x.json"], "does not exist; create it first"),
        (["--train-size", "100", "--batch-size", "512"], "larger than the training"),
        (
            ["--train-size", "1000", "--batch-size", "500", "--epochs", "1"],
            "is 2 training steps; airbench's learning-rate schedule needs at least 5",
        ),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        vs_airbench.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_parsing_imports_neither_tensorflow_nor_torch():
    script = (
        "import sys\nfrom benchmarks import vs_airbench\n"
        "args = vs_airbench.parse_args(['--profile', 'cpu'])\n"
        "print(vs_airbench.config_from_args(args).widths, "
        "vs_airbench.data_sizes(args),\n"
        "      [m in sys.modules for m in ('tensorflow', 'keras', 'torch')])\n"
    )
    out = run_python(["-c", script], dict(os.environ), timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(32, 64, 128) (50000, 10000) [False, False, False]"


def test_cli_without_cifar10_exits_2_before_training(tmp_path):
    require_bench_packages()  # without them the CLI stops earlier, saying so
    env = dict(os.environ, CIFAR10_DIR=str(tmp_path))
    out = run_python(["-m", "benchmarks.vs_airbench", *TINY], env, timeout=60)
    assert out.returncode == 2
    assert "lacks data_batch_1.bin" in out.stderr and "started" not in out.stdout


def test_tiny_side_by_side_writes_a_complete_record(bench_env, tmp_path):
    path = tmp_path / "tiny.json"
    argv = ["--profile", "quick", "--runs", "1", *TINY, "--seed", "3"]
    out = run_python(
        ["-m", "benchmarks.vs_airbench", *argv, "--json", str(path)], bench_env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rec = json.loads(path.read_text())
    assert set(rec) >= {
        "kind",
        "command",
        "argv",
        "config",
        "airbench_knobs",
        "data",
        "conventions",
        "order",
        "runs",
        "summary",
        "ratios",
        "accuracy_difference_points",
        "versions",
        "hardware",
        "threads",
        "date",
    }
    assert rec["command"] == " ".join([vs_airbench.PROG, *argv, "--json", str(path)])
    assert rec["config"]["widths"] == [8, 16, 16] and rec["config"]["epochs"] == 1
    assert rec["data"] == {"train_images": 1000, "test_images": 500}
    assert rec["order"] == ["ours", "airbench"]
    for run in rec["runs"]:
        assert 0 <= run["accuracy"] <= 1 and run["seconds"] > 0
        assert run["steps"] == 5 and run["seed"] == 3 and run["tta_level"] == 2
        assert run["peak_rss_bytes"] > 50e6 and run["wall_seconds"] > run["seconds"]
    for side in ("ours", "airbench"):
        assert rec["summary"][side]["runs"] == 1
    ours, theirs = rec["summary"]["ours"], rec["summary"]["airbench"]
    assert rec["ratios"]["seconds"] == pytest.approx(
        ours["seconds_mean"] / theirs["seconds_mean"]
    )
    for key in ("python", "numpy", "keras", "tensorflow", "torch", "airbench"):
        assert rec["versions"][key]
    assert rec["versions"]["airbench"] == "0.1.8"
    assert rec["hardware"]["description"].startswith("CPU (")
    assert rec["hardware"]["cpu"]["cores"] == os.cpu_count()  # the CPU and its flags
    assert isinstance(rec["hardware"]["cpu"]["isa"], list)
    assert rec["threads"]["airbench"]["torch_intra_op"] >= 1
    assert "tf_intra_op" in rec["threads"]["ours"]
    peak = rec["peak"]
    assert peak["matmul"]["peak_flops"] == max(peak["matmul"]["flops"].values())
    assert set(peak["matmul"]["flops"]) == {"tensorflow", "torch", "numpy"}
    assert peak["training_flop_per_image"] == 6 * peak["forward_macs_per_image"] > 0
    for side, row in rec["summary"].items():
        # the definition, and a plausible value: above zero, below the peak itself
        assert peak["fraction_of_peak"][side] == pytest.approx(
            peak["training_flop_per_image"]
            * row["images_per_second_mean"]
            / peak["matmul"]["peak_flops"]
        )
        assert 0 < peak["fraction_of_peak"][side] < 1
    assert "ours / airbench: time" in out.stdout
    assert "float32 matmul peak" in out.stdout
    assert "[2/2] airbench (PyTorch) seed 3: accuracy" in out.stdout


@pytest.mark.parametrize(
    "path",
    sorted(
        (Path(__file__).resolve().parents[1] / "results" / "vs_airbench").glob("*.json")
    ),
    ids=lambda p: p.name,
)
def test_committed_records_format_for_the_chapter(path):
    rec = json.loads(path.read_text())
    text = vs_airbench.format_record(rec)
    lines = text.splitlines()
    assert lines[0] == rec["command"]
    assert f"{rec['data']['train_images']:,} training" in lines[1]
    assert f"ours / airbench: time {rec['ratios']['seconds']:.2f}x" in text
    assert ("float32 matmul peak" in text) == ("peak" in rec)
    bf16 = rec.get("ours_levers", {}).get("precision") == "mixed_bfloat16"
    assert ("our side in bfloat16" in text) == bf16
