"""Variational autoencoders: the reparameterization trick, the closed-form Gaussian KL,
a likelihood for grey-level pixels and the evidence lower bound (ELBO), in NumPy;
chapter 15 ("Generating images").

A VAE (Kingma and Welling 2013) encodes an image ``x`` into the mean ``mu`` and the log
variance ``logvar`` of a diagonal Gaussian ``q(z|x)``, draws ``z`` from it and decodes
``z`` into a distribution ``p(x|z)`` over images. Training maximises the ELBO

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),

so the loss is its negative: a reconstruction term plus the KL term.

Pixels are grey levels (``k / (L - 1)`` for ``k = 0 .. L - 1``: ``L = 256`` for
CIFAR-10, 17 for scikit-learn's digits), so ``p(x|z)`` is a *discrete* distribution
over the ``L`` levels of each pixel: :func:`discretized_logistic_nll` (the decoder
gives a mean and a log-scale per pixel; Salimans et al. 2017, PixelCNN++, section 2.1).
Its probabilities are at most 1, so ``-log p(x|z) >= 0`` and minus the ELBO is a true
upper bound on ``-log P(x)``, in nats per image or (:func:`bits_per_dim`) in bits per
pixel value, where a model that knows nothing scores ``log2(L)``.
:func:`bernoulli_nll` (binary cross-entropy) is kept to show why it is *not* a
likelihood for grey levels: its value for a perfect reconstruction is the entropy of
the grey levels, not 0 (Loaiza-Ganem and Cunningham 2019). Chapter 15 trains a Keras
VAE with :func:`discretized_logistic_nll_keras` and asserts that Keras and NumPy agree.

Shapes: ``mu``, ``logvar`` and ``eps`` are ``(N, D)`` (``D`` latent dimensions); images
are ``(N, ...)`` with values in [0, 1]. Losses are in nats per image.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, check_finite, check_range, positive_int

_EPS = 1e-7  # keras.backend.epsilon(): the clip before log(probability)


def _latent_pair(mu, logvar) -> tuple[np.ndarray, np.ndarray]:
    mu = as_float(mu, "mu")
    logvar = as_float(logvar, "logvar")
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise ValueError(
            "mu and logvar must both be (N, latent_dim) arrays of the same shape, got "
            f"{mu.shape} and {logvar.shape}; add a batch axis with x[None] for one "
            "example"
        )
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise ValueError("mu and logvar must be finite (no NaN or inf)")
    return mu, logvar


def reparameterize(mu, logvar, eps) -> np.ndarray:
    """A draw ``z = mu + exp(logvar / 2) * eps`` from ``N(mu, diag(exp(logvar)))``.

    ``eps`` holds standard normal noise of the same ``(N, D)`` shape. Writing the
    sample this way moves the randomness into an input, so ``z`` is a differentiable
    function of ``mu`` and ``logvar`` (the reparameterization trick of Kingma and
    Welling 2013, section 2.4). Returns a float array ``(N, D)``. Raises ``ValueError``
    for shapes that differ or are not 2-D, and for non-finite values. Chapter 15.
    """
    mu, logvar = _latent_pair(mu, logvar)
    eps = check_finite(as_float(eps, "eps"), "eps")
    if eps.shape != mu.shape:
        raise ValueError(f"eps must have the shape of mu {mu.shape}, got {eps.shape}")
    return mu + np.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar) -> np.ndarray:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per example, in nats: ``(N,)``.

    The closed form (Kingma and Welling 2013, appendix B) is
    ``0.5 * sum_j (mu_j**2 + sigma_j**2 - log sigma_j**2 - 1)``; it is zero exactly when
    ``mu = 0`` and ``logvar = 0``. Raises ``ValueError`` as :func:`reparameterize`.
    Chapter 15 checks it against a Monte-Carlo estimate.
    """
    mu, logvar = _latent_pair(mu, logvar)
    return 0.5 * np.sum(mu**2 + np.exp(logvar) - logvar - 1.0, axis=1)


def gaussian_kl_monte_carlo(mu, logvar, eps) -> np.ndarray:
    """A Monte-Carlo estimate of :func:`gaussian_kl` from ``S`` draws per example.

    ``eps`` is standard normal noise ``(S, N, D)``; each draw
    ``z = mu + sigma * eps[s]`` contributes ``log q(z) - log p(z)``, and the estimate is
    their mean over ``S``: ``(N,)`` nats. Its error shrinks like ``1/sqrt(S)``. Raises
    ``ValueError`` for a bad ``mu``/``logvar`` or an ``eps`` that is not ``(S, N, D)``.
    Chapter 15.
    """
    mu, logvar = _latent_pair(mu, logvar)
    eps = check_finite(as_float(eps, "eps"), "eps")
    if eps.ndim != 3 or eps.shape[1:] != mu.shape:
        raise ValueError(
            f"eps must be (samples, N, D) = (S, *{mu.shape}), got {eps.shape}"
        )
    z = mu + np.exp(0.5 * logvar) * eps
    # log q(z) - log p(z); the 0.5 * log(2 pi) constants cancel.
    log_q = -0.5 * np.sum(logvar + eps**2, axis=2)
    log_p = -0.5 * np.sum(z**2, axis=2)
    return np.mean(log_q - log_p, axis=0)


def bernoulli_nll(x, probs) -> np.ndarray:
    """Binary cross-entropy summed over pixels, per example, in nats: ``(N,)``.

    The cross-entropy between targets ``x`` and decoder probabilities ``probs`` (same
    shape ``(N, ...)``, both in [0, 1]); ``probs`` is clipped to ``[1e-7, 1 - 1e-7]`` as
    Keras does. It is ``-log p(x|z)`` of a Bernoulli decoder only for *binary* ``x``:
    for grey levels it is not a likelihood, and ``bernoulli_nll(x, x)`` (a perfect
    reconstruction) is the summed binary entropy of the grey levels, not 0 (chapter
    15 measures it; Loaiza-Ganem and Cunningham 2019). Raises ``ValueError`` for shapes
    that differ, values outside [0, 1] or an input without a batch axis. Chapter 15.
    """
    x = as_float(x, "x")
    probs = as_float(probs, "probs")
    if x.shape != probs.shape or x.ndim < 2:
        raise ValueError(
            "x and probs must have the same shape (N, ...) with a batch axis, got "
            f"{x.shape} and {probs.shape}"
        )
    check_range(x, "x", low=0, high=1, hint="scale images to [0, 1] first")
    check_range(
        probs,
        "probs",
        low=0,
        high=1,
        hint="they must be probabilities; for decoder logits apply a sigmoid first",
    )
    p = np.clip(probs, _EPS, 1 - _EPS)
    nll = -(x * np.log(p) + (1 - x) * np.log(1 - p))
    return nll.reshape(len(x), -1).sum(axis=1)


LOG_SCALE_MIN = -7.0  # the floor under log-scales (PixelCNN++'s), in both versions


def _grey_levels(x, levels) -> tuple[np.ndarray, int]:
    """``x`` (float64) and ``levels`` (int) after checking that every value of ``x`` is
    one of the grey levels ``k / (levels - 1)``, ``k = 0 .. levels - 1``."""
    levels = positive_int(levels, "levels")
    if levels < 2:
        raise ValueError(
            f"levels must be >= 2 (pixel values k / (levels - 1)), got {levels}"
        )
    x = check_finite(as_float(x, "x", dtype=np.float64), "x")
    k = x * (levels - 1)
    off = np.abs(k - np.rint(k))
    if x.size and (x.min() < 0 or x.max() > 1 or off.max() > 1e-3):
        raise ValueError(
            f"x must hold grey levels k / {levels - 1} in [0, 1] (k = 0 .. "
            f"{levels - 1}), got values from {x.min():.4g} to {x.max():.4g}, up to "
            f"{off.max():.3g} levels off the grid: scale uint8 images by 1/255 with "
            "levels=256, and do not add noise to x or resize it before this loss"
        )
    return x, levels


def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v)  # log(1 + e^v) without overflow


def _log_level_probs(x, mean, log_scale, levels: int) -> np.ndarray:
    """``log P(x)`` elementwise (broadcast), ``x`` on the grid: the formula of
    :func:`discretized_logistic_nll`."""
    h = 0.5 / (levels - 1)
    s = np.exp(np.maximum(log_scale, LOG_SCALE_MIN))
    a, b = (x + h - mean) / s, (x - h - mean) / s
    k = np.rint(x * (levels - 1))
    low, high = k == 0, k == levels - 1
    return (
        np.where(high, 0.0, -_softplus(-a))  # log sigmoid(a)
        + np.where(low, 0.0, -_softplus(b))  # log sigmoid(-b)
        + np.where(low | high, 0.0, np.log(-np.expm1(-2.0 * h / s)))
    )


def _decoder_outputs(x, mean, log_scale):
    mean = check_finite(as_float(mean, "mean", dtype=np.float64), "mean")
    log_scale = check_finite(
        as_float(log_scale, "log_scale", dtype=np.float64), "log_scale"
    )
    if not x.shape == mean.shape == log_scale.shape or x.ndim < 2:
        raise ValueError(
            "x, mean and log_scale must have the same shape (N, ...) with a batch "
            f"axis, got {x.shape}, {mean.shape} and {log_scale.shape}"
        )
    return mean, log_scale


def discretized_logistic_nll(x, mean, log_scale, levels: int) -> np.ndarray:
    """``-log p(x|z)`` per image in nats, ``(N,)``, for grey-level pixels.

    The decoder gives each pixel value a logistic distribution with location ``mean``
    and scale ``s = exp(log_scale)`` and rounds it to the nearest of ``levels`` grey
    levels ``k / (L - 1)``. Level ``k`` (value ``x``) gets the logistic's mass on its
    bin ``[x - h, x + h]``, ``h = 1 / (2 (L - 1))``; the end levels also get the tails,
    so the ``L`` probabilities of a pixel sum to 1 (:func:`level_probabilities`). With
    the sigmoid as the logistic's CDF, ``a = (x + h - mean) / s``,
    ``b = (x - h - mean) / s`` and ``sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b)
    (1 - exp(-(a - b)))``:

        log P = log sigmoid(a) + log sigmoid(-b) + log(1 - exp(-2h / s))  (0 < k < L-1)
        log P = log sigmoid(a)   (k = 0),        log P = log sigmoid(-b)  (k = L-1)

    Each term is a softplus or ``log(-expm1(-c))`` with ``c > 0``: nothing overflows or
    cancels. The likelihood is PixelCNN++'s (Salimans et al. 2017, section 2.1).

    ``x`` (``(N, ...)``, each value a grey level ``k / (levels - 1)`` in [0, 1]),
    ``mean`` and ``log_scale`` share a shape; ``log_scale`` is first clamped below at
    :data:`LOG_SCALE_MIN`. Returns float64 ``(N,)`` >= 0. Raises ``ValueError`` for
    ``levels`` < 2, an ``x`` off the grid or outside [0, 1], shapes that differ or lack
    a batch axis, and NaN/inf. Chapter 15.
    """
    x, levels = _grey_levels(x, levels)
    mean, log_scale = _decoder_outputs(x, mean, log_scale)
    log_p = _log_level_probs(x, mean, log_scale, levels)
    return -log_p.reshape(len(x), -1).sum(axis=1)


def discretized_logistic_nll_keras(x, mean, log_scale, levels: int):
    """:func:`discretized_logistic_nll` written with ``keras.ops``: a tensor ``(N,)``.

    For training steps (any Keras backend; gradients flow to ``mean`` and
    ``log_scale``). ``x`` must already hold grey levels ``k / (levels - 1)``: a symbolic
    tensor cannot be checked, so the end levels are found by comparing with ``h`` and
    ``1 - h``. Raises ``ValueError`` for ``levels`` < 2. Chapter 15 asserts it equal to
    the NumPy version.
    """
    from keras import ops

    levels = positive_int(levels, "levels")
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    h = 0.5 / (levels - 1)
    s = ops.exp(ops.maximum(log_scale, LOG_SCALE_MIN))
    a, b = (x + h - mean) / s, (x - h - mean) / s
    low, high = x < h, x > 1 - h
    log_p = (
        ops.where(high, 0.0, -ops.softplus(-a))
        + ops.where(low, 0.0, -ops.softplus(b))
        + ops.where(ops.logical_or(low, high), 0.0, ops.log(-ops.expm1(-2 * h / s)))
    )
    return -ops.sum(ops.reshape(log_p, (ops.shape(x)[0], -1)), axis=1)


def level_probabilities(mean, log_scale, levels: int) -> np.ndarray:
    """The probability of each of the ``levels`` grey levels: ``(..., levels)``.

    ``mean`` and ``log_scale`` are arrays of one shape (one logistic per entry), as in
    :func:`discretized_logistic_nll`; entry ``[..., k]`` is ``P(x = k / (levels - 1))``.
    Each row sums to 1 (the check that the likelihood is a distribution). Raises
    ``ValueError`` for ``levels`` < 2, shapes that differ, or NaN/inf. Chapter 15.
    """
    levels = positive_int(levels, "levels")
    grid, levels = _grey_levels(np.linspace(0.0, 1.0, max(levels, 2)), levels)
    mean = check_finite(as_float(mean, "mean", dtype=np.float64), "mean")
    log_scale = check_finite(
        as_float(log_scale, "log_scale", dtype=np.float64), "log_scale"
    )
    if mean.shape != log_scale.shape:
        raise ValueError(
            f"mean and log_scale must share a shape, got {mean.shape} and "
            f"{log_scale.shape}"
        )
    return np.exp(_log_level_probs(grid, mean[..., None], log_scale[..., None], levels))


def negative_elbo(x, mean, log_scale, mu, logvar, levels: int) -> np.ndarray:
    """The VAE loss per example, minus the ELBO, in nats: ``(N,)``.

    ``discretized_logistic_nll(x, mean, log_scale, levels) + gaussian_kl(mu, logvar)``:
    an upper bound on ``-log P(x)``, the probability the model gives the grey-level
    image ``x`` (a true bound because each pixel's probabilities sum to 1). ``x``,
    ``mean`` and ``log_scale`` are ``(N, ...)``, ``mu`` and ``logvar`` ``(N, D)``.
    Raises ``ValueError`` as the two terms do, or when their batch sizes differ.
    Chapter 15.
    """
    recon = discretized_logistic_nll(x, mean, log_scale, levels)
    kl = gaussian_kl(mu, logvar)
    if len(recon) != len(kl):
        raise ValueError(
            f"x has {len(recon)} examples but mu has {len(kl)}: pass the same batch"
        )
    return recon + kl


def bits_per_dim(nats, dims: int):
    """Nats per image as bits per pixel value: ``nats / (dims * ln 2)``.

    ``dims`` is the number of pixel values in one image (``H * W * C``). A model that
    gives each of ``L`` levels the same probability scores ``log2(L)`` bits per
    dimension (8 for 256 levels), which makes the unit comparable across image sizes.
    Returns a float or an array like ``nats``. Raises ``ValueError`` for a non-positive
    ``dims`` or NaN/inf nats. Chapter 15.
    """
    dims = positive_int(dims, "dims")
    value = check_finite(as_float(nats, "nats", dtype=np.float64), "nats")
    out = value / (dims * np.log(2.0))
    return float(out) if out.ndim == 0 else out


def loss_terms_keras(enc, dec, x, eps, levels: int, *, training: bool = False):
    """The two terms of minus the ELBO in Keras: ``(reconstruction, kl)``, each a
    tensor ``(N,)`` of nats.

    ``enc`` and ``dec`` are :func:`encoder` and :func:`decoder`; ``x`` a batch of
    grey-level images ``(N, *image_shape)``; ``eps`` standard normal noise ``(N, D)``
    for the reparameterized code ``z = mu + exp(logvar / 2) * eps`` (zeros give the
    deterministic code ``z = mu`` of a plain autoencoder). The reconstruction is
    :func:`discretized_logistic_nll_keras` at that one ``z``, the KL term the closed
    form of :func:`gaussian_kl`. Chapter 15.
    """
    from keras import ops

    mu, logvar = enc(x, training=training)
    mean, log_scale = dec(mu + ops.exp(0.5 * logvar) * eps, training=training)
    recon = discretized_logistic_nll_keras(x, mean, log_scale, levels)
    kl = 0.5 * ops.sum(mu**2 + ops.exp(logvar) - logvar - 1.0, axis=1)
    return recon, kl


def train_step(enc, dec, levels: int, *, beta: float = 1.0, learning_rate=1e-3):
    """A compiled training step ``step(x, eps) -> mean -ELBO`` of one batch.

    Each call takes one Adam step (``learning_rate``) on ``mean(reconstruction + beta *
    kl)`` (:func:`loss_terms_keras`) for the weights of ``enc`` and ``dec``, and returns
    the batch's mean minus the ELBO (``beta = 1``, whatever ``beta`` trains), a float
    tensor in nats per image. ``beta = 1`` is the VAE; ``beta > 1`` a beta-VAE (Higgins
    et al. 2017); ``beta = 0`` with zero ``eps`` trains a plain autoencoder. Needs the
    TensorFlow backend (``tf.GradientTape``). Raises ``ValueError`` for a negative
    ``beta`` or a non-positive ``learning_rate``. Chapter 15.
    """
    import keras
    import tensorflow as tf
    from keras import ops

    from utils.shapes import real_number

    beta = real_number(beta, "beta", low=0)
    learning_rate = real_number(learning_rate, "learning_rate", low=0, low_open=True)
    optimizer = keras.optimizers.Adam(learning_rate)
    weights = enc.trainable_variables + dec.trainable_variables

    @tf.function
    def step(x, eps):
        with tf.GradientTape() as tape:
            recon, kl = loss_terms_keras(enc, dec, x, eps, levels, training=True)
            loss = ops.mean(recon + beta * kl)
        optimizer.apply(tape.gradient(loss, weights), weights)
        return ops.mean(recon + kl)

    return step


def interpolate(z0, z1, steps: int) -> np.ndarray:
    """``steps`` latent points on the segment from ``z0`` to ``z1``, ends included.

    ``z0`` and ``z1`` are ``(D,)`` vectors; returns ``(steps, D)``. Decoding them shows
    whether the latent space is smooth (chapter 15). Raises ``ValueError`` for vectors
    of different shapes, NaN/inf or ``steps`` < 2.
    """
    z0 = check_finite(as_float(z0, "z0"), "z0")
    z1 = check_finite(as_float(z1, "z1"), "z1")
    if z0.ndim != 1 or z0.shape != z1.shape:
        raise ValueError(
            f"z0 and z1 must be 1-D of the same length, got {z0.shape} and {z1.shape}"
        )
    steps = positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both ends), got {steps}")
    w = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - w) * z0 + w * z1


def _dense_shapes(image_shape, latent_dim, width):
    from utils.shapes import is_int

    shape = tuple(image_shape)
    if not shape or not all(is_int(s) and s > 0 for s in shape):
        raise ValueError(f"image_shape must be positive ints, got {image_shape!r}")
    return shape, positive_int(latent_dim, "latent_dim"), positive_int(width, "width")


def encoder(image_shape, latent_dim: int, width: int, *, name="encoder"):
    """The VAE encoder ``q(z|x)``: images ``(N, *image_shape)`` in [0, 1] to
    ``[mu, logvar]``, each ``(N, latent_dim)``.

    A multilayer perceptron: flatten, two ReLU dense layers of ``width`` units, then two
    linear heads. Raises ``ValueError`` for a bad shape, ``latent_dim`` or ``width``.
    Chapter 15.
    """
    import keras
    from keras import layers

    shape, latent_dim, width = _dense_shapes(image_shape, latent_dim, width)
    x_in = keras.Input(shape, name="image")
    h = layers.Flatten()(x_in)
    for i in range(2):
        h = layers.Dense(width, activation="relu", name=f"hidden{i}")(h)
    mu = layers.Dense(latent_dim, name="mu")(h)
    logvar = layers.Dense(latent_dim, name="logvar")(h)
    return keras.Model(x_in, [mu, logvar], name=name)


def decoder(image_shape, latent_dim: int, width: int, *, name="decoder"):
    """The VAE decoder ``p(x|z)``: latents ``(N, latent_dim)`` to ``[mean, log_scale]``,
    each ``(N, *image_shape)``: one logistic per pixel value, for
    :func:`discretized_logistic_nll`.

    Two ReLU dense layers of ``width`` units, then two linear dense heads with one unit
    per pixel value, reshaped to the image. The mean is in pixel units ([0, 1] for the
    data, but not bounded: a mean below 0 puts most of a pixel's mass on level 0).
    Raises ``ValueError`` as :func:`encoder`. Chapter 15.
    """
    import keras
    from keras import layers

    shape, latent_dim, width = _dense_shapes(image_shape, latent_dim, width)
    z_in = keras.Input((latent_dim,), name="z")
    h = z_in
    for i in range(2):
        h = layers.Dense(width, activation="relu", name=f"hidden{i}")(h)
    heads = [
        layers.Reshape(shape, name=f"{head}_image")(
            layers.Dense(int(np.prod(shape)), name=head)(h)
        )
        for head in ("mean", "log_scale")
    ]
    return keras.Model(z_in, heads, name=name)
