"""utils/regularization.py (chapter 9): dropout, the L2 penalty, Keras parity."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import regularization as rg
from utils.gradcheck import grad_check


def test_inverted_dropout_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    mask = np.array([True, False, True, False])
    y, m = rg.dropout_forward(x, 0.5, training=True, mask=mask)
    np.testing.assert_array_equal(y, [2.0, 0.0, 6.0, 0.0])
    assert m is mask or np.array_equal(m, mask)
    np.testing.assert_array_equal(
        rg.dropout_backward(np.ones(4), mask, 0.5), [2, 0, 2, 0]
    )


def test_inference_is_the_identity_and_rate_zero_keeps_all():
    x = np.arange(6.0).reshape(2, 3)
    y, mask = rg.dropout_forward(x, 0.7, training=False)
    np.testing.assert_array_equal(y, x)
    assert mask is None
    np.testing.assert_array_equal(rg.dropout_backward(x, None, 0.7), x)
    y0, m0 = rg.dropout_forward(x, 0.0, training=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(y0, x)
    assert m0.all()


def test_expectation_is_preserved():
    rng = np.random.default_rng(1)
    y, mask = rg.dropout_forward(np.ones(200_000), 0.3, training=True, rng=rng)
    assert abs(mask.mean() - 0.7) < 0.005
    assert abs(y.mean() - 1.0) < 0.01


def test_backward_passes_grad_check_for_a_fixed_mask():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    _, mask = rg.dropout_forward(x, 0.4, training=True, rng=rng)

    def loss(v):
        return np.sum(rg.dropout_forward(v, 0.4, training=True, mask=mask)[0] * dout)

    assert grad_check(loss, x.copy(), rg.dropout_backward(dout, mask, 0.4)) < 1e-7


def test_l2_penalty_and_gradient():
    w = [np.array([1.0, -2.0]), np.array([[3.0]])]
    assert rg.l2_penalty(w, 0.1) == pytest.approx(1.4)
    grads = rg.l2_penalty_grad(w, 0.1)
    np.testing.assert_allclose(grads[0], [0.2, -0.4])
    np.testing.assert_allclose(grads[1], [[0.6]])


keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_matches_keras_dropout_given_its_mask(rate):
    x = np.random.default_rng(3).uniform(0.5, 1.5, (64, 32)).astype(np.float32)
    layer = keras.layers.Dropout(rate, seed=4)
    xt = tf.constant(x)
    dout = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yk = layer(xt, training=True)
        loss = tf.reduce_sum(yk * dout)
    dx = tape.gradient(loss, xt).numpy()
    mask = yk.numpy() != 0  # x > 0, so a zero output means dropped
    y, _ = rg.dropout_forward(x, rate, training=True, mask=mask)
    np.testing.assert_allclose(y, yk.numpy(), rtol=1e-6)
    np.testing.assert_allclose(rg.dropout_backward(dout, mask, rate), dx, rtol=1e-6)
    assert abs(mask.mean() - (1 - rate)) < 4 * np.sqrt(rate * (1 - rate) / x.size)
    np.testing.assert_array_equal(layer(xt, training=False).numpy(), x)


def test_l2_penalty_matches_keras_regularizer():
    w = np.random.default_rng(6).standard_normal((3, 3, 2, 4)).astype(np.float32)
    keras_value = float(keras.regularizers.L2(0.01)(w))
    assert rg.l2_penalty(w, 0.01) == pytest.approx(keras_value, rel=1e-5)


def test_small_cnn_builds_with_dropout_and_l2():
    model = rg.build_small_cnn(image_size=8, width=4, dropout=0.5, l2=1e-3)
    assert model.output_shape == (None, 10)
    assert len(model.losses) == 4  # one L2 term per kernel
    assert sum(type(layer).__name__ == "Dropout" for layer in model.layers) == 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rg.dropout_forward(np.ones(3), 1.0, training=True), "rate"),
        (lambda: rg.dropout_forward(np.ones(3), 0.5, training=1), "training"),
        (lambda: rg.dropout_forward(np.ones(3), 0.5, training=True), "rng"),
        (
            lambda: rg.dropout_forward(np.ones(3), 0.5, training=True, mask=np.ones(3)),
            "bool",
        ),
        (
            lambda: rg.dropout_backward(np.ones(3), np.ones(2, bool), 0.5),
            "shape",
        ),
        (lambda: rg.l2_penalty(np.ones(3), -1.0), "l2"),
        (lambda: rg.l2_penalty("w", 0.1), "weights"),
        (lambda: rg.build_small_cnn(image_size=10), "divisible"),
        (lambda: rg.build_small_cnn(dropout=1.0), "rate"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
