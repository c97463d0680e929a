"""Unit tests for utils.conv (chapter 3): equality to TensorFlow/Keras/SciPy and every
bad-input error."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.conv import (
    conv2d,
    conv2d_flops,
    conv2d_loop,
    conv2d_macs,
    conv2d_output_shape,
    conv2d_params,
    cross_correlation2d,
    im2col,
    receptive_field,
    resolve_padding,
    true_convolution2d,
)
from utils.env import silence_tensorflow

silence_tensorflow()
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(1234)


def rand(*shape, dtype=np.float64):
    return RNG.normal(size=shape).astype(dtype)


def tf_padding(padding):
    """Our padding argument in tf.nn.conv2d's spelling."""
    if isinstance(padding, str):
        return padding.upper()
    (t, b), (left, r) = resolve_padding(padding, (1, 1), (1, 1))
    return [[0, 0], [t, b], [left, r], [0, 0]]


# --------------------------------------------------------------- equality to TensorFlow

# (H, W, C_in, KH, KW, C_out); TF on CPU supports dilation > 1 only with stride 1
SHAPES = [
    (7, 7, 1, 3, 3, 1),
    (8, 6, 3, 3, 3, 4),
    (9, 10, 2, 2, 3, 3),
    (6, 5, 4, 1, 1, 5),
    (5, 5, 2, 5, 5, 2),
]
PADDINGS = ["valid", "same", 1, ((0, 2), (1, 0))]
GRID = [
    (shape, pad, s, 1)
    for shape, pad, s in itertools.product(SHAPES, PADDINGS, [1, 2, (2, 1), 3])
] + [
    (shape, pad, 1, d)
    for shape, pad, d in itertools.product(SHAPES, PADDINGS, [2, (1, 2)])
]


def fits(shape, pad, s, d):
    h, w, c, kh, kw, co = shape
    try:
        conv2d_output_shape(
            (1, h, w, c), (kh, kw, c, co), stride=s, padding=pad, dilation=d
        )
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("shape,pad,stride,dil", [g for g in GRID if fits(*g)])
def test_conv2d_and_loop_equal_tf_nn_conv2d(shape, pad, stride, dil):
    h, w, c, kh, kw, co = shape
    x, k, b = rand(2, h, w, c), rand(kh, kw, c, co), rand(co)
    ref = (
        tf.nn.conv2d(
            x, k, strides=stride, padding=tf_padding(pad), dilations=dil
        ).numpy()
        + b
    )
    fast = conv2d(x, k, b, stride=stride, padding=pad, dilation=dil)
    assert fast.shape == ref.shape
    np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        conv2d_loop(x, k, b, stride=stride, padding=pad, dilation=dil),
        ref,
        rtol=1e-10,
        atol=1e-10,
    )


@pytest.mark.parametrize("stride,dil", [(2, 2), ((2, 3), (2, 1)), (3, 2)])
def test_stride_and_dilation_together(stride, dil):
    """TF refuses stride>1 with dilation>1; with 'valid' padding it is the stride-1
    result subsampled."""
    x, k = rand(2, 13, 12, 2), rand(3, 2, 2, 3)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dense = tf.nn.conv2d(x, k, strides=1, padding="VALID", dilations=dil).numpy()[
        :, ::sh, ::sw
    ]
    np.testing.assert_allclose(
        conv2d(x, k, stride=stride, dilation=dil), dense, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(
        conv2d_loop(x, k, stride=stride, dilation=dil), dense, rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize(
    "padding,strides,dilation",
    [("valid", 1, 1), ("same", 2, 1), ("same", 1, 2), ("valid", (1, 2), 1)],
)
def test_conv2d_equals_keras_layer_float32(padding, strides, dilation):
    x = rand(3, 11, 9, 3, dtype=np.float32)
    layer = keras.layers.Conv2D(
        4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation
    )
    layer.build(x.shape)
    k, b = (v.numpy() for v in layer.weights)
    b = RNG.normal(size=b.shape).astype(
        np.float32
    )  # a non-zero bias, so it is tested too
    layer.weights[1].assign(b)
    ref = keras.ops.convert_to_numpy(layer(x))
    y = conv2d(x, k, b, stride=strides, padding=padding, dilation=dilation)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    c=st.integers(1, 3),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    co=st.integers(1, 3),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    pad=st.sampled_from(["valid", "same", 0, 1, 2]),
)
def test_loop_and_im2col_agree_on_random_shapes(h, w, c, kh, kw, co, s, d, pad):
    x, k = rand(1, h, w, c), rand(kh, kw, c, co)
    if not fits((h, w, c, kh, kw, co), pad, s, d):
        with pytest.raises(ValueError, match="does not fit"):
            conv2d(x, k, stride=s, padding=pad, dilation=d)
        return
    y = conv2d(x, k, stride=s, padding=pad, dilation=d)
    assert y.shape == conv2d_output_shape(
        x.shape, k.shape, stride=s, padding=pad, dilation=d
    )
    np.testing.assert_allclose(
        y, conv2d_loop(x, k, stride=s, padding=pad, dilation=d), rtol=1e-10, atol=1e-10
    )


def test_integer_input_gives_float_output():
    x = np.arange(2 * 5 * 5 * 1).reshape(2, 5, 5, 1)
    y = conv2d(x, np.ones((2, 2, 1, 1), dtype=int))
    assert y.dtype == np.float64
    assert y[0, 0, 0, 0] == 0 + 1 + 5 + 6
    assert (
        conv2d(x.astype(np.uint8), np.ones((2, 2, 1, 1), np.float32)).dtype
        == np.float32
    )


# --------------------------------------------------------------------------- im2col


def test_im2col_order_matches_hwio_reshape():
    x = rand(2, 6, 5, 3)
    cols = im2col(x, (2, 3), stride=(2, 1), padding="same")
    assert cols.shape == (2, 3, 5, 2 * 3 * 3)
    # the row for output pixel (n=1, i=1, j=2) is the padded window under it, flattened
    # (row, column, channel)
    (pt, _), (pl, _) = resolve_padding("same", (6, 5), (2, 3), stride=(2, 1))
    xp = np.pad(x, ((0, 0), (pt, 1), (pl, 1), (0, 0)))
    np.testing.assert_array_equal(cols[1, 1, 2], xp[1, 2:4, 2:5, :].reshape(-1))


def test_im2col_dilation_picks_spaced_pixels():
    x = np.arange(1 * 5 * 5 * 1, dtype=float).reshape(1, 5, 5, 1)
    cols = im2col(x, 2, dilation=2)
    assert cols.shape == (1, 3, 3, 4)
    np.testing.assert_array_equal(cols[0, 0, 0], [0, 2, 10, 12])


# ------------------------------------------------------------- the textbook convolution


def test_true_convolution_is_scipy_convolve_and_flipped_cross_correlation():
    signal = pytest.importorskip("scipy.signal")
    img, ker = rand(7, 6), rand(3, 2)
    for mode in ("valid", "full"):
        np.testing.assert_allclose(
            true_convolution2d(img, ker, mode), signal.convolve2d(img, ker, mode)
        )
        np.testing.assert_allclose(
            cross_correlation2d(img, ker, mode), signal.correlate2d(img, ker, mode)
        )
    flipped = conv2d(img[None, :, :, None], ker[::-1, ::-1, None, None])[0, :, :, 0]
    np.testing.assert_allclose(true_convolution2d(img, ker), flipped)


def test_flip_matters_only_for_asymmetric_kernels():
    img = rand(6, 6)
    sym = np.array([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]])
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_allclose(
        true_convolution2d(img, sym), cross_correlation2d(img, sym)
    )
    np.testing.assert_allclose(
        true_convolution2d(img, sobel), -cross_correlation2d(img, sobel)
    )


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    "kh,kw,ci,co,bias", [(3, 3, 3, 32, True), (1, 1, 64, 16, False), (5, 3, 2, 7, True)]
)
def test_params_equal_keras_count_params(kh, kw, ci, co, bias):
    layer = keras.layers.Conv2D(co, (kh, kw), use_bias=bias)
    layer.build((None, 16, 16, ci))
    assert conv2d_params(kh, kw, ci, co, bias) == layer.count_params()


def test_macs_and_flops_match_the_im2col_matrix_product():
    x, k = rand(2, 10, 9, 3), rand(3, 3, 3, 8)
    cols = im2col(x, 3, stride=2, padding="same")
    rows, depth = cols.reshape(-1, cols.shape[-1]).shape
    macs = conv2d_macs((10, 9), 3, 3, 3, 8, stride=2, padding="same", batch=2)
    assert macs == rows * depth * 8
    assert (
        conv2d_flops((10, 9), 3, 3, 3, 8, stride=2, padding="same", batch=2, bias=False)
        == 2 * macs
    )
    assert (
        conv2d_flops((10, 9), 3, 3, 3, 8, stride=2, padding="same", batch=2)
        == 2 * macs + rows * 8
    )
    assert conv2d(x, k, stride=2, padding="same").size == rows * 8


def test_receptive_field_formula():
    rows = receptive_field([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1, 2)])
    assert [r["rf"] for r in rows] == [3, 5, 6, 10, 18]
    assert [r["jump"] for r in rows] == [1, 1, 2, 2, 2]
    assert receptive_field([]) == []


# ---------------------------------------------------------------------- padding helpers


def test_resolve_padding_forms():
    assert resolve_padding("valid", (5, 5), (3, 3)) == ((0, 0), (0, 0))
    assert resolve_padding("SAME", (5, 6), (3, 3), stride=2) == ((1, 1), (0, 1))
    assert resolve_padding(2, (5, 5), (3, 3)) == ((2, 2), (2, 2))
    assert resolve_padding((1, 0), (5, 5), (3, 3)) == ((1, 1), (0, 0))
    assert resolve_padding(((0, 1), (2, 3)), (5, 5), (3, 3)) == ((0, 1), (2, 3))


def test_output_shape_for_the_chapter_example():
    # W=10, F=3, S=2, P=0: (10-3)/2 + 1 = 4.5 -> TF floors to 4 (the last column is
    # never visited)
    assert conv2d_output_shape((1, 10, 10, 1), (3, 3, 1, 1), stride=2) == (1, 4, 4, 1)
    assert conv2d_output_shape(
        (1, 10, 10, 1), (3, 3, 1, 1), stride=2, padding="same"
    ) == (1, 5, 5, 1)


# --------------------------------------------------------------------------- bad input

X = np.zeros((1, 5, 5, 3))
W = np.zeros((3, 3, 3, 2))


@pytest.mark.parametrize("fn", [conv2d, conv2d_loop])
@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        ((np.zeros((5, 5, 3)), W), {}, "rank-4 NHWC"),
        ((X, np.zeros((3, 3, 3))), {}, "rank-4 HWIO"),
        ((X, np.zeros((3, 3, 2, 2))), {}, "channel mismatch"),
        ((X, W, np.zeros(3)), {}, "bias b must have shape"),
        ((X, W), {"stride": 0}, "stride must be"),
        ((X, W), {"stride": (1, 2, 3)}, "stride must be"),
        ((X, W), {"dilation": -1}, "dilation must be"),
        ((X, W), {"padding": "full"}, "padding string must be"),
        ((X, W), {"padding": -1}, "non-negative"),
        ((X, W), {"padding": ((1, -1), (0, 0))}, "non-negative"),
        ((X, W), {"padding": 1.5}, "padding must be"),
        ((X, np.zeros((7, 3, 3, 2))), {}, "does not fit along the height"),
        ((X, W), {"dilation": 3}, "does not fit"),
        ((X.astype(bool), W), {}, "real numbers"),
        ((X, W.astype(complex)), {}, "real numbers"),
        ((X, np.zeros((0, 3, 3, 2))), {}, "empty axis"),
    ],
)
def test_conv_bad_input(fn, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


def test_im2col_bad_input():
    with pytest.raises(ValueError, match="rank-4 NHWC"):
        im2col(np.zeros((5, 5)), 3)
    with pytest.raises(ValueError, match="kernel_size must be"):
        im2col(X, 0)
    with pytest.raises(ValueError, match="does not fit along the width"):
        im2col(np.zeros((1, 5, 2, 1)), 3, padding="valid")


def test_true_convolution_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        true_convolution2d(np.zeros((3, 3, 1)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        cross_correlation2d(np.zeros((3, 3)), np.ones(2))
    with pytest.raises(ValueError, match="does not fit"):
        true_convolution2d(np.zeros((3, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="mode must be"):
        true_convolution2d(np.zeros((3, 3)), np.ones((2, 2)), mode="same")
    with pytest.raises(ValueError, match="real numbers"):
        true_convolution2d(np.array([["a"]]), np.ones((1, 1)))


def test_counting_bad_input():
    with pytest.raises(ValueError, match="c_in must be a positive int"):
        conv2d_params(3, 3, 0, 8)
    with pytest.raises(ValueError, match="kh must be a positive int"):
        conv2d_flops((8, 8), 2.5, 3, 3, 8)
    with pytest.raises(ValueError, match="does not fit"):
        conv2d_macs((2, 2), 3, 3, 1, 1)
    with pytest.raises(ValueError, match="expected \\(kernel, stride\\)"):
        receptive_field([(3,)])
    with pytest.raises(ValueError, match="stride must be a positive int"):
        receptive_field([(3, 0)])
    with pytest.raises(ValueError, match="channel mismatch"):
        conv2d_output_shape((1, 5, 5, 3), (3, 3, 2, 1))
    with pytest.raises(ValueError, match="rank-4"):
        conv2d_output_shape((5, 5, 3), (3, 3, 3, 1))


# ---------------------------------------------------------------------- audit (issue 9)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: conv2d_output_shape(None, (1, 1, 1, 1)), "x_shape must be a tuple"),
        (lambda: receptive_field(None), "list of"),  # was TypeError
        (lambda: receptive_field([3, 1]), "layer 1"),  # was TypeError
        (lambda: conv2d_params(3, 3, 3, 64, "yes"), "bias must be True or False"),
    ],
)
def test_audit_bad_input_gives_one_clear_valueerror(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_conv2d_dtype_is_what_the_docstring_says():
    # the docstring used to claim float64 for every integer input
    w32 = np.ones((2, 2, 1, 1), np.float32)
    assert conv2d(np.ones((1, 4, 4, 1), np.uint8), w32).dtype == np.float32
    assert conv2d(np.ones((1, 4, 4, 1), np.int64), w32).dtype == np.float64
    assert conv2d(np.ones((1, 4, 4, 1), np.float16), w32).dtype == np.float32
