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


def test_bernoulli_nll_and_elbo_against_keras():
    keras = pytest.importorskip("keras")
    x = RNG.uniform(size=(6, 4, 4, 1)).astype(np.float32)
    probs = RNG.uniform(0.01, 0.99, size=x.shape).astype(np.float32)
    per_pixel = keras.ops.convert_to_numpy(keras.ops.binary_crossentropy(x, probs))
    np.testing.assert_allclose(
        vae.bernoulli_nll(x, probs), per_pixel.reshape(6, -1).sum(1), rtol=1e-5
    )
    mu, logvar = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2))
    np.testing.assert_allclose(
        vae.negative_elbo(x, probs, mu, logvar),
        vae.bernoulli_nll(x, probs) + vae.gaussian_kl(mu, logvar),
    )


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
    out = np.asarray(dec(np.zeros((3, 2), np.float32)))
    assert out.shape == (3, 8, 8, 1) and np.all((out > 0) & (out < 1))


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
                np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 1)), np.zeros((3, 1))
            ),
            "same batch",
        ),
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
