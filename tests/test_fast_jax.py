"""utils.fast.data_parallel (chapter 10, "Scaling out"): keras.distribution on JAX.

The data-parallel runs need a CPU split into two JAX devices, and the split must happen
before JAX starts, so they run in a fresh Python with ``XLA_FLAGS=
--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax JAX_PLATFORMS=cpu``,
whatever backend this test run uses. The checks are those of the ``tf.distribute``
test in test_fast_trainer.py (the replicas stay identical), plus: the batch really is
split, and the run matches one device.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from utils import fast
from utils.fast import data_parallel

ROOT = Path(__file__).resolve().parent.parent
SPLIT_ENV = {
    "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    "KERAS_BACKEND": "jax",
    "JAX_PLATFORMS": "cpu",
}


def run_split(args) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` on a CPU split into two JAX devices; must exit with 0."""
    pytest.importorskip("jax")
    out = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=dict(os.environ, **SPLIT_ENV),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out


def test_cpu_split_command():
    assert data_parallel.cpu_split_command(2) == " ".join(
        f"{k}={v}" for k, v in SPLIT_ENV.items()
    )
    assert "device_count=4 " in data_parallel.cpu_split_command(4)
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="positive int"):
            data_parallel.cpu_split_command(bad)


def test_data_parallel_reuses_the_parent_loop():
    cls = data_parallel.DataParallelFastTrainer
    assert cls.run is fast.FastTrainer.run
    assert cls._train_epoch is fast.FastTrainer._train_epoch
    assert cls._train_all is fast.FastTrainer._train_all


def test_refuses_the_wrong_backend_or_too_few_devices(capsys):
    if keras.backend.backend() == "jax":
        import jax

        n = jax.device_count()
        with pytest.raises(RuntimeError, match="xla_force_host_platform_device_count"):
            data_parallel.data_parallel_devices(n + 1)
        assert len(data_parallel.data_parallel_devices(n)) == n
        with pytest.raises(ValueError, match="positive int"):
            data_parallel.data_parallel_devices(0)
    else:
        with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
            data_parallel.data_parallel_devices(2)
        with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
            data_parallel.DataParallelFastTrainer(data_parallel.CHECK_CONFIG)
    # the command line: exit status 2 with a message saying what to set
    with pytest.raises(SystemExit) as exit_info:
        data_parallel.main(["--devices", "16"])
    assert exit_info.value.code == 2
    assert "XLA_FLAGS" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        data_parallel.main(["--devices", "3"])
    assert exit_info.value.code == 2
    assert "must divide the batch of 16" in capsys.readouterr().err


SPLIT_SCRIPT = """
import json
import jax, keras, numpy as np
from utils import fast
from utils.fast.data_parallel import CHECK_CONFIG as cfg, DataParallelFastTrainer

rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
y = rng.integers(0, 10, size=(64, 1))
name = lambda d: f"{d.platform}:{d.id}"
out = {"jax": jax.device_count(), "keras": keras.distribution.list_devices()}
dp, single = DataParallelFastTrainer(cfg, precision="float32"), fast.FastTrainer(cfg)
train = dp.to_device(x, y)
xb, yb = next(dp._batches(*train))  # the loop's first batch, as run() sees it
out["batch"] = [[name(s.device), list(s.data.shape), s.index[0].start or 0,
                 bool(np.array_equal(np.asarray(s.data), x[s.index[0]]))]
                for s in xb.addressable_shards]
out["labels"] = [list(s.data.shape) for s in yb.addressable_shards]
res, (t, nt) = dp.run(train, dp.to_device(x[:20], y[:20]), seed=0)
one, (t1, nt1) = single.run(single.to_device(x, y), single.to_device(x[:20], y[:20]))
copies, identical = [], True
for group in ("t", "nt", "b", "ema"):
    for v in dp._state[group]:
        shards = [np.asarray(s.data) for s in v.addressable_shards]
        copies.append(sorted(name(s.device) for s in v.addressable_shards))
        identical &= all(np.array_equal(shards[0], s) for s in shards[1:])
        identical &= v.sharding.is_fully_replicated
out["copies"], out["identical"] = sorted(set(map(tuple, copies))), bool(identical)
out["n_state"] = len(copies)
out["n_expected"] = 3 * len(t) + 2 * len(nt)
pairs = list(zip(t + nt + dp._state["b"], t1 + nt1 + single._state["b"]))
out["max_diff"] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                      for a, b in pairs)
out["allclose"] = all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in pairs)
out["steps"] = [res.steps, one.steps]
errors = []
for make in (lambda: DataParallelFastTrainer(cfg.replace(batch_size=15)),
             lambda: dp.shard_batch(train[0][:15]),
             lambda: DataParallelFastTrainer(cfg, "a mesh")):
    try:
        make()
        errors.append(None)
    except ValueError as err:
        errors.append(str(err))
out["errors"] = errors
print("RESULT", json.dumps(out))
"""


def test_data_parallel_on_two_cpu_devices():
    out = run_split(["-c", SPLIT_SCRIPT])
    line = [s for s in out.stdout.splitlines() if s.startswith("RESULT ")][-1]
    got = json.loads(line[len("RESULT ") :])
    assert got["jax"] == 2 and got["keras"] == ["cpu:0", "cpu:1"]
    # the batch of 16 is split: 8 images on each device, the first and second half
    assert got["batch"] == [
        ["cpu:0", [8, 32, 32, 3], 0, True],
        ["cpu:1", [8, 32, 32, 3], 8, True],
    ]
    assert got["labels"] == [[8, 10], [8, 10]]
    # after the run (8 steps, lookahead) every weight, BatchNorm statistic, momentum
    # buffer and lookahead average has one exactly equal copy on each device
    assert got["identical"] and got["copies"] == [["cpu:0", "cpu:1"]]
    assert got["n_state"] == got["n_expected"] > 0
    # and the result is the one-device run's, up to float32 rounding
    assert got["steps"] == [8, 8]
    assert got["allclose"] and got["max_diff"] < 1e-5, got["max_diff"]
    assert "must divide evenly among the 2 devices" in got["errors"][0]
    assert "cannot be split evenly among 2 devices" in got["errors"][1]
    assert "must be a keras.distribution.DataParallel" in got["errors"][2]


def test_entry_point_prints_the_report():
    out = run_split(["-m", "utils.fast.data_parallel"])
    text = out.stdout
    assert "JAX backend: 2 devices (cpu:0, cpu:1)" in text
    assert "global batch 16 -> per device: 8 on cpu:0, 8 on cpu:1" in text
    assert "max difference between replicas: 0 " in text
    found = re.search(r"max difference from one device: (\S+)", text)
    assert found and float(found.group(1)) < 1e-5
    assert all(len(line) <= 88 for line in text.splitlines())  # the book's column
