"""Gradient checking: compare a hand-derived gradient with centered finite differences.

Chapter 5 ("Backpropagation") uses these to test every backward pass of
:mod:`utils.backprop` (which re-exports them, so ``bp.grad_check`` works too):
:func:`numerical_gradient` estimates ``df/dx`` entry by entry, :func:`rel_error`
compares two gradients, :func:`grad_check` does both, on all entries or a random sample.
The recipe and its thresholds follow the CS231n notes ("Gradient checks").
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, check_finite, positive_int, real_number

__all__ = ["rel_error", "numerical_gradient", "grad_check"]


def rel_error(a, b, eps: float = 1e-8) -> float:
    """Largest element-wise relative error ``|a - b| / max(eps, |a| + |b|)`` (chapter
    5).

    The floor ``eps`` keeps entries where both gradients are (almost) zero from dividing
    by zero. In float64 a correct gradient typically gives 1e-7 or less; see chapter 5
    for the thresholds (they follow the CS231n notes). ``a`` and ``b`` are real arrays
    of the same shape (any dtype, compared in float64); returns a Python float (0.0 for
    empty arrays). Raises ``ValueError`` for different shapes, non-real input or NaN/inf
    (a gradient holding NaN is wrong whatever it is compared with).
    """
    a = check_finite(as_float(a, "a", np.float64), "a")
    b = check_finite(as_float(b, "b", np.float64), "b")
    if a.shape != b.shape:
        raise ValueError(
            f"rel_error needs arrays of the same shape, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))


def _scalar(f, x) -> float:
    if not callable(f):
        raise ValueError(f"f must be a function x -> scalar loss, got {f!r}")
    value = f(x)
    if np.ndim(value) != 0:
        raise ValueError(
            "f must return a scalar (the loss), got an array of shape "
            f"{np.shape(value)}; "
            "reduce it, e.g. return np.sum(out * dout) to check a layer with upstream "
            "gradient dout"
        )
    return float(value)


def numerical_gradient(f, x, h: float = 1e-5, *, indices=None) -> np.ndarray:
    """Centered finite differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for each entry
    of ``x``.

    ``f`` maps an array shaped like ``x`` to a scalar. ``x`` is perturbed in place and
    restored, so ``f`` sees the caller's array. ``indices`` (a list of index tuples)
    limits the work to a sample of entries; the others stay 0 in the result. The
    arithmetic happens in ``x``'s dtype, so float32 input shows how low precision ruins
    the estimate (chapter 5). Returns float64 of ``x``'s shape (integers and float16 are
    first converted, so ``f`` then sees a float copy). Raises ``ValueError`` for a
    non-callable ``f``, an ``f`` that does not return a scalar, a step ``h`` that is not
    a positive number, or a non-real ``x``. Chapter 5.
    """
    x = as_float(x, "x")
    real_number(h, "step h", low=0, low_open=True)
    grad = np.zeros(x.shape, dtype=np.float64)
    todo = np.ndindex(x.shape) if indices is None else indices
    for idx in todo:
        old = x[idx]
        x[idx] = old + h
        f_plus = _scalar(f, x)
        x[idx] = old - h
        f_minus = _scalar(f, x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def grad_check(
    f,
    x,
    analytic_grad,
    *,
    h: float = 1e-5,
    num_checks: int | None = None,
    seed: int = 0,
) -> float:
    """Relative error between ``analytic_grad`` and a centered-difference estimate of
    ``df/dx``.

    ``x`` must be float64 (float32 keeps only ~7 digits, and the difference of two
    nearly equal losses loses most of them). With ``num_checks`` only that many randomly
    chosen entries are compared, which keeps checks of big tensors fast. Returns
    :func:`rel_error` over the checked entries. Chapter 5 explains the thresholds.
    Raises ``ValueError`` for a non-float64 (float32/float16) ``x``, a gradient of
    another shape, an ``f`` that is not callable or does not return a scalar, or a
    ``num_checks`` that is not a positive int or None.
    """
    x = as_float(x, "x")
    if x.dtype != np.float64:
        raise ValueError(
            f"grad_check needs float64 input, got {x.dtype}: centered differences "
            "subtract two nearly "
            "equal losses, and in float32 that leaves too few correct digits; use "
            "x.astype(np.float64)"
        )
    analytic_grad = np.asarray(analytic_grad, dtype=np.float64)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad has shape {analytic_grad.shape} but x has shape {x.shape}; "
            "they must match"
        )
    if num_checks is None:
        numeric = numerical_gradient(f, x, h)
        return rel_error(analytic_grad, numeric)
    num_checks = positive_int(num_checks, "num_checks (or None for every entry)")
    rng = np.random.default_rng(seed)
    flat = rng.choice(x.size, size=min(num_checks, x.size), replace=False)
    indices = [np.unravel_index(i, x.shape) for i in flat]
    numeric = numerical_gradient(f, x, h, indices=indices)
    picked = tuple(np.array(axis) for axis in zip(*indices))
    return rel_error(analytic_grad[picked], numeric[picked])
