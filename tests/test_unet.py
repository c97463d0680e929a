"""utils/unet.py (chapter 13): shapes, layer names, skip connections, bad input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from utils.unet import conv_block, unet, upsample  # noqa: E402


@pytest.mark.parametrize("upsampling", ["transpose", "nearest", "bilinear"])
def test_output_keeps_height_and_width(upsampling):
    model = unet((16, 24, 3), widths=(4, 8, 16), out_channels=5, upsampling=upsampling)
    assert model.output_shape == (None, 16, 24, 5)
    y = model(np.zeros((2, 16, 24, 3), np.float32))
    assert tuple(y.shape) == (2, 16, 24, 5)


def test_any_size_input_and_softmax_head():
    model = unet(
        (None, None, 1), widths=(4, 8), out_channels=3, out_activation="softmax"
    )
    y = np.asarray(model(np.ones((1, 8, 12, 1), np.float32)))
    assert y.shape == (1, 8, 12, 3)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)


def test_skip_connections_concatenate_encoder_features():
    model = unet((8, 8, 1), widths=(4, 8, 16), norm=None)
    names = [layer.name for layer in model.layers]
    for level in (0, 1):
        assert f"skip{level}" in names
        skip = model.get_layer(f"skip{level}")
        assert skip.output.shape[-1] == 2 * (4, 8)[level]
    assert "bottleneck_conv2" in names and "head" in names


def test_conv_block_names_and_norms():
    x = keras.Input((8, 8, 3))
    for norm, layer_name in [
        ("batch", "BatchNormalization"),
        ("group", "GroupNormalization"),
    ]:
        y = conv_block(x, 6, name=f"b{norm}", norm=norm)
        model = keras.Model(x, y)
        assert y.shape[-1] == 6
        kinds = {type(layer).__name__ for layer in model.layers}
        assert layer_name in kinds
    y = conv_block(x, 5, name="plain", norm=None)
    model = keras.Model(x, y)
    assert [layer.name for layer in model.layers[1:]] == [
        "plain_conv1",
        "plain_act1",
        "plain_conv2",
        "plain_act2",
    ]


def test_upsample_doubles_size():
    x = keras.Input((4, 5, 3))
    for mode in ("transpose", "nearest", "bilinear"):
        assert upsample(x, 7, name=f"u{mode}", mode=mode).shape[1:] == (8, 10, 7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=(32, 32)), "input_shape"),
        (dict(input_shape=(30, 32, 3)), "divisible by 4"),
        (dict(input_shape=(32, 32, 0)), "input_shape"),
        (dict(input_shape=(32, 32, 3), widths=(8,)), "at least 2"),
        (dict(input_shape=(32, 32, 3), widths="abc"), "widths"),
        (dict(input_shape=(32, 32, 3), widths=(8, 2.5)), "widths"),
        (dict(input_shape=(32, 32, 3), out_channels=0), "out_channels"),
        (dict(input_shape=(32, 32, 3), upsampling="cubic"), "upsampling"),
        (dict(input_shape=(32, 32, 3), norm="layer"), "norm"),
        (dict(input_shape=(32, 32, 3), name=""), "name"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet(**kwargs)


def test_bad_block_arguments():
    x = keras.Input((8, 8, 3))
    with pytest.raises(ValueError, match="filters"):
        conv_block(x, 0, name="b")
    with pytest.raises(ValueError, match="name"):
        conv_block(x, 4, name=None)
    with pytest.raises(ValueError, match="mode"):
        upsample(x, 4, name="u", mode="bicubic")
