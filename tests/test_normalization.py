"""utils/normalization.py (chapter 9): values, Keras parity, gradients, bad input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import normalization as nz
from utils.gradcheck import grad_check

RNG = np.random.default_rng(0)


def _data(shape, dtype=np.float32):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(dtype)
    c = shape[-1]
    return x, RNG.standard_normal(c).astype(dtype), RNG.standard_normal(c).astype(dtype)


# ---------------------------------------------------------------- hand-checked values
def test_batch_norm_by_hand():
    x = np.array([[1.0], [3.0]])  # mean 2, biased variance 1
    y, cache = nz.batch_norm_forward(x, eps=1e-12)
    np.testing.assert_allclose(y[:, 0], [-1, 1])
    assert cache["mean"][0] == 2 and cache["var"][0] == 1


def test_batch_of_one_dense_outputs_beta():
    y, _ = nz.batch_norm_forward(np.array([[5.0, -2.0]]), beta=np.array([0.5, 1.5]))
    np.testing.assert_allclose(y, [[0.5, 1.5]])


def test_conv_statistics_are_per_channel_over_n_h_w():
    x, g, b = _data((3, 4, 5, 2), np.float64)
    _, cache = nz.batch_norm_forward(x, g, b)
    np.testing.assert_allclose(cache["mean"], x.mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(cache["var"], x.var(axis=(0, 1, 2)))


def test_momentum_conventions_agree():
    old, new = np.array([1.0, 2.0]), np.array([3.0, 0.0])
    keras_way = nz.update_moving(old, new, 0.9)
    torch_way = nz.update_moving(old, new, nz.convert_momentum(0.9), convention="torch")
    np.testing.assert_allclose(keras_way, torch_way)
    np.testing.assert_allclose(keras_way, [1.2, 1.8])
    assert nz.convert_momentum(nz.convert_momentum(0.6)) == pytest.approx(0.6)


def test_group_norm_extremes_are_layer_and_instance_norm():
    x, _, _ = _data((2, 3, 3, 4), np.float64)
    whole = (x - x.mean(axis=(1, 2, 3), keepdims=True)) / np.sqrt(
        x.var(axis=(1, 2, 3), keepdims=True) + 1e-3
    )
    np.testing.assert_allclose(nz.group_norm(x, 1), whole, atol=1e-12)
    inst = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(
        x.var(axis=(1, 2), keepdims=True) + 1e-3
    )
    np.testing.assert_allclose(nz.group_norm(x, 4), inst, atol=1e-12)


# ---------------------------------------------------------------- gradients (float64)
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 2, 3)])
def test_batch_norm_backward_passes_grad_check(shape):
    x, g, b = _data(shape, np.float64)
    dout = RNG.standard_normal(shape)
    _, cache = nz.batch_norm_forward(x, g, b)
    dx, dg, db = nz.batch_norm_backward(dout, cache)

    def loss_x(v):
        return np.sum(nz.batch_norm_forward(v, g, b)[0] * dout)

    def loss_g(v):
        return np.sum(nz.batch_norm_forward(x, v, b)[0] * dout)

    def loss_b(v):
        return np.sum(nz.batch_norm_forward(x, g, v)[0] * dout)

    assert grad_check(loss_x, x.copy(), dx) < 1e-6
    assert grad_check(loss_g, g.copy(), dg) < 1e-6
    assert grad_check(loss_b, b.copy(), db) < 1e-6


# ---------------------------------------------------------------- Keras parity
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 6), (1, 2, 2, 3), (16, 1)])
@pytest.mark.parametrize("eps", [1e-3, 1e-5])
def test_batch_norm_matches_keras_forward_backward_and_moving(shape, eps):
    x, g, b = _data(shape)
    layer = keras.layers.BatchNormalization(epsilon=eps, momentum=0.8)
    layer.build(shape)
    layer.gamma.assign(g)
    layer.beta.assign(b)
    dout = RNG.standard_normal(shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yk = layer(xt, training=True)
        loss = tf.reduce_sum(yk * dout)
    dx, dg, db = tape.gradient(loss, [xt, layer.gamma, layer.beta])
    y, cache = nz.batch_norm_forward(x, g, b, eps=eps)
    np.testing.assert_allclose(y, yk.numpy(), rtol=1e-4, atol=1e-4)
    ours = nz.batch_norm_backward(dout, cache)
    for a, k in zip(ours, (dx, dg, db)):
        np.testing.assert_allclose(a, k.numpy(), rtol=1e-4, atol=1e-4)
    mm = nz.update_moving(np.zeros(shape[-1]), cache["mean"], 0.8)
    mv = nz.update_moving(np.ones(shape[-1]), cache["var"], 0.8)
    np.testing.assert_allclose(mm, layer.moving_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mv, layer.moving_variance.numpy(), rtol=1e-5, atol=1e-6)
    inf = nz.batch_norm_inference(x, mm, mv, g, b, eps=eps)
    np.testing.assert_allclose(inf, layer(x, training=False), rtol=1e-4, atol=1e-4)


def test_batch_norm_training_output_matches_keras():
    x, g, b = _data((5, 4, 4, 3))
    layer = keras.layers.BatchNormalization(scale=False)
    layer.build(x.shape)
    layer.beta.assign(b)
    y, _ = nz.batch_norm_forward(x, None, b)
    np.testing.assert_allclose(y, layer(x, training=True), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_group_norm_matches_keras(groups):
    x, g, b = _data((2, 3, 4, 8))
    layer = keras.layers.GroupNormalization(groups)
    layer.build(x.shape)
    layer.gamma.assign(g)
    layer.beta.assign(b)
    np.testing.assert_allclose(
        nz.group_norm(x, groups, g, b), layer(x), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 3, 5)])
def test_layer_norm_matches_keras(shape):
    x, g, b = _data(shape)
    layer = keras.layers.LayerNormalization()
    layer.build(shape)
    layer.gamma.assign(g)
    layer.beta.assign(b)
    np.testing.assert_allclose(nz.layer_norm(x, g, b), layer(x), rtol=1e-5, atol=1e-5)


def test_lr_sweep_restarts_from_the_same_weights():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    start = [w.copy() for w in model.get_weights()]
    x = RNG.standard_normal((32, 4)).astype(np.float32)
    y = RNG.integers(0, 3, 32)
    curves = nz.lr_sweep(model, x, y, [0.1, 0.1], epochs=2, batch_size=8)
    assert list(curves) == [0.1] and len(curves[0.1]) == 2
    twice = nz.lr_sweep(model, x, y, [0.1], epochs=2, batch_size=8)
    np.testing.assert_allclose(curves[0.1], twice[0.1], rtol=1e-6)
    for a, b in zip(start, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="learning_rates"):
        nz.lr_sweep(model, x, y, [], epochs=1)
    with pytest.raises(ValueError, match="learning rate"):
        nz.lr_sweep(model, x, y, [-1.0], epochs=1)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nz.batch_norm_forward(np.ones(3)), "dense activations"),
        (lambda: nz.batch_norm_forward(np.ones((2, 3)), np.ones(2)), r"gamma.*\(3,\)"),
        (lambda: nz.batch_norm_forward(np.ones((2, 3)), eps=0), "eps"),
        (lambda: nz.batch_norm_forward(np.ones((2, 3), bool)), "real"),
        (lambda: nz.batch_norm_backward(np.ones((2, 3)), {}), "cache"),
        (
            lambda: nz.batch_norm_backward(
                np.ones((3, 3)), nz.batch_norm_forward(np.ones((2, 3)))[1]
            ),
            "dout",
        ),
        (
            lambda: nz.batch_norm_inference(np.ones((2, 3)), np.zeros(3), -np.ones(3)),
            "variance",
        ),
        (lambda: nz.update_moving(np.ones(2), np.ones(2), 1.5), "momentum"),
        (lambda: nz.update_moving(np.ones(2), np.ones(3), 0.9), "same shape"),
        (
            lambda: nz.update_moving(np.ones(2), np.ones(2), 0.9, convention="jax"),
            "convention",
        ),
        (lambda: nz.convert_momentum(-0.1), "momentum"),
        (lambda: nz.group_norm(np.ones((2, 2, 2, 6)), 4), "divide"),
        (lambda: nz.group_norm(np.ones((2, 6)), 2), "NHWC"),
        (lambda: nz.group_norm(np.ones((2, 2, 2, 6)), 0), "groups"),
        (lambda: nz.normalize(np.ones((2, 3)), 2), "axes"),
        (lambda: nz.normalize(np.ones((2, 3)), "0"), "axes"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
