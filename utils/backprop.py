"""Backpropagation by hand: layer backward passes, gradient checks, deep-net gradient norms.

Chapter 5 ("Backpropagation") explains everything here. Each layer is a pair of functions:

- ``*_forward(...)`` returns ``(output, cache)``: the output and whatever the backward pass needs;
- ``*_backward(dout, cache)`` takes the upstream gradient ``dout`` (dL/d output, the same shape
  as the output) and returns the gradients with respect to the layer's inputs and parameters.

Layers: :func:`dense_forward`, :func:`relu_forward`, :func:`sigmoid_forward`, :func:`tanh_forward`,
:func:`conv2d_forward` (forward via :func:`utils.conv.im2col`, backward via :func:`col2im`),
:func:`maxpool_forward` (via :mod:`utils.pool`), and the fused, numerically stable
:func:`softmax_cross_entropy`. Checks: :func:`numerical_gradient` (centered differences),
:func:`rel_error` and :func:`grad_check`. Deep nets: :func:`init_weights` and
:func:`mlp_gradient_norms` (vanishing and exploding gradients).

Every function raises a ``ValueError`` that names the problem when shapes, ranks or dtypes
do not fit (for example an upstream gradient whose shape differs from the cached output).
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_pair, check_nhwc

__all__ = [
    "rel_error", "numerical_gradient", "grad_check",
    "dense_forward", "dense_backward",
    "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax", "softmax_cross_entropy", "softmax_cross_entropy_backward",
    "col2im", "conv2d_forward", "conv2d_backward",
    "maxpool_forward", "maxpool_backward",
    "init_weights", "mlp_gradient_norms", "ACTIVATIONS", "INITS",
]


# --------------------------------------------------------------------------- helpers


def _float_array(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name} must be a floating-point array, got dtype {a.dtype}; cast it with .astype(np.float64)")
    return a


def _check_upstream(dout, expected_shape, layer: str) -> np.ndarray:
    """The upstream gradient must have exactly the shape of the cached forward output."""
    dout = _float_array(dout, f"{layer}: upstream gradient dout")
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer}: upstream gradient dout has shape {dout.shape}, but the forward output it belongs to "
            f"had shape {tuple(expected_shape)}; dL/d(output) must have the output's shape "
            f"(did you pass the cache of a different call?)"
        )
    return dout


def _check_cache(cache, n: int, layer: str) -> tuple:
    if not isinstance(cache, tuple) or len(cache) != n:
        raise ValueError(f"{layer}: cache must be the tuple returned by the matching forward function")
    return cache


# --------------------------------------------------------------------------- gradient checking


def rel_error(a, b, eps: float = 1e-8) -> float:
    """Largest element-wise relative error ``|a - b| / max(eps, |a| + |b|)`` (chapter 5).

    The floor ``eps`` keeps entries where both gradients are (almost) zero from dividing by
    zero. In float64 a correct gradient typically gives 1e-7 or less; see chapter 5 for the
    thresholds (they follow the CS231n notes).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))


def _scalar(f, x) -> float:
    value = f(x)
    if np.ndim(value) != 0:
        raise ValueError(
            f"f must return a scalar (the loss), got an array of shape {np.shape(value)}; "
            f"reduce it, e.g. return np.sum(out * dout) to check a layer with upstream gradient dout"
        )
    return float(value)


def numerical_gradient(f, x, h: float = 1e-5, *, indices=None) -> np.ndarray:
    """Centered finite differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for each entry of ``x``.

    ``f`` maps an array shaped like ``x`` to a scalar. ``x`` is perturbed in place and restored,
    so ``f`` sees the caller's array. ``indices`` (a list of index tuples) limits the work to a
    sample of entries; the others stay 0 in the result. The arithmetic happens in ``x``'s dtype,
    so float32 input shows how low precision ruins the estimate (chapter 5).
    """
    x = _float_array(x, "x")
    if not isinstance(h, (float, int)) or not h > 0:
        raise ValueError(f"step h must be a positive number, got {h!r}")
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


def grad_check(f, x, analytic_grad, *, h: float = 1e-5, num_checks: int | None = None, seed: int = 0) -> float:
    """Relative error between ``analytic_grad`` and a centered-difference estimate of ``df/dx``.

    ``x`` must be float64 (float32 keeps only ~7 digits, and the difference of two nearly equal
    losses loses most of them). With ``num_checks`` only that many randomly chosen entries are
    compared, which keeps checks of big tensors fast. Returns :func:`rel_error` over the checked
    entries. Chapter 5 explains the thresholds.
    """
    x = _float_array(x, "x")
    if x.dtype != np.float64:
        raise ValueError(
            f"grad_check needs float64 input, got {x.dtype}: centered differences subtract two nearly "
            f"equal losses, and in float32 that leaves too few correct digits; use x.astype(np.float64)"
        )
    analytic_grad = np.asarray(analytic_grad, dtype=np.float64)
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape} but x has shape {x.shape}; they must match")
    if num_checks is None:
        numeric = numerical_gradient(f, x, h)
        return rel_error(analytic_grad, numeric)
    if not isinstance(num_checks, int) or num_checks < 1:
        raise ValueError(f"num_checks must be a positive int or None, got {num_checks!r}")
    rng = np.random.default_rng(seed)
    flat = rng.choice(x.size, size=min(num_checks, x.size), replace=False)
    indices = [np.unravel_index(i, x.shape) for i in flat]
    numeric = numerical_gradient(f, x, h, indices=indices)
    picked = tuple(np.array(axis) for axis in zip(*indices))
    return rel_error(analytic_grad[picked], numeric[picked])


# --------------------------------------------------------------------------- dense


def dense_forward(x, w, b):
    """``y = x @ w + b`` for ``x`` (N, D), ``w`` (D, M), ``b`` (M,); returns ``(y, cache)``."""
    x, w, b = _float_array(x, "x"), _float_array(w, "w"), _float_array(b, "b")
    if x.ndim != 2:
        raise ValueError(f"dense: x must be rank 2 (batch, features), got shape {x.shape}; flatten images first")
    if w.ndim != 2:
        raise ValueError(f"dense: w must be rank 2 (in_features, out_features), got shape {w.shape}")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"dense: x has {x.shape[1]} features but w expects {w.shape[0]} (w.shape={w.shape})")
    if b.shape != (w.shape[1],):
        raise ValueError(f"dense: b must have shape ({w.shape[1]},) to match w, got {b.shape}")
    y = x @ w + b
    return y, (x, w)


def dense_backward(dout, cache):
    """Gradients of a dense layer: ``dx = dout @ w.T``, ``dw = x.T @ dout``, ``db = dout.sum(0)``."""
    x, w = _check_cache(cache, 2, "dense_backward")
    dout = _check_upstream(dout, (x.shape[0], w.shape[1]), "dense_backward")
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


# --------------------------------------------------------------------------- activations


def relu_forward(x):
    """``max(0, x)``; the cache is the input (its sign decides where gradient flows)."""
    x = _float_array(x, "x")
    return np.maximum(x, 0), (x,)


def relu_backward(dout, cache):
    """Pass ``dout`` where the input was positive, 0 elsewhere (we take the kink's slope as 0)."""
    (x,) = _check_cache(cache, 1, "relu_backward")
    dout = _check_upstream(dout, x.shape, "relu_backward")
    return dout * (x > 0)


def sigmoid_forward(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow; caches the output."""
    x = _float_array(x, "x")
    e = np.exp(-np.abs(x))
    y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return y, (y,)


def sigmoid_backward(dout, cache):
    """``dout * s * (1 - s)``: the local slope is at most 1/4, which is why deep sigmoid nets fade."""
    (y,) = _check_cache(cache, 1, "sigmoid_backward")
    dout = _check_upstream(dout, y.shape, "sigmoid_backward")
    return dout * y * (1 - y)


def tanh_forward(x):
    """``tanh(x)``; caches the output."""
    y = np.tanh(_float_array(x, "x"))
    return y, (y,)


def tanh_backward(dout, cache):
    """``dout * (1 - tanh(x)^2)``."""
    (y,) = _check_cache(cache, 1, "tanh_backward")
    dout = _check_upstream(dout, y.shape, "tanh_backward")
    return dout * (1 - y * y)


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


# --------------------------------------------------------------------------- softmax + cross-entropy


def _check_logits_labels(logits, labels):
    logits = _float_array(logits, "logits")
    if logits.ndim != 2:
        raise ValueError(f"logits must be rank 2 (batch, classes), got shape {logits.shape}")
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:  # Keras-style (N, 1) column
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"labels must be (N,) or (N, 1) class indices with N = {logits.shape[0]} (the logits' batch), "
            f"got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype} (one-hot? use argmax)")
    k = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1} for {k} classes, got values {labels.min()}..{labels.max()}")
    return logits, labels.astype(np.intp)


def softmax(logits):
    """Row-wise softmax, stable: the row maximum is subtracted before ``exp``."""
    logits = _float_array(logits, "logits")
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of ``softmax(logits)`` against integer ``labels``; returns ``(loss, cache)``.

    Fused and stable: ``log softmax = z - logsumexp(z)`` with ``z = logits - max``, so no
    probability is ever rounded to 0 and then logged. :func:`softmax_cross_entropy_backward`
    gives the famous gradient ``(p - onehot(y)) / N``.
    """
    logits, labels = _check_logits_labels(logits, labels)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -log_p[np.arange(n), labels].mean()
    return float(loss), (np.exp(log_p), labels)


def softmax_cross_entropy_backward(cache, dloss: float = 1.0):
    """``dL/dlogits = dloss * (softmax(logits) - onehot(labels)) / N``."""
    probs, labels = _check_cache(cache, 2, "softmax_cross_entropy_backward")
    if np.ndim(dloss) != 0:
        raise ValueError(f"dloss must be a scalar (the loss is a scalar), got shape {np.shape(dloss)}")
    n = probs.shape[0]
    d = probs.copy()
    d[np.arange(n), labels] -= 1
    return d * (dloss / n)


# --------------------------------------------------------------------------- convolution


def col2im(cols, x_shape, kernel_size, *, stride=1, padding="valid", dilation=1):
    """Adjoint of :func:`utils.conv.im2col`: scatter-add patch columns back into an NHWC array.

    ``cols`` is (N, OH, OW, KH*KW*C) in im2col's order (kernel row, kernel column, channel,
    matching ``w.reshape(KH*KW*C, C_out)`` for HWIO weights). Every input pixel receives the sum
    of the entries of all patches it appeared in, which is exactly the gradient of im2col.
    Overlapping windows are why this is a sum and not a copy (chapter 5).
    """
    from utils.conv import conv2d_output_shape, resolve_padding

    cols = _float_array(cols, "cols")
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be an NHWC shape (N, H, W, C), got {x_shape!r}")
    n, h, w, c = (int(v) for v in x_shape)
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride, "stride")
    dh, dw = as_pair(dilation, "dilation")
    ph, pw = resolve_padding(padding, (h, w), (kh, kw), stride=(sh, sw), dilation=(dh, dw))
    _, oh, ow, _ = conv2d_output_shape(x_shape, (kh, kw, c, 1), stride=(sh, sw), padding=padding, dilation=(dh, dw))
    if cols.shape != (n, oh, ow, kh * kw * c):
        raise ValueError(
            f"col2im: cols has shape {cols.shape}, expected {(n, oh, ow, kh * kw * c)} for input {tuple(x_shape)}, "
            f"kernel {(kh, kw)}, stride {(sh, sw)}, padding {padding!r}"
        )
    padded = np.zeros((n, h + sum(ph), w + sum(pw), c), dtype=cols.dtype)
    patches = cols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            padded[:, r0 : r0 + sh * (oh - 1) + 1 : sh, c0 : c0 + sw * (ow - 1) + 1 : sw, :] += patches[:, :, :, i, j, :]
    return padded[:, ph[0] : ph[0] + h, pw[0] : pw[0] + w, :]


def conv2d_forward(x, w, b=None, *, stride=1, padding="valid", dilation=1):
    """2-D convolution (TensorFlow's cross-correlation, NHWC/HWIO) as one matrix product; ``(y, cache)``.

    The patches come from :func:`utils.conv.im2col` (chapter 3); the cache keeps them, because
    the weight gradient is ``cols^T @ dout`` (chapter 5).
    """
    from utils.conv import im2col

    x = _float_array(check_nhwc(x, "x"), "x")
    w = _float_array(w, "w")
    if w.ndim != 4:
        raise ValueError(f"conv2d: w must be rank 4 (KH, KW, C_in, C_out), got shape {w.shape}")
    kh, kw, cin, cout = w.shape
    if cin != x.shape[3]:
        raise ValueError(f"conv2d: x has {x.shape[3]} channels but w expects {cin} (w.shape={w.shape})")
    if b is None:
        b = np.zeros(cout, dtype=x.dtype)
    b = _float_array(b, "b")
    if b.shape != (cout,):
        raise ValueError(f"conv2d: b must have shape ({cout},), got {b.shape}")
    cols = im2col(x, (kh, kw), stride=stride, padding=padding, dilation=dilation)
    n, oh, ow, k = cols.shape
    y = (cols.reshape(-1, k) @ w.reshape(k, cout) + b).reshape(n, oh, ow, cout)
    return y, (x.shape, w, cols, stride, padding, dilation)


def conv2d_backward(dout, cache, *, need_dx: bool = True):
    """Gradients ``(dx, dw, db)`` of :func:`conv2d_forward`.

    ``db`` sums ``dout`` over batch and space; ``dw = cols^T @ dout`` (the dense rule once more);
    ``dx = col2im(dout @ W^T)``. With ``need_dx=False`` (a first layer, whose input is the data)
    ``dx`` is ``None`` and the scatter-add is skipped.
    """
    x_shape, w, cols, stride, padding, dilation = _check_cache(cache, 6, "conv2d_backward")
    kh, kw, cin, cout = w.shape
    dout = _check_upstream(dout, cols.shape[:3] + (cout,), "conv2d_backward")
    k = kh * kw * cin
    db = dout.sum(axis=(0, 1, 2))
    dw = (cols.reshape(-1, k).T @ dout.reshape(-1, cout)).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    dcols = (dout.reshape(-1, cout) @ w.reshape(k, cout).T).reshape(cols.shape)
    dx = col2im(dcols, x_shape, (kh, kw), stride=stride, padding=padding, dilation=dilation)
    return dx, dw, db


# --------------------------------------------------------------------------- max pooling


def maxpool_forward(x, pool_size=2, *, strides=None, padding="valid"):
    """Max pooling via :func:`utils.pool.max_pool2d` (chapter 4); returns ``(y, cache)``."""
    from utils.pool import max_pool2d

    x = _float_array(check_nhwc(x, "x"), "x")
    y = max_pool2d(x, pool_size, strides=strides, padding=padding)
    return y, (x, y.shape, pool_size, strides, padding)


def maxpool_backward(dout, cache):
    """Route each upstream gradient to the input that won its window (:func:`utils.pool.max_pool2d_backward`)."""
    from utils.pool import max_pool2d_backward

    x, y_shape, pool_size, strides, padding = _check_cache(cache, 5, "maxpool_backward")
    dout = _check_upstream(dout, y_shape, "maxpool_backward")
    return max_pool2d_backward(x, dout, pool_size, strides=strides, padding=padding)


# --------------------------------------------------------------------------- deep nets: vanishing / exploding


INITS = ("small", "glorot", "he", "large")


def init_weights(fan_in: int, fan_out: int, scheme: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian weights (fan_in, fan_out) with the standard deviation of ``scheme``.

    ``"small"``: 0.01; ``"glorot"``: sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010);
    ``"he"``: sqrt(2 / fan_in) (He et al., 2015); ``"large"``: 1.0. Chapter 5 compares them.
    """
    for v, name in ((fan_in, "fan_in"), (fan_out, "fan_out")):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    std = {
        "small": 0.01,
        "glorot": np.sqrt(2.0 / (fan_in + fan_out)),
        "he": np.sqrt(2.0 / fan_in),
        "large": 1.0,
    }.get(scheme)
    if std is None:
        raise ValueError(f"init scheme must be one of {INITS}, got {scheme!r}")
    return rng.normal(0.0, std, size=(fan_in, fan_out))


def mlp_gradient_norms(x, depth: int, activation: str, init: str, *, width: int | None = None, seed: int = 0,
                       of: str = "signal"):
    """Per-layer gradient norms of a freshly initialised ``depth``-layer MLP (chapter 5).

    Builds ``depth`` dense layers of ``width`` units (default: x's width) with ``activation``
    after each, initialised by ``init`` (see :func:`init_weights`); biases are 0. The loss is
    ``sum(out * g)`` for a fixed random ``g``, so the gradient entering the top has a known size
    and whatever happens on the way down is due to the network alone.

    ``of="signal"`` returns ``||dL/dz_l||``, the error signal at each layer's pre-activation
    ``z_l`` (the quantity that vanishes or explodes); ``of="weights"`` returns ``||dL/dW_l||``,
    what an optimizer sees. Both are arrays of ``depth`` norms, first layer first.
    """
    x = _float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be rank 2 (batch, features), got shape {x.shape}")
    if not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    if of not in ("signal", "weights"):
        raise ValueError(f"of must be 'signal' or 'weights', got {of!r}")
    width = x.shape[1] if width is None else width
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
