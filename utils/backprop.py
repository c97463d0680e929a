"""Backpropagation by hand: layer backward passes, gradient checks, deep-net gradient
norms.

Chapter 5 ("Backpropagation") explains everything here. Each layer is a pair of
functions:

- ``*_forward(...)`` returns ``(output, cache)``: the output and whatever the backward
  pass needs;
- ``*_backward(dout, cache)`` takes the upstream gradient ``dout`` (dL/d output, the
  same shape as the output) and returns the gradients with respect to the layer's inputs
  and parameters.

Layers: :func:`dense_forward`, :func:`relu_forward`, :func:`sigmoid_forward`,
:func:`tanh_forward`, :func:`conv2d_forward` (forward via :func:`utils.conv.im2col`,
backward via :func:`col2im`), :func:`maxpool_forward` (via :mod:`utils.pool`), and the
fused, numerically stable :func:`softmax_cross_entropy` (its value is
:func:`utils.losses.sparse_categorical_crossentropy`). Checks:
:func:`numerical_gradient` (centered differences), :func:`rel_error` and
:func:`grad_check` live in :mod:`utils.gradcheck` and are re-exported here. Deep nets:
``init_weights`` and ``mlp_gradient_norms`` (vanishing and exploding gradients) live in
:mod:`utils.grad_flow` (which imports this module, never the other way round).

Every function raises a ``ValueError`` that names the problem when shapes, ranks or
dtypes do not fit (for example an upstream gradient whose shape differs from the cached
output).
"""

from __future__ import annotations

import numpy as np

from utils.conv import conv2d_output_shape, im2col, resolve_padding
from utils.gradcheck import grad_check, numerical_gradient, rel_error
from utils.labels import integer_labels
from utils.losses import sparse_categorical_crossentropy
from utils.nn import sigmoid, softmax
from utils.pool import max_pool2d, max_pool2d_backward
from utils.shapes import as_float, as_pair, check_nhwc

__all__ = [
    "rel_error",
    "numerical_gradient",
    "grad_check",
    "dense_forward",
    "dense_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "maxpool_forward",
    "maxpool_backward",
    "ACTIVATIONS",
]


# --------------------------------------------------------------------------- helpers


def _check_upstream(dout, expected_shape, layer: str) -> np.ndarray:
    """The upstream gradient must have exactly the shape of the cached forward
    output."""
    dout = as_float(dout, f"{layer}: upstream gradient dout")
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer}: upstream gradient dout has shape {dout.shape}, but the forward "
            "output it belongs to "
            f"had shape {tuple(expected_shape)}; dL/d(output) must have the output's "
            "shape "
            f"(did you pass the cache of a different call?)"
        )
    return dout


def _backward_from_output(dout, cache, layer: str, slope) -> np.ndarray:
    """``dout * slope(y)`` for an activation whose cache is its output ``y``."""
    (y,) = _check_cache(cache, 1, layer)
    return _check_upstream(dout, y.shape, layer) * slope(y)


def _check_cache(cache, n: int, layer: str) -> tuple:
    if not isinstance(cache, tuple) or len(cache) != n:
        raise ValueError(
            f"{layer}: cache must be the tuple returned by the matching forward "
            "function"
        )
    return cache


# --------------------------------------------------------------------------- dense


def dense_forward(x, w, b):
    """``y = x @ w + b`` for ``x`` (N, D), ``w`` (D, M), ``b`` (M,); returns ``(y,
    cache)``.

    Inputs go through :func:`utils.shapes.as_float` (integers become float64). Raises
    ``ValueError`` for wrong ranks or mismatched shapes, naming the fix, or a non-real
    dtype. Chapter 5 (dense layer).
    """
    x, w, b = as_float(x, "x"), as_float(w, "w"), as_float(b, "b")
    if x.ndim != 2:
        raise ValueError(
            f"dense: x must be rank 2 (batch, features), got shape {x.shape}; flatten "
            "images first"
        )
    if w.ndim != 2:
        raise ValueError(
            f"dense: w must be rank 2 (in_features, out_features), got shape {w.shape}"
        )
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"dense: x has {x.shape[1]} features but w expects {w.shape[0]} "
            f"(w.shape={w.shape})"
        )
    if b.shape != (w.shape[1],):
        raise ValueError(
            f"dense: b must have shape ({w.shape[1]},) to match w, got {b.shape}"
        )
    y = x @ w + b
    return y, (x, w)


def dense_backward(dout, cache):
    """Gradients of a dense layer: ``dx = dout @ w.T``, ``dw = x.T @ dout``, ``db =
    dout.sum(0)``.

    Returns ``(dx, dw, db)`` shaped like ``x``, ``w`` and ``b``. Raises ``ValueError``
    for a cache from another call or an upstream gradient ``dout`` whose shape differs
    from the forward output. Chapter 5.
    """
    x, w = _check_cache(cache, 2, "dense_backward")
    dout = _check_upstream(dout, (x.shape[0], w.shape[1]), "dense_backward")
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


# -------------------------------------------------------------------------- activations


def relu_forward(x):
    """``max(0, x)``; the cache is the input (its sign decides where gradient flows).

    Any shape; float dtype of :func:`utils.shapes.as_float`. Raises ``ValueError`` for a
    non-real dtype (bool, complex, strings). Chapter 5.
    """
    x = as_float(x, "x")
    return np.maximum(x, 0), (x,)


def relu_backward(dout, cache):
    """Pass ``dout`` where the input was positive, 0 elsewhere (we take the kink's slope
    as 0).

    A NaN input passes ``dout`` too: the forward pass returned that NaN, so the gradient
    goes where the value came from (as :func:`utils.nn.relu_grad`; TensorFlow gives 0).
    Returns ``dx`` of the input's shape. Raises ``ValueError`` for a cache from another
    call or an upstream gradient ``dout`` whose shape differs from the forward output.
    Chapter 5.
    """
    (x,) = _check_cache(cache, 1, "relu_backward")
    dout = _check_upstream(dout, x.shape, "relu_backward")
    return dout * ~(x <= 0)  # NaN <= 0 is False: NaN passes


def sigmoid_forward(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow; caches the
    output.

    Uses :func:`utils.nn.sigmoid` (stable for any ``x``). Any shape; float dtype of
    :func:`utils.shapes.as_float`. Raises ``ValueError`` for a non-real dtype (bool,
    complex, strings). Chapter 5.
    """
    y = sigmoid(x)  # utils.nn.sigmoid, the book's one stable sigmoid
    return y, (y,)


def sigmoid_backward(dout, cache):
    """``dout * s * (1 - s)``: the local slope is at most 1/4, which is why deep sigmoid
    nets fade.

    The slope comes from the cached output ``s``. Errors as :func:`relu_backward`.
    Chapter 5 (vanishing gradients).
    """
    return _backward_from_output(dout, cache, "sigmoid_backward", lambda y: y * (1 - y))


def tanh_forward(x):
    """``tanh(x)``; caches the output.

    Any shape; float dtype of :func:`utils.shapes.as_float`. Raises ``ValueError`` for a
    non-real dtype (bool, complex, strings). Chapter 5.
    """
    y = np.tanh(as_float(x, "x"))
    return y, (y,)


def tanh_backward(dout, cache):
    """``dout * (1 - tanh(x)^2)``.

    The slope comes from the cached output. Errors as :func:`relu_backward`. Chapter 5.
    """
    return _backward_from_output(dout, cache, "tanh_backward", lambda y: 1 - y * y)


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


# -------------------------------------------------------------- softmax + cross-entropy


def _check_logits_labels(logits, labels):
    logits = as_float(logits, "logits")
    if logits.ndim != 2:
        raise ValueError(
            f"logits must be rank 2 (batch, classes), got shape {logits.shape}"
        )
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:  # Keras-style (N, 1) column
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"labels must be (N,) or (N, 1) class indices with N = {logits.shape[0]} "
            "(the logits' batch), "
            f"got shape {labels.shape}"
        )
    labels = integer_labels(labels, logits.shape[1], "softmax_cross_entropy")
    return logits, labels.astype(np.intp)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of ``softmax(logits)`` against integer ``labels``; returns
    ``(loss, cache)``.

    ``logits`` is a real ``(N, K)`` array, ``labels`` integer class indices of shape
    ``(N,)`` or ``(N, 1)``. The value is
    :func:`utils.losses.sparse_categorical_crossentropy` with ``from_logits=True``
    (stable: ``log softmax = z - logsumexp(z)``, so no probability is rounded to 0 and
    then logged), returned as a Python float; the cache holds ``softmax(logits)`` and
    the labels. :func:`softmax_cross_entropy_backward` gives the famous gradient ``(p -
    onehot(y)) / N``. Raises ``ValueError`` for a wrong rank, labels of the wrong shape,
    dtype or range. Chapter 5.
    """
    logits, labels = _check_logits_labels(logits, labels)
    loss = sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return float(loss), (softmax(logits, axis=-1), labels)


def softmax_cross_entropy_backward(cache, dloss: float = 1.0):
    """``dL/dlogits = dloss * (softmax(logits) - onehot(labels)) / N``, shape ``(N,
    K)``.

    ``cache`` is the one :func:`softmax_cross_entropy` returned; ``dloss`` the upstream
    scalar. Raises ``ValueError`` for another cache or a non-scalar ``dloss``.
    Chapter 5.
    """
    probs, labels = _check_cache(cache, 2, "softmax_cross_entropy_backward")
    if np.ndim(dloss) != 0:
        raise ValueError(
            "dloss must be a scalar (the loss is a scalar), got shape "
            f"{np.shape(dloss)}"
        )
    dloss = as_float(dloss, "dloss")
    n = probs.shape[0]
    d = probs.copy()
    d[np.arange(n), labels] -= 1
    return d * (dloss / n)


# -------------------------------------------------------------------------- convolution


def col2im(cols, x_shape, kernel_size, *, stride=1, padding="valid", dilation=1):
    """Adjoint of :func:`utils.conv.im2col`: scatter-add patch columns back into an NHWC
    array.

    ``cols`` is (N, OH, OW, KH*KW*C) in im2col's order (kernel row, kernel column,
    channel, matching ``w.reshape(KH*KW*C, C_out)`` for HWIO weights). Every input pixel
    receives the sum of the entries of all patches it appeared in, which is exactly the
    gradient of im2col. Overlapping windows are why this is a sum and not a copy
    (chapter 5). Returns a float array of shape ``x_shape``. Raises ``ValueError`` when
    ``x_shape`` is not an NHWC shape, the settings are invalid, or ``cols`` does not
    have the shape im2col would give.
    """
    cols = as_float(cols, "cols")
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4:
        raise ValueError(f"x_shape must be an NHWC shape (N, H, W, C), got {x_shape!r}")
    n, h, w, c = (int(v) for v in x_shape)
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride, "stride")
    dh, dw = as_pair(dilation, "dilation")
    ph, pw = resolve_padding(
        padding, (h, w), (kh, kw), stride=(sh, sw), dilation=(dh, dw)
    )
    _, oh, ow, _ = conv2d_output_shape(
        x_shape, (kh, kw, c, 1), stride=(sh, sw), padding=padding, dilation=(dh, dw)
    )
    if cols.shape != (n, oh, ow, kh * kw * c):
        raise ValueError(
            f"col2im: cols has shape {cols.shape}, expected {(n, oh, ow, kh * kw * c)} "
            f"for input {tuple(x_shape)}, "
            f"kernel {(kh, kw)}, stride {(sh, sw)}, padding {padding!r}"
        )
    padded = np.zeros((n, h + sum(ph), w + sum(pw), c), dtype=cols.dtype)
    patches = cols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            padded[
                :, r0 : r0 + sh * (oh - 1) + 1 : sh, c0 : c0 + sw * (ow - 1) + 1 : sw, :
            ] += patches[:, :, :, i, j, :]
    return padded[:, ph[0] : ph[0] + h, pw[0] : pw[0] + w, :]


def conv2d_forward(x, w, b=None, *, stride=1, padding="valid", dilation=1):
    """2-D convolution (TensorFlow's cross-correlation, NHWC/HWIO) as one matrix
    product; ``(y, cache)``.

    The patches come from :func:`utils.conv.im2col` (chapter 3); the cache keeps them,
    because the weight gradient is ``cols^T @ dout`` (chapter 5). ``x`` NHWC, ``w``
    HWIO, ``b`` ``(C_out,)`` or ``None``; ``y`` is ``(N, OH, OW, C_out)``. Raises
    ``ValueError`` for wrong ranks, mismatched channels, a bias of the wrong shape, a
    non-real dtype or bad conv settings.
    """
    x = as_float(check_nhwc(x, "x"), "x")
    w = as_float(w, "w")
    if w.ndim != 4:
        raise ValueError(
            f"conv2d: w must be rank 4 (KH, KW, C_in, C_out), got shape {w.shape}"
        )
    kh, kw, cin, cout = w.shape
    if cin != x.shape[3]:
        raise ValueError(
            f"conv2d: x has {x.shape[3]} channels but w expects {cin} "
            f"(w.shape={w.shape})"
        )
    if b is None:
        b = np.zeros(cout, dtype=x.dtype)
    b = as_float(b, "b")
    if b.shape != (cout,):
        raise ValueError(f"conv2d: b must have shape ({cout},), got {b.shape}")
    cols = im2col(x, (kh, kw), stride=stride, padding=padding, dilation=dilation)
    n, oh, ow, k = cols.shape
    y = (cols.reshape(-1, k) @ w.reshape(k, cout) + b).reshape(n, oh, ow, cout)
    return y, (x.shape, w, cols, stride, padding, dilation)


def conv2d_backward(dout, cache, *, need_dx: bool = True):
    """Gradients ``(dx, dw, db)`` of :func:`conv2d_forward`.

    ``db`` sums ``dout`` over batch and space; ``dw = cols^T @ dout`` (the dense rule
    once more); ``dx = col2im(dout @ W^T)``. With ``need_dx=False`` (a first layer,
    whose input is the data) ``dx`` is ``None`` and the scatter-add is skipped. ``dx``
    has the input's shape, ``dw`` is HWIO like ``w``, ``db`` is ``(C_out,)``. Raises
    ``ValueError`` for a cache from another call or an upstream gradient ``dout`` whose
    shape differs from the forward output. Chapter 5.
    """
    x_shape, w, cols, stride, padding, dilation = _check_cache(
        cache, 6, "conv2d_backward"
    )
    kh, kw, cin, cout = w.shape
    dout = _check_upstream(dout, cols.shape[:3] + (cout,), "conv2d_backward")
    k = kh * kw * cin
    db = dout.sum(axis=(0, 1, 2))
    dw = (cols.reshape(-1, k).T @ dout.reshape(-1, cout)).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    dcols = (dout.reshape(-1, cout) @ w.reshape(k, cout).T).reshape(cols.shape)
    dx = col2im(
        dcols, x_shape, (kh, kw), stride=stride, padding=padding, dilation=dilation
    )
    return dx, dw, db


# -------------------------------------------------------------------------- max pooling


def maxpool_forward(x, pool_size=2, *, strides=None, padding="valid"):
    """Max pooling via :func:`utils.pool.max_pool2d` (chapter 4); returns ``(y,
    cache)``.

    ``x`` is a real NHWC batch. Raises ``ValueError`` as :func:`utils.pool.max_pool2d`
    does (wrong rank or dtype, bad pool settings).
    """
    x = as_float(check_nhwc(x, "x"), "x")
    y = max_pool2d(x, pool_size, strides=strides, padding=padding)
    return y, (x, y.shape, pool_size, strides, padding)


def maxpool_backward(dout, cache):
    """Route each upstream gradient to the input that won its window
    (:func:`utils.pool.max_pool2d_backward`).

    Returns ``dx`` of the input's shape. Raises ``ValueError`` for a cache from another
    call or an upstream gradient ``dout`` whose shape differs from the forward output.
    Chapter 5 (max pooling routes the gradient).
    """
    x, y_shape, pool_size, strides, padding = _check_cache(cache, 5, "maxpool_backward")
    dout = _check_upstream(dout, y_shape, "maxpool_backward")
    return max_pool2d_backward(x, dout, pool_size, strides=strides, padding=padding)
