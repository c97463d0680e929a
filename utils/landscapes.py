"""Loss landscapes for optimizers, and a driver that walks an optimizer over them.

Chapter 7 ("Optimizers") runs every optimizer of :mod:`utils.optim` on an
ill-conditioned :func:`quadratic` (where plain gradient descent zig-zags) and on
Rosenbrock's banana (:func:`rosenbrock`, Rosenbrock 1960), recording the path with
:func:`run`. :mod:`utils.optim` re-exports all three (``optim.run``). The curvature of a
real problem is measured with :func:`top_eigenvalues`: the largest eigenvalues of the
inputs' second-moment matrix, which set the stable learning rate of a linear model
(chapter 7, section "Conditioning"; chapter 1 links to it).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from utils.shapes import as_float, positive_int


class Stepper(Protocol):
    """What :func:`run` needs of an optimizer: ``step(params, grads)``, lists of
    arrays, returning the new params. Every :class:`utils.optim.Optimizer` is one; this
    module does not import utils.optim, which imports it. Chapter 7."""

    def step(self, params, grads): ...


__all__ = ["quadratic", "rosenbrock", "run", "top_eigenvalues"]


def quadratic(w, curvatures):
    """``f(w) = 0.5 * sum(c_i * w_i**2)`` and its gradient ``c * w``; minimum 0 at ``w =
    0``.

    The curvatures are the Hessian's eigenvalues; their ratio max/min is the condition
    number that makes gradient descent zig-zag (chapter 7). Works on the last axis of
    ``w``.

    Returns ``(f, grad)``: float arrays of shape ``w.shape[:-1]`` and ``w.shape``.

    Raises ``ValueError`` for a non-real ``w`` or a length that does not match the

    curvatures.

    """
    w, c = as_float(w, "w"), as_float(curvatures, "curvatures", np.float64)
    if w.shape[-1:] != c.shape:
        raise ValueError(
            f"w has {w.shape[-1] if w.ndim else 0} coordinates but there are {c.size} "
            "curvatures"
        )
    return 0.5 * np.sum(c * w * w, axis=-1), c * w


def rosenbrock(w, a=1.0, b=100.0):
    """Rosenbrock's banana ``f(x, y) = (a - x)**2 + b * (y - x**2)**2`` and its
    gradient; minimum 0 at ``(a, a**2)``.

    Returns ``(f, grad)`` with shapes ``w.shape[:-1]`` and ``w.shape``. Raises
    ``ValueError`` unless the last axis holds ``(x, y)`` and ``w`` is real. Chapter 7.
    """
    w = as_float(w, "w")
    if w.shape[-1:] != (2,):
        raise ValueError(
            f"rosenbrock takes points (x, y) on the last axis, got shape {w.shape}"
        )
    x, y = w[..., 0], w[..., 1]
    f = (a - x) ** 2 + b * (y - x * x) ** 2
    grad = np.stack(
        [-2 * (a - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)], axis=-1
    )
    return f, grad


def run(optimizer: Stepper, fn, w0, steps: int, **fn_kwargs):
    """Minimise ``fn`` (returning ``(loss, grad)``) from ``w0`` for ``steps`` steps.

    Returns ``(path, losses)``: the ``steps + 1`` points visited (starting with ``w0``)
    and the loss at each of them. Stops early, padding with ``nan``, if the iterate, the
    loss or the gradient overflows (divergence). ``w0`` is any real array; ``path`` is
    float64 ``(steps + 1, *w0.shape)``, ``losses`` ``(steps + 1,)``. Raises
    ``ValueError`` unless ``steps`` is a non-negative int. Chapter 7.
    """
    steps = positive_int(steps, "steps", allow_zero=True)
    w = np.array(w0, dtype=float)
    path = np.full((steps + 1, *w.shape), np.nan)
    losses = np.full(steps + 1, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            loss, grad = fn(w, **fn_kwargs)
            finite = np.isfinite(loss) and np.all(np.isfinite(w))
            if not (finite and np.all(np.isfinite(grad))):
                break
            path[k], losses[k] = w, loss
            if k < steps:
                optimizer.step([w], [grad])
    return path, losses


def top_eigenvalues(x, k: int = 2, *, iterations: int = 60, seed: int = 0):
    """The ``k`` largest eigenvalues of ``M = x.T @ x / n``, by subspace iteration.

    ``x`` is an ``(n, d)`` real array, one example per row (flattened images). ``M``
    is the inputs' second-moment matrix; for a linear model with a squared loss it is
    the Hessian, so its largest eigenvalue caps the stable gradient-descent step at
    ``2 / lambda_max`` (chapter 7). Subspace (block power) iteration multiplies ``k``
    random vectors by ``M`` ``iterations`` times, re-orthonormalising them with a QR
    decomposition, and then solves the small ``k x k`` problem (Rayleigh-Ritz); ``M``
    itself (``d x d``) is never formed. It converges fast when ``lambda_k`` is well
    separated from ``lambda_{k+1}``.

    Returns a float64 array of shape ``(k,)``, largest first. ``seed`` fixes the random
    start. Raises ``ValueError`` unless ``x`` is a 2-D array of finite real numbers with
    at least one row, ``1 <= k <= d``, and ``iterations`` is a positive int.
    Chapter 7.
    """
    x = as_float(x, "x", np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"x must be a 2-D array (n examples, d features) with n >= 1, got shape "
            f"{x.shape}; flatten images first (x.reshape(len(x), -1))"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds NaN or infinite values")
    k = positive_int(k, "k")
    if k > x.shape[1]:
        raise ValueError(
            f"k must be at most the number of features {x.shape[1]}, got {k}"
        )
    iterations = positive_int(iterations, "iterations")
    q = np.random.default_rng(seed).normal(size=(x.shape[1], k))
    for _ in range(iterations):
        q, _ = np.linalg.qr(x.T @ (x @ q) / len(x))
    small = q.T @ (x.T @ (x @ q)) / len(x)  # M restricted to the subspace: k x k
    return np.sort(np.linalg.eigvalsh(small))[::-1]
