"""GAN losses in NumPy, from the discriminator's logits; chapter 15 ("Generating
images").

A generator ``G`` maps noise ``z`` to images and a discriminator ``D`` outputs a logit
``l``, with ``D(x) = sigmoid(l)`` the probability that ``x`` is real. Goodfellow et al.
(2014) set up the two-player game

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].

- :func:`discriminator_loss`: ``D``'s side, a binary cross-entropy with real = 1 and
  fake = 0;
- :func:`generator_loss_minimax`: ``G``'s side of that game, ``E[log(1 - D(G(z)))]``;
- :func:`generator_loss_non_saturating`: the replacement the same paper recommends,
  ``-E[log D(G(z))]``, which has the same fixed point but strong gradients exactly
  when ``D`` rejects the fakes;
- :func:`generator_logit_gradient`: the derivative of either generator loss with
  respect to each fake logit, which shows the difference;
- :func:`alternating_steps`: the training steps of Algorithm 1 (TensorFlow), and
  :func:`dcgan_generator`, :func:`dcgan_discriminator`: the networks (Keras).

Each loss is written with :func:`utils.losses.softplus`
(``-log sigmoid(l) = softplus(-l)``, ``-log(1 - sigmoid(l)) = softplus(l)``), so large
logits never overflow. Logits are float arrays of any shape; a loss is their mean
(a float). Chapter 15 asserts these equal Keras's
``BinaryCrossentropy(from_logits=True)``.
"""

from __future__ import annotations

import numpy as np

from utils.losses import softplus
from utils.nn import sigmoid
from utils.shapes import as_float

GENERATOR_LOSSES = ("minimax", "non_saturating")


def _logits(values, name: str) -> np.ndarray:
    values = as_float(values, name)
    if values.size == 0:
        raise ValueError(f"{name} is empty: pass at least one logit")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} must be finite (no NaN or inf); check the model")
    return values


def discriminator_loss(real_logits, fake_logits) -> float:
    """``-E[log D(x)] - E[log(1 - D(G(z)))]``: the discriminator's binary cross-entropy.

    ``real_logits`` are ``D``'s logits on real images, ``fake_logits`` on generated
    ones (any shapes); each term is a mean, so the result is a float in nats,
    ``2 log 2`` (about 1.386) when ``D`` outputs 0.5 everywhere. Raises ``ValueError``
    for empty or non-finite logits. Chapter 15.
    """
    real = _logits(real_logits, "real_logits")
    fake = _logits(fake_logits, "fake_logits")
    return float(np.mean(softplus(-real)) + np.mean(softplus(fake)))


def generator_loss_minimax(fake_logits) -> float:
    """``E[log(1 - D(G(z)))] = -E[softplus(l)]``: the generator's side of the minimax
    game (Goodfellow et al. 2014, eq. 1), which ``G`` minimises.

    Always <= 0, and it flattens out when ``D`` confidently rejects the fakes
    (``l`` very negative): see :func:`generator_logit_gradient`. Float, nats. Raises
    ``ValueError`` for empty or non-finite logits. Chapter 15.
    """
    return float(-np.mean(softplus(_logits(fake_logits, "fake_logits"))))


def generator_loss_non_saturating(fake_logits) -> float:
    """``-E[log D(G(z))] = E[softplus(-l)]``: the non-saturating generator loss.

    Goodfellow et al. (2014, section 3) propose it because early in training ``D``
    rejects fakes easily and the minimax loss then gives ``G`` almost no gradient; this
    one is a binary cross-entropy with the fakes labelled "real". Float >= 0, nats.
    Raises ``ValueError`` for empty or non-finite logits. Chapter 15.
    """
    return float(np.mean(softplus(-_logits(fake_logits, "fake_logits"))))


def generator_logit_gradient(fake_logits, loss: str) -> np.ndarray:
    """``dL/dl`` for each fake logit ``l`` (times the batch size, i.e. per example).

    ``loss`` is ``"minimax"``: ``-sigmoid(l)``, which tends to 0 as ``D(G(z))`` -> 0;
    or ``"non_saturating"``: ``-(1 - sigmoid(l))``, which tends to -1 there. Same shape
    as ``fake_logits``. Raises ``ValueError`` for an unknown ``loss`` or bad logits.
    Chapter 15 measures both on a trained discriminator.
    """
    fake = _logits(fake_logits, "fake_logits")
    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}")
    if loss == "minimax":
        return -sigmoid(fake)
    return -(1.0 - sigmoid(fake))


def alternating_steps(
    G, D, *, generator_loss: str = "non_saturating", learning_rate=2e-4, beta_1=0.5
):
    """Goodfellow et al.'s (2014) Algorithm 1 with ``k = 1``, as two compiled steps.

    Returns ``(d_step, g_step)``. ``d_step(x_real, z)`` takes one Adam step on ``D``'s
    binary cross-entropy (real images labelled 1, ``G(z)`` labelled 0; ``G``'s weights
    are not touched) and returns that loss; ``g_step(z)`` then takes one Adam step on
    ``G`` against the *updated* ``D``, with fresh noise, and returns ``G``'s loss:
    ``"non_saturating"`` ``-E[log D(G(z))]`` or ``"minimax"`` ``E[log(1 - D(G(z)))]``
    (:data:`GENERATOR_LOSSES`). Called one after the other per batch, they alternate;
    computing both gradients from one forward pass instead would update the two
    networks simultaneously. Each network has its own Adam (``learning_rate``,
    ``beta_1``; DCGAN's 2e-4 and 0.5). Needs the TensorFlow backend. Raises
    ``ValueError`` for an unknown ``generator_loss`` or a non-positive rate.
    Chapter 15.
    """
    import keras
    import tensorflow as tf

    from utils.shapes import real_number

    if generator_loss not in GENERATOR_LOSSES:
        raise ValueError(
            f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}"
        )
    learning_rate = real_number(learning_rate, "learning_rate", low=0, low_open=True)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    opt_d = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
    opt_g = keras.optimizers.Adam(learning_rate, beta_1=beta_1)

    @tf.function
    def d_step(x_real, z):
        with tf.GradientTape() as tape:
            real = D(x_real, training=True)
            fake = D(G(z, training=True), training=True)
            loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)
        opt_d.apply(tape.gradient(loss, D.trainable_variables), D.trainable_variables)
        return loss

    @tf.function
    def g_step(z):
        with tf.GradientTape() as tape:
            fake = D(G(z, training=True), training=True)
            if generator_loss == "minimax":
                loss = -bce(tf.zeros_like(fake), fake)  # E[log(1 - D(G(z)))]
            else:
                loss = bce(tf.ones_like(fake), fake)  # -E[log D(G(z))]
        opt_g.apply(tape.gradient(loss, G.trainable_variables), G.trainable_variables)
        return loss

    return d_step, g_step


def _image_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(image_shape)
    if (
        len(shape) != 3
        or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)
        or shape[0] != shape[1]
        or shape[0] % 4
    ):
        raise ValueError(
            "image_shape must be (size, size, channels) with size a multiple of 4, "
            f"e.g. (8, 8, 1) or (32, 32, 3); got {image_shape!r}"
        )
    return tuple(int(s) for s in shape)


def dcgan_generator(latent_dim: int, image_shape, width: int, *, name="generator"):
    """A DCGAN generator (Radford et al. 2015): noise ``(N, latent_dim)`` to images
    ``(N, *image_shape)`` in [-1, 1].

    A dense layer makes a ``size/4 x size/4`` map of ``4 * width`` channels; two
    stride-2 transposed convolutions (``2 * width``, then ``width`` channels) double the
    side twice, each followed by batch normalization and ReLU; a 3x3 convolution with
    ``tanh`` gives the image. Returns a ``keras.Model``. Raises
    ``ValueError`` for a non-positive ``latent_dim``/``width`` or an ``image_shape``
    whose side is not a multiple of 4. Chapter 15.
    """
    import keras
    from keras import layers

    from utils.shapes import positive_int

    latent_dim = positive_int(latent_dim, "latent_dim")
    width = positive_int(width, "width")
    size, _, channels = _image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense((size // 4) ** 2 * 4 * width, use_bias=False)(z)
    x = layers.Reshape((size // 4, size // 4, 4 * width))(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for filters in (2 * width, width):
        x = layers.Conv2DTranspose(
            filters, 4, strides=2, padding="same", use_bias=False
        )(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    out = layers.Conv2D(channels, 3, padding="same", activation="tanh")(x)
    return keras.Model(z, out, name=name)


def dcgan_discriminator(image_shape, width: int, *, name="discriminator"):
    """A DCGAN discriminator: images ``(N, *image_shape)`` in [-1, 1] to one logit each.

    Stride-2 4x4 convolutions with LeakyReLU(0.2), ``width * 2**i`` channels for the
    ``i``-th, that halve the side down to 4x4 pixels, as Radford et al.'s networks for
    64x64 images do, and never fewer than two (so 8x8 digits go 8 -> 4 -> 2 and 32x32
    CIFAR-10 images 32 -> 16 -> 8 -> 4); batch normalization on
    all but the first (not on the input layer, as Radford et al. 2015 advise), then
    flatten and a dense logit ``(N, 1)``; no sigmoid, so pair it with the losses above.
    Raises ``ValueError`` as :func:`dcgan_generator`. Chapter 15.
    """
    import keras
    from keras import layers

    from utils.shapes import positive_int

    width = positive_int(width, "width")
    shape = _image_shape(image_shape)
    convs = max(2, int(np.log2(shape[0] // 4)))
    x = x_in = keras.Input(shape, name="image")
    for i in range(convs):
        x = layers.Conv2D(
            width * 2**i, 4, strides=2, padding="same", use_bias=i == 0, name=f"conv{i}"
        )(x)
        if i:
            x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.2)(x)
    out = layers.Dense(1, name="logit")(layers.Flatten()(x))
    return keras.Model(x_in, out, name=name)
