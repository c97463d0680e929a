"""utils/vae.py (chapter 15): reparameterization, closed-form KL, ELBO, bad input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import vae

RNG = np.random.default_rng(0)


def test_reparameterize_has_the_requested_moments():
    mu, logvar = np.array([[1.0, -2.0]]), np.log(np.array([[0.25, 4.0]]))
    eps = RNG.standard_normal((200_000, 2))
    z = vae.reparameterize(
        np.repeat(mu, len(eps), 0), np.repeat(logvar, len(eps), 0), eps
    )
    np.testing.assert_allclose(z.mean(0), mu[0], atol=0.02)
    np.testing.assert_allclose(z.std(0), [0.5, 2.0], rtol=0.01)


def test_kl_is_zero_at_the_prior_and_matches_the_one_dimensional_formula():
    assert np.all(vae.gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4))) == 0)
    mu, s2 = 0.7, 2.5  # KL(N(mu, s2) || N(0, 1)) = (mu^2 + s2 - log s2 - 1) / 2
    expected = 0.5 * (mu**2 + s2 - np.log(s2) - 1)
    np.testing.assert_allclose(vae.gaussian_kl([[mu]], [[np.log(s2)]]), [expected])
    assert np.all(
        vae.gaussian_kl(RNG.normal(size=(50, 3)), RNG.normal(size=(50, 3))) > 0
    )


def test_kl_closed_form_equals_monte_carlo():
    mu, logvar = RNG.normal(size=(5, 4)), RNG.normal(0, 0.5, size=(5, 4))
    estimate = vae.gaussian_kl_monte_carlo(
        mu, logvar, RNG.standard_normal((40_000, 5, 4))
    )
    np.testing.assert_allclose(
        estimate, vae.gaussian_kl(mu, logvar), rtol=0.05, atol=0.03
    )


def test_bernoulli_nll_against_keras():
    keras = pytest.importorskip("keras")
    x = RNG.uniform(size=(6, 4, 4, 1)).astype(np.float32)
    probs = RNG.uniform(0.01, 0.99, size=x.shape).astype(np.float32)
    per_pixel = keras.ops.convert_to_numpy(keras.ops.binary_crossentropy(x, probs))
    np.testing.assert_allclose(
        vae.bernoulli_nll(x, probs), per_pixel.reshape(6, -1).sum(1), rtol=1e-5
    )


def test_bernoulli_nll_of_a_perfect_grey_reconstruction_is_the_binary_entropy():
    # why binary cross-entropy is no likelihood for grey levels: its floor is not 0
    x = np.array([[0.0, 1.0, 0.5, 0.25]])
    entropy = -(0.5 * np.log(0.5) * 2 + 0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    np.testing.assert_allclose(vae.bernoulli_nll(x, x), [entropy], rtol=1e-6)


def grey_batch(levels, shape=(5, 4, 4, 3)):
    x = RNG.integers(0, levels, shape) / (levels - 1)
    mean = x + RNG.normal(0, 0.2, shape)
    return x, mean, RNG.normal(-3, 1.5, shape)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_discretized_logistic_equals_a_difference_of_sigmoids(levels):
    x, mean, log_scale = grey_batch(levels, (300, 1))  # 300 one-value images
    h, s = 0.5 / (levels - 1), np.exp(np.maximum(log_scale, vae.LOG_SCALE_MIN))
    cdf = lambda v: 1 / (1 + np.exp(-(v - mean) / s))  # noqa: E731
    k = np.rint(x * (levels - 1))
    p = np.where(
        k == 0, cdf(x + h), np.where(k == levels - 1, 1 - cdf(x - h), 0.0)
    ) + np.where((k > 0) & (k < levels - 1), cdf(x + h) - cdf(x - h), 0.0)
    keep = (p > 1e-9).reshape(len(x), -1).all(1)  # where the naive formula is exact
    assert keep.sum() > 100
    with np.errstate(divide="ignore"):  # p = 0 where the naive formula underflows
        direct = -np.log(p).reshape(len(x), -1).sum(1)
    np.testing.assert_allclose(
        vae.discretized_logistic_nll(x, mean, log_scale, levels)[keep],
        direct[keep],
        rtol=1e-7,
        atol=1e-12,  # the naive 1 - sigmoid loses digits where p is near 1
    )


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_level_probabilities_sum_to_one_and_match_the_nll(levels):
    mean = RNG.normal(0.5, 0.6, (7,))
    log_scale = RNG.normal(-2, 2, (7,))
    probs = vae.level_probabilities(mean, log_scale, levels)
    assert probs.shape == (7, levels) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-9)
    k = RNG.integers(0, levels, 7)
    nll = vae.discretized_logistic_nll(
        (k / (levels - 1))[:, None], mean[:, None], log_scale[:, None], levels
    )
    np.testing.assert_allclose(nll, -np.log(probs[np.arange(7), k]), rtol=1e-9)


def test_far_off_means_stay_finite_and_a_wide_logistic_is_near_uniform():
    x = np.array([[0.0, 1.0, 128 / 255]])
    far = vae.discretized_logistic_nll(x, x + [[40.0, -40.0, 30.0]], -7 * x**0, 256)
    assert np.all(np.isfinite(far)) and far[0] > 1e3
    # a logistic wide enough to be flat over [0, 1], centred: about log(L) per value,
    # the end levels a little more likely (they hold the tails)
    probs = vae.level_probabilities(np.array([0.5]), np.array([6.0]), 256)[0]
    np.testing.assert_allclose(probs[1:-1], probs[1:-1].mean(), rtol=1e-4)
    assert probs[0] > 100 * probs[1] and probs[-1] > 100 * probs[-2]


def test_keras_version_equals_numpy_and_its_gradients_are_finite():
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    x, mean, log_scale = grey_batch(256)
    mean[0, 0, 0, 0] = 50.0  # far off: the unused branches must not give NaN
    log_scale[1, 0, 0, 0] = -20.0  # below the clamp
    x32, m32, s32 = (a.astype(np.float32) for a in (x, mean, log_scale))
    ours = vae.discretized_logistic_nll(x32, m32, s32, 256)
    m_var, s_var = tf.Variable(m32), tf.Variable(s32)
    with tf.GradientTape() as tape:
        theirs = vae.discretized_logistic_nll_keras(x32, m_var, s_var, 256)
        total = tf.reduce_sum(theirs)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs), ours, rtol=1e-5)
    grads = tape.gradient(total, [m_var, s_var])
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_negative_elbo_and_bits_per_dim():
    x, mean, log_scale = grey_batch(17, (6, 2, 2, 1))
    mu, logvar = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2))
    elbo = vae.negative_elbo(x, mean, log_scale, mu, logvar, 17)
    np.testing.assert_allclose(
        elbo,
        vae.discretized_logistic_nll(x, mean, log_scale, 17)
        + vae.gaussian_kl(mu, logvar),
    )
    assert vae.bits_per_dim(4 * np.log(256), 4) == pytest.approx(8.0)
    np.testing.assert_allclose(vae.bits_per_dim(elbo, 4), elbo / (4 * np.log(2)))


def test_keras_loss_terms_equal_numpy_and_the_step_trains():
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    keras.utils.set_random_seed(0)
    x = (RNG.integers(0, 17, (64, 4, 4, 1)) / 16).astype(np.float32)
    enc, dec = vae.encoder((4, 4, 1), 2, 16), vae.decoder((4, 4, 1), 2, 16)
    eps = RNG.standard_normal((64, 2)).astype(np.float32)
    recon, kl = (
        keras.ops.convert_to_numpy(t)
        for t in vae.loss_terms_keras(enc, dec, x, eps, 17)
    )
    mu, logvar = (keras.ops.convert_to_numpy(a) for a in enc(x))
    mean, log_scale = (
        keras.ops.convert_to_numpy(a) for a in dec(mu + np.exp(0.5 * logvar) * eps)
    )
    np.testing.assert_allclose(
        recon + kl,
        vae.negative_elbo(x, mean, log_scale, mu, logvar, 17),
        rtol=1e-4,
    )
    step = vae.train_step(enc, dec, 17, learning_rate=1e-2)
    first = float(step(x, eps))
    np.testing.assert_allclose(first, np.mean(recon + kl), rtol=1e-4)
    for _ in range(30):
        last = float(step(x, eps))
    assert last < first


def test_beta_zero_with_zero_noise_is_an_autoencoder():
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    x = (RNG.integers(0, 17, (32, 4, 4, 1)) / 16).astype(np.float32)
    enc, dec = vae.encoder((4, 4, 1), 2, 8), vae.decoder((4, 4, 1), 2, 8)
    logvar_head = enc.get_layer("logvar")
    before = [w.copy() for w in logvar_head.get_weights()]
    step = vae.train_step(enc, dec, 17, beta=0.0)
    step(x, np.zeros((32, 2), np.float32))
    # neither the reconstruction (z = mu) nor the loss (no KL) reaches logvar
    for w0, w1 in zip(before, logvar_head.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    with pytest.raises(ValueError, match="beta"):
        vae.train_step(enc, dec, 17, beta=-1.0)
    assert keras is not None


def test_nll_is_finite_for_saturated_probabilities():
    x = np.array([[1.0, 0.0]])
    assert np.isfinite(vae.bernoulli_nll(x, np.array([[0.0, 1.0]]))).all()


def test_interpolate_ends_and_midpoint():
    path = vae.interpolate([0.0, 2.0], [4.0, -2.0], 5)
    assert path.shape == (5, 2)
    np.testing.assert_allclose(path[[0, 2, 4]], [[0, 2], [2, 0], [4, -2]])


def test_keras_models_have_the_documented_shapes():
    pytest.importorskip("keras")
    enc, dec = vae.encoder((8, 8, 1), 2, 16), vae.decoder((8, 8, 1), 2, 16)
    mu, logvar = enc(np.zeros((3, 8, 8, 1), np.float32))
    assert tuple(mu.shape) == tuple(logvar.shape) == (3, 2)
    mean, log_scale = dec(np.zeros((3, 2), np.float32))
    assert tuple(mean.shape) == tuple(log_scale.shape) == (3, 8, 8, 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: vae.gaussian_kl(np.zeros(3), np.zeros(3)), "latent_dim"),
        (lambda: vae.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 2))), "same shape"),
        (lambda: vae.gaussian_kl([[np.nan]], [[0.0]]), "finite"),
        (
            lambda: vae.reparameterize(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3)),
            "eps",
        ),
        (
            lambda: vae.gaussian_kl_monte_carlo([[0.0]], [[0.0]], np.zeros((4, 2, 1))),
            "eps",
        ),
        (lambda: vae.bernoulli_nll(np.zeros((2, 3)), np.zeros((2, 4))), "same shape"),
        (
            lambda: vae.bernoulli_nll(np.full((1, 2), 255.0), np.zeros((1, 2))),
            r"\[0, 1\]",
        ),
        (lambda: vae.bernoulli_nll(np.zeros(3), np.zeros(3)), "batch axis"),
        (
            lambda: vae.negative_elbo(
                np.zeros((2, 3)),
                np.zeros((2, 3)),
                np.zeros((2, 3)),
                np.zeros((3, 1)),
                np.zeros((3, 1)),
                17,
            ),
            "same batch",
        ),
        (
            lambda: vae.discretized_logistic_nll(
                np.full((1, 2), 0.5), np.zeros((1, 2)), np.zeros((1, 2)), 256
            ),
            "grey levels k / 255",
        ),
        (
            lambda: vae.discretized_logistic_nll(
                np.full((1, 2), 255.0), np.zeros((1, 2)), np.zeros((1, 2)), 256
            ),
            "scale uint8 images by 1/255",
        ),
        (
            lambda: vae.discretized_logistic_nll(
                np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((1, 2)), 256
            ),
            "same shape",
        ),
        (
            lambda: vae.discretized_logistic_nll(
                np.zeros((1, 2)), np.zeros((1, 2)), np.full((1, 2), np.nan), 256
            ),
            "log_scale",
        ),
        (lambda: vae.discretized_logistic_nll(np.zeros(2), 0, 0, 256), "batch axis"),
        (lambda: vae.level_probabilities(np.zeros(2), np.zeros(2), 1), "levels"),
        (lambda: vae.level_probabilities(np.zeros(2), np.zeros(3), 4), "share"),
        (lambda: vae.bits_per_dim(1.0, 0), "dims"),
        (lambda: vae.interpolate([0.0], [1.0], 1), "steps"),
        (lambda: vae.interpolate([0.0], [1.0, 2.0], 3), "same length"),
        (lambda: vae.gaussian_kl([[True]], [[0.0]]), "bool"),
        (lambda: vae.encoder((8, 0, 1), 2, 16), "image_shape"),
        (lambda: vae.decoder((8, 8, 1), 0, 16), "latent_dim"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
