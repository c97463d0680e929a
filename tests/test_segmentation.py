"""utils/segmentation.py (chapter 13): transposed convolution against Keras and as the
adjoint of conv2d, IoU/Dice against keras.metrics, bad input."""

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import backprop
from utils.conv import conv2d
from utils.segmentation import (
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_iou,
    transposed_conv2d,
    transposed_conv2d_output_size,
)

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

RNG = np.random.default_rng(0)
GRID = list(itertools.product([1, 2, 3, 4], [1, 2, 3, (2, 1)], ["valid", "same"]))


@pytest.mark.parametrize("kernel, stride, padding", GRID)
def test_equals_keras_conv2d_transpose(kernel, stride, padding):
    x = RNG.standard_normal((2, 5, 4, 3)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(2, kernel, strides=stride, padding=padding)
    expected = np.asarray(layer(x))
    w, b = (np.asarray(v) for v in layer.weights)
    b = RNG.standard_normal(b.shape).astype(np.float32)
    layer.bias.assign(b)
    expected = np.asarray(layer(x))
    got = transposed_conv2d(x, w, b, stride=stride, padding=padding)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    assert got.shape[1] == transposed_conv2d_output_size(5, kernel, sh, padding)
    assert got.shape[2] == transposed_conv2d_output_size(4, kernel, sw, padding)


@pytest.mark.parametrize(
    "kernel, stride, padding",
    [(3, 2, "same"), (4, 2, "valid"), (2, 2, "same"), (3, 1, "valid")],
)
def test_is_the_input_gradient_of_conv2d(kernel, stride, padding):
    w = RNG.standard_normal((kernel, kernel, 3, 2))  # conv from 3 to 2 channels
    big = (1, 8, 8, 3)
    small = conv2d(np.zeros(big), w, stride=stride, padding=padding).shape
    x = RNG.standard_normal(small)
    _, cache = backprop.conv2d_forward(np.zeros(big), w, stride=stride, padding=padding)
    dx = backprop.conv2d_backward(x, cache)[0]
    full = transposed_conv2d(x, w, stride=stride, padding=padding)
    # the transposed output may be larger than the conv input it came from ("valid"
    # with a remainder); the adjoint is its top-left part
    np.testing.assert_allclose(full[:, : big[1], : big[2]], dx, atol=1e-10)
    z = RNG.standard_normal(big)
    lhs = np.sum(conv2d(z, w, stride=stride, padding=padding) * x)
    assert np.isclose(lhs, np.sum(z * full[:, : big[1], : big[2]]))


def test_gradient_tape_agrees():
    w = RNG.standard_normal((3, 3, 4, 2)).astype(np.float32)
    x = RNG.standard_normal((1, 4, 4, 2)).astype(np.float32)
    z = tf.Variable(tf.zeros((1, 8, 8, 4)))
    with tf.GradientTape() as tape:
        inner = tf.reduce_sum(tf.nn.conv2d(z, w, 2, "SAME") * x)
    np.testing.assert_allclose(
        transposed_conv2d(x, w, stride=2, padding="same"),
        tape.gradient(inner, z).numpy(),
        atol=1e-5,
    )


def test_stamping_by_hand():
    x = np.zeros((1, 2, 2, 1))
    x[0, 0, 1, 0] = 2.0
    w = np.arange(4.0).reshape(2, 2, 1, 1)
    y = transposed_conv2d(x, w, stride=2)[0, :, :, 0]
    expected = np.zeros((4, 4))
    expected[0:2, 2:4] = 2 * np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(y, expected)


def test_transposed_bad_input():
    x = np.ones((1, 3, 3, 2))
    with pytest.raises(ValueError, match="rank-4|NHWC|x\\[None\\]"):
        transposed_conv2d(np.ones((3, 3, 2)), np.ones((2, 2, 1, 2)))
    with pytest.raises(ValueError, match="rank 4"):
        transposed_conv2d(x, np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="expects C_in = 3"):
        transposed_conv2d(x, np.ones((2, 2, 1, 3)))
    with pytest.raises(ValueError, match="padding"):
        transposed_conv2d(x, np.ones((2, 2, 1, 2)), padding="full")
    with pytest.raises(ValueError, match="stride"):
        transposed_conv2d(x, np.ones((2, 2, 1, 2)), stride=0)
    with pytest.raises(ValueError, match="b must have shape"):
        transposed_conv2d(x, np.ones((2, 2, 1, 2)), np.ones(2))
    with pytest.raises(ValueError):
        transposed_conv2d(x.astype(bool), np.ones((2, 2, 1, 2)))
    with pytest.raises(ValueError, match="padding"):
        transposed_conv2d_output_size(3, 2, 2, None)
    with pytest.raises(ValueError, match="kernel_size"):
        transposed_conv2d_output_size(3, 0, 2, "same")


# ------------------------------------------------------------------------- metrics


def test_metrics_by_hand():
    t = np.array([[0, 0, 1, 1], [2, 2, 0, 0]])
    p = np.array([[0, 1, 1, 1], [2, 0, 0, 0]])
    cm = confusion_matrix(t, p, 4)
    assert cm.dtype == np.int64 and cm.sum() == t.size
    np.testing.assert_array_equal(cm[:3, :3], [[3, 1, 0], [0, 2, 0], [1, 0, 1]])
    iou = iou_per_class(t, p, 4)
    np.testing.assert_allclose(iou[:3], [3 / 5, 2 / 3, 1 / 2])
    assert np.isnan(iou[3])  # class 3 absent from both: not scored
    assert mean_iou(t, p, 4) == pytest.approx(np.mean([3 / 5, 2 / 3, 1 / 2]))
    np.testing.assert_allclose(dice_per_class(t, p, 4)[:3], [6 / 8, 4 / 5, 2 / 3])
    assert mean_iou(t, t, 4) == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_metrics_equal_keras(seed):
    rng = np.random.default_rng(seed)
    k = 5
    t = rng.integers(0, k, (3, 9, 7))
    p = np.where(rng.random(t.shape) < 0.6, t, rng.integers(0, k, t.shape))
    p[p == 4] = 0  # class 4 is never predicted, yet present in the truth
    m = keras.metrics.MeanIoU(num_classes=k)
    m.update_state(t, p)
    assert mean_iou(t, p, k) == pytest.approx(float(m.result()), abs=1e-6)
    np.testing.assert_array_equal(confusion_matrix(t, p, k), np.asarray(m.total_cm))
    iou = iou_per_class(t, p, k)
    for c in range(k):
        one = keras.metrics.IoU(num_classes=k, target_class_ids=[c])
        one.update_state(t, p)
        assert iou[c] == pytest.approx(float(one.result()), abs=1e-6)
    np.testing.assert_allclose(dice_per_class(t, p, k), 2 * iou / (1 + iou))


@pytest.mark.parametrize("seed", range(3))
def test_ignore_class_drops_those_pixels_like_keras(seed):
    # trimap-like truth: 0 background, 1 pet, 2 border (ignored); two output classes
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 3, (2, 8, 8))
    p = rng.integers(0, 2, t.shape)
    m = keras.metrics.MeanIoU(num_classes=2, ignore_class=2)
    m.update_state(t, p)
    assert mean_iou(t, p, 2, ignore_class=2) == pytest.approx(float(m.result()))
    cm = confusion_matrix(t, p, 2, ignore_class=2)
    np.testing.assert_array_equal(cm, np.asarray(m.total_cm))
    assert cm.sum() == np.sum(t != 2)
    keep = t != 2
    np.testing.assert_allclose(
        iou_per_class(t, p, 2, ignore_class=2), iou_per_class(t[keep], p[keep], 2)
    )
    np.testing.assert_allclose(
        dice_per_class(t, p, 2, ignore_class=2), dice_per_class(t[keep], p[keep], 2)
    )
    with pytest.raises(ValueError, match="ignore_class"):
        mean_iou(t, p, 2, ignore_class=-1)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        mean_iou(t, p, 2)  # without it, the border label 2 is out of range


def test_metrics_bad_input():
    t = np.zeros((2, 3), int)
    with pytest.raises(ValueError, match="argmax"):
        mean_iou(t, np.zeros((2, 3, 4)), 4)
    with pytest.raises(ValueError, match="in \\[0, 3\\]"):
        iou_per_class(t, t + 4, 4)
    with pytest.raises(ValueError, match="whole numbers"):
        dice_per_class(t, t + 0.5, 4)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(t, t, 0)
    with pytest.raises(ValueError, match="integers"):
        confusion_matrix(t.astype(str), t, 2)
    with pytest.raises(ValueError, match="no pixel is scored"):
        mean_iou(np.zeros(0, int), np.zeros(0, int), 2)
    with pytest.raises(ValueError, match="ignore_class=1"):
        mean_iou(np.ones(3, int), np.zeros(3, int), 2, ignore_class=1)
