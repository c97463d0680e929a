"""Vanishing and exploding gradients: how initialisation and activations shape them.

Chapter 5 ("Backpropagation", section "Deep nets") builds plain MLPs out of the layers
of :mod:`utils.backprop` and measures the gradient norm at every layer: with sigmoid
units or badly scaled weights it shrinks (or grows) geometrically with depth; Glorot and
He initialisation keep it steady. This module imports :mod:`utils.backprop`, never the
other way round.
"""

from __future__ import annotations

import numpy as np

from utils.backprop import ACTIVATIONS, dense_backward, dense_forward
from utils.shapes import as_float, check_finite, positive_int

__all__ = ["INITS", "init_weights", "mlp_gradient_norms"]

INITS = ("small", "glorot", "he", "large")


def init_weights(fan_in: int, fan_out: int, scheme: str, rng) -> np.ndarray:
    """Gaussian weights ``(fan_in, fan_out)`` with the standard deviation of ``scheme``.

    ``"small"``: 0.01; ``"glorot"``: ``sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio,
    2010); ``"he"``: ``sqrt(2 / fan_in)`` (He et al., 2015); ``"large"``: 1.0. Returns
    float64 of shape ``(fan_in, fan_out)``. Raises ``ValueError`` for sizes that are not
    positive ints, an unknown scheme, or an ``rng`` that is not a
    ``numpy.random.Generator``. Chapter 5 compares the four.
    """
    fan_in, fan_out = positive_int(fan_in, "fan_in"), positive_int(fan_out, "fan_out")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (np.random.default_rng(seed)), got "
            f"{rng!r}"
        )
    std = {
        "small": 0.01,
        "glorot": np.sqrt(2.0 / (fan_in + fan_out)),
        "he": np.sqrt(2.0 / fan_in),
        "large": 1.0,
    }.get(scheme)
    if std is None:
        raise ValueError(f"init scheme must be one of {INITS}, got {scheme!r}")
    return rng.normal(0.0, std, size=(fan_in, fan_out))


def _check_args(x, depth, activation, of):
    x = as_float(x, "x")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"x must be rank 2 (batch, features) with at least one example, got shape "
            f"{x.shape}"
        )
    check_finite(x, "x")
    depth = positive_int(depth, "depth")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}"
        )
    if of not in ("signal", "weights"):
        raise ValueError(f"of must be 'signal' or 'weights', got {of!r}")
    return x, depth


def mlp_gradient_norms(
    x, depth: int, activation: str, init: str, *, width=None, seed=0, of="signal"
):
    """Per-layer gradient norms of a freshly initialised ``depth``-layer MLP.

    Chapter 5 (vanishing and exploding gradients).

    Builds ``depth`` dense layers of ``width`` units (default: x's width) with
    ``activation`` after each, initialised by ``init`` (see :func:`init_weights`);
    biases are 0. The loss is ``sum(out * g)`` for a fixed random ``g``, so the gradient
    entering the top has a known size and whatever happens on the way down is due to the
    network.

    ``of="signal"`` returns ``||dL/dz_l||``, the error signal at each layer's
    pre-activation ``z_l`` (the quantity that vanishes or explodes); ``of="weights"``
    returns ``||dL/dW_l||``, what an optimizer sees. ``x`` is ``(N, D)``; the result is
    float64 of shape ``(depth,)``, first layer first. Raises ``ValueError`` for a wrong
    rank, a depth or width that is not a positive int, or an unknown activation, init
    scheme or ``of``.
    """
    x, depth = _check_args(x, depth, activation, of)
    width = x.shape[1] if width is None else positive_int(width, "width")
    fwd, bwd = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    caches, h, fan_in = [], x, x.shape[1]
    for _ in range(depth):
        w = init_weights(fan_in, width, init, rng)
        z, dense_cache = dense_forward(h, w, np.zeros(width))
        h, act_cache = fwd(z)
        caches.append((dense_cache, act_cache))
        fan_in = width
    dh = rng.standard_normal(h.shape)
    norms = np.empty(depth)
    for layer in range(depth - 1, -1, -1):
        dense_cache, act_cache = caches[layer]
        dz = bwd(dh, act_cache)
        dh, dw, _ = dense_backward(dz, dense_cache)
        norms[layer] = np.linalg.norm(dz if of == "signal" else dw)
    return norms
