"""What chapter 10 needs from utils.fast besides the trainer: which CIFAR-10 copy the
floor is for (data_copy), FULL's T4 estimate (t4_minutes) and the two-replica demo."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from utils import fast, layer_cost

ROOT = Path(__file__).resolve().parent.parent


def test_data_copy_tells_the_jpeg_copy_from_other_files(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    (folder / "test_batch.bin").write_bytes(b"not the JPEG copy")
    assert fast.data_copy(folder) == "other"
    # the JPEG copy is recognised by its test file's SHA-256
    from utils import data

    monkeypatch.setattr(data, "file_sha256", lambda path: fast.JPEG_COPY_TEST_SHA256)
    assert fast.data_copy(folder) == "jpeg"
    assert fast.data_copy(str(folder)) == "jpeg"  # a str path is fine


def test_data_copy_refuses_a_folder_without_the_test_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="test_batch.bin does not exist"):
        fast.data_copy(tmp_path)


def test_the_book_copy_is_recognised_when_it_is_here():
    folder = Path(os.environ.get("CIFAR10_DIR", "/nonexistent"))
    if not (folder / "test_batch.bin").is_file():
        pytest.skip("no CIFAR10_DIR with the data here")
    from utils import data

    expected = (
        "jpeg"
        if data.file_sha256(folder / "test_batch.bin") == fast.JPEG_COPY_TEST_SHA256
        else "other"
    )
    assert fast.data_copy(folder) == expected


def test_t4_minutes_counts_training_and_tta_evaluation():
    cfg = fast.PROFILES["full"]
    one = fast.t4_minutes(cfg, 50_000, 10_000)
    macs = layer_cost.model_macs(fast.build_fast_model(cfg))
    steps = cfg.total_steps(50_000)  # 476
    by_hand = layer_cost.t4_minutes(macs, steps * 1024, steps, eval_images=6 * 10_000)
    assert one == pytest.approx(by_hand)
    assert fast.t4_minutes(cfg, 50_000, 10_000, runs=3) == pytest.approx(3 * one)
    # airbench94 at the float32 rate: a few minutes a run, the same order as the
    # FULL-profile audit's estimate for a T4
    assert 2 < one < 10
    no_tta = fast.t4_minutes(cfg.replace(tta_level=0), 50_000, 10_000)
    assert no_tta < one


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_t4_minutes_refuses_bad_counts(bad):
    with pytest.raises(ValueError, match="must be a positive int"):
        fast.t4_minutes(fast.PROFILES["quick"], bad, 100)
    with pytest.raises(ValueError, match="runs must be a positive int"):
        fast.t4_minutes(fast.PROFILES["quick"], 100, 100, runs=bad)


DEMO_SCRIPT = """
import numpy as np
from utils.fast import distribute
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(512, 32, 32, 3), dtype=np.uint8)
y = rng.integers(0, 10, size=(512, 1))
print("\\n".join(distribute.demo((x, y), (x[:500], y[:500]))))
"""


def test_the_distributed_demo_reports_identical_replicas():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute needs the TensorFlow backend")
    out = subprocess.run(
        [sys.executable, "-c", DEMO_SCRIPT],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND="tensorflow"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()[-3:]
    assert lines[0] == "replicas: 2"
    assert lines[1] == "steps: 4 | weights identical on all replicas: True"
    assert 0 <= float(lines[2].split()[-1]) <= 1


def test_the_distributed_demo_needs_a_fresh_process():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute needs the TensorFlow backend")
    from keras import ops

    from utils.fast import distribute

    ops.convert_to_numpy(ops.ones(1))  # TensorFlow has created its devices
    with pytest.raises(RuntimeError, match="before TensorFlow initialises"):
        distribute.demo((None, None), (None, None))
