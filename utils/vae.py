"""Variational autoencoders: the reparameterization trick, the closed-form Gaussian KL
and the evidence lower bound (ELBO), in NumPy; chapter 15 ("Generating images").

A VAE (Kingma and Welling 2013) encodes an image ``x`` into the mean ``mu`` and the log
variance ``logvar`` of a diagonal Gaussian ``q(z|x)``, draws ``z`` from it and decodes
``z`` into pixel probabilities. Training maximises the ELBO

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),

so the loss is its negative: a reconstruction term (binary cross-entropy summed over
pixels, i.e. a Bernoulli decoder) plus the KL term. Chapter 15 trains a Keras VAE with
this loss and asserts that Keras and these functions agree.

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
    """``-log p(x|z)`` of a Bernoulli decoder per example, in nats: ``(N,)``.

    The binary cross-entropy between targets ``x`` and decoder probabilities ``probs``
    (same shape ``(N, ...)``, both in [0, 1]), summed over every pixel; ``probs`` is
    clipped to ``[1e-7, 1 - 1e-7]`` as Keras does. Raises ``ValueError`` for shapes that
    differ, values outside [0, 1] or an input without a batch axis. Chapter 15.
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


def negative_elbo(x, probs, mu, logvar) -> np.ndarray:
    """The VAE loss per example: ``bernoulli_nll(x, probs) + gaussian_kl(mu, logvar)``.

    This is minus the ELBO, an upper bound on ``-log p(x)`` in nats; ``(N,)``. ``x`` and
    ``probs`` are ``(N, ...)`` in [0, 1], ``mu`` and ``logvar`` ``(N, D)``. Raises
    ``ValueError`` as the two terms do, or when their batch sizes differ. Chapter 15.
    """
    recon = bernoulli_nll(x, probs)
    kl = gaussian_kl(mu, logvar)
    if len(recon) != len(kl):
        raise ValueError(
            f"x has {len(recon)} examples but mu has {len(kl)}: pass the same batch"
        )
    return recon + kl


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
    """The VAE decoder ``p(x|z)``: latents ``(N, latent_dim)`` to Bernoulli pixel
    probabilities ``(N, *image_shape)``.

    Two ReLU dense layers of ``width`` units, a sigmoid dense layer with one unit per
    pixel value, reshaped to the image. Raises ``ValueError`` as :func:`encoder`.
    Chapter 15.
    """
    import keras
    from keras import layers

    shape, latent_dim, width = _dense_shapes(image_shape, latent_dim, width)
    z_in = keras.Input((latent_dim,), name="z")
    h = z_in
    for i in range(2):
        h = layers.Dense(width, activation="relu", name=f"hidden{i}")(h)
    h = layers.Dense(int(np.prod(shape)), activation="sigmoid", name="pixels")(h)
    return keras.Model(z_in, layers.Reshape(shape)(h), name=name)
