"""Batch, layer and group normalization in NumPy, written to match Keras 3.

Chapter 9 ("Normalization, residual connections and regularization", section "Batch
normalization") derives the forward and backward pass of batch normalization (Ioffe &
Szegedy, 2015), asserts both against ``keras.layers.BatchNormalization`` and
``tf.GradientTape``, and explains the running statistics and the two momentum
conventions; its table of other normalizations checks :func:`layer_norm` and
:func:`group_norm` against ``keras.layers.LayerNormalization`` and
``keras.layers.GroupNormalization``.

All of them compute ``y = gamma * (x - mean) / sqrt(var + eps) + beta``; they differ
only in which axes the mean and the (biased) variance are taken over
(:func:`normalize`). Activations are ``(N, C)`` (dense) or NHWC ``(N, H, W, C)``
(convolutional); ``gamma`` and ``beta`` are per channel, shape ``(C,)``, and ``None``
means Keras' ``scale=False`` (``gamma = 1``) or ``center=False`` (``beta = 0``). The
default ``eps`` is Keras' ``epsilon=1e-3``. Arithmetic happens in ``x``'s float dtype.
Bad input raises one ``ValueError`` naming what to fix: a channels-first batch (the
NHWC check of :func:`utils.shapes.check_nhwc`) and an empty one (a mean over no values
is undefined) are refused; a NaN in ``x`` flows through as in Keras (the package's
layer-primitive rule, :mod:`utils.shapes`), but NaN parameters and running statistics
are refused.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import (
    as_float,
    check_finite,
    check_nhwc,
    check_nonempty,
    is_int,
    positive_int,
    real_number,
)

__all__ = [
    "normalize",
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_inference",
    "update_moving",
    "convert_momentum",
    "layer_norm",
    "group_norm",
    "lr_sweep",
]


def _activations(x, name: str = "x") -> np.ndarray:
    """(N, C) or NHWC (N, H, W, C) float activations, not channels-first, not empty."""
    x = as_float(x, name)
    if x.ndim not in (2, 4):
        raise ValueError(
            f"{name} must be (N, C) dense activations or an NHWC (N, H, W, C) batch, "
            f"got shape {x.shape}"
        )
    if x.ndim == 4:
        check_nhwc(x, name)
    return check_nonempty(
        x,
        name,
        what="example (with at least one channel): a mean over no values is "
        "undefined, and it would turn the running statistics into NaN",
    )


def _eps(eps) -> float:
    return real_number(eps, "eps", low=0, low_open=True)


def _affine(param, channels: int, name: str, default: float, dtype) -> np.ndarray:
    """``gamma``/``beta`` as a ``(C,)`` array; ``None`` gives the constant default."""
    if param is None:
        return np.full(channels, default, dtype=dtype)
    param = as_float(param, name)
    if param.shape != (channels,):
        raise ValueError(
            f"{name} must have shape ({channels},), one value per channel, got "
            f"{param.shape}"
        )
    return check_finite(param, name).astype(dtype, copy=False)


def normalize(x, axes, eps: float = 1e-3):
    """Subtract the mean and divide by ``sqrt(var + eps)`` over ``axes``.

    The shared core of every normalization in chapter 9: ``mean`` and the biased
    variance ``var`` (divided by the count, not count - 1) are taken over ``axes`` and
    kept as size-1 axes so they broadcast. Returns ``(x_hat, mean, var)``; ``x_hat``
    has ``x``'s shape and float dtype. Raises ``ValueError`` for a non-real ``x``, axes
    outside ``x``'s rank, an ``eps`` that is not a positive number, or an empty ``x``.
    Chapter 9.
    """
    x = check_nonempty(as_float(x, "x"), "x", what="value to normalize")
    if is_int(axes):
        axes = (axes,)
    if (
        not isinstance(axes, (tuple, list))
        or not axes
        or not all(is_int(a) and -x.ndim <= a < x.ndim for a in axes)
    ):
        raise ValueError(f"axes must be ints within x's rank {x.ndim}, got {axes!r}")
    axes = tuple(sorted({int(a) % x.ndim for a in axes}))
    eps = _eps(eps)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + x.dtype.type(eps))
    return x_hat, mean, var


def batch_norm_forward(x, gamma=None, beta=None, *, eps: float = 1e-3):
    """Batch normalization in training mode: statistics of this batch, per channel.

    ``mu_c = mean over (n, h, w) of x``, ``var_c`` likewise (biased), ``x_hat = (x -
    mu) / sqrt(var + eps)``, ``y = gamma * x_hat + beta`` (Ioffe & Szegedy, 2015,
    Algorithm 1). ``x`` is ``(N, C)`` or NHWC ``(N, H, W, C)``; the statistics are over
    every axis but the last. Returns ``(y, cache)``: ``y`` like ``x``; ``cache`` a dict
    with ``x_hat``, ``mean`` and ``var`` of shape ``(C,)`` (what the running averages
    are updated with, :func:`update_moving`), ``gamma`` and ``eps`` for
    :func:`batch_norm_backward`. Equals ``keras.layers.BatchNormalization(epsilon=eps)``
    called with ``training=True``. Raises ``ValueError`` for another rank, an empty or
    channels-first batch, ``gamma`` or ``beta`` not of shape ``(C,)`` or with NaN, or
    a bad ``eps``. Chapter 9.
    """
    x = _activations(x)
    c = x.shape[-1]
    gamma = _affine(gamma, c, "gamma", 1.0, x.dtype)
    beta = _affine(beta, c, "beta", 0.0, x.dtype)
    x_hat, mean, var = normalize(x, tuple(range(x.ndim - 1)), eps)
    y = gamma * x_hat + beta
    cache = {
        "x_hat": x_hat,
        "mean": mean.reshape(c),
        "var": var.reshape(c),
        "gamma": gamma,
        "eps": float(eps),
    }
    return y, cache


def batch_norm_backward(dout, cache):
    """Gradients of batch normalization (training mode) from the upstream ``dout``.

    With ``m`` values per channel, ``g = dout * gamma`` and sums over all axes but the
    last:

    ``dx = (m g - sum(g) - x_hat sum(g x_hat)) / (m sqrt(var + eps))``,
    ``dgamma = sum(dout x_hat)``, ``dbeta = sum(dout)``.

    The two subtracted sums are the paths through the batch mean and variance: every
    input moves every output of its channel. ``dout`` has the shape of the forward
    input; ``cache`` is from :func:`batch_norm_forward`. Returns ``(dx, dgamma,
    dbeta)`` with shapes ``x``, ``(C,)``, ``(C,)``. Raises ``ValueError`` for a
    ``dout`` of another shape or a cache that is not one. Chapter 9.
    """
    if not isinstance(cache, dict) or not {"x_hat", "var", "gamma", "eps"} <= set(
        cache
    ):
        raise ValueError("cache must be the dict returned by batch_norm_forward")
    x_hat = cache["x_hat"]
    dout = as_float(dout, "dout")
    if dout.shape != x_hat.shape:
        raise ValueError(
            f"dout has shape {dout.shape} but the forward input had {x_hat.shape}"
        )
    axes = tuple(range(x_hat.ndim - 1))
    m = x_hat.size // x_hat.shape[-1]
    g = dout * cache["gamma"]
    inv_std = 1.0 / np.sqrt(cache["var"] + cache["eps"])
    dx = (m * g - g.sum(axis=axes) - x_hat * (g * x_hat).sum(axis=axes)) * (inv_std / m)
    return (
        dx.astype(x_hat.dtype, copy=False),
        (dout * x_hat).sum(axis=axes),
        dout.sum(axis=axes),
    )


def batch_norm_inference(
    x, moving_mean, moving_var, gamma=None, beta=None, *, eps: float = 1e-3
):
    """Batch normalization in inference mode: the stored running statistics.

    ``y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta``, a fixed
    per-channel affine map, so each example's output no longer depends on the rest of
    its batch. Equals ``keras.layers.BatchNormalization`` called with
    ``training=False``. ``moving_mean``/``moving_var`` are ``(C,)``; shapes otherwise as
    :func:`batch_norm_forward`. Raises ``ValueError`` for wrong shapes, a negative
    variance or a bad ``eps``. Chapter 9.
    """
    x = _activations(x)
    c = x.shape[-1]
    mean = _affine(moving_mean, c, "moving_mean", 0.0, x.dtype)
    var = _affine(moving_var, c, "moving_var", 1.0, x.dtype)
    if np.any(var < 0):
        raise ValueError("moving_var must be >= 0 (it is a variance)")
    gamma = _affine(gamma, c, "gamma", 1.0, x.dtype)
    beta = _affine(beta, c, "beta", 0.0, x.dtype)
    return gamma * (x - mean) / np.sqrt(var + x.dtype.type(_eps(eps))) + beta


def _momentum(momentum) -> float:
    return real_number(momentum, "momentum", low=0, high=1)


def update_moving(moving, batch_value, momentum: float = 0.99, *, convention="keras"):
    """One update of a running (moving) statistic, in either library's convention.

    ``convention="keras"``: ``momentum`` weighs the old value,
    ``moving * momentum + batch_value * (1 - momentum)`` (Keras' default 0.99).
    ``convention="torch"``: ``momentum`` weighs the new batch statistic,
    ``moving * (1 - momentum) + batch_value * momentum`` (PyTorch's default 0.1). So
    Keras ``m`` is PyTorch ``1 - m`` (:func:`convert_momentum`). ``moving`` and
    ``batch_value`` are arrays of the same shape; returns a new float array. Raises
    ``ValueError`` for a momentum outside [0, 1], an unknown convention, shapes that
    differ, or NaN/inf (one NaN would stay in the running value for good). Chapter 9
    (chapter 10 uses the torch form).
    """
    momentum = _momentum(momentum)
    if convention not in ("keras", "torch"):
        raise ValueError(f"convention must be 'keras' or 'torch', got {convention!r}")
    moving, batch_value = _statistic(moving, "moving"), _statistic(batch_value)
    if moving.shape != batch_value.shape:
        raise ValueError(
            f"moving {moving.shape} and batch_value {batch_value.shape} must have the "
            "same shape"
        )
    keep = momentum if convention == "keras" else 1.0 - momentum
    return moving * keep + batch_value * (1.0 - keep)


def _statistic(value, name: str = "batch_value") -> np.ndarray:
    return check_finite(
        as_float(value, name),
        name,
        hint="a running statistic updated with NaN stays NaN for good; check the "
        "batch it came from (an empty batch gives NaN means)",
    )


def convert_momentum(momentum: float) -> float:
    """The same running-average rule in the other library's convention: ``1 - m``.

    Keras' ``momentum`` is the weight of the old running value, PyTorch's the weight
    of the new batch statistic, so the conversion is its own inverse: Keras 0.99 is
    PyTorch 0.01, and PyTorch's default 0.1 is Keras 0.9. Returns a float. Raises
    ``ValueError`` for a value outside [0, 1]. Chapter 9.
    """
    return 1.0 - _momentum(momentum)


def layer_norm(x, gamma=None, beta=None, *, eps: float = 1e-3):
    """Layer normalization (Ba et al., 2016): statistics per example over the last axis.

    Each row of ``(N, C)`` (or each pixel's channel vector of an NHWC batch) is
    normalized by its own mean and variance, so no statistic crosses examples and
    training and inference are the same computation. ``gamma``/``beta`` are ``(C,)``.
    Equals ``keras.layers.LayerNormalization(epsilon=eps)`` (its default ``axis=-1``).
    Raises ``ValueError`` like :func:`batch_norm_forward`. Chapter 9.
    """
    x = _activations(x)
    c = x.shape[-1]
    gamma = _affine(gamma, c, "gamma", 1.0, x.dtype)
    beta = _affine(beta, c, "beta", 0.0, x.dtype)
    return gamma * normalize(x, -1, eps)[0] + beta


def group_norm(x, groups: int, gamma=None, beta=None, *, eps: float = 1e-3):
    """Group normalization (Wu & He, 2018): per example, over (H, W) and channel groups.

    The ``C`` channels of an NHWC ``x`` are split into ``groups`` consecutive groups of
    ``C / groups``; each example and group is normalized by the mean and variance of
    its ``H * W * C / groups`` values. ``groups=1`` normalizes each example over
    everything (layer normalization over ``(H, W, C)``); ``groups=C`` is instance
    normalization (Ulyanov et al., 2016). ``gamma``/``beta`` are ``(C,)``. Equals
    ``keras.layers.GroupNormalization(groups, epsilon=eps)``. Raises ``ValueError`` for
    a rank other than 4, a ``groups`` that is not a positive int dividing ``C``, or
    as :func:`batch_norm_forward`. Chapter 9.
    """
    x = _activations(x)
    if x.ndim != 4:
        raise ValueError(f"group_norm needs an NHWC batch, got shape {x.shape}")
    n, h, w, c = x.shape
    groups = positive_int(groups, "groups")
    if c % groups:
        raise ValueError(f"groups={groups} must divide the {c} channels")
    gamma = _affine(gamma, c, "gamma", 1.0, x.dtype)
    beta = _affine(beta, c, "beta", 0.0, x.dtype)
    grouped = x.reshape(n, h, w, groups, c // groups)
    x_hat = normalize(grouped, (1, 2, 4), eps)[0].reshape(x.shape)
    return gamma * x_hat + beta


def lr_sweep(model, x, y, learning_rates, *, epochs: int, batch_size: int = 64):
    """Train ``model`` from the same start at each learning rate; the loss per epoch.

    Chapter 9 measures which learning rates a deep plain CNN tolerates with and
    without batch normalization. Before each run the initial weights (and moving
    statistics) are restored and the optimizer state is zeroed, so every rate starts
    from identical conditions, while the traced training step is reused (one
    compilation serves every rate). The optimizer is SGD with momentum 0.9 and the loss
    a sparse softmax cross-entropy on logits. ``x``: float images; ``y``: integer
    labels. Returns ``{learning_rate: [loss after epoch 1, 2, ...]}`` (a diverged run
    reports NaN or inf). Raises ``ValueError`` for an empty list or a rate that is not
    a positive number, or epochs/batch size that are not positive ints.
    """
    import keras

    if not isinstance(learning_rates, (list, tuple)) or not learning_rates:
        raise ValueError(
            f"learning_rates must be a non-empty list, got {learning_rates!r}"
        )
    rates = [
        real_number(lr, "each learning rate", low=0, low_open=True)
        for lr in learning_rates
    ]
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    start = [w.copy() for w in model.get_weights()]
    optimizer = keras.optimizers.SGD(rates[0], momentum=0.9)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    curves = {}
    for lr in rates:
        model.set_weights(start)
        for variable in optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        optimizer.learning_rate.assign(lr)
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
        curves[lr] = [float(v) for v in history.history["loss"]]
    model.set_weights(start)
    return curves
