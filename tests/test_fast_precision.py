"""Mixed precision in the fast trainer (chapter 10), on the CPU, on both backends.

The GPU path trains in half precision (``utils.fast.trainer.pick_precision``: bf16 on
Ampere or newer, fp16 with an overflow-skip on older GPUs). These tests run that code on
the CPU at a tiny size: ``mixed_bfloat16`` and ``mixed_float16`` keep float32 variables,
compute in the half type, train with finite losses and evaluate; fp16's overflow-skip
keeps the weights and the momentum when a step's gradients are not finite.

Everything runs on the current Keras backend; ``test_same_checks_on_the_other_backend``
runs this file again on the other backend in a fresh Python (the backend is fixed at
start-up), so one test run covers TensorFlow and JAX.
"""

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from utils import fast

ROOT = Path(__file__).resolve().parent.parent
HALF = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
# test_fast_trainer's TINY with one TTA view less (faster to compile on JAX)
TINY = fast.FastConfig(
    widths=(8, 8, 8), epochs=2, batch_size=16, eval_batch=20, whiten_samples=32
).replace(tta_level=1)
BIG_SCALE = 1e8  # the logits' gradients (about 1) times 1e8: past float16's 65,504


def tiny_data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    return x, rng.integers(0, 10, size=(n, 1))


@functools.cache
def trainer_for(precision, loss_scale=None):
    """One trainer per (precision, loss scale) for the whole file: JAX compiles once."""
    return fast.FastTrainer(TINY, precision=precision, jit=False, loss_scale=loss_scale)


def start_state(trainer):
    x, _ = tiny_data()
    return trainer.fresh_state(0, fast.normalize(x[:32]))


def step(trainer, state, x, y):
    """One compiled training step (full rate, whitening bias on): new state, loss."""
    t, nt, b = state
    one = ops.convert_to_tensor(1.0, "float32")
    t, nt, b, loss = trainer._train_step(t, nt, b, x, y, one, one)
    return (list(t), list(nt), list(b)), float(ops.convert_to_numpy(loss))


def as_numpy(tensors):
    return [np.asarray(ops.convert_to_numpy(v)) for v in tensors]


def dtypes(tensors):
    return {keras.backend.standardize_dtype(v.dtype) for v in tensors}


@pytest.mark.parametrize("precision", sorted(HALF))
def test_policy_float32_variables_half_compute(precision):
    trainer, half = trainer_for(precision), HALF[precision]
    assert trainer.precision == precision and trainer.compute_dtype == half
    model = trainer.model
    assert dtypes(model.weights) == {"float32"}  # every variable is stored in float32
    for layer in model.layers[1:-1]:  # between the input and the float32 head scale
        assert layer.compute_dtype == half, layer.name
    # a real activation deep in the network is half (the model's input is the
    # normalised float32 image); the trainer's logits come out float32
    x, _ = tiny_data()
    inner = keras.Model(model.inputs, model.get_layer("g3_gelu2").output)
    forward = fast.backend.compile_fn(inner)  # one compile (JAX eager is op by op)
    activation = forward(ops.convert_to_tensor(fast.normalize(x[:20])))
    assert keras.backend.standardize_dtype(activation.dtype) == half
    t, nt, b = start_state(trainer)
    assert dtypes(t) == dtypes(nt) == dtypes(b) == {"float32"}
    logits = trainer._predict_plain(t, nt, trainer.to_device(x[:20]))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    # the same weights computed in float32 give nearly the same logits
    full32 = trainer_for("float32")
    full = full32._predict_plain(t, nt, full32.to_device(x[:20]))
    half_logits, full_logits = as_numpy([logits, full])
    scale = np.abs(full_logits).max()
    assert scale > 0
    tol = 0.05 if precision == "mixed_bfloat16" else 0.01  # 8 vs 11 mantissa bits
    assert np.abs(half_logits - full_logits).max() <= tol * scale


@pytest.mark.parametrize("precision", sorted(HALF))
def test_mixed_precision_trains_and_evaluates(precision):
    trainer = trainer_for(precision)
    x, y = tiny_data(1)
    train, test = trainer.to_device(x, y), trainer.to_device(x[:20], y[:20])
    state, losses = start_state(trainer), []
    before = as_numpy(state[0])
    for i in range(4):
        batch = slice(16 * i, 16 * (i + 1))
        state, loss = step(trainer, state, train[0][batch], train[1][batch])
        losses.append(loss)
    assert all(np.isfinite(losses)) and all(loss > 0 for loss in losses), losses
    assert dtypes(state[0]) == dtypes(state[1]) == dtypes(state[2]) == {"float32"}
    after = as_numpy(state[0])
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))
    # the whole loop: 2 epochs of 4 steps, lookahead, TTA evaluation (a non-finite
    # loss would raise TrainingDivergedError at the end of an epoch)
    res, (t, nt) = trainer.run(train, test, seed=0, track_epochs=True)
    assert res.steps == 8 and [e for e, _ in res.epoch_accuracy] == [1, 2]
    assert dtypes(t) == dtypes(nt) == {"float32"}
    assert all(np.isfinite(v).all() for v in as_numpy(list(t) + list(nt)))
    accuracy = trainer.evaluate(t, nt, *test)
    assert 0 <= accuracy <= 1 and accuracy == res.accuracy
    assert 0 <= trainer.evaluate(t, nt, *test, tta=False) <= 1


def test_fp16_skips_a_step_with_non_finite_gradients():
    trainer = trainer_for("mixed_float16")
    x, y = trainer.to_device(*tiny_data(2, n=32))
    xa, ya, xb, yb = x[:16], y[:16], x[16:], y[16:]
    # a normal step moves every weight and fills every momentum buffer
    state0 = start_state(trainer)
    state1, loss1 = step(trainer, state0, xa, ya)
    assert np.isfinite(loss1)
    t0, t1, b1 = as_numpy(state0[0]), as_numpy(state1[0]), as_numpy(state1[2])
    assert all(not np.array_equal(a, b) for a, b in zip(t0, t1))
    assert all(np.abs(b).max() > 0 for b in b1)
    # an infinite target in the batch makes the gradients non-finite: the step
    # changes no weight and no momentum buffer
    bad = np.asarray(ops.convert_to_numpy(yb)).copy()
    bad[0, 0] = np.inf
    state2, loss2 = step(trainer, state1, xb, ops.convert_to_tensor(bad, "float32"))
    assert not np.isfinite(loss2)
    for a, b in zip(t1 + b1, as_numpy(state2[0]) + as_numpy(state2[2])):
        np.testing.assert_array_equal(a, b)
    # and training goes on from there
    state3, loss3 = step(trainer, state1, xb, yb)
    assert np.isfinite(loss3)
    assert all(not np.array_equal(a, b) for a, b in zip(t1, as_numpy(state3[0])))


def test_fp16_skips_a_step_whose_scaled_gradients_overflow():
    # the loss itself is finite; its gradients, scaled by 1e8, overflow float16 on the
    # way back through the half-precision layers, so the step is skipped ...
    x, y = tiny_data(3, n=16)
    scaled = trainer_for("mixed_float16", BIG_SCALE)
    state0 = start_state(scaled)
    state1, loss = step(scaled, state0, *scaled.to_device(x, y))
    assert np.isfinite(loss)
    before = as_numpy(state0[0]) + as_numpy(state0[2])
    for a, b in zip(before, as_numpy(state1[0]) + as_numpy(state1[2])):
        np.testing.assert_array_equal(a, b)
    # ... while in float32 the same scale does not overflow: the step is taken
    full = trainer_for("float32", BIG_SCALE)
    state0 = start_state(full)
    state1, _ = step(full, state0, *full.to_device(x, y))
    after = as_numpy(state1[0])
    assert all(np.isfinite(a).all() for a in after)
    assert all(not np.array_equal(a, b) for a, b in zip(as_numpy(state0[0]), after))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_synchronize_waits_on_half_precision_tensors(dtype):
    # TensorFlow cannot turn a bfloat16 scalar into NumPy: synchronize used to fail
    # on one (every mixed_bfloat16 run did, when the images were held in bf16)
    half = ops.ones((4, 3), dtype)
    assert fast.backend.synchronize([half, [ops.ones((2,), dtype)], None]) is None
    assert fast.backend.synchronize(half) is None


def test_same_checks_on_the_other_backend():
    pytest.importorskip("jax")
    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    out = subprocess.run(
        # addopts emptied: pytest.ini's nbval options need nbval, which the Colab stage
        # of CI does not install
        [
            sys.executable,
            "-m",
            "pytest",
            __file__,
            "-q",
            "-o",
            "addopts=-p no:cacheprovider",
            "-k",
            "not other_backend",
        ],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND=other, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    # every other test of this file ran there and passed: none failed (exit status
    # 0), none was skipped, only this one was left out
    summary = out.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed, 1 deselected\b", summary), summary
    assert "skipped" not in summary
