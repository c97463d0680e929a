"""Unit tests for utils/pool.py (chapter 4, "Pooling"): values, shapes, TensorFlow equality, bad input."""

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils.pool import (
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    max_pool2d_backward,
    pool2d,
    pool_output_shape,
)

tf = pytest.importorskip("tensorflow")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 7, 6, 3)).astype(np.float32)
GRID = list(itertools.product([1, 2, 3, (2, 3)], [None, 1, 2, (1, 3)], ["valid", "same"]))


# ---------------------------------------------------------------- hand-checked values
def test_max_and_avg_by_hand():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(max_pool2d(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(avg_pool2d(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_same_avg_divides_by_real_cells_and_max_ignores_padding():
    x = -np.ones((1, 3, 3, 1))  # all negative: a zero-padded max would wrongly return 0
    assert pool_output_shape(x.shape, 2, padding="same") == (1, 2, 2, 1)
    np.testing.assert_array_equal(max_pool2d(x, 2, padding="same"), -np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(avg_pool2d(x, 2, padding="same"), -np.ones((1, 2, 2, 1)))


def test_globals_and_keepdims():
    assert global_avg_pool2d(X).shape == (2, 3)
    assert global_max_pool2d(X, keepdims=True).shape == (2, 1, 1, 3)
    np.testing.assert_allclose(global_avg_pool2d(X), X.mean(axis=(1, 2)))
    np.testing.assert_array_equal(global_max_pool2d(X), X.max(axis=(1, 2)))


def test_dtypes():
    assert max_pool2d(X).dtype == np.float32 and avg_pool2d(X).dtype == np.float32
    xi = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    assert avg_pool2d(xi).dtype == np.float64
    assert max_pool2d_backward(xi, np.ones((1, 2, 2, 1))).dtype == np.float64


# ---------------------------------------------------------------- equality to TensorFlow
@pytest.mark.parametrize("k,s,p", GRID)
def test_forward_matches_tf(k, s, p):
    strides = k if s is None else s
    for mode, op in (("max", tf.nn.max_pool2d), ("avg", tf.nn.avg_pool2d)):
        ref = op(X, k, strides, p.upper()).numpy()
        out = pool2d(X, k, strides=s, padding=p, mode=mode)
        assert out.shape == ref.shape == pool_output_shape(X.shape, k, strides=s, padding=p)
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_keras_layers_match():
    import keras

    np.testing.assert_allclose(global_avg_pool2d(X), keras.layers.GlobalAveragePooling2D()(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(global_max_pool2d(X), keras.layers.GlobalMaxPooling2D()(X))
    np.testing.assert_allclose(max_pool2d(X, 3, strides=2, padding="same"), keras.layers.MaxPooling2D(3, 2, "same")(X))
    np.testing.assert_allclose(
        avg_pool2d(X, 3, strides=2, padding="same"), keras.layers.AveragePooling2D(3, 2, "same")(X), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("k,s,p", GRID)
def test_backward_matches_gradient_tape(k, s, p):
    strides = k if s is None else s
    xt = tf.constant(X)
    dout = RNG.standard_normal(pool_output_shape(X.shape, k, strides=s, padding=p)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, k, strides, p.upper())
    ref = tape.gradient(y, xt, output_gradients=tf.constant(dout)).numpy()
    np.testing.assert_allclose(max_pool2d_backward(X, dout, k, strides=s, padding=p), ref, rtol=1e-6, atol=1e-6)


def test_backward_ties_follow_tf_first_in_scan_order():
    x = np.zeros((1, 4, 4, 1), np.float32)  # every cell ties
    xt = tf.constant(x)
    for k, s, p in [(2, 2, "valid"), (3, 1, "same"), (2, 1, "same")]:
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.max_pool2d(xt, k, s, p.upper())
        ref = tape.gradient(y, xt).numpy()
        np.testing.assert_array_equal(max_pool2d_backward(x, np.ones(y.shape, np.float32), k, strides=s, padding=p), ref)


def test_backward_conserves_gradient_mass():
    dout = RNG.standard_normal((2, 4, 3, 3))
    dx = max_pool2d_backward(X, dout, 2, padding="same")
    np.testing.assert_allclose(dx.sum(), dout.sum())
    assert (dx != 0).sum() <= dout.size


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"pool_size": 0}, "pool_size must be a positive int"),
        ({"pool_size": (2, 2, 2)}, "pool_size must be a positive int"),
        ({"pool_size": 2.0}, "pool_size must be a positive int"),
        ({"strides": 0}, "strides must be a positive int"),
        ({"strides": -1}, "strides must be a positive int"),
        ({"padding": "full"}, "padding must be 'valid' or 'same'"),
        ({"padding": 1}, "padding must be 'valid' or 'same'"),
        ({"mode": "mean"}, "mode must be 'max' or 'avg'"),
        ({"pool_size": 8}, "does not fit"),
    ],
)
def test_pool2d_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pool2d(X, **kwargs)


@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d])
def test_wrong_rank_and_dtype(fn):
    with pytest.raises(ValueError, match="rank-4 NHWC"):
        fn(X[0])
    with pytest.raises(ValueError, match="real numbers"):
        fn(X > 0)


def test_global_empty_spatial():
    with pytest.raises(ValueError, match="non-empty height and width"):
        global_avg_pool2d(np.zeros((1, 0, 3, 2)))
    with pytest.raises(ValueError, match="non-empty height and width"):
        global_max_pool2d(np.zeros((1, 3, 0, 2)))


def test_backward_bad_input():
    with pytest.raises(ValueError, match="dout must have the shape"):
        max_pool2d_backward(X, np.zeros((2, 3, 4, 3)))  # valid 2x2 on 7x6 gives (2, 3, 3, 3)
    with pytest.raises(ValueError, match="rank-4 NHWC"):
        max_pool2d_backward(X[0], np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="strides must be"):
        max_pool2d_backward(X, np.zeros((2, 3, 3, 3)), strides=(1, 0))


def test_output_shape_bad_rank():
    with pytest.raises(ValueError, match="rank-4 NHWC"):
        pool_output_shape((7, 6, 3))


def test_pool2d_empty_spatial():
    with pytest.raises(ValueError, match="height and width must be positive"):
        max_pool2d(np.zeros((1, 0, 4, 1)), 1)
