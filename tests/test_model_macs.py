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
