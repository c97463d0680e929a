"""Denoising diffusion (DDPM) in NumPy, plus the small time-conditioned U-Net that
learns it; chapter 15 ("Generating images").

Ho et al. (2020) corrupt an image ``x_0`` in ``T`` small Gaussian steps,
``x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps``, and train a network
``eps_theta(x_t, t)`` to predict the noise; sampling runs the chain backwards.

- :func:`linear_beta_schedule`, :func:`alpha_bars`: the variance schedule;
- :func:`forward_step`: one noising step; :func:`q_sample`: the closed-form marginal
  ``q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)`` that skips the ``t`` steps;
- :func:`noise_prediction_loss`: the simplified objective ``L_simple``;
- :func:`p_sample_step`, :func:`ancestral_sample`: the reverse (sampling) chain;
  :func:`respace`: a shorter chain over a subset of the trained steps;
- :func:`max_abs_normal_bound`: how far the largest of many standard normal values
  may go, for the per-pixel moment checks;
- :func:`timestep_embedding`: the sinusoidal code of ``t`` the network reads;
- :func:`denoiser`: a Keras U-Net ``(x_t, t) -> eps`` built from :mod:`utils.unet`.

**Indexing.** Arrays are 0-based: ``betas[t]`` for ``t = 0 .. T-1`` is the paper's
``beta_{t+1}``, and ``alpha_bars(betas)[t]`` is the product of ``1 - betas[s]`` over
``s <= t``. So ``q_sample(x0, t, ...)`` is the image after ``t + 1`` noising steps, and
``p_sample_step`` at ``t = 0`` is the last step back to the data (no noise added).
"""

from __future__ import annotations

import numpy as np

from utils.shapes import (
    as_float,
    check_finite,
    check_nonempty,
    check_range,
    is_int,
    positive_int,
    real_number,
)


def linear_beta_schedule(
    timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02
) -> np.ndarray:
    """``timesteps`` noise variances, linear from ``beta_start`` to ``beta_end``.

    Ho et al. (2020) use ``T = 1000`` from 1e-4 to 0.02 for images scaled to [-1, 1].
    Returns float64 ``(timesteps,)``; ``timesteps = 1`` gives ``[beta_start]`` (one
    point of a line: ``beta_end`` is not reached). Raises ``ValueError`` for
    ``timesteps`` < 1 or betas outside (0, 1) or decreasing. Chapter 15.
    """
    timesteps = positive_int(timesteps, "timesteps")
    beta_start = real_number(beta_start, "beta_start", low=0, high=1, low_open=True)
    beta_end = real_number(
        beta_end, "beta_end", low=0, high=1, low_open=True, high_open=True
    )
    if beta_end < beta_start:
        raise ValueError(
            f"beta_end ({beta_end:g}) must be >= beta_start ({beta_start:g})"
        )
    return np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)


def _schedule(values, name: str) -> np.ndarray:
    values = as_float(values, name)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D schedule (T,), got shape {values.shape}"
        )
    return values


def _betas(betas) -> np.ndarray:
    """The noise variances ``beta_t``: 1-D, each in (0, 1), not alpha-bars."""
    betas = _schedule(betas, "betas")
    betas = check_range(
        betas,
        "betas",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        hint="make them with linear_beta_schedule(T)",
    )
    if betas.size > 1 and betas[0] > 0.5 and betas[-1] < betas[0]:
        if np.all(np.diff(betas) <= 0):
            raise ValueError(
                f"betas decrease from {betas[0]:.4g} to {betas[-1]:.4g}, like "
                "alpha-bars (the signal left after each step), not betas (the noise "
                "added per step, small and non-decreasing): pass the betas, e.g. "
                "linear_beta_schedule(T); q_sample is the one that takes alpha-bars"
            )
    return betas


def _alpha_bars(abar) -> np.ndarray:
    """``abar``: 1-D, each in (0, 1], never increasing (``alpha_bars(betas)``)."""
    abar = _schedule(abar, "abar")
    mixed_up = (
        "pass alpha_bars(betas), the running product of (1 - beta), not the betas; "
        "p_sample_step takes betas, q_sample takes alpha-bars"
    )
    abar = check_range(abar, "abar", low=0, high=1, low_open=True, hint=mixed_up)
    rises = np.flatnonzero(np.diff(abar) > 0)
    if rises.size:
        k = int(rises[0])
        raise ValueError(
            f"abar must not increase (it is the signal left after t + 1 steps), but "
            f"abar[{k}] = {abar[k]:.6g} < abar[{k + 1}] = {abar[k + 1]:.6g}"
            + (
                f"; it looks like a beta schedule (from {abar[0]:.3g} up to "
                f"{abar[-1]:.3g}): {mixed_up}"
                if abar[-1] < 0.5
                else ""
            )
        )
    return abar


def _data(x, name: str) -> np.ndarray:
    """A float array without NaN or inf (images, noise, predictions)."""
    return check_finite(as_float(x, name), name)


def alpha_bars(betas) -> np.ndarray:
    """``abar[t] = prod_{s <= t} (1 - betas[s])``: signal left after ``t + 1`` steps.

    Decreasing from ``1 - betas[0]`` towards 0; same shape and float dtype as
    ``betas``. Raises ``ValueError`` for a schedule that is not 1-D or has a beta
    outside (0, 1). Chapter 15.
    """
    return np.cumprod(1.0 - _betas(betas))


def forward_step(x_prev, beta: float, noise) -> np.ndarray:
    """One noising step ``sqrt(1 - beta) x_prev + sqrt(beta) noise``.

    ``x_prev`` and ``noise`` (standard normal) have the same shape, any; ``beta`` in
    (0, 1). Returns the same shape. Raises ``ValueError`` for shapes that differ or
    a bad ``beta``. Chapter 15.
    """
    beta = real_number(beta, "beta", low=0, high=1, low_open=True, high_open=True)
    x_prev = _data(x_prev, "x_prev")
    noise = _data(noise, "noise")
    if x_prev.shape != noise.shape:
        raise ValueError(
            f"noise must have the shape of x_prev {x_prev.shape}, got {noise.shape}"
        )
    return np.sqrt(1.0 - beta) * x_prev + np.sqrt(beta) * noise


def _steps(t, n: int, timesteps: int) -> np.ndarray:
    t = np.asarray(t)
    if t.ndim == 0:
        t = np.full(n, t)
    if t.shape != (n,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"t must be an int or an int array (N,) = ({n},), got {t!r}")
    if t.min() < 0 or t.max() >= timesteps:
        raise ValueError(f"t must lie in [0, {timesteps - 1}] (0-based), got {t!r}")
    return t


def q_sample(x0, t, abar, noise) -> np.ndarray:
    """``x_t = sqrt(abar[t]) x0 + sqrt(1 - abar[t]) noise``: a draw from ``q(x_t|x_0)``.

    ``x0`` and ``noise`` are ``(N, ...)``; ``t`` an int or an int array ``(N,)`` of
    0-based steps; ``abar`` from :func:`alpha_bars` (not the betas, which
    :func:`p_sample_step` takes). Equal in distribution to ``t + 1`` calls of
    :func:`forward_step` (Ho et al. 2020, eq. 4), but in one step. Raises
    ``ValueError`` for mismatched shapes, NaN/inf, ``t`` out of range, or an ``abar``
    that is not a schedule in (0, 1] that never increases (betas passed by mistake).
    Chapter 15.
    """
    x0 = _data(x0, "x0")
    noise = _data(noise, "noise")
    abar = _alpha_bars(abar)
    if x0.shape != noise.shape or x0.ndim < 1:
        raise ValueError(
            f"noise must have the shape of x0 {x0.shape} (N, ...), got {noise.shape}"
        )
    t = _steps(t, len(x0), len(abar))
    a = abar[t].reshape((-1,) + (1,) * (x0.ndim - 1))
    return np.sqrt(a) * x0 + np.sqrt(1.0 - a) * noise


def noise_prediction_loss(noise, noise_pred) -> float:
    """``L_simple = mean ||eps - eps_theta(x_t, t)||^2`` (Ho et al. 2020, eq. 14).

    The mean squared error over every element of two arrays of the same shape; a
    float. A network that always predicts 0 scores about 1 (the variance of the noise).
    Raises ``ValueError`` for shapes that differ, empty arrays or NaN/inf. Chapter 15.
    """
    noise = check_nonempty(_data(noise, "noise"), "noise")
    noise_pred = _data(noise_pred, "noise_pred")
    if noise.shape != noise_pred.shape:
        raise ValueError(
            f"noise {noise.shape} and noise_pred {noise_pred.shape} differ in shape"
        )
    return float(np.mean((noise - noise_pred) ** 2))


def p_sample_step(x_t, eps_pred, t: int, betas, noise) -> np.ndarray:
    """One ancestral sampling step from ``x_t`` to ``x_{t-1}`` (Ho et al. 2020, alg. 2):

        x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) * eps_pred) / sqrt(1 - beta_t)
                  + sigma_t * noise,    sigma_t^2 = beta_t,

    with no noise at the last step (``t == 0``, 0-based). ``x_t``, ``eps_pred`` and
    ``noise`` share a shape; ``t`` is one int for the whole batch; ``betas`` as from
    :func:`linear_beta_schedule` (not alpha-bars). Raises ``ValueError`` for
    mismatched shapes, NaN/inf, ``t`` out of range or a bad schedule. Chapter 15.
    """
    betas = _betas(betas)
    if not is_int(t) or not 0 <= t < len(betas):
        raise ValueError(f"t must be an int in [0, {len(betas) - 1}], got {t!r}")
    x_t = _data(x_t, "x_t")
    eps_pred = _data(eps_pred, "eps_pred")
    noise = _data(noise, "noise")
    if not x_t.shape == eps_pred.shape == noise.shape:
        raise ValueError(
            "x_t, eps_pred and noise must share a shape, got "
            f"{x_t.shape}, {eps_pred.shape} and {noise.shape}"
        )
    beta = betas[t]
    abar = alpha_bars(betas)[t]
    mean = (x_t - beta / np.sqrt(1.0 - abar) * eps_pred) / np.sqrt(1.0 - beta)
    if t == 0:
        return mean
    return mean + np.sqrt(beta) * noise


def ancestral_sample(predict_noise, shape, betas, rng, keep=()):
    """Run the reverse chain from pure noise: returns ``(x_0, snapshots)``.

    ``predict_noise(x_t, t)`` maps a float32 batch of ``shape`` and an int ``t`` to the
    predicted noise (a trained :func:`denoiser`, or any function); ``rng`` is a
    ``numpy.random.Generator`` (the only randomness); ``keep`` lists the 0-based steps
    whose ``x_t`` (before the step) go into ``snapshots``, a dict ``t -> array`` (a
    collection of ints in ``[0, T)``, e.g. ``(T - 1, T // 2, 0)``; one step is
    ``(3,)``). ``len(betas)`` steps of :func:`p_sample_step`. Raises ``ValueError``
    for a bad ``rng``, ``shape`` or ``keep``, and a prediction of the wrong shape or
    with NaN/inf (naming the step). Chapter 15.
    """
    betas = _betas(betas)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. default_rng(0)")
    if not isinstance(shape, (tuple, list)) or not shape:
        raise ValueError(f"shape must be a tuple such as (N, H, W, C), got {shape!r}")
    shape = tuple(positive_int(s, "shape entry") for s in shape)
    keep = _keep(keep, len(betas))
    x = rng.standard_normal(shape).astype(np.float32)
    snapshots = {}
    for t in range(len(betas) - 1, -1, -1):
        if t in keep:
            snapshots[t] = x.copy()
        eps = np.asarray(predict_noise(x, t))
        if eps.shape != x.shape:
            raise ValueError(
                f"predict_noise returned shape {eps.shape}, expected {x.shape}"
            )
        check_finite(
            as_float(eps, "predict_noise's output"),
            f"predict_noise's output at step t={t}",
            hint="the noise model diverged or was fed a broken input",
        )
        x = p_sample_step(x, eps, t, betas, rng.standard_normal(shape)).astype(
            np.float32
        )
    return x, snapshots


def respace(abar, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """A shorter sampling chain: ``steps`` of the ``T`` trained steps, and its betas.

    Returns ``(timesteps, betas)``. ``timesteps`` are ``steps`` ints spread evenly over
    ``0 .. T - 1``, both ends kept; ``betas[i] = 1 - abar[timesteps[i]] /
    abar[timesteps[i - 1]]`` (``1 - abar[timesteps[0]]`` for the first), so that
    ``alpha_bars(betas)`` equals ``abar[timesteps]``: one step of the short chain
    covers the trained steps between two kept ones, with the noise they add together
    (the respacing of Nichol and Dhariwal 2021, section 4). Sampling with these betas,
    calling the network at ``timesteps[i]``, costs ``steps`` network calls instead of
    ``T``; ``steps == T`` gives back the trained betas. ``abar`` as from
    :func:`alpha_bars`. Raises ``ValueError`` for a bad ``abar`` or ``steps`` outside
    ``[2, T]``. Chapter 15.
    """
    abar = _alpha_bars(abar)
    steps = positive_int(steps, "steps")
    if not 2 <= steps <= len(abar):
        raise ValueError(
            f"steps must be in [2, T = {len(abar)}] (the first and the last trained "
            f"step are always kept), got {steps}"
        )
    timesteps = np.rint(np.linspace(0, len(abar) - 1, steps)).astype(np.int64)
    kept = abar[timesteps]
    betas = 1.0 - kept / np.concatenate([[1.0], kept[:-1]])
    return timesteps, betas


def max_abs_normal_bound(count: int, failure_rate: float = 1e-6) -> float:
    """``c = sqrt(2 ln(count / failure_rate))``: ``count`` standard normal values all
    lie in ``[-c, c]``, except with probability at most ``failure_rate``.

    One value leaves ``[-c, c]`` with probability ``2 (1 - Phi(c)) <= exp(-c**2 / 2)``
    (true for ``c >= 0.8``); by the union bound, at least one of ``count`` values does
    with probability at most ``count * exp(-c**2 / 2)``, which is ``failure_rate`` at
    this ``c``. No independence is needed. ``c`` grows slowly with ``count`` (6.0 for
    64 values, 6.6 for 3,072 at ``1e-6``), so a check of every pixel at once keeps
    the same small chance of a false alarm at any image size. Returns a float.
    Raises ``ValueError`` for ``count`` < 1 or a ``failure_rate`` outside (0, 0.1].
    Chapter 15 sizes its per-pixel moment checks with it.
    """
    count = positive_int(count, "count")
    failure_rate = real_number(
        failure_rate, "failure_rate", low=0, high=0.1, low_open=True
    )
    return float(np.sqrt(2.0 * np.log(count / failure_rate)))


def _keep(keep, timesteps: int) -> frozenset:
    """``keep`` as a set of 0-based steps after checking it holds ints in range."""
    if is_int(keep) or isinstance(keep, (str, bytes)) or not hasattr(keep, "__iter__"):
        raise ValueError(
            f"keep must be a collection of steps such as (T - 1, 0), got {keep!r}; "
            f"for one step write ({keep!r},)"
        )
    steps = list(keep)
    bad = [t for t in steps if not is_int(t) or not 0 <= t < timesteps]
    if bad:
        raise ValueError(
            f"keep must hold int steps in [0, {timesteps - 1}] (0-based), got {bad[:5]}"
        )
    return frozenset(int(t) for t in steps)


def timestep_embedding(t, dim: int, max_period: float = 10_000.0) -> np.ndarray:
    """Sinusoidal codes of integer steps ``t``: ``(N,)`` -> float32 ``(N, dim)``.

    The first ``dim / 2`` columns are ``sin(t * f_i)``, the rest ``cos(t * f_i)``, with
    frequencies ``f_i = max_period ** (-i / (dim / 2))`` (the Transformer's position
    code, which Ho et al. 2020 use for ``t``). Raises ``ValueError`` for an odd or
    non-positive ``dim``, a non-positive ``max_period``, or steps that are not
    non-negative ints. Chapter 15.
    """
    dim = positive_int(dim, "dim")
    if dim % 2:
        raise ValueError(f"dim must be even (sin and cos halves), got {dim}")
    max_period = real_number(max_period, "max_period", low=0, low_open=True)
    t = np.asarray(t)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"t must be a 1-D int array of steps, got {t!r}")
    if t.size and t.min() < 0:
        raise ValueError(
            f"t must hold non-negative steps (0-based), got values from {t.min()}"
        )
    half = dim // 2
    freqs = max_period ** (-np.arange(half) / half)
    angles = t[:, None].astype(np.float64) * freqs[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def _time_block(x, temb, width: int, name: str):
    """Add a per-channel offset computed from the step embedding, then a U-Net
    :func:`utils.unet.conv_block` (GroupNorm, swish): how ``t`` enters each level."""
    from keras import layers

    from utils.unet import conv_block

    channels = x.shape[-1]
    shift = layers.Dense(channels, name=f"{name}_t")(temb)
    x = layers.Add(name=f"{name}_add_t")([x, layers.Reshape((1, 1, channels))(shift)])
    return conv_block(x, width, name=name, norm="group", activation="swish")


def denoiser(image_shape, width: int, depth: int, timesteps: int, *, name="denoiser"):
    """A small time-conditioned U-Net ``eps_theta``: ``[x_t, t] -> eps``.

    Inputs: images ``(N, *image_shape)`` and int32 steps ``(N,)``. The step goes through
    a fixed :func:`timestep_embedding` table and two dense layers, and is added as a
    per-channel offset before every :func:`utils.unet.conv_block` (chapter 13's U-Net
    unit, here with GroupNorm and swish). The encoder has ``depth`` levels of widths
    ``width * 2**i`` with 2x2 average pooling between them; the decoder uses
    :func:`utils.unet.upsample` (nearest, then a 3x3 convolution; Keras repeats the
    pixels, whose gradient TensorFlow computes deterministically on a GPU too) and
    concatenates the skip of the same level. The last 3x3 convolution starts at zero,
    so the first prediction is 0 and the loss starts near 1. The image side must be
    divisible by ``2**(depth - 1)``; otherwise, or for non-positive sizes,
    ``ValueError``. Chapter 15.
    """
    import keras
    from keras import layers

    from utils.unet import upsample

    width = positive_int(width, "width")
    depth = positive_int(depth, "depth")
    timesteps = positive_int(timesteps, "timesteps")
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(is_int(s) and s > 0 for s in shape):
        raise ValueError(f"image_shape must be (height, width, channels), got {shape}")
    if shape[0] % 2 ** (depth - 1) or shape[1] % 2 ** (depth - 1):
        raise ValueError(
            f"image side {shape[:2]} must be divisible by 2**(depth-1) = "
            f"{2 ** (depth - 1)}: lower depth"
        )
    x_in = keras.Input(shape, name="x_t")
    t_in = keras.Input((), dtype="int32", name="t")
    table = timestep_embedding(np.arange(timesteps), 4 * width)
    temb = layers.Embedding(
        timesteps,
        4 * width,
        embeddings_initializer=keras.initializers.Constant(table),
        trainable=False,
        name="t_sinusoid",
    )(t_in)
    temb = layers.Dense(4 * width, activation="swish", name="t_dense1")(temb)
    temb = layers.Dense(4 * width, name="t_dense2")(temb)
    h = layers.Conv2D(width, 3, padding="same", name="stem")(x_in)
    skips = []
    for level in range(depth):
        h = _time_block(h, temb, width * 2**level, f"down{level}")
        skips.append(h)
        if level < depth - 1:
            h = layers.AveragePooling2D(2, name=f"pool{level}")(h)
    for level in range(depth - 2, -1, -1):
        h = upsample(h, width * 2**level, name=f"up{level}", mode="nearest")
        h = layers.Concatenate(name=f"skip{level}")([h, skips[level]])
        h = _time_block(h, temb, width * 2**level, f"dec{level}")
    out = layers.Conv2D(
        shape[-1], 3, padding="same", kernel_initializer="zeros", name="eps"
    )(h)
    return keras.Model([x_in, t_in], out, name=name)
