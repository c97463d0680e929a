"""How good is a generated sample? Feature statistics and a classifier's opinion, in
NumPy; chapter 15 ("Generating images").

The Fréchet Inception Distance (FID, Heusel et al. 2017) fits a Gaussian to network
features of real images and another to features of generated ones, and reports the
Fréchet (2-Wasserstein) distance between the two Gaussians:

    d^2 = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)).

FID proper uses Inception-v3 pool features; this book uses the features of a small
classifier it trains itself, so its numbers are *a* Fréchet distance, comparable only
with others computed on the same features and sample sizes, never with published FIDs.

- :func:`gaussian_fit`: mean and covariance of features ``(N, F)``;
- :func:`frechet_distance`: the distance between two fitted Gaussians;
- :func:`classifier_confidence`: the mean top softmax probability of samples;
- :func:`class_spread`: the normalised entropy of the predicted-class histogram
  (1 = every class equally often, 0 = one class only: a sign of mode collapse).
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, positive_int


def gaussian_fit(features) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, cov)`` of features ``(N, F)``: the mean ``(F,)`` and the unbiased
    covariance ``(F, F)`` (float64).

    Needs ``N >= 2``; with ``N <= F`` the covariance is singular, which the distance
    tolerates but which makes it noisy, so use many more samples than features. Raises
    ``ValueError`` for a non-2-D input, fewer than 2 rows, or non-finite values.
    Chapter 15.
    """
    f = as_float(features, "features", dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(
            f"features must be (N, F) with N >= 2 samples, got shape {f.shape}"
        )
    if not np.isfinite(f).all():
        raise ValueError("features must be finite (no NaN or inf)")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """The squared Fréchet distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``mu`` are ``(F,)``, ``cov`` symmetric positive semi-definite ``(F, F)``. The trace
    of ``(cov1 cov2)^(1/2)`` is computed as the trace of the symmetric matrix
    ``(S1^(1/2) cov2 S1^(1/2))^(1/2)``, which has the same eigenvalues, so no complex
    round-off appears. Returns a float >= 0 (0 for identical Gaussians; in one
    dimension ``(m1 - m2)**2 + (s1 - s2)**2``). Raises ``ValueError`` for mismatched
    shapes, non-square or non-symmetric covariances, or non-finite values. Chapter 15.
    """
    mu1 = as_float(mu1, "mu1", dtype=np.float64)
    mu2 = as_float(mu2, "mu2", dtype=np.float64)
    cov1 = as_float(cov1, "cov1", dtype=np.float64)
    cov2 = as_float(cov2, "cov2", dtype=np.float64)
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(
            f"mu1 and mu2 must be 1-D of the same length, got {mu1.shape}, {mu2.shape}"
        )
    f = len(mu1)
    for name, c in (("cov1", cov1), ("cov2", cov2)):
        if c.shape != (f, f):
            raise ValueError(f"{name} must be ({f}, {f}) to match mu, got {c.shape}")
        if not np.isfinite(c).all():
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        if not np.allclose(c, c.T, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(c).max())):
            raise ValueError(f"{name} must be symmetric (a covariance matrix)")
    if not (np.isfinite(mu1).all() and np.isfinite(mu2).all()):
        raise ValueError("mu1 and mu2 must be finite (no NaN or inf)")
    root1 = _sqrt_psd(cov1)
    middle = _sqrt_psd(root1 @ cov2 @ root1)
    d2 = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2)
    return float(max(d2 - 2.0 * np.trace(middle), 0.0))


def _probabilities(probs) -> np.ndarray:
    p = as_float(probs, "probs", dtype=np.float64)
    if p.ndim != 2 or p.size == 0:
        raise ValueError(
            f"probs must be (N, classes) softmax outputs, got shape {p.shape}"
        )
    if not (np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-3)):
        raise ValueError(
            "probs must be probabilities (>= 0, rows summing to 1); apply a softmax "
            "to logits first"
        )
    return p


def classifier_confidence(probs) -> float:
    """The mean over samples of the classifier's top probability, in [1/classes, 1].

    ``probs`` is ``(N, classes)`` softmax output on generated images. High values say
    the classifier recognises *some* class, not that the image is good: a network can
    be confidently wrong on strange inputs. Raises ``ValueError`` for anything that is
    not a 2-D array of probability rows. Chapter 15.
    """
    return float(np.mean(_probabilities(probs).max(axis=1)))


def class_spread(labels, n_classes: int) -> float:
    """Normalised entropy ``H(counts) / log(n_classes)`` of predicted classes: [0, 1].

    ``labels`` are int class indices ``(N,)`` in ``[0, n_classes)``, e.g. the argmax of
    a classifier on generated images. 1 means every class appears equally often, 0 that
    all samples fall in one class. Raises ``ValueError`` for an empty or non-integer
    ``labels``, labels out of range, or ``n_classes`` < 2. Chapter 15.
    """
    n_classes = positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    labels = np.asarray(labels)
    if (
        labels.ndim != 1
        or labels.size == 0
        or not np.issubdtype(labels.dtype, np.integer)
    ):
        raise ValueError(f"labels must be a non-empty 1-D int array, got {labels!r}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes - 1}]")
    p = np.bincount(labels, minlength=n_classes) / labels.size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(n_classes)) + 0.0  # never -0.0
