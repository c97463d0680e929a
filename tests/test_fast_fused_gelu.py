"""utils.fast.model.FusedGELU (chapter 10): the exact GELU, one XLA loop each way."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from utils import fast
from utils.fast import backend
from utils.fast.model import FusedGELU

X = np.concatenate([np.linspace(-12, 12, 241), [-40.0, -6.5, 0.0, 1e-4, 6.5, 40.0]])
X = X.astype("float32").reshape(1, 1, -1, 1)


def _exact(x):
    """x * Phi(x) and its derivative Phi(x) + x * phi(x), in float64."""
    x = np.asarray(x, "float64")
    cdf = 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return x * cdf, cdf + x * pdf


def test_values_equal_the_exact_gelu_and_keras():
    y = ops.convert_to_numpy(FusedGELU()(X))
    np.testing.assert_allclose(y, _exact(X)[0], rtol=1e-6, atol=7e-7)
    keras_gelu = ops.convert_to_numpy(keras.layers.Activation("gelu")(X))
    np.testing.assert_allclose(y, keras_gelu, rtol=1e-6, atol=7e-7)
    assert y.dtype == np.float32 and y.shape == X.shape


def _gradient(layer, x, w):
    if backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: (layer(v) * w).sum())(x))
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * w)
    return tape.gradient(loss, x).numpy()


def test_gradient_is_the_closed_form_and_keras_autodiff():
    w = np.random.default_rng(0).normal(size=X.shape).astype("float32")
    grad = _gradient(FusedGELU(), X, w)
    np.testing.assert_allclose(grad, w * _exact(X)[1], rtol=1e-5, atol=2e-6)
    keras_grad = _gradient(keras.layers.Activation("gelu"), X, w)
    np.testing.assert_allclose(grad, keras_grad, rtol=1e-5, atol=2e-6)


def test_tensorflow_cpu_graph_calls_xla_not_erfc():
    """Inside a plain graph the GELU is a call of an XLA-compiled function: no Erfc
    op of TensorFlow's own in the step (what makes it one loop)."""
    if backend.backend() != "tensorflow" or backend.gpu_compute_capability():
        pytest.skip("the XLA pair is used by TensorFlow on a CPU only")
    import tensorflow as tf

    layer = FusedGELU()

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return y, tape.gradient(loss, x)

    graph = step.get_concrete_function(tf.TensorSpec(X.shape, "float32")).graph
    types = {op.type for op in graph.get_operations()}
    assert "Erfc" not in types and "Erf" not in types, types
    calls = [
        op
        for op in graph.get_operations()
        if op.type in ("StatefulPartitionedCall", "PartitionedCall")
    ]
    assert len(calls) == 2, [op.type for op in graph.get_operations()]
    assert all(op.get_attr("_XlaMustCompile") for op in calls)  # compiled by XLA
    y, g = step(tf.constant(X))
    np.testing.assert_allclose(y.numpy(), _exact(X)[0], rtol=1e-6, atol=7e-7)
    np.testing.assert_allclose(g.numpy(), 2 * y.numpy() * _exact(X)[1], 1e-5, 2e-6)


def test_mixed_bfloat16_policy_returns_its_compute_dtype():
    layer = FusedGELU(dtype="mixed_bfloat16")
    y = layer(X)
    assert str(ops.convert_to_numpy(y).dtype) == "bfloat16"
    y32 = ops.convert_to_numpy(ops.cast(y, "float32"))
    np.testing.assert_allclose(y32, _exact(X)[0], rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_gradient_in_a_graph_under_mixed_precision(policy):
    """The custom gradient's casts: a float32 loss through a 16-bit GELU."""
    if backend.backend() != "tensorflow":
        pytest.skip("the custom gradient is TensorFlow's")
    import tensorflow as tf

    layer = FusedGELU(dtype=policy)
    x = np.linspace(-4, 4, 81).astype("float32").reshape(1, 1, -1, 1)

    @tf.function
    def grad(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            loss = tf.reduce_sum(tf.cast(layer(v), "float32"))
        return tape.gradient(loss, v)

    g = grad(tf.constant(x)).numpy()
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, _exact(x)[1], rtol=2e-2, atol=1e-2)


def test_saved_model_loads_the_layer(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, FusedGELU(name="act")(inputs))
    path = tmp_path / "gelu.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("act"), FusedGELU)
    x = np.array([[-1.0, 0.5, 2.0]], "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x)), _exact(x)[0], rtol=1e-6, atol=7e-7
    )


def test_models_with_either_gelu_train_alike(train_tiny_fast):
    weights = []
    for fused_gelu in (True, False):
        trainer, trained = train_tiny_fast(fused_gelu=fused_gelu)
        layer = trainer.model.get_layer("g2_gelu1")
        assert isinstance(layer, FusedGELU) == fused_gelu
        weights.append(trained)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_fused_gelu_must_be_a_bool():
    with pytest.raises(ValueError, match="fused_gelu must be True .* got 1"):
        fast.FastTrainer(fast.FastConfig(widths=(8, 8, 8)), fused_gelu=1)
