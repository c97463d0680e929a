"""The parity sweeps chapters 3 and 4 used to run inline, now here (each chapter keeps
one readable case): NumPy convolution and pooling against tf.nn and the Keras layers
over a grid of shapes, windows, strides, paddings and dilations."""

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import conv, shapes
from utils.pool import avg_pool2d, max_pool2d, max_pool2d_backward, pool_output_shape

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

# ------------------------------------------------------------ chapter 3: convolution
# (H, W, C_in, K_H, K_W, C_out)
CONV_SHAPES = [
    (9, 9, 1, 3, 3, 2),
    (8, 11, 3, 2, 3, 4),
    (7, 6, 2, 1, 1, 3),
    (10, 10, 2, 5, 4, 2),
]
CONV_OPTIONS = list(
    itertools.product(
        ["valid", "same", 2, ((0, 2), (1, 0))], [1, 2, (3, 1)], [1, 2, (2, 1)]
    )
)


def tf_padding(padding, x_shape, w_shape, stride, dilation):
    """Our padding argument in tf.nn.conv2d's spelling."""
    if isinstance(padding, str):
        return padding.upper()
    (top, bottom), (left, right) = conv.resolve_padding(
        padding, x_shape[1:3], w_shape[:2], stride=stride, dilation=dilation
    )
    return [[0, 0], [top, bottom], [left, right], [0, 0]]


def check_conv_against_tensorflow(x, w, b, pad, stride, dil):
    """Loop == im2col == tf.nn.conv2d (float64); Keras' Conv2D for string paddings."""
    y = conv.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil)
    y_loop = conv.conv2d_loop(x, w, b, stride=stride, padding=pad, dilation=dil)
    np.testing.assert_allclose(y_loop, y, rtol=1e-10, atol=1e-10)
    if stride != 1 and dil != 1:  # TF's CPU kernel refuses both: strided = subsampled
        if pad == "valid":
            sh, sw = shapes.as_pair(stride, "stride")
            ref = (
                tf.nn.conv2d(x, w, 1, "VALID", dilations=dil).numpy()[:, ::sh, ::sw] + b
            )
            np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
        return
    tf_pad = tf_padding(pad, x.shape, w.shape, stride, dil)
    ref = tf.nn.conv2d(x, w, stride, tf_pad, dilations=dil).numpy() + b
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    if isinstance(pad, str):
        layer = keras.layers.Conv2D(
            w.shape[3], w.shape[:2], strides=stride, padding=pad, dilation_rate=dil
        )
        layer.build((None, *x.shape[1:]))
        layer.set_weights([w.astype("float32"), b.astype("float32")])
        y_keras = keras.ops.convert_to_numpy(layer(x.astype("float32")))
        np.testing.assert_allclose(y, y_keras, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_conv_sweep_matches_tensorflow_and_keras(shape):
    h, w, c, kh, kw, co = shape
    rng = np.random.default_rng(0)
    x, k, b = (
        rng.normal(size=(2, h, w, c)),
        rng.normal(size=(kh, kw, c, co)),
        rng.normal(size=co),
    )
    compared = 0
    for pad, stride, dil in CONV_OPTIONS:
        try:
            conv.conv2d_output_shape(
                x.shape, k.shape, stride=stride, padding=pad, dilation=dil
            )
        except ValueError:  # the window does not fit: nothing to compare
            continue
        check_conv_against_tensorflow(x, k, b, pad, stride, dil)
        compared += 1
    assert compared > 0


# ---------------------------------------------------------------- chapter 4: pooling
POOL_SIZES = [(9, 9), (8, 8), (7, 10)]
POOL_OPTIONS = list(
    itertools.product([1, 2, 3, (2, 3)], [None, 1, 2, 3, (2, 1)], ["valid", "same"])
)


@pytest.mark.parametrize("size", POOL_SIZES)
def test_pool_sweep_matches_tf_nn_and_keras_layers(size):
    x = np.random.default_rng(0).standard_normal((2, *size, 3)).astype(np.float32)
    for k, s, padding in POOL_OPTIONS:
        tf_s, tf_pad = (k if s is None else s), padding.upper()
        ours_max = max_pool2d(x, k, strides=s, padding=padding)
        ours_avg = avg_pool2d(x, k, strides=s, padding=padding)
        np.testing.assert_array_equal(
            ours_max, tf.nn.max_pool2d(x, k, tf_s, tf_pad).numpy()
        )
        np.testing.assert_array_equal(
            ours_max, keras.layers.MaxPooling2D(k, strides=s, padding=padding)(x)
        )
        tol = dict(rtol=1e-6, atol=1e-6)  # float32 sums in another order
        np.testing.assert_allclose(
            ours_avg, tf.nn.avg_pool2d(x, k, tf_s, tf_pad).numpy(), **tol
        )
        np.testing.assert_allclose(
            ours_avg,
            keras.layers.AveragePooling2D(k, strides=s, padding=padding)(x),
            **tol,
        )


@pytest.mark.parametrize("size", POOL_SIZES)
def test_max_pool_backward_sweep_matches_gradient_tape(size):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, *size, 3)).astype(np.float32)
    xt = tf.constant(x)
    for k, s, padding in POOL_OPTIONS:
        out_shape = pool_output_shape(x.shape, k, strides=s, padding=padding)
        g = rng.standard_normal(out_shape).astype(np.float32)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.max_pool2d(xt, k, k if s is None else s, padding.upper())
        ref = tape.gradient(y, xt, output_gradients=tf.constant(g)).numpy()
        ours = max_pool2d_backward(x, g, k, strides=s, padding=padding)
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)
