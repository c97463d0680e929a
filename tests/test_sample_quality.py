"""utils/sample_quality.py (chapter 15): the Fréchet distance on Gaussians with known
answers, the classifier confidence and the class spread."""

import numpy as np
import pytest
from scipy import linalg

from utils import sample_quality as sq

RNG = np.random.default_rng(0)


def random_cov(f, rng):
    m = rng.standard_normal((f + 3, f))
    return m.T @ m / (f + 3) + 0.05 * np.eye(f)


def test_one_dimension_closed_form():
    d = sq.frechet_distance([1.0], [[9.0]], [3.0], [[1.0]])
    np.testing.assert_allclose(d, (1 - 3) ** 2 + (3 - 1) ** 2)


def test_commuting_diagonal_covariances():
    a, b = np.array([1.0, 2.0, 5.0]), np.array([4.0, 2.0, 0.5])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    np.testing.assert_allclose(
        sq.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected
    )


@pytest.mark.parametrize("f", [2, 5, 16])
def test_general_covariances_equal_scipy_sqrtm(f):
    c1, c2 = random_cov(f, RNG), random_cov(f, RNG)
    mu1, mu2 = RNG.standard_normal(f), RNG.standard_normal(f)
    ref = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    np.testing.assert_allclose(sq.frechet_distance(mu1, c1, mu2, c2), ref, rtol=1e-7)


def test_identical_gaussians_give_zero_and_symmetry():
    c = random_cov(6, RNG)
    mu = RNG.standard_normal(6)
    assert sq.frechet_distance(mu, c, mu, c) == pytest.approx(0, abs=1e-9)
    c2 = random_cov(6, RNG)
    np.testing.assert_allclose(
        sq.frechet_distance(mu, c, -mu, c2), sq.frechet_distance(-mu, c2, mu, c)
    )


def test_singular_covariance_is_tolerated():
    c = np.diag([1.0, 0.0])
    np.testing.assert_allclose(sq.frechet_distance(np.zeros(2), c, np.zeros(2), c), 0)


def test_fit_then_distance_recovers_the_true_distance():
    f = 3
    c1, c2 = random_cov(f, RNG), random_cov(f, RNG)
    mu1, mu2 = np.zeros(f), np.ones(f)
    truth = sq.frechet_distance(mu1, c1, mu2, c2)
    s1 = RNG.multivariate_normal(mu1, c1, 200_000)
    s2 = RNG.multivariate_normal(mu2, c2, 200_000)
    est = sq.frechet_distance(*sq.gaussian_fit(s1), *sq.gaussian_fit(s2))
    np.testing.assert_allclose(est, truth, rtol=0.02)


def test_gaussian_fit_shapes():
    mu, cov = sq.gaussian_fit(RNG.standard_normal((10, 1)))
    assert mu.shape == (1,) and cov.shape == (1, 1)


def test_confidence_and_spread():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    np.testing.assert_allclose(sq.classifier_confidence(probs), (0.9 + 0.5 + 0.8) / 3)
    assert sq.class_spread(np.arange(10), 10) == pytest.approx(1.0)
    assert sq.class_spread(np.zeros(7, int), 10) == 0.0
    half = sq.class_spread(np.array([0, 1] * 5), 4)  # two of four classes, evenly
    np.testing.assert_allclose(half, 0.5)


def test_nearest_neighbour_distances_equal_a_brute_force_search():
    rng = np.random.default_rng(3)
    queries, refs = rng.normal(size=(37, 5)), rng.normal(size=(50, 5))
    brute = np.linalg.norm(queries[:, None] - refs[None], axis=2).min(1)
    np.testing.assert_allclose(
        sq.nearest_neighbour_distances(queries, refs, chunk=8), brute, rtol=1e-9
    )
    copies = sq.nearest_neighbour_distances(refs[[3, 7]], refs)
    np.testing.assert_allclose(copies, 0.0, atol=1e-6)  # a copy sits at distance 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sq.gaussian_fit(np.zeros(5)), r"\(N, F\)"),
        (lambda: sq.gaussian_fit(np.zeros((1, 3))), "N >= 2"),
        (lambda: sq.gaussian_fit([[np.nan, 0], [0, 0]]), "finite"),
        (
            lambda: sq.frechet_distance([0.0], [[1.0]], [0.0, 1.0], np.eye(2)),
            "same length",
        ),
        (lambda: sq.frechet_distance([0.0], np.eye(2), [0.0], [[1.0]]), "cov1"),
        (
            lambda: sq.frechet_distance([0, 0], [[1, 2], [0, 1]], [0, 0], np.eye(2)),
            "symmetric",
        ),
        (lambda: sq.frechet_distance([np.nan], [[1.0]], [0.0], [[1.0]]), "finite"),
        (lambda: sq.classifier_confidence([[2.0, -1.0]]), "softmax"),
        (lambda: sq.classifier_confidence(np.ones(3) / 3), r"\(N, classes\)"),
        (lambda: sq.class_spread([0.0, 1.0], 3), "int"),
        (lambda: sq.class_spread([0, 5], 3), r"in \[0, 2\].*from 0 to 5"),
        (lambda: sq.class_spread([], 3), "non-empty"),
        (lambda: sq.class_spread([0], 1), "n_classes"),
        (
            lambda: sq.nearest_neighbour_distances(np.zeros((2, 3)), np.zeros((2, 4))),
            "same F",
        ),
        (
            lambda: sq.nearest_neighbour_distances(np.zeros((0, 3)), np.zeros((2, 3))),
            "not be empty",
        ),
        (
            lambda: sq.nearest_neighbour_distances(
                np.zeros((1, 3)), np.zeros((2, 3)), chunk=0
            ),
            "chunk",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
