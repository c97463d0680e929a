"""utils.images: layouts, scaling, standardization, flips and shifts, checked against
TensorFlow."""

import numpy as np
import pytest
import tensorflow as tf

from utils import images

RNG = np.random.default_rng(0)
BATCH = RNG.integers(0, 256, size=(4, 9, 7, 3), dtype=np.uint8)


def test_layout_round_trip_and_matches_tf_transpose():
    nchw = images.to_layout(BATCH, "NHWC", "NCHW")
    assert nchw.shape == (4, 3, 9, 7)
    np.testing.assert_array_equal(nchw, tf.transpose(BATCH, [0, 3, 1, 2]).numpy())
    np.testing.assert_array_equal(images.to_layout(nchw, "NCHW", "NHWC"), BATCH)
    assert images.to_layout(BATCH, "NHWC", "NHWC") is BATCH


@pytest.mark.parametrize(
    "args,match",
    [(("NHWC", "CHW"), "target layout"), (("HWC", "NHWC"), "source layout")],
)
def test_layout_bad_names(args, match):
    with pytest.raises(ValueError, match=match):
        images.to_layout(BATCH, *args)


def test_layout_bad_rank():
    with pytest.raises(ValueError, match="rank-4"):
        images.to_layout(BATCH[0], "NHWC", "NCHW")


def test_to_float01_matches_tf_convert_image_dtype():
    ours = images.to_float01(BATCH)
    theirs = tf.image.convert_image_dtype(BATCH, tf.float32).numpy()
    assert ours.dtype == np.float32 and ours.min() >= 0 and ours.max() <= 1
    np.testing.assert_array_equal(ours, theirs)


def test_to_float01_refuses_scaled_input():
    with pytest.raises(ValueError, match="expects uint8"):
        images.to_float01(BATCH.astype(np.float32) / 255)


def test_standardize_gives_zero_mean_unit_std_and_matches_keras_normalization():
    import keras

    x = images.to_float01(BATCH)
    mean, std = images.channel_stats(x)
    z = images.standardize(x, mean, std)
    zm, zs = images.channel_stats(z)
    np.testing.assert_allclose(zm, 0, atol=1e-6)
    np.testing.assert_allclose(zs, 1, atol=1e-5)
    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(x)
    np.testing.assert_allclose(layer(x).numpy(), z, atol=1e-4)


@pytest.mark.parametrize(
    "mean,std,match",
    [
        ((0.5, 0.5), (1, 1, 1), "one value per channel"),
        ((0, 0, 0), (1, 0, 1), "positive"),
    ],
)
def test_standardize_bad_stats(mean, std, match):
    with pytest.raises(ValueError, match=match):
        images.standardize(BATCH, mean, std)


def test_hflip_matches_tf():
    np.testing.assert_array_equal(
        images.hflip(BATCH), tf.image.flip_left_right(BATCH).numpy()
    )


@pytest.mark.parametrize("dy,dx", [(0, 0), (2, -1), (-3, 2), (1, 1)])
def test_translate_constant_is_a_true_shift(dy, dx):
    out = images.translate(BATCH, dy, dx)
    assert out.shape == BATCH.shape
    h, w = BATCH.shape[1:3]
    # every pixel that stays inside moved by exactly (dy, dx)
    np.testing.assert_array_equal(
        out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)],
        BATCH[:, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)],
    )
    # and what came in from outside is zero
    mask = np.ones((h, w), bool)
    mask[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = False
    assert not out[:, mask].any()


def test_translate_matches_tf_pad_and_crop():
    dy, dx = 2, -1
    padded = tf.image.pad_to_bounding_box(BATCH, 2, 1, 9 + 4, 7 + 2)
    cropped = tf.image.crop_to_bounding_box(padded, 2 - dy, 1 - dx, 9, 7).numpy()
    np.testing.assert_array_equal(images.translate(BATCH, dy, dx), cropped)


def test_translate_reflect_keeps_content():
    out = images.translate(BATCH, 1, 0, mode="reflect")
    np.testing.assert_array_equal(
        out[:, 0], BATCH[:, 1]
    )  # reflected row (numpy 'reflect' skips the edge)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dy": 9, "dx": 0}, "smaller than"),
        ({"dy": 1.5, "dx": 0}, "ints"),
        ({"dy": 0, "dx": 0, "mode": "wrap"}, "mode"),
    ],
)
def test_translate_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        images.translate(BATCH, **kwargs)


def test_translate_grayscale_fill_and_roll():
    # rank-3 (N, H, W) batches, as chapter 2 shifts 8x8 digits (was nn.shift_images)
    img = np.arange(16).reshape(1, 4, 4)
    down = images.translate(img, 1, 0)
    np.testing.assert_array_equal(down[0, 0], 0)
    np.testing.assert_array_equal(down[0, 1:], img[0, :3])
    left = images.translate(img, 0, -2, fill=-1)
    np.testing.assert_array_equal(left[0, :, :2], img[0, :, 2:])
    np.testing.assert_array_equal(left[0, :, 2:], -1)
    rolled = images.translate(img, 1, -1, mode="roll")
    np.testing.assert_array_equal(rolled, np.roll(img, (1, -1), axis=(1, 2)))
    reflected = images.translate(img, -1, 0, mode="reflect")
    np.testing.assert_array_equal(reflected[0, -1], img[0, 2])
    rgb = np.ones((2, 5, 5, 3), np.uint8)
    out = images.translate(rgb, -2, 2)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert out.sum() == 2 * 3 * 3 * 3
    np.testing.assert_array_equal(images.translate(rgb, 0, 0), rgb)


@pytest.mark.parametrize("mode", ["constant", "reflect", "roll"])
def test_translate_same_direction_in_every_mode(mode):
    # one sign convention: content moves DOWN by dy and RIGHT by dx in every mode
    x = np.zeros((1, 8, 8, 1))
    x[0, 3, 3, 0] = 1  # far enough from the border that reflect mirrors nothing in
    out = images.translate(x, 1, 2, mode=mode)
    assert out[0, 4, 5, 0] == 1 and out.sum() == 1


@pytest.mark.parametrize(
    "x,kwargs,match",
    [
        (np.ones((8, 8)), {}, "batch"),
        (np.ones((1, 8, 8)), {"dx": 0.5}, "ints"),
        (np.ones((1, 8, 8)), {"dy": True}, "ints"),
        (np.ones((1, 8, 8)), {"dy": 8}, "smaller than"),
        (np.ones((1, 8, 8), bool), {}, "real numbers"),
    ],
)
def test_translate_bad_input_any_rank(x, kwargs, match):
    args = {"dy": 1, "dx": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        images.translate(x, **args)


def test_channel_stats_empty_batch_raises():
    with pytest.raises(ValueError, match="at least one pixel"):
        images.channel_stats(np.zeros((0, 4, 4, 3)))


def test_standardize_rejects_nan_std():
    # bug: np.any(std <= 0) let a NaN std through, giving an all-NaN batch
    with pytest.raises(ValueError, match="positive and finite"):
        images.standardize(BATCH, [0, 0, 0], [1, np.nan, 1])


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int64, bool])
def test_to_float01_refuses_other_dtypes(dtype):
    with pytest.raises(ValueError, match="uint8"):
        images.to_float01(np.zeros((1, 2, 2, 3), dtype))


def test_translate_fill_that_the_dtype_cannot_hold_raises():
    # was OverflowError (-1) or a silent cast of NaN into uint8
    with pytest.raises(ValueError, match="cannot be stored"):
        images.translate(BATCH, 1, 1, fill=-1)
    with pytest.raises(ValueError, match="cannot be stored"):
        images.translate(BATCH, 1, 1, fill=np.nan)
    assert images.translate(BATCH.astype(np.float32), 1, 1, fill=-1.0)[0, 0, 0, 0] == -1
