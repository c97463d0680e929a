"""Dropout in NumPy (forward and backward) and the L2 penalty, as Keras applies them.

Chapter 9 ("Normalization, residual connections and regularization", section
"Regularization") writes inverted dropout (Srivastava et al., 2014) and checks it
against ``keras.layers.Dropout``: Keras draws its own random mask, so the chapter
asserts what must hold for any mask (zeros where dropped, ``x / (1 - rate)`` where
kept, the identity at inference, the kept fraction). The L2 penalty is the *coupled*
form of weight decay; the decoupled form lives in the optimizers
(:class:`utils.optim.AdamW`, chapter 7). Bad input raises one ``ValueError`` naming
what to fix.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, check_finite, positive_int, real_number

__all__ = [
    "dropout_forward",
    "dropout_backward",
    "l2_penalty",
    "l2_penalty_grad",
    "build_small_cnn",
]


def _rate(rate) -> float:
    return real_number(rate, "rate", low=0, high=1, high_open=True)


def _mask(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != shape:
        raise ValueError(
            f"mask must be a bool array of shape {shape} (True = kept), got "
            f"{mask.dtype} {mask.shape}"
        )
    return mask


def dropout_forward(x, rate: float, *, training: bool, rng=None, mask=None):
    """Inverted dropout: zero each unit with probability ``rate``, scale the rest up.

    Training: ``y = x * mask / (1 - rate)`` with ``mask`` ~ Bernoulli(``1 - rate``),
    so ``E[y] = x`` and nothing needs rescaling at inference. Inference
    (``training=False``): ``y = x`` and the mask is ``None``. The mask is drawn from
    ``rng`` (a ``numpy.random.Generator``) unless one is passed (``mask``: bool, shape
    of ``x``, ``True`` = kept), which lets a test reuse a known mask. Returns ``(y,
    mask)``; ``y`` has ``x``'s shape and float dtype. Equals ``keras.layers.Dropout
    (rate)`` up to the random draw. Raises ``ValueError`` for a rate outside [0, 1), a
    non-bool ``training``, a missing or wrong ``rng``/``mask`` in training. Chapter 9.
    """
    x = as_float(x, "x")
    rate = _rate(rate)
    if not isinstance(training, bool):
        raise ValueError(f"training must be True or False, got {training!r}")
    if not training:
        return x.copy(), None
    if mask is None:
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                "training-mode dropout needs rng=np.random.default_rng(seed) or an "
                f"explicit mask, got rng={rng!r}"
            )
        mask = rng.random(x.shape) >= rate
    mask = _mask(mask, x.shape)
    return (x * mask / x.dtype.type(1.0 - rate)).astype(x.dtype, copy=False), mask


def dropout_backward(dout, mask, rate: float):
    """Gradient of :func:`dropout_forward`: ``dx = dout * mask / (1 - rate)``.

    A dropped unit passes no gradient; a kept one passes it scaled by the same factor
    as its value. ``mask=None`` (inference) gives ``dx = dout``. Returns ``dx``, shaped
    like ``dout``. Raises ``ValueError`` for a bad rate or a mask that is not a bool
    array of ``dout``'s shape. Chapter 9.
    """
    dout = as_float(dout, "dout")
    rate = _rate(rate)
    if mask is None:
        return dout.copy()
    mask = _mask(mask, dout.shape)
    return (dout * mask / dout.dtype.type(1.0 - rate)).astype(dout.dtype, copy=False)


def _weights(weights) -> list[np.ndarray]:
    if isinstance(weights, np.ndarray):
        weights = [weights]
    if not isinstance(weights, (list, tuple)):
        raise ValueError(
            f"weights must be an array or a list of arrays, got {type(weights)}"
        )
    return [
        check_finite(as_float(w, f"weights[{i}]"), f"weights[{i}]")
        for i, w in enumerate(weights)
    ]


def l2_penalty(weights, l2: float) -> float:
    """``l2 * sum(w ** 2)`` over every array: ``keras.regularizers.L2(l2)``'s loss term.

    Added to the loss, its gradient ``2 * l2 * w`` (:func:`l2_penalty_grad`) is mixed
    into the gradient before the optimizer sees it: coupled weight decay. For plain SGD
    that is a decay of ``2 * lr * l2`` per step; Adam divides it by its running scale,
    which is why AdamW decays the weights separately (chapter 7). ``weights`` is an
    array or a list of arrays. Returns a float. Raises ``ValueError`` for a negative
    ``l2``, or weights that are not real or hold NaN/inf. Chapter 9.
    """
    l2 = real_number(l2, "l2", low=0)
    return float(l2 * sum(np.sum(w.astype(np.float64) ** 2) for w in _weights(weights)))


def l2_penalty_grad(weights, l2: float) -> list[np.ndarray]:
    """Gradient of :func:`l2_penalty`: ``2 * l2 * w`` for each array, as a list.

    Raises ``ValueError`` like :func:`l2_penalty`. Chapter 9.
    """
    l2 = real_number(l2, "l2", low=0)
    return [w * w.dtype.type(2.0 * l2) for w in _weights(weights)]


def build_small_cnn(
    *, image_size: int = 32, width: int = 16, dropout: float = 0.0, l2: float = 0.0
):
    """A small CNN with a wide dense head, easy to overfit on little data; chapter 9.

    ``Conv(width) -> MaxPool -> Conv(2 width) -> MaxPool -> Flatten -> Dense(8 width,
    relu) -> Dense(10)`` (logits), 3x3 'same' convolutions with ReLU. ``dropout`` puts
    a ``keras.layers.Dropout(dropout)`` before each dense layer; ``l2`` puts
    ``keras.regularizers.L2(l2)`` (:func:`l2_penalty`) on every kernel. Input: float
    images ``(image_size, image_size, 3)``, ``image_size`` divisible by 4. Returns an
    uncompiled ``keras.Model``. Raises ``ValueError`` for sizes that are not positive
    ints, an ``image_size`` not divisible by 4, a dropout rate outside [0, 1) or a
    negative ``l2``.
    """
    import keras
    from keras import layers

    image_size = positive_int(image_size, "image_size")
    width = positive_int(width, "width")
    if image_size % 4:
        raise ValueError(f"image_size must be divisible by 4, got {image_size}")
    dropout, l2 = _rate(dropout), real_number(l2, "l2", low=0)
    reg = keras.regularizers.L2(l2) if l2 else None

    def drop(t):
        return layers.Dropout(dropout)(t) if dropout else t

    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = inputs
    for filters in (width, 2 * width):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", kernel_regularizer=reg
        )(x)
        x = layers.MaxPooling2D(2)(x)
    x = drop(layers.Flatten()(x))
    x = layers.Dense(8 * width, activation="relu", kernel_regularizer=reg)(x)
    outputs = layers.Dense(10, kernel_regularizer=reg, name="logits")(drop(x))
    name = f"small_cnn_drop{dropout:g}_l2{l2:g}"
    return keras.Model(inputs, outputs, name=name)
