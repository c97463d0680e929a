"""utils/pool.py (chapter 4): values, shapes, equality to TensorFlow, bad input."""

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
GRID = list(
    itertools.product([1, 2, 3, (2, 3)], [None, 1, 2, (1, 3)], ["valid", "same"])
)


# ---------------------------------------------------------- hand-checked values
def test_max_and_avg_by_hand():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(max_pool2d(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(avg_pool2d(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_same_avg_divides_by_real_cells_and_max_ignores_padding():
    x = -np.ones((1, 3, 3, 1))  # all negative: a zero-padded max would wrongly return 0
    assert pool_output_shape(x.shape, 2, padding="same") == (1, 2, 2, 1)
    np.testing.assert_array_equal(
        max_pool2d(x, 2, padding="same"), -np.ones((1, 2, 2, 1))
    )
    np.testing.assert_array_equal(
        avg_pool2d(x, 2, padding="same"), -np.ones((1, 2, 2, 1))
    )


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


# ------------------------------------------------------- equality to TensorFlow
@pytest.mark.parametrize("k,s,p", GRID)
def test_forward_matches_tf(k, s, p):
    strides = k if s is None else s
    for mode, op in (("max", tf.nn.max_pool2d), ("avg", tf.nn.avg_pool2d)):
        ref = op(X, k, strides, p.upper()).numpy()
        out = pool2d(X, k, strides=s, padding=p, mode=mode)
        assert (
            out.shape
            == ref.shape
            == pool_output_shape(X.shape, k, strides=s, padding=p)
        )
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_keras_layers_match():
    import keras

    np.testing.assert_allclose(
        global_avg_pool2d(X),
        keras.layers.GlobalAveragePooling2D()(X),
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        global_max_pool2d(X), keras.layers.GlobalMaxPooling2D()(X)
    )
    np.testing.assert_allclose(
        max_pool2d(X, 3, strides=2, padding="same"),
        keras.layers.MaxPooling2D(3, 2, "same")(X),
    )
    np.testing.assert_allclose(
        avg_pool2d(X, 3, strides=2, padding="same"),
        keras.layers.AveragePooling2D(3, 2, "same")(X),
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("k,s,p", GRID)
def test_backward_matches_gradient_tape(k, s, p):
    strides = k if s is None else s
    xt = tf.constant(X)
    dout = RNG.standard_normal(
        pool_output_shape(X.shape, k, strides=s, padding=p)
    ).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, k, strides, p.upper())
    ref = tape.gradient(y, xt, output_gradients=tf.constant(dout)).numpy()
    np.testing.assert_allclose(
        max_pool2d_backward(X, dout, k, strides=s, padding=p), ref, rtol=1e-6, atol=1e-6
    )


def test_backward_ties_follow_tf_first_in_scan_order():
    x = np.zeros((1, 4, 4, 1), np.float32)  # every cell ties
    xt = tf.constant(x)
    for k, s, p in [(2, 2, "valid"), (3, 1, "same"), (2, 1, "same")]:
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.max_pool2d(xt, k, s, p.upper())
        ref = tape.gradient(y, xt).numpy()
        np.testing.assert_array_equal(
            max_pool2d_backward(
                x, np.ones(y.shape, np.float32), k, strides=s, padding=p
            ),
            ref,
        )


def test_backward_conserves_gradient_mass():
    dout = RNG.standard_normal((2, 4, 3, 3))
    dx = max_pool2d_backward(X, dout, 2, padding="same")
    np.testing.assert_allclose(dx.sum(), dout.sum())
    assert (dx != 0).sum() <= dout.size


# -------------------------------------------------------------------- bad input
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


@pytest.mark.parametrize(
    "fn", [max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d]
)
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
        max_pool2d_backward(
            X, np.zeros((2, 3, 4, 3))
        )  # valid 2x2 on 7x6 gives (2, 3, 3, 3)
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


# --------------------------------------------------------- NaN (issue 9 item 2)
NAN_X = np.array([1, np.nan, 3, 2], np.float32).reshape(1, 2, 2, 1)


def test_nan_forward_and_backward_agree():
    """Forward said NaN won; backward routed the gradient to the 1.0 (all-False mask)"""
    assert np.isnan(max_pool2d(NAN_X, 2)).all()
    dx = max_pool2d_backward(NAN_X, np.ones((1, 1, 1, 1), np.float32), 2)
    np.testing.assert_array_equal(dx.ravel(), [0, 1, 0, 0])  # to the NaN, like PyTorch


def test_nan_convention_differs_from_tf_max_pool_as_documented():
    xt = tf.constant(NAN_X)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, 2, 2, "VALID")
    assert float(y.numpy().ravel()[0]) == 3.0  # TensorFlow skips the NaN ...
    np.testing.assert_array_equal(tape.gradient(y, xt).numpy().ravel(), [0, 0, 1, 0])
    assert "skips NaN" in max_pool2d_backward.__doc__  # ... and the docstring says so


def test_nan_first_in_scan_order_overlap_and_padding():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    x[0, 1, 2, 0] = x[0, 3, 3, 0] = np.nan
    for k, s, p in [(2, 2, "valid"), (3, 1, "same"), (2, 1, "same"), (3, 2, "same")]:
        y = max_pool2d(x, k, strides=s, padding=p)
        dout = RNG.standard_normal(y.shape)
        dx = max_pool2d_backward(x, dout, k, strides=s, padding=p)
        np.testing.assert_allclose(dx.sum(), dout.sum())  # every window routes
        nan_windows = np.isnan(y)
        # all gradient of NaN windows lands on NaN cells, none of finite windows does
        np.testing.assert_allclose(dx[np.isnan(x)].sum(), dout[nan_windows].sum())
    two = np.array([np.nan, np.nan, 0, 5], np.float32).reshape(1, 2, 2, 1)
    dx = max_pool2d_backward(two, np.ones((1, 1, 1, 1)), 2)
    np.testing.assert_array_equal(dx.ravel(), [1, 0, 0, 0])  # the first NaN


def test_nan_all_negative_infinity_window_never_picks_padding():
    x = np.full((1, 3, 3, 1), -np.inf)
    dx = max_pool2d_backward(x, np.ones((1, 2, 2, 1)), 2, padding="same")
    assert dx.sum() == 4 and dx.shape == x.shape


def test_nan_global_max_pool_matches_keras():
    import keras

    x = X.copy()
    x[0, 2, 3, 1] = np.nan
    out = global_max_pool2d(x)
    ref = keras.ops.convert_to_numpy(keras.layers.GlobalMaxPooling2D()(x))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(out[~np.isnan(out)], ref[~np.isnan(ref)])
    assert np.isnan(out[0, 1]) and np.isnan(avg_pool2d(x)[0, 1, 1, 1])


def test_nan_backprop_maxpool_uses_the_same_routing():
    from utils import backprop

    y, cache = backprop.maxpool_forward(NAN_X, 2)
    assert np.isnan(y).all()
    np.testing.assert_array_equal(
        backprop.maxpool_backward(np.ones_like(y), cache).ravel(), [0, 1, 0, 0]
    )


def test_nan_relu_routes_like_max():
    """relu(nan) returns the NaN input, so its gradient passes; at 0 it is 0 like TF."""
    from utils import backprop, nn

    x = np.array([np.nan, -1.0, 0.0, 2.0])
    y, cache = backprop.relu_forward(x)
    assert np.isnan(y[0]) and np.isnan(nn.relu(x)[0])
    np.testing.assert_array_equal(
        backprop.relu_backward(np.full(4, 5.0), cache), [5, 0, 0, 5]
    )
    np.testing.assert_array_equal(nn.relu_grad(x), [1, 0, 0, 1])
    v = tf.constant(x[1:])  # finite inputs, the kink included: equal to TensorFlow
    with tf.GradientTape() as tape:
        tape.watch(v)
        r = tf.nn.relu(v)
    np.testing.assert_array_equal(nn.relu_grad(x[1:]), tape.gradient(r, v).numpy())


def test_float16_becomes_float32():
    x16 = X.astype(np.float16)
    assert (
        max_pool2d(x16).dtype == np.float32
        and global_max_pool2d(x16).dtype == np.float32
    )
