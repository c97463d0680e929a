"""Calibration: does a classifier's confidence match how often it is right?

Chapter 12 ("What the network looks at, and how far to trust it") uses these:

- :func:`reliability_bins`: the numbers behind a reliability diagram (equal-width
  confidence bins, their mean confidence and accuracy);
- :func:`expected_calibration_error` and :func:`maximum_calibration_error` (ECE and
  MCE of Guo, Pleiss, Sun and Weinberger 2017, section 2);
- :func:`brier_score` (no bins) and :func:`plot_reliability` (the diagram);
- :func:`temperature_nll` and :func:`fit_temperature`: temperature scaling, one scalar
  ``T`` that divides the logits, fitted by minimising the negative log-likelihood on a
  validation split (Guo et al. 2017, section 4.2).

Probabilities are ``(N, K)`` rows that sum to 1 (e.g. :func:`utils.nn.softmax` of
logits); labels are ``N`` integer class indices (``(N,)`` or ``(N, 1)``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .losses import sparse_categorical_crossentropy
from .shapes import (
    as_float,
    check_class_indices,
    check_finite,
    check_range,
    positive_int,
    real_number,
)


class ReliabilityBins(NamedTuple):
    """What :func:`reliability_bins` returns (``M`` bins). Chapter 12."""

    edges: np.ndarray  # (M + 1,) bin edges 0, 1/M, ..., 1
    count: np.ndarray  # (M,) int64 predictions per bin
    confidence: np.ndarray  # (M,) mean confidence per bin, nan when empty
    accuracy: np.ndarray  # (M,) fraction correct per bin, nan when empty


def _probs_and_labels(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p = as_float(probs, "probs")
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(
            f"probs must be (N, K) class probabilities with N >= 1 and K >= 2, got "
            f"shape {p.shape}"
        )
    check_range(
        p, "probs", low=0, high=1, hint="for logits apply utils.nn.softmax first"
    )
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "each row of probs must sum to 1 (a softmax output); got row sums from "
            f"{p.sum(axis=1).min():.4g} to {p.sum(axis=1).max():.4g}"
        )
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (p.shape[0],):
        raise ValueError(
            f"labels must be {p.shape[0]} class indices, shape ({p.shape[0]},) or "
            f"({p.shape[0]}, 1), got shape {np.shape(labels)}"
        )
    return p, check_class_indices(y, p.shape[1], "labels")


def reliability_bins(probs, labels, n_bins: int = 15) -> ReliabilityBins:
    """Bin predictions by confidence into ``n_bins`` equal-width bins; chapter 12.

    The confidence of a prediction is its largest probability, ``max_k p_k``; it is
    correct when that class (the first, on ties) is the label. Bin ``m`` (1-based)
    holds confidences in ``((m-1)/M, m/M]``, the first bin also 0 (Guo et al. 2017
    use ``M = 15``). Returns :class:`ReliabilityBins`; empty bins have ``nan`` mean
    confidence and accuracy. Raises ``ValueError`` for probabilities that are not
    ``(N, K)`` rows in [0, 1] summing to 1, labels that do not fit, and a
    non-positive ``n_bins``.
    """
    p, y = _probs_and_labels(probs, labels)
    n_bins = positive_int(n_bins, "n_bins")
    conf = p.max(axis=1).astype(np.float64)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    index = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return ReliabilityBins(edges, count.astype(np.int64), mean_conf, accuracy)


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE: ``sum_m (|B_m| / N) |acc(B_m) - conf(B_m)|``, a float in [0, 1]; ch. 12.

    The gap between accuracy and mean confidence in each equal-width bin of
    :func:`reliability_bins`, weighted by the fraction of predictions in the bin
    (Guo et al. 2017, eq. 3). 0 means perfectly calibrated on these data; the value
    depends on ``n_bins`` and is noisy for small ``N``. Raises as
    :func:`reliability_bins` does. Chapter 12.
    """
    bins = reliability_bins(probs, labels, n_bins)
    full = bins.count > 0
    gaps = np.abs(bins.accuracy[full] - bins.confidence[full])
    return float((bins.count[full] * gaps).sum() / bins.count.sum())


def maximum_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """MCE: the largest ``|acc(B_m) - conf(B_m)|`` over non-empty bins; chapter 12.

    Guo et al. 2017, eq. 5: the worst bin, for settings where no confidence level may
    be badly off. Raises as :func:`reliability_bins` does.
    """
    bins = reliability_bins(probs, labels, n_bins)
    full = bins.count > 0
    return float(np.abs(bins.accuracy[full] - bins.confidence[full]).max())


def temperature_nll(logits, labels, temperature: float) -> float:
    """Mean negative log-likelihood of ``softmax(logits / T)``; chapter 12.

    ``logits`` is ``(N, K)``, ``labels`` ``N`` class indices, ``temperature`` ``T >
    0``. ``T > 1`` softens the probabilities, ``T < 1`` sharpens them; the arg-max,
    and so the accuracy, never changes. Uses
    :func:`utils.losses.sparse_categorical_crossentropy`. Raises ``ValueError`` for a
    non-positive or non-finite ``T``, logits or labels that do not fit, NaN/inf logits,
    and "logits" whose rows are all probabilities (in [0, 1], summing to 1: a softmax
    output passed by mistake, on which temperature scaling means nothing).
    """
    t = real_number(temperature, "temperature", low=0.0, low_open=True)
    z = _logits(logits)
    return float(sparse_categorical_crossentropy(labels, z / t, from_logits=True))


def _logits(logits) -> np.ndarray:
    """``(N, K)`` finite logits that are not softmax probabilities in disguise."""
    z = check_finite(as_float(logits, "logits"), "logits")
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"logits must be a non-empty (N, K) array, got {z.shape}")
    if (
        z.shape[1] >= 2
        and z.min() >= 0
        and z.max() <= 1
        and np.allclose(z.sum(axis=1), 1.0, atol=1e-6)
    ):
        raise ValueError(
            "logits look like probabilities (every row in [0, 1] and summing to 1); "
            "temperature scaling divides logits, so pass the model's outputs before "
            "the softmax (np.log(probs) gives logits up to a constant per row)"
        )
    return z


def fit_temperature(
    logits, labels, *, low: float = 0.05, high: float = 20.0, tol: float = 1e-6
) -> float:
    """The temperature ``T`` in ``[low, high]`` that minimises :func:`temperature_nll`.

    Fit it on a validation split, never on the test set (Guo et al. 2017, section
    4.2). The NLL is a convex function of ``beta = 1/T`` (a log-sum-exp of functions
    linear in ``beta`` minus a linear term), so a golden-section search over ``beta``
    in ``[1/high, 1/low]`` finds the minimum; it stops when the interval is shorter
    than ``tol`` relative to its position. If the minimum lies at a bound, that bound
    is returned: widen the range. Returns a float. Raises ``ValueError`` for bounds
    that are not ``0 < low < high``, a non-positive ``tol``, and logits or labels
    that do not fit. Chapter 12.
    """
    low = real_number(low, "low (smallest temperature)", low=0.0, low_open=True)
    high = real_number(high, "high (largest temperature)", low=low, low_open=True)
    tol = real_number(tol, "tol", low=0.0, low_open=True)
    z = as_float(logits, "logits").astype(np.float64)
    temperature_nll(z, labels, 1.0)  # validates shapes and labels once

    def nll(beta: float) -> float:
        return temperature_nll(z, labels, 1.0 / beta)

    a, b = 1.0 / high, 1.0 / low
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > tol * max(1.0, abs(a)):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(d)
    return float(1.0 / ((a + b) / 2.0))


def brier_score(probs, labels) -> float:
    """The Brier score: the mean over predictions of ``sum_k (p_k - y_k)^2``.

    ``y`` is the one-hot label. A proper scoring rule (Brier 1950): 0 for certain and
    right predictions, 2 for certain and wrong ones; unlike ECE it needs no bins.
    Returns a float in [0, 2]. Chapter 12. Raises ``ValueError`` as
    :func:`reliability_bins`.
    """
    p, y = _probs_and_labels(probs, labels)
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def plot_reliability(ax, probs, labels, *, n_bins: int = 15, title: str | None = None):
    """Draw a reliability diagram on the matplotlib ``ax``; returns the bins.

    Bars give each bin's accuracy; the gap to the bin's mean confidence is drawn on top
    in one colour where the network is over-confident (confidence above accuracy) and
    in another where it is under-confident, as in Guo et al. (2017, figure 1); the
    diagonal is perfect calibration. Empty bins are left out, and so is the legend
    entry of a kind of gap that no bin shows. Returns the
    :class:`ReliabilityBins`. Chapter 12. Raises ``ValueError`` as
    :func:`reliability_bins`.
    """
    bins = reliability_bins(probs, labels, n_bins)
    centres = (bins.edges[:-1] + bins.edges[1:]) / 2
    used = bins.count > 0
    acc, conf, x = bins.accuracy[used], bins.confidence[used], centres[used]
    width = 1 / bins.count.size
    ax.bar(
        x, acc, width=width, color="#0072B2", edgecolor="k", lw=0.5, label="accuracy"
    )
    for over, colour, name in ((True, "#E69F00", "over"), (False, "#009E73", "under")):
        pick = (conf > acc) if over else (conf <= acc)
        if not pick.any():
            continue  # an empty bar set would get a legend entry in the wrong colour
        ax.bar(
            x[pick],
            (conf - acc)[pick],
            bottom=acc[pick],
            width=width,
            color=colour,
            edgecolor="k",
            lw=0.5,
            label=f"gap: {name}-confident",
        )
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max softmax probability)")
    if title:
        ax.set_title(title, fontsize=10)
    return bins
