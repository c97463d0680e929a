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
  (1 = every class equally often, 0 = one class only: a sign of mode collapse);
- :func:`nearest_neighbour_distances`: how far each sample is from the closest
  training example, the check for copies that none of the above makes.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, check_class_indices, check_finite, positive_int

PSD_TOLERANCE = 1e-5  # eigenvalues above -PSD_TOLERANCE * (largest |eigenvalue|) pass


def gaussian_fit(features) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, cov)`` of features ``(N, F)``: the mean ``(F,)`` and the unbiased
    covariance ``(F, F)`` (float64).

    Needs ``N >= 2`` (one sample has no spread) and at least one feature; with ``N <=
    F`` the covariance is singular, which the distance tolerates but which makes it
    noisy, so use many more samples than features. Raises ``ValueError`` for a non-2-D
    input, fewer than 2 rows, no columns, or NaN/inf values. Chapter 15.
    """
    f = as_float(features, "features", dtype=np.float64)
    if f.ndim != 2 or len(f) < 2 or f.shape[1] < 1:
        raise ValueError(
            f"features must be (N, F) with N >= 2 samples and F >= 1 features, got "
            f"shape {f.shape}; a covariance needs at least 2 samples (and should have "
            "many more than F)"
        )
    check_finite(f, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _covariance(c, name: str, f: int) -> np.ndarray:
    """``c`` as a float64 ``(f, f)`` covariance: finite, symmetric, PSD (else raise)."""
    c = as_float(c, name, dtype=np.float64)
    if c.shape != (f, f):
        raise ValueError(f"{name} must be ({f}, {f}) to match mu, got {c.shape}")
    check_finite(c, name)
    if not np.allclose(c, c.T, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(c).max())):
        raise ValueError(f"{name} must be symmetric (a covariance matrix)")
    w = np.linalg.eigvalsh((c + c.T) / 2)
    if w[0] < -PSD_TOLERANCE * max(np.abs(w).max(), np.finfo(float).tiny):
        raise ValueError(
            f"{name} is not positive semi-definite: its smallest eigenvalue is "
            f"{w[0]:.6g} (largest {w[-1]:.6g}), and a covariance has no negative "
            "variance in any direction; compute it with gaussian_fit(features) (a "
            "log-variance or a difference of covariances is not one)"
        )
    return c


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix.

    Eigenvalues that round-off made slightly negative are set to 0 (clipped);
    :func:`_covariance` has already refused any that are truly negative.
    """
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """The squared Fréchet distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``mu`` are ``(F,)``, ``cov`` symmetric positive semi-definite ``(F, F)``. The trace
    of ``(cov1 cov2)^(1/2)`` is computed as the trace of the symmetric matrix
    ``(S1^(1/2) cov2 S1^(1/2))^(1/2)``, which has the same eigenvalues, so no complex
    round-off appears. Returns a float >= 0 (0 for identical Gaussians; in one
    dimension ``(m1 - m2)**2 + (s1 - s2)**2``). Raises ``ValueError`` for mismatched
    or empty shapes, NaN/inf, non-symmetric covariances, and covariances that are not
    positive semi-definite (an eigenvalue below ``-1e-5`` times the largest: never
    clipped away silently). Chapter 15.
    """
    mu1 = check_finite(as_float(mu1, "mu1", dtype=np.float64), "mu1")
    mu2 = check_finite(as_float(mu2, "mu2", dtype=np.float64), "mu2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape or mu1.size == 0:
        raise ValueError(
            f"mu1 and mu2 must be 1-D of the same length >= 1, got {mu1.shape}, "
            f"{mu2.shape}"
        )
    f = len(mu1)
    cov1, cov2 = _covariance(cov1, "cov1", f), _covariance(cov2, "cov2", f)
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
    check_finite(p, "probs")
    sums = p.sum(axis=1)
    if not (np.all(p >= 0) and np.allclose(sums, 1.0, atol=1e-3)):
        raise ValueError(
            "probs must be probabilities (>= 0, rows summing to 1), got values from "
            f"{p.min():.4g} to {p.max():.4g} and row sums from {sums.min():.4g} to "
            f"{sums.max():.4g}; apply a softmax to logits first"
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
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            f"labels must be a non-empty 1-D array of class indices, got shape "
            f"{labels.shape}"
        )
    labels = check_class_indices(labels, n_classes, "labels")
    p = np.bincount(labels, minlength=n_classes) / labels.size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(n_classes)) + 0.0  # never -0.0


def nearest_neighbour_distances(queries, references, *, chunk: int = 256):
    """The Euclidean distance from each row of ``queries`` to its nearest row of
    ``references``: float64 ``(Q,)``.

    ``queries`` is ``(Q, F)`` and ``references`` ``(R, F)`` (features or flattened
    images). Computed as ``|q|^2 + |r|^2 - 2 q.r`` (negative round-off clipped to 0)
    ``chunk`` queries at a time, so memory stays at ``chunk * R`` numbers. A generator
    that copies its training images puts its samples at distance 0 from them; compare
    with the distances of held-out real images, which the model never saw. Raises
    ``ValueError`` for inputs that are not 2-D with the same ``F``, empty inputs,
    NaN/inf, or a bad ``chunk``. Chapter 15.
    """
    q = check_finite(as_float(queries, "queries", dtype=np.float64), "queries")
    r = check_finite(as_float(references, "references", dtype=np.float64), "references")
    if q.ndim != 2 or r.ndim != 2 or q.shape[1] != r.shape[1]:
        raise ValueError(
            "queries and references must be (Q, F) and (R, F) with the same F, got "
            f"{q.shape} and {r.shape}; flatten images with x.reshape(len(x), -1)"
        )
    if not (q.size and r.size):
        raise ValueError(
            f"queries {q.shape} and references {r.shape} must not be empty"
        )
    chunk = positive_int(chunk, "chunk")
    r_sq = np.sum(r**2, axis=1)
    out = np.empty(len(q))
    for i in range(0, len(q), chunk):
        block = q[i : i + chunk]
        d2 = np.sum(block**2, axis=1)[:, None] + r_sq[None, :] - 2.0 * block @ r.T
        out[i : i + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out
