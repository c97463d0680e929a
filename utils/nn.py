"""Neurons, activation functions, dense layers and multilayer perceptrons in NumPy.

Chapter 2 ("Neural-network basics") explains every function here and asserts each one equal
to its Keras 3 / TensorFlow counterpart:

- activations and their derivatives: :func:`sigmoid`, :func:`tanh`, :func:`relu`,
  :func:`gelu` (exact ``erf`` form by default, tanh approximation on request) and
  :func:`softmax` (numerically stable) with :func:`softmax_jacobian`;
  :func:`get_activation` / :func:`get_derivative` look them up by name;
- :func:`neuron`, :func:`dense` and :func:`mlp_forward`: the forward pass, ``y = act(x @ W + b)``;
- :func:`dense_param_count`, :func:`mlp_param_count` and :func:`conv2d_param_count`: parameter counts;
- :func:`shift_images`: move images by whole pixels, used to show that an MLP is not shift-tolerant.

Everything works on float arrays; bad input raises :class:`ValueError` saying what was wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "gelu",
    "softmax",
    "linear_grad",
    "sigmoid_grad",
    "tanh_grad",
    "relu_grad",
    "gelu_grad",
    "softmax_jacobian",
    "get_activation",
    "get_derivative",
    "neuron",
    "dense",
    "mlp_forward",
    "dense_param_count",
    "mlp_param_count",
    "conv2d_param_count",
    "shift_images",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715  # Hendrycks & Gimpel (2016), the tanh approximation of GELU


def _as_float(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a floating-point array (integers become float64); reject non-numbers."""
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


# --------------------------------------------------------------------------- activations


def linear(x):
    """The identity activation, ``f(x) = x`` (Keras name ``"linear"``)."""
    return _as_float(x)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow for large ``|x|``.

    ``exp`` is only ever applied to ``-|x|`` (at most 1), so no intermediate value overflows.
    """
    x = _as_float(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def tanh(x):
    """Hyperbolic tangent, ``(e^x - e^-x) / (e^x + e^-x)``."""
    return np.tanh(_as_float(x))


def relu(x):
    """Rectified linear unit, ``max(x, 0)``."""
    x = _as_float(x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf  # scipy comes with scikit-learn and scikit-image
    except ImportError:  # pragma: no cover - slow but exact fallback
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(erf(x), dtype=x.dtype)


def gelu(x, approximate: bool = False):
    """Gaussian error linear unit, ``x * Phi(x)`` with ``Phi`` the standard normal CDF.

    ``approximate=False`` (the default, like ``keras.activations.gelu``) uses the exact form
    ``0.5 x (1 + erf(x / sqrt 2))``; ``approximate=True`` (the default of ``keras.ops.gelu``)
    uses ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    x = _as_float(x)
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def softmax(x, axis: int = -1):
    """Softmax along ``axis``: ``exp(x_i) / sum_j exp(x_j)``, stable for any logits.

    Subtracting the maximum first changes nothing mathematically (softmax ignores a constant
    shift) but keeps every ``exp`` at most 1, so large logits cannot overflow to ``inf``.
    """
    x = _as_float(x)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis to normalise over, got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for an input of rank {x.ndim}")
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# --------------------------------------------------------------------------- derivatives


def linear_grad(x):
    """Derivative of :func:`linear`: 1 everywhere."""
    return np.ones_like(_as_float(x))


def sigmoid_grad(x):
    """Derivative of :func:`sigmoid`: ``s (1 - s)`` with ``s = sigmoid(x)``."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh_grad(x):
    """Derivative of :func:`tanh`: ``1 - tanh(x)^2``."""
    t = tanh(x)
    return 1.0 - t * t


def relu_grad(x):
    """Derivative of :func:`relu`: 1 for ``x > 0``, else 0 (TensorFlow's choice at ``x = 0``)."""
    x = _as_float(x)
    return (x > 0).astype(x.dtype)


def gelu_grad(x, approximate: bool = False):
    """Derivative of :func:`gelu`: ``Phi(x) + x phi(x)`` (exact) or the tanh form's derivative."""
    x = _as_float(x)
    if approximate:
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        t = np.tanh(inner)
        dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x**2)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def softmax_jacobian(x):
    """Jacobian of :func:`softmax` over the last axis: ``J[..., i, j] = s_i (delta_ij - s_j)``.

    For logits of shape ``(..., K)`` the result has shape ``(..., K, K)``; row ``i`` holds the
    partial derivatives of output ``i``.
    """
    s = softmax(x, axis=-1)
    return s[..., :, None] * (np.eye(s.shape[-1], dtype=s.dtype) - s[..., None, :])


ACTIVATIONS: dict[str, tuple[Callable, Callable | None]] = {
    "linear": (linear, linear_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "gelu": (gelu, gelu_grad),
    "softmax": (softmax, None),  # its derivative is a matrix: see softmax_jacobian
}
"""Activation name -> (function, elementwise derivative). Names follow ``keras.activations``."""


def _lookup(name) -> tuple[Callable, Callable | None]:
    if name is None:
        name = "linear"  # Keras: Dense(activation=None) is the identity
    if not isinstance(name, str):
        raise ValueError(f"activation must be a name (str) or None, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known activations: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]


def get_activation(name: str | Callable | None) -> Callable:
    """Return the activation function called ``name`` (``None`` means linear); callables pass through."""
    if callable(name):
        return name
    return _lookup(name)[0]


def get_derivative(name: str | None) -> Callable:
    """Return the elementwise derivative of the activation ``name``.

    Softmax has none (each output depends on every input): use :func:`softmax_jacobian`.
    """
    grad = _lookup(name)[1]
    if grad is None:
        raise ValueError("softmax has no elementwise derivative; use softmax_jacobian(x) for its Jacobian")
    return grad


# --------------------------------------------------------------------------- neurons and layers


def neuron(x, w, b=0.0, activation="linear"):
    """One neuron: ``act(x . w + b)``.

    ``x`` is one input vector ``(n,)`` or a batch ``(N, n)``; ``w`` is ``(n,)``; ``b`` a scalar.
    Returns a scalar for one input and ``(N,)`` for a batch.
    """
    x, w = _as_float(x), _as_float(w, "w")
    if w.ndim != 1:
        raise ValueError(f"w must be a vector of shape (n,), got shape {w.shape}")
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape (n,) or (N, n), got rank {x.ndim} with shape {x.shape}")
    if x.shape[-1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[-1]} inputs per example but w has {w.shape[0]} weights; they must match")
    if np.ndim(b) != 0:
        raise ValueError(f"a single neuron has a scalar bias, got shape {np.shape(b)}")
    return get_activation(activation)(x @ w + b)


def dense(x, W, b=None, activation="linear"):
    """A dense (fully connected) layer: ``act(x @ W + b)``, Keras ``Dense`` semantics.

    ``x`` is ``(N, n_in)`` (a batch of flattened inputs), ``W`` is ``(n_in, n_out)`` (Keras'
    ``kernel``), ``b`` is ``(n_out,)`` or ``None``. Returns ``(N, n_out)``.
    """
    x, W = _as_float(x), _as_float(W, "W")
    if x.ndim != 2:
        raise ValueError(
            f"x must be a batch of vectors with shape (N, n_in), got rank {x.ndim} with shape {x.shape}; "
            "flatten images first (x.reshape(len(x), -1)) or add a batch axis (x[None])"
        )
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix of shape (n_in, n_out), got rank {W.ndim} with shape {W.shape}")
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"shape mismatch: x has {x.shape[1]} features per example but W expects {W.shape[0]} "
            f"(x is {x.shape}, W is {W.shape}; x @ W needs x.shape[1] == W.shape[0])"
        )
    z = x @ W
    if b is not None:
        b = _as_float(b, "b")
        if b.shape != (W.shape[1],):
            raise ValueError(f"b must have shape ({W.shape[1]},) to match W's {W.shape[1]} outputs, got {b.shape}")
        z = z + b
    return get_activation(activation)(z)


def mlp_forward(x, weights: Sequence, activations: Sequence):
    """Forward pass of a multilayer perceptron: ``dense`` layers applied one after another.

    ``weights`` is a list of ``(W, b)`` pairs (or the flat list ``[W1, b1, W2, b2, ...]`` that
    ``keras.Model.get_weights()`` returns); ``activations`` holds one name per layer.
    """
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise ValueError("weights must be a list of (W, b) pairs or a flat [W1, b1, W2, b2, ...] list")
    pairs = list(weights)
    if pairs and not isinstance(pairs[0], (tuple, list)):
        if len(pairs) % 2:
            raise ValueError(f"a flat weight list must alternate W, b; got an odd length {len(pairs)}")
        pairs = list(zip(pairs[0::2], pairs[1::2]))
    if not pairs:
        raise ValueError("weights is empty: an MLP needs at least one layer")
    if isinstance(activations, str) or len(activations) != len(pairs):
        n = 1 if isinstance(activations, str) else len(activations)
        raise ValueError(f"got {len(pairs)} layers but {n} activations; give one activation name per layer")
    h = x
    for i, (pair, act) in enumerate(zip(pairs, activations)):
        if len(pair) != 2:
            raise ValueError(f"layer {i}: expected a (W, b) pair, got {len(pair)} arrays")
        W, b = pair
        try:
            h = dense(h, W, b, act)
        except ValueError as err:
            raise ValueError(f"layer {i}: {err}") from None
    return h


# --------------------------------------------------------------------------- parameter counts


def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def dense_param_count(n_in: int, n_out: int, *, bias: bool = True) -> int:
    """Parameters of a dense layer: ``n_in * n_out`` weights plus ``n_out`` biases."""
    n_in, n_out = _positive_int(n_in, "n_in"), _positive_int(n_out, "n_out")
    return n_in * n_out + (n_out if bias else 0)


def mlp_param_count(sizes: Sequence[int]) -> int:
    """Parameters of an MLP with layer widths ``sizes = [n_in, h1, ..., n_out]``: sum of ``(n_i + 1) n_{i+1}``."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs the input width and at least one layer width, got {sizes}")
    return sum(dense_param_count(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def conv2d_param_count(kernel_size, c_in: int, c_out: int, *, bias: bool = True) -> int:
    """Parameters of a 2-D convolution: ``kh * kw * c_in * c_out`` weights plus ``c_out`` biases.

    Independent of the image size, unlike a dense layer; chapter 3 ("Convolution") explains why.
    """
    if isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, bool):
        kernel_size = (kernel_size, kernel_size)
    if not isinstance(kernel_size, (tuple, list)) or len(kernel_size) != 2:
        raise ValueError(f"kernel_size must be an int or a (kh, kw) pair, got {kernel_size!r}")
    kh, kw = (_positive_int(k, "kernel_size") for k in kernel_size)
    c_in, c_out = _positive_int(c_in, "c_in"), _positive_int(c_out, "c_out")
    return kh * kw * c_in * c_out + (c_out if bias else 0)


# --------------------------------------------------------------------------- shifted images


def shift_images(images, dy: int, dx: int, *, mode: str = "constant", fill=0):
    """Move a batch of images ``dy`` pixels down and ``dx`` pixels right (negative: up/left).

    ``images`` is ``(N, H, W)`` or ``(N, H, W, C)``. ``mode="constant"`` fills the uncovered
    border with ``fill`` (pixels pushed past the edge are lost); ``mode="roll"`` wraps them
    around to the other side (``np.roll``). The dtype is kept.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be a batch (N, H, W) or (N, H, W, C), got rank {images.ndim} with shape {images.shape}")
    for v, name in ((dy, "dy"), (dx, "dx")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer number of pixels, got {v!r}")
    h, w = images.shape[1:3]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift ({dy}, {dx}) is at least the image size ({h}, {w}); nothing would be left")
    if mode == "roll":
        return np.roll(images, shift=(dy, dx), axis=(1, 2))
    if mode != "constant":
        raise ValueError(f"mode must be 'constant' or 'roll', got {mode!r}")
    out = np.full_like(images, fill)
    src_y = slice(max(-dy, 0), h - max(dy, 0))
    dst_y = slice(max(dy, 0), h - max(-dy, 0))
    src_x = slice(max(-dx, 0), w - max(dx, 0))
    dst_x = slice(max(dx, 0), w - max(-dx, 0))
    out[:, dst_y, dst_x] = images[:, src_y, src_x]
    return out
