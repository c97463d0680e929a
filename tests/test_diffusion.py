"""utils/diffusion.py (chapter 15): schedules, the closed-form forward marginal,
the loss, ancestral sampling with an exact predictor, the time embedding, the U-Net."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import diffusion

RNG = np.random.default_rng(0)
BETAS = diffusion.linear_beta_schedule(50, 1e-4, 0.4)
ABAR = diffusion.alpha_bars(BETAS)


def test_schedule_matches_ho_et_al():
    betas = diffusion.linear_beta_schedule(1000)
    assert betas.shape == (1000,) and betas[0] == 1e-4 and np.isclose(betas[-1], 0.02)
    abar = diffusion.alpha_bars(betas)
    assert np.all(np.diff(abar) < 0) and abar[-1] < 1e-4


@pytest.mark.parametrize("t", [0, 7, 49])
def test_closed_form_marginal_equals_repeated_steps_in_moments(t):
    x0 = np.array([-1.0, 0.0, 0.5, 1.0])
    n = 40_000
    x = np.tile(x0, (n, 1))
    for s in range(t + 1):
        x = diffusion.forward_step(x, BETAS[s], RNG.standard_normal(x.shape))
    direct = diffusion.q_sample(
        np.tile(x0, (n, 1)), t, ABAR, RNG.standard_normal(x.shape)
    )
    se = np.sqrt((1 - ABAR[t]) / n)
    for sample in (x, direct):
        assert np.all(np.abs(sample.mean(0) - np.sqrt(ABAR[t]) * x0) < 5 * se)
        np.testing.assert_allclose(sample.var(0), 1 - ABAR[t], rtol=0.04)


def test_q_sample_per_example_steps_and_tensorflow():
    tf = pytest.importorskip("tensorflow")
    x0 = RNG.uniform(-1, 1, (3, 4, 4, 2))
    noise = RNG.standard_normal(x0.shape)
    t = np.array([0, 10, 49])
    a = tf.gather(ABAR, t)[:, None, None, None]
    expected = (tf.sqrt(a) * x0 + tf.sqrt(1 - a) * noise).numpy()
    np.testing.assert_allclose(diffusion.q_sample(x0, t, ABAR, noise), expected)


def test_loss_is_mean_squared_error():
    keras = pytest.importorskip("keras")
    a, b = RNG.standard_normal((2, 5, 3)), RNG.standard_normal((2, 5, 3))
    np.testing.assert_allclose(
        diffusion.noise_prediction_loss(a, b),
        float(keras.ops.mean(keras.ops.square(a - b))),
        rtol=1e-6,
    )
    assert diffusion.noise_prediction_loss(a, np.zeros_like(a)) == np.mean(a**2)


def test_exact_predictor_samples_a_point_mass():
    # data = one image x0; exact eps is (x_t - sqrt(abar) x0) / sqrt(1-abar)
    x0 = np.array([[0.3, -0.7, 0.9]])

    def exact(x, t):
        return (x - np.sqrt(ABAR[t]) * x0) / np.sqrt(1 - ABAR[t])

    final, snaps = diffusion.ancestral_sample(
        exact, (5, 3), BETAS, np.random.default_rng(1), keep={49, 0}
    )
    np.testing.assert_allclose(final, np.repeat(x0, 5, 0), atol=1e-6)
    assert set(snaps) == {49, 0} and snaps[49].shape == (5, 3)


def test_last_step_adds_no_noise():
    x, eps = RNG.standard_normal((2, 4)), RNG.standard_normal((2, 4))
    a = diffusion.p_sample_step(x, eps, 0, BETAS, RNG.standard_normal((2, 4)))
    b = diffusion.p_sample_step(x, eps, 0, BETAS, RNG.standard_normal((2, 4)))
    np.testing.assert_array_equal(a, b)
    c = diffusion.p_sample_step(x, eps, 3, BETAS, np.ones((2, 4)))
    d = diffusion.p_sample_step(x, eps, 3, BETAS, np.zeros((2, 4)))
    np.testing.assert_allclose(c - d, np.sqrt(BETAS[3]))


def test_respace_keeps_the_ends_and_the_signal_left():
    timesteps, betas = diffusion.respace(ABAR, 10)
    assert timesteps[0] == 0 and timesteps[-1] == 49 and np.all(np.diff(timesteps) > 0)
    np.testing.assert_allclose(diffusion.alpha_bars(betas), ABAR[timesteps], rtol=1e-12)
    same_t, same_betas = diffusion.respace(ABAR, 50)  # all kept: the trained betas
    np.testing.assert_array_equal(same_t, np.arange(50))
    np.testing.assert_allclose(same_betas, BETAS, rtol=1e-10)


def test_respaced_chain_with_the_exact_predictor_lands_on_the_image():
    x0 = np.array([[0.3, -0.7, 0.9]])
    timesteps, betas = diffusion.respace(ABAR, 7)

    def exact(x, i):  # the network is asked at the trained step timesteps[i]
        t = timesteps[i]
        return (x - np.sqrt(ABAR[t]) * x0) / np.sqrt(1 - ABAR[t])

    final, _ = diffusion.ancestral_sample(
        exact, (4, 3), betas, np.random.default_rng(2)
    )
    np.testing.assert_allclose(final, np.repeat(x0, 4, 0), atol=1e-6)


def test_max_abs_normal_bound_is_a_union_bound():
    from math import erfc, sqrt

    for count, rate in [(1, 0.1), (64, 1e-6), (3072, 1e-6), (10**6, 1e-9)]:
        c = diffusion.max_abs_normal_bound(count, rate)
        assert count * erfc(c / sqrt(2)) <= rate  # P(|Z| > c) = erfc(c / sqrt 2)
        assert count * erfc(c / sqrt(2)) > rate / 20  # and not needlessly wide
    assert diffusion.max_abs_normal_bound(3072) > diffusion.max_abs_normal_bound(64)
    z = RNG.standard_normal((200, 3072))  # 200 checks of 3,072 values: none fails
    assert np.all(np.abs(z).max(1) < diffusion.max_abs_normal_bound(3072, 1e-4))


def test_timestep_embedding_values_and_keras_table():
    emb = diffusion.timestep_embedding(np.array([0, 3]), 8)
    assert emb.shape == (2, 8) and emb.dtype == np.float32
    np.testing.assert_allclose(emb[0], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(emb[1, 0], np.sin(3.0), rtol=1e-6)
    np.testing.assert_allclose(emb[1, 5], np.cos(3 * 10_000 ** (-1 / 4)), rtol=1e-6)


@pytest.mark.parametrize("shape, depth", [((8, 8, 1), 2), ((16, 16, 3), 3)])
def test_denoiser_shapes_and_zero_start(shape, depth):
    pytest.importorskip("keras")
    model = diffusion.denoiser(shape, 8, depth, 20)
    x = RNG.standard_normal((2, *shape)).astype(np.float32)
    out = np.asarray(model([x, np.array([0, 19], np.int32)]))
    assert out.shape == (2, *shape)
    assert np.all(out == 0)  # the output convolution starts at zero


def _gradient_op_types(model, inputs):
    """The op types in the traced graph of a training step's gradient."""
    tf = pytest.importorskip("tensorflow")

    @tf.function
    def grads(*args):
        with tf.GradientTape() as tape:
            out = model(list(args) if len(args) > 1 else args[0], training=True)
            loss = tf.reduce_sum(out**2)
        return tape.gradient(loss, model.trainable_variables)

    graph = grads.get_concrete_function(*inputs).graph
    return {op.type for op in graph.get_operations()}


def test_denoiser_gradient_has_no_nondeterministic_gpu_op():
    # TensorFlow refuses ResizeNearestNeighborGrad on a GPU under op determinism (TF
    # pull request 51023), which env.seed_everything turns on: FULL's training would
    # stop there. Keras's nearest UpSampling2D repeats pixels instead; keep it so.
    pytest.importorskip("keras")
    model = diffusion.denoiser((16, 16, 3), 8, 3, 20)
    x = RNG.standard_normal((2, 16, 16, 3)).astype(np.float32)
    ops = _gradient_op_types(model, [x, np.array([0, 19], np.int32)])
    assert "ResizeNearestNeighborGrad" not in ops and "Conv2DBackpropInput" in ops


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: diffusion.linear_beta_schedule(0), "timesteps"),
        (lambda: diffusion.linear_beta_schedule(10, 0.1, 0.01), "beta_end"),
        (lambda: diffusion.linear_beta_schedule(10, 1e-4, 1.0), "beta_end"),
        (lambda: diffusion.alpha_bars([0.1, 1.5]), r"\(0, 1\)"),
        (lambda: diffusion.alpha_bars(np.ones((2, 2)) * 0.1), "1-D"),
        (lambda: diffusion.forward_step(np.zeros(3), 0.1, np.zeros(4)), "shape"),
        (lambda: diffusion.forward_step(np.zeros(3), 0.0, np.zeros(3)), "beta"),
        (
            lambda: diffusion.q_sample(np.zeros((2, 3)), 50, ABAR, np.zeros((2, 3))),
            "t must",
        ),
        (
            lambda: diffusion.q_sample(np.zeros((2, 3)), 1.5, ABAR, np.zeros((2, 3))),
            "t must",
        ),
        (
            lambda: diffusion.q_sample(np.zeros((2, 3)), 1, ABAR, np.zeros((3, 3))),
            "noise",
        ),
        (lambda: diffusion.noise_prediction_loss(np.zeros(2), np.zeros(3)), "shape"),
        (
            lambda: diffusion.p_sample_step(
                np.zeros(2), np.zeros(2), -1, BETAS, np.zeros(2)
            ),
            "t must",
        ),
        (
            lambda: diffusion.p_sample_step(
                np.zeros(2), np.zeros(3), 1, BETAS, np.zeros(2)
            ),
            "share a shape",
        ),
        (lambda: diffusion.ancestral_sample(lambda x, t: x, (2,), BETAS, 0), "rng"),
        (
            lambda: diffusion.ancestral_sample(
                lambda x, t: x[:1], (2, 2), BETAS, np.random.default_rng(0)
            ),
            "returned shape",
        ),
        (lambda: diffusion.timestep_embedding(np.arange(3), 5), "even"),
        (lambda: diffusion.timestep_embedding(np.array([0.5]), 4), "int array"),
        (lambda: diffusion.denoiser((6, 6, 1), 8, 3, 10), "divisible"),
        (lambda: diffusion.denoiser((8, 8), 8, 2, 10), "image_shape"),
        (lambda: diffusion.respace(ABAR, 1), r"steps must be in \[2, T = 50\]"),
        (lambda: diffusion.respace(ABAR, 51), "steps must be"),
        (lambda: diffusion.respace(BETAS, 10), "abar"),
        (lambda: diffusion.max_abs_normal_bound(0), "count"),
        (lambda: diffusion.max_abs_normal_bound(10, 0.5), "failure_rate"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
