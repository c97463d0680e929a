"""utils.distill: the distillation loss, its gradient against autodiff, Keras' twin."""

import numpy as np
import pytest

from utils import distill as D


def _case(seed=0, n=6, k=5):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, k)) * 2,
        rng.normal(size=(n, k)) * 3,
        rng.integers(0, k, n),
    )


def test_soft_targets_flatten_with_temperature():
    z = np.array([[3.0, 1.0, 0.0]])
    p1, p4 = D.soft_targets(z), D.soft_targets(z, 4.0)
    np.testing.assert_allclose(p1.sum(), 1) and np.testing.assert_allclose(p4.sum(), 1)
    assert p4.max() < p1.max() and p4.min() > p1.min()
    assert np.argmax(p4) == np.argmax(p1)  # the ranking survives


@pytest.mark.parametrize("temperature", [0, -1.0, np.inf, "2"])
def test_bad_temperature_is_refused(temperature):
    z, v, y = _case()
    with pytest.raises(ValueError, match="temperature"):
        D.distillation_loss(z, v, y, temperature, 0.5)


def test_other_bad_arguments():
    z, v, y = _case()
    with pytest.raises(ValueError, match="alpha"):
        D.distillation_loss(z, v, y, 2.0, 1.5)
    with pytest.raises(ValueError, match="teacher_logits"):
        D.distillation_loss(z, v[:, :3], y, 2.0, 0.5)
    with pytest.raises(ValueError, match="labels must be"):
        D.distillation_grad(z, v, y + 10, 2.0, 0.5)
    with pytest.raises(ValueError, match="student_logits"):
        D.distillation_loss(z[0], v, y, 2.0, 0.5)
    with pytest.raises(ValueError, match="teacher_logits must be"):
        D.distillation_targets(y, v, 7)


def test_alpha_one_is_plain_cross_entropy_and_equal_logits_cost_nothing_soft():
    z, v, y = _case(1)
    p = D.soft_targets(z)
    ce = -np.log(p[np.arange(len(y)), y]).mean()
    assert D.distillation_loss(z, v, y, 3.0, 1.0) == pytest.approx(ce)
    assert D.distillation_loss(z, z, y, 3.0, 0.0) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("temperature,alpha", [(1.0, 0.5), (4.0, 0.1), (10.0, 0.0)])
def test_gradient_matches_tensorflow_autodiff(temperature, alpha):
    tf = pytest.importorskip("tensorflow")
    z, v, y = _case(2)
    zt = tf.constant(z, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        hard = tf.nn.sparse_softmax_cross_entropy_with_logits(y, zt)
        log_q = tf.nn.log_softmax(v / temperature)
        log_p = tf.nn.log_softmax(zt / temperature)
        kl = tf.reduce_sum(tf.exp(log_q) * (log_q - log_p), axis=1)
        loss = tf.reduce_mean(alpha * hard + (1 - alpha) * temperature**2 * kl)
    np.testing.assert_allclose(
        D.distillation_loss(z, v, y, temperature, alpha), loss.numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        D.distillation_grad(z, v, y, temperature, alpha),
        tape.gradient(loss, zt).numpy(),
        rtol=1e-8,
        atol=1e-12,
    )


def test_t_squared_keeps_the_soft_gradient_size_as_temperature_grows():
    z, v, _ = _case(3, k=10)
    z, v = z - z.mean(1, keepdims=True), v - v.mean(1, keepdims=True)
    y = np.zeros(len(z), dtype=int)
    limit = (z - v) / z.shape[1] / len(z)  # Hinton et al.'s high-temperature limit
    errors = []
    for t in (10.0, 100.0, 1000.0):
        grad = D.distillation_grad(z, v, y, t, 0.0)
        errors.append(np.abs(grad - limit).max() / np.abs(limit).max())
    # the soft gradient approaches the T-free limit, its error falling like 1/T
    assert errors[2] < 0.01 and errors[2] < errors[1] / 5 and errors[1] < errors[0] / 5


def test_keras_loss_equals_numpy():
    keras = pytest.importorskip("keras")
    z, v, y = _case(4)
    loss = D.keras_distillation_loss(3.0, 0.25, z.shape[1])
    targets = D.distillation_targets(y, v, z.shape[1])
    assert targets.shape == (len(y), 2 * z.shape[1]) and targets.dtype == np.float32
    per_example = keras.ops.convert_to_numpy(loss(targets, z.astype(np.float32)))
    np.testing.assert_allclose(
        per_example.mean(), D.distillation_loss(z, v, y, 3.0, 0.25), rtol=1e-5
    )
