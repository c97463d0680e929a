"""utils/diagrams_dense.py (chapters 13, 14): what the diagrams write comes from the
tested functions and the model itself; bad input is refused before drawing."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import boxes, unet  # noqa: E402
from utils import diagrams_dense as dd  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_figures")


def _texts(fig):
    found = [t.get_text() for ax in fig.axes for t in ax.texts]
    found += [ax.get_title() for ax in fig.axes]
    return found + ([fig._suptitle.get_text()] if fig._suptitle else [])


# ------------------------------------------------------------------ stamping


@pytest.mark.parametrize("n, k, s", [(2, 3, 2), (3, 2, 2), (2, 4, 2), (1, 3, 3)])
def test_stamping_counts_are_the_taps_of_a_transposed_convolution(n, k, s):
    fig = dd.stamping_diagram(n, k, s)
    out = (n - 1) * s + k
    right = fig.axes[1]
    numbers = [float(t.get_text()) for t in right.texts]
    assert len(numbers) == out * out
    counts = np.array(numbers).reshape(out, out)
    # by hand: pixel (r, c) gets one tap from every input (i, j) whose stamp covers it
    expected = np.zeros((out, out))
    for i in range(n):
        for j in range(n):
            expected[i * s : i * s + k, j * s : j * s + k] += 1
    np.testing.assert_array_equal(counts, expected)
    assert f"{out}x{out}" in right.get_title()
    assert sum("$u_" in t.get_text() for t in fig.axes[0].texts) == n * n


def test_stamping_with_kernel_equal_to_stride_stamps_once():
    fig = dd.stamping_diagram(3, 2, 2)
    assert {t.get_text() for t in fig.axes[1].texts} == {"1"}


@pytest.mark.parametrize(
    "args, match",
    [
        ((0, 3, 2), "input_size"),
        ((5, 3, 2), "input_size"),
        ((2, 6, 2), "kernel"),
        ((2, 3, 0), "stride"),
        ((2.5, 3, 2), "input_size"),
    ],
)
def test_stamping_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        dd.stamping_diagram(*args)


# ------------------------------------------------------------------ U-Net


def test_unet_diagram_labels_come_from_the_model():
    model = unet.unet((32, 32, 3), widths=(8, 16, 32), out_channels=4)
    texts = " ".join(_texts(dd.unet_diagram(model)))
    for label in ("32x32, 3 ch", "32x32, 8 ch", "16x16, 16 ch", "8x8, 32 ch"):
        assert label in texts
    assert "32x32, 4 ch" in texts  # the head's logits
    assert texts.count("copy + concatenate") == 2 and "3 levels" in texts


def test_unet_diagram_four_levels_and_bilinear():
    model = unet.unet((64, 64, 3), widths=(4, 8, 16, 32), upsampling="bilinear")
    texts = " ".join(_texts(dd.unet_diagram(model)))
    assert "8x8, 32 ch" in texts and texts.count("copy + concatenate") == 3


def test_unet_diagram_bad_input():
    import keras

    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="utils.unet.unet"):
        dd.unet_diagram(plain)
    free = unet.unet((None, None, 3), widths=(4, 8))
    with pytest.raises(ValueError, match="fixed image size"):
        dd.unet_diagram(free)


# ------------------------------------------------------------------ centre points


def test_centre_point_diagram_shows_what_encode_centers_computes():
    box = (3.0, 8.0, 26.0, 27.0)
    fig = dd.centre_point_diagram(box, canvas=32, stride=4)
    texts = " ".join(_texts(fig))
    heat, size, offset, mask = boxes.encode_centers(np.array([box]), [0], 1, 8, 4)
    i, j = (int(v[0]) for v in np.nonzero(mask))
    assert f"(i, j) = ({i}, {j})" in texts
    assert f"({offset[i, j, 0]:.3g}, {offset[i, j, 1]:.3g})" in texts
    assert f"w = {size[i, j, 0]:.2f}" in texts and f"h = {size[i, j, 1]:.2f}" in texts
    shown = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(shown, heat[..., 0])
    assert shown[i, j] == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(canvas=30, stride=4), "divisible"),
        (dict(canvas=4), "canvas"),
        (dict(stride=1), "stride"),
        (dict(box=(10, 10, 5, 20)), "positive width"),
        (dict(box=(0, 0, 4)), "4"),
    ],
)
def test_centre_point_diagram_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dd.centre_point_diagram(**kwargs)


# ------------------------------------------------------------------ draw_boxes


def test_draw_boxes_draws_one_patch_and_label_per_box():
    fig, ax = plt.subplots()
    b = np.array([[0, 0, 10, 10], [5, 5, 20, 30]], np.float32)
    dd.draw_boxes(ax, b, [0, 1], ["cat", "dog"], [0.9, 0.25])
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts] == ["cat 0.90", "dog 0.25"]
    rect = ax.patches[1]
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (
        5,
        5,
        15,
        25,
    )
    dd.draw_boxes(ax, np.zeros((0, 4)), [], ["cat"], style="--", labels=False)
    assert len(ax.patches) == 2


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((2, 5)), [0, 0], ["a"]), r"\(K, 4\)"),
        ((np.zeros((2, 4)), [0], ["a"]), "one class each"),
        ((np.zeros((1, 4)), [3], ["a"]), "index names"),
    ],
)
def test_draw_boxes_bad_input(args, match):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        dd.draw_boxes(ax, *args)
    with pytest.raises(ValueError, match="scores"):
        dd.draw_boxes(ax, np.zeros((1, 4)), [0], ["a"], scores=[0.1, 0.2])
