"""utils.layer_cost.model_macs: a whole Keras model's forward multiply-accumulates."""

import keras
import pytest

from utils import first_cnn, layer_cost


def test_seed_cnn_by_hand():
    # conv1 30*30*32*27, conv2 13*13*64*288, conv3 4*4*64*576, dense 1024*64, 64*10
    by_hand = (
        30 * 30 * 32 * 27 + 13 * 13 * 64 * 288 + 4 * 4 * 64 * 576 + 1024 * 64 + 64 * 10
    )
    assert layer_cost.model_macs(first_cnn.build_seed_model()) == by_hand == 4_548_608


def test_strides_padding_and_nested_models():
    inner = keras.Sequential(
        [keras.Input((8, 8, 4)), keras.layers.Conv2D(6, 3, strides=2, padding="same")]
    )
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, dilation_rate=2)(inputs)  # 12 x 12
    x = keras.layers.MaxPooling2D(pool_size=(3, 3), strides=(1, 1))(x)  # 10 x 10
    x = keras.layers.Conv2D(4, 3)(x)  # 8 x 8, not counted twice below
    x = inner(x)  # 4 x 4 x 6
    model = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(x)))
    expected = 12 * 12 * 4 * 27 + 8 * 8 * 4 * 36 + 4 * 4 * 6 * 36 + 96 * 5
    assert layer_cost.model_macs(model) == expected


def test_bad_input():
    with pytest.raises(TypeError, match="keras.Model"):
        layer_cost.model_macs("seed_cnn")
    with pytest.raises(ValueError, match="not built"):
        layer_cost.model_macs(keras.Sequential([keras.layers.Dense(3)]))


def test_custom_convolution_layers_are_counted():
    from utils import fast

    full = layer_cost.model_macs(fast.build_fast_model(fast.PROFILES["full"]))
    assert full == 117_870_592 + 31 * 31 * 24 * 2 * 2 * 3 == 118_147_360


def test_t4_minutes_adds_compute_and_per_step_host_time():
    from utils import layer_cost

    # 1e9 MACs x 600 passes x 3 x 2 FLOP = 3.6e12 FLOP = 3 s; 1,000 steps x 3 ms = 3 s
    minutes = layer_cost.t4_minutes(10**9, 600, 1000)
    assert abs(minutes - 6 / 60) < 1e-12
    # forward-only images cost a third of a training pass
    assert layer_cost.t4_minutes(10**9, 0, 0, eval_images=1800) == 3 / 60
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            layer_cost.t4_minutes(10**9, 600, bad)


# ------------------------------------------- depthwise, separable, transposed, grouped
# Issue 25: a DepthwiseConv2D was counted as a full convolution (C_in times too many).


def _one_layer(layer, shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


def test_depthwise_conv_by_hand():
    # 9x9x4, 3x3, stride 2, same -> 5x5 outputs, 4 * 2 = 8 channels, 9 taps each
    model = _one_layer(
        keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
        (9, 9, 4),
    )
    assert layer_cost.model_macs(model) == 5 * 5 * 8 * 9 == 1800
    full = _one_layer(keras.layers.Conv2D(8, 3, strides=2, padding="same"), (9, 9, 4))
    assert layer_cost.model_macs(full) == 4 * layer_cost.model_macs(model)


def test_separable_conv_by_hand():
    # depthwise 6x6x4 outputs of 9 taps, then 1x1 from 4 to 6 channels at 6x6
    model = _one_layer(keras.layers.SeparableConv2D(6, 3), (8, 8, 4))
    assert layer_cost.model_macs(model) == 6 * 6 * 4 * 9 + 6 * 6 * 6 * 4 == 2160


def test_transposed_conv_by_hand():
    # every one of the 4x4 input pixels stamps a 3x3 kernel, 3 -> 5 channels per tap
    for padding in ("valid", "same"):
        model = _one_layer(
            keras.layers.Conv2DTranspose(5, 3, strides=2, padding=padding), (4, 4, 3)
        )
        assert layer_cost.model_macs(model) == 4 * 4 * 3 * 9 * 5 == 2160
    assert layer_cost.transposed_conv2d_macs((4, 4), 3, 3, 3, 5) == 2160


def test_grouped_conv_and_dense_on_sequences_by_hand():
    grouped = _one_layer(keras.layers.Conv2D(6, 3, groups=2), (8, 8, 4))
    assert layer_cost.model_macs(grouped) == 6 * 6 * 6 * 9 * 2 == 3888
    assert layer_cost.conv2d_macs(8, 3, 3, 4, 6, groups=2) == 3888
    assert layer_cost.conv2d_macs(8, 3, 3, 4, 4, groups=4) == 6 * 6 * 4 * 9
    dense = _one_layer(keras.layers.Dense(5), (7, 3))  # 7 positions of 3 -> 5
    assert layer_cost.model_macs(dense) == 7 * 3 * 5
    with pytest.raises(ValueError, match="groups=3 must divide"):
        layer_cost.conv2d_macs(8, 3, 3, 4, 6, groups=3)


def test_mobilenet_v2_against_the_paper():
    # Sandler et al. (2018), table 4: MobileNetV2 (1.0, 224) costs 300M multiply-adds;
    # the count scales with the pixel count, about 55M at 96 px (the bug gave 1,019M)
    m224 = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    assert 295e6 < layer_cost.model_macs(m224) < 305e6
    m96 = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), weights=None, include_top=False, pooling="avg"
    )
    assert 50e6 < layer_cost.model_macs(m96) < 60e6
