"""Spearman's rank correlation, the similarity measure of chapter 12's sanity checks.

:func:`rank_correlation` compares two attribution maps by the ranks of their values
(ties share their average rank), as Adebayo et al. (2018) do in the model-parameter
randomization test. :mod:`utils.attribution` re-exports it, so
``attribution.rank_correlation`` keeps working. This module imports nothing from the
package but :mod:`utils.shapes`.
"""

from __future__ import annotations

import numpy as np

from .shapes import as_float


def _average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given the mean of the ranks they span."""
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    ends = np.r_[starts[1:], len(v)]
    ranks_sorted = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    ranks = np.empty(len(v))
    ranks[order] = ranks_sorted
    return ranks


def rank_correlation(a, b) -> float:
    """Spearman's rank correlation of two maps (flattened); a float in [-1, 1].

    The Pearson correlation of the ranks, ties given their average rank (what
    ``scipy.stats.spearmanr`` computes). Adebayo et al. (2018) compare an explanation
    of the trained network with one of a randomized network this way: a value near 1
    means the map did not change. Returns ``nan`` when either map is constant (for
    example an all-zero Grad-CAM): the correlation is then undefined. Raises
    ``ValueError`` for maps of different sizes, fewer than 2 values, NaN/inf or a
    non-real dtype. Chapter 12.
    """
    x = as_float(a, "a").reshape(-1)
    y = as_float(b, "b").reshape(-1)
    if x.size != y.size:
        raise ValueError(f"a and b must have the same size, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError("rank correlation needs at least 2 values per map")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("a and b must hold finite values (no NaN or inf)")
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    if denom == 0:
        return float("nan")
    return float(np.clip((rx * ry).sum() / denom, -1.0, 1.0))
