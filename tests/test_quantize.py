"""utils.quantize: the affine round trip, per-channel scales, Keras 3's int8 Dense."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils import quantize as Q

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


def test_integer_ranges():
    assert Q.integer_range(8) == (-128, 127)
    assert Q.integer_range(8, signed=False) == (0, 255)
    assert Q.integer_range(4, signed=True) == (-8, 7)


@pytest.mark.parametrize("bits", [8.0, 1, 17, True, "8", None])
def test_bad_bit_widths_are_refused(bits):
    with pytest.raises(ValueError, match="bits must be an int"):
        Q.integer_range(bits)
    with pytest.raises(ValueError, match="bits"):
        Q.quantize([0.5], 0.1, 0, bits=bits)


@pytest.mark.parametrize("scale", [0.0, -0.1, np.inf, np.nan, [0.1, 0.0]])
def test_a_scale_of_zero_or_worse_is_refused(scale):
    with pytest.raises(ValueError, match="scale must be positive"):
        Q.quantize([0.5, 0.2], scale, 0)
    with pytest.raises(ValueError, match="scale must be positive"):
        Q.dequantize([1, 2], scale, 0)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="zero_point must be an integer"):
        Q.quantize([0.5], 0.1, 0.5)
    with pytest.raises(ValueError, match="q must be an integer"):
        Q.dequantize([0.5], 0.1, 0)
    with pytest.raises(ValueError, match="low must be <= high"):
        Q.affine_params(1.0, -1.0)
    with pytest.raises(ValueError, match="low must be a finite"):
        Q.affine_params(np.nan, 1.0)
    with pytest.raises(ValueError, match="axis"):
        Q.symmetric_scales(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="non-empty"):
        Q.symmetric_scales(np.array([]))
    with pytest.raises(ValueError, match="kernel must be"):
        Q.keras_int8_kernel(np.ones(3))
    with pytest.raises(ValueError, match="int8 q"):
        Q.int8_dense(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))


def test_affine_params_contain_zero_and_represent_it_exactly():
    scale, zero = Q.affine_params(0.5, 2.0, bits=8)  # widened to [0, 2]
    assert zero == 0 and scale == pytest.approx(2 / 255)
    scale, zero = Q.affine_params(-1.0, 3.0, bits=8)
    assert 0 <= zero <= 255
    assert Q.dequantize(Q.quantize(0.0, scale, zero), scale, zero) == 0.0
    assert Q.affine_params(0.0, 0.0) == (1.0, 0)


@settings(max_examples=200, deadline=None)
@given(
    low=finite,
    width=st.floats(1e-3, 1e4),
    bits=st.integers(2, 16),
    signed=st.booleans(),
    fractions=st.lists(st.floats(0, 1), min_size=1, max_size=20),
)
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(
    low, width, bits, signed, fractions
):
    high = low + width
    scale, zero = Q.affine_params(low, high, bits, signed)
    x = low + np.array(fractions) * width
    error = np.abs(
        Q.dequantize(Q.quantize(x, scale, zero, bits, signed), scale, zero) - x
    )
    # scale / 2, plus float64 rounding of x / scale at the size of the range
    assert np.all(error <= scale / 2 + 1e-9 * max(abs(low), abs(high), scale))


@settings(max_examples=50, deadline=None)
@given(bits=st.integers(2, 12), data=st.data())
def test_symmetric_round_trip_error_bound_per_channel(bits, data):
    rows = data.draw(st.integers(1, 6))
    w = np.array(data.draw(st.lists(finite, min_size=rows * 3, max_size=rows * 3)))
    w = w.reshape(rows, 3)
    scales = Q.symmetric_scales(w, bits, axis=-1)
    assert scales.shape == (1, 3)
    assert np.all(np.abs(Q.fake_quantize(w, bits, axis=-1) - w) <= scales / 2 + 1e-9)


def test_per_channel_beats_per_tensor_when_channels_differ_in_size():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 4)) * np.array([1.0, 0.01, 0.1, 3.0])
    per_tensor = np.abs(Q.fake_quantize(w, 8) - w).mean(axis=0)
    per_channel = np.abs(Q.fake_quantize(w, 8, axis=-1) - w).mean(axis=0)
    assert per_channel[1] < per_tensor[1] / 10  # the small channel gains most
    assert np.all(per_channel <= per_tensor + 1e-12)


def test_keras_int8_kernel_and_dense_match_keras_quantize():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(5)])
    model.layers[0].bias.assign(rng.normal(size=5).astype("float32"))
    kernel = model.layers[0].kernel.numpy()
    x = rng.normal(size=(4, 12)).astype("float32")
    model.quantize("int8")
    layer = model.layers[0]
    q, scale = Q.keras_int8_kernel(kernel)
    np.testing.assert_array_equal(q, layer._kernel.numpy())
    np.testing.assert_allclose(scale, layer.kernel_scale.numpy(), rtol=1e-6)
    ours = Q.int8_dense(x, q, scale, layer.bias.numpy())
    np.testing.assert_allclose(ours, model.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    # and int8 weights stand close to the float ones: half a step per output unit
    assert np.all(np.abs(q / scale - kernel) <= 0.5 / scale + 1e-6)
