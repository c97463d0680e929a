"""utils.fast.model.FusedBatchNorm (chapter 10): Keras's BatchNormalization fused."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from utils.fast import backend
from utils.fast.model import FusedBatchNorm


def _pair(**kwargs):
    layers = []
    for cls in (keras.layers.BatchNormalization, FusedBatchNorm):
        layer = cls(momentum=0.6, epsilon=1e-12, **kwargs)
        layer.build((None, 5, 5, 3))
        layers.append(layer)
    for v_ref, v in zip(layers[0].weights, layers[1].weights):
        v.assign(np.random.default_rng(1).normal(size=v.shape).astype("float32") ** 2)
        v_ref.assign(v)
    return layers


@pytest.mark.parametrize("scale", [False, True])
def test_training_pass_and_moving_statistics_equal_keras(scale):
    ref, fused = _pair(scale=scale)
    for k in range(3):
        x = np.random.default_rng(k).normal(k, 2, size=(8, 5, 5, 3)).astype("float32")
        np.testing.assert_allclose(
            ops.convert_to_numpy(fused(x, training=True)),
            ops.convert_to_numpy(ref(x, training=True)),
            rtol=1e-4,
            atol=1e-5,
        )
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(
            ops.convert_to_numpy(getattr(fused, name)),
            ops.convert_to_numpy(getattr(ref, name)),
            rtol=1e-5,
        )
    x = np.random.default_rng(9).normal(size=(4, 5, 5, 3)).astype("float32")
    np.testing.assert_allclose(  # inference is the parent's code, same statistics
        ops.convert_to_numpy(fused(x, training=False)),
        ops.convert_to_numpy(ref(x, training=False)),
        rtol=1e-4,
        atol=1e-5,
    )


def test_gradients_equal_keras():
    if backend.backend() != "tensorflow":
        pytest.skip("the fused kernel is TensorFlow's; on JAX the layer is the parent")
    import tensorflow as tf

    ref, fused = _pair(scale=True)
    x = tf.constant(np.random.default_rng(3).normal(size=(8, 5, 5, 3)), "float32")
    w = tf.constant(np.random.default_rng(4).normal(size=(8, 5, 5, 3)), "float32")
    grads = []
    for layer in (ref, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * w)
        grads.append(tape.gradient(loss, [x, layer.gamma, layer.beta]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-3, atol=1e-4)


def test_the_fused_layer_runs_one_kernel_forward():
    if backend.backend() != "tensorflow":
        pytest.skip("counts ops of a TensorFlow graph")
    import tensorflow as tf

    _, fused = _pair()
    fn = tf.function(lambda x: fused(x, training=True))
    graph = fn.get_concrete_function(tf.TensorSpec((8, 5, 5, 3), "float32")).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("FusedBatchNormV3") == 1 and "Mean" not in types


def test_models_with_either_layer_train_alike(train_tiny_fast):
    weights = []
    for fused_bn in (True, False):
        trainer, trained = train_tiny_fast(fused_bn=fused_bn)
        assert isinstance(trainer.model.get_layer("g1_bn1"), FusedBatchNorm) == fused_bn
        weights.append(trained)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_equal_with_onednn_kernels_too():
    """The suite runs with oneDNN off (conftest); the benchmarks run with it on, where
    x86 TensorFlow swaps in oneDNN's fused BatchNorm kernels: check those too."""
    script = (
        "import numpy as np, keras\n"
        "from utils.fast.model import FusedBatchNorm\n"
        "ref = keras.layers.BatchNormalization(momentum=0.6, epsilon=1e-12)\n"
        "fused = FusedBatchNorm(momentum=0.6, epsilon=1e-12)\n"
        "x = np.random.default_rng(0).normal(1, 2, (8, 5, 5, 3)).astype('float32')\n"
        "a, b = ref(x, training=True), fused(x, training=True)\n"
        "np.testing.assert_allclose(np.asarray(b), np.asarray(a), 1e-4, 1e-5)\n"
        "for n in ('moving_mean', 'moving_variance'):\n"
        "    np.testing.assert_allclose(np.asarray(getattr(fused, n).value),\n"
        "                               np.asarray(getattr(ref, n).value), 1e-5)\n"
        "print('equal')\n"
    )
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", KERAS_BACKEND="tensorflow")
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and out.stdout.strip() == "equal", out.stderr[-2000:]
