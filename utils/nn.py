"""Neurons, activation functions, dense layers and multilayer perceptrons in NumPy.

Chapter 2 ("Neural-network basics") explains every function here and asserts each one
equal to its Keras 3 / TensorFlow counterpart:

- activations and their derivatives: :func:`sigmoid`, :func:`tanh`, :func:`relu`,
  :func:`gelu` (exact ``erf`` form by default, tanh approximation on request) and
  :func:`softmax` (numerically stable) with :func:`softmax_jacobian`;
  :func:`get_activation` / :func:`get_derivative` look them up by name;
- :func:`neuron`, :func:`dense` and :func:`mlp_forward`: the forward pass, ``y = act(x @
  W + b)``;
- :func:`dense_param_count` and :func:`mlp_param_count`: parameter counts, which live in
  :mod:`utils.layer_cost` with a convolution's (:func:`utils.conv.conv2d_params`) and
  are re-exported here; whole-pixel shifts are :func:`utils.images.translate`.

:func:`softmax` and :func:`sigmoid` are the book's only implementations; ``losses`` and
``backprop`` import them. Inputs go through :func:`utils.shapes.as_float`:
float32/float64 are kept, float16 becomes float32, integers become float64, and bool,
complex or non-numeric input raises :class:`ValueError` saying what was wrong. NaN
propagates, as in TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from utils.layer_cost import dense_param_count, mlp_param_count  # noqa: F401
from utils.shapes import as_float

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
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715  # Hendrycks & Gimpel (2016), the tanh approximation of GELU


# -------------------------------------------------------------------------- activations


def linear(x):
    """The identity activation, ``f(x) = x`` (Keras name ``"linear"``).

    Elementwise on an array of any shape; returns the same shape in the float dtype of
    :func:`utils.shapes.as_float` (float32 stays float32). Raises ``ValueError`` for
    bool, complex or non-numeric input. Chapter 2 (activations).
    """
    return as_float(x)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow for large
    ``|x|``.

    ``exp`` is only ever applied to ``-|x|`` (at most 1), so no intermediate value
    overflows. The book's one sigmoid: ``losses`` and ``backprop`` import it.
    Elementwise on an array of any shape; returns the same shape in the float dtype of
    :func:`utils.shapes.as_float` (float32 stays float32). Raises ``ValueError`` for
    bool, complex or non-numeric input. Chapter 2 (activations).
    """
    x = as_float(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def tanh(x):
    """Hyperbolic tangent, ``(e^x - e^-x) / (e^x + e^-x)``.

    Elementwise on an array of any shape; returns the same shape in the float dtype of
    :func:`utils.shapes.as_float` (float32 stays float32). Raises ``ValueError`` for
    bool, complex or non-numeric input. Chapter 2 (activations).
    """
    return np.tanh(as_float(x))


def relu(x):
    """Rectified linear unit, ``max(x, 0)``.

    Elementwise on an array of any shape; returns the same shape in the float dtype of
    :func:`utils.shapes.as_float` (float32 stays float32). Raises ``ValueError`` for
    bool, complex or non-numeric input. Chapter 2 (activations).
    """
    x = as_float(x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf  # scipy comes with scikit-learn and scikit-image
    except ImportError:  # pragma: no cover - slow but exact fallback
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(erf(x), dtype=x.dtype)


def gelu(x, approximate: bool = False):
    """Gaussian error linear unit, ``x * Phi(x)`` with ``Phi`` the standard normal CDF.

    ``approximate=False`` (the default, like ``keras.activations.gelu``) uses the exact
    form ``0.5 x (1 + erf(x / sqrt 2))``; ``approximate=True`` (the default of
    ``keras.ops.gelu``) uses ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``
    (Hendrycks & Gimpel, 2016). Elementwise on an array of any shape; returns the same
    shape in the float dtype of :func:`utils.shapes.as_float` (float32 stays float32).
    Raises ``ValueError`` for bool, complex or non-numeric input. Chapter 2
    (activations).
    """
    x = as_float(x)
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def softmax(x, axis: int = -1):
    """Softmax along ``axis``: ``exp(x_i) / sum_j exp(x_j)``, stable for any logits.

    Subtracting the maximum first changes nothing mathematically (softmax ignores a
    constant shift) but keeps every ``exp`` at most 1, so large logits cannot overflow
    to ``inf``. The book's one softmax: ``losses``, ``backprop`` and ``first_cnn``
    import it.

    ``x`` has any shape of rank >= 1; the result has the same shape and the float dtype
    of :func:`utils.shapes.as_float`, and sums to 1 along ``axis``. Raises
    ``ValueError`` for a scalar, an axis out of range, an empty ``axis`` or a non-real
    dtype. Chapter 2.
    """
    x = as_float(x)
    if x.ndim == 0:
        raise ValueError(
            "softmax needs at least one axis to normalise over, got a scalar"
        )
    if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis!r} is out of range for an input of rank {x.ndim}")
    if x.shape[axis] == 0:
        raise ValueError(
            f"softmax over an empty axis {axis} (shape {x.shape}) is undefined"
        )
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# -------------------------------------------------------------------------- derivatives


def linear_grad(x):
    """Derivative of :func:`linear`: 1 everywhere.

    Same shape and float dtype as the input; raises ``ValueError`` for bool, complex or
    non-numeric input. Chapter 2.
    """
    return np.ones_like(as_float(x))


def sigmoid_grad(x):
    """Derivative of :func:`sigmoid`: ``s (1 - s)`` with ``s = sigmoid(x)``.

    Same shape and float dtype as the input; raises ``ValueError`` for bool, complex or
    non-numeric input. Chapter 2.
    """
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh_grad(x):
    """Derivative of :func:`tanh`: ``1 - tanh(x)^2``.

    Same shape and float dtype as the input; raises ``ValueError`` for bool, complex or
    non-numeric input. Chapter 2.
    """
    t = tanh(x)
    return 1.0 - t * t


def relu_grad(x):
    """Derivative of :func:`relu`: 1 for ``x > 0``, else 0 (TensorFlow's choice at ``x =
    0``).

    At NaN it is 1: ``relu(nan)`` returns the NaN input itself, so the gradient is
    routed to it (PyTorch's rule, the one :mod:`utils.pool` uses for max; TensorFlow
    gives 0). Same shape and float dtype as the input; raises ``ValueError`` for bool,
    complex or non-numeric input. Chapter 2.
    """
    x = as_float(x)
    return (~(x <= 0)).astype(x.dtype)  # NaN <= 0 is False: NaN passes


def gelu_grad(x, approximate: bool = False):
    """Derivative of :func:`gelu`: ``Phi(x) + x phi(x)`` (exact) or the tanh form's
    derivative.

    Same shape and float dtype as the input; raises ``ValueError`` for bool, complex or
    non-numeric input. Chapter 2.
    """
    x = as_float(x)
    if approximate:
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        t = np.tanh(inner)
        dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x**2)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def softmax_jacobian(x):
    """Jacobian of :func:`softmax` over the last axis: ``J[..., i, j] = s_i (delta_ij -
    s_j)``.

    For logits of shape ``(..., K)`` the result has shape ``(..., K, K)``; row ``i``
    holds the partial derivatives of output ``i``. Float dtype as :func:`softmax`;
    raises ``ValueError`` like it. Chapter 2.
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
"""Activation name -> (function, elementwise derivative).

Names follow ``keras.activations``."""


def _lookup(name) -> tuple[Callable, Callable | None]:
    if name is None:
        name = "linear"  # Keras: Dense(activation=None) is the identity
    if not isinstance(name, str):
        raise ValueError(
            f"activation must be a name (str) or None, got {type(name).__name__}"
        )
    key = name.strip().lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; known activations: {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[key]


def get_activation(name: str | Callable | None) -> Callable:
    """Return the activation function called ``name`` (``None`` means linear).

    Names are those of ``keras.activations`` (case and spaces ignored); callables pass
    through. Raises ``ValueError`` for an unknown name or a non-string. Chapter 2.
    """
    if callable(name):
        return name
    return _lookup(name)[0]


def get_derivative(name: str | None) -> Callable:
    """Return the elementwise derivative of the activation ``name``.

    Softmax has none (each output depends on every input): use :func:`softmax_jacobian`.
    Raises ``ValueError`` for softmax, an unknown name or a non-string. Chapter 2.
    """
    grad = _lookup(name)[1]
    if grad is None:
        raise ValueError(
            "softmax has no elementwise derivative; use softmax_jacobian(x) for its "
            "Jacobian"
        )
    return grad


# ------------------------------------------------------------------- neurons and layers


def neuron(x, w, b=0.0, activation="linear"):
    """One neuron: ``act(x . w + b)``.

    ``x`` is one input vector ``(n,)`` or a batch ``(N, n)``; ``w`` is ``(n,)``; ``b`` a
    scalar. Returns a scalar for one input and ``(N,)`` for a batch, in the float dtype
    of :func:`utils.shapes.as_float`. Raises ``ValueError`` for wrong ranks, mismatched
    lengths, a non-scalar bias or a non-real dtype. Chapter 2 (the neuron).
    """
    x, w = as_float(x), as_float(w, "w")
    if w.ndim != 1:
        raise ValueError(f"w must be a vector of shape (n,), got shape {w.shape}")
    if x.ndim not in (1, 2):
        raise ValueError(
            f"x must have shape (n,) or (N, n), got rank {x.ndim} with shape {x.shape}"
        )
    if x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"x has {x.shape[-1]} inputs per example but w has {w.shape[0]} weights; "
            "they must match"
        )
    if np.ndim(b) != 0:
        raise ValueError(f"a single neuron has a scalar bias, got shape {np.shape(b)}")
    return get_activation(activation)(x @ w + b)


def dense(x, W, b=None, activation="linear"):
    """A dense (fully connected) layer: ``act(x @ W + b)``, Keras ``Dense`` semantics.

    ``x`` is ``(N, n_in)`` (a batch of flattened inputs), ``W`` is ``(n_in, n_out)``
    (Keras' ``kernel``), ``b`` is ``(n_out,)`` or ``None``. Returns a float ``(N,
    n_out)`` array. Raises ``ValueError`` for wrong ranks or shapes (with the fix in the
    message) or a non-real dtype. Chapter 2 (dense layers).
    """
    x, W = as_float(x), as_float(W, "W")
    if x.ndim != 2:
        raise ValueError(
            f"x must be a batch of vectors with shape (N, n_in), got rank {x.ndim} "
            f"with shape {x.shape}; "
            "flatten images first (x.reshape(len(x), -1)) or add a batch axis (x[None])"
        )
    if W.ndim != 2:
        raise ValueError(
            f"W must be a matrix of shape (n_in, n_out), got rank {W.ndim} with shape "
            f"{W.shape}"
        )
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"shape mismatch: x has {x.shape[1]} features per example but W expects "
            f"{W.shape[0]} "
            f"(x is {x.shape}, W is {W.shape}; x @ W needs x.shape[1] == W.shape[0])"
        )
    z = x @ W
    if b is not None:
        b = as_float(b, "b")
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"b must have shape ({W.shape[1]},) to match W's {W.shape[1]} outputs, "
                f"got {b.shape}"
            )
        z = z + b
    return get_activation(activation)(z)


def mlp_forward(x, weights: Sequence, activations: Sequence):
    """Forward pass of a multilayer perceptron: ``dense`` layers applied one after
    another.

    ``weights`` is a list of ``(W, b)`` pairs (or the flat list ``[W1, b1, W2, b2,
    ...]`` that ``keras.Model.get_weights()`` returns); ``activations`` holds one name
    per layer. ``x`` is ``(N, n_in)``; returns the float ``(N, n_out)`` output of the
    last layer. Raises ``ValueError`` naming the layer whose shapes do not fit.
    Chapter 2 (MLPs).
    """
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise ValueError(
            "weights must be a list of (W, b) pairs or a flat [W1, b1, W2, b2, ...] "
            "list"
        )
    pairs = list(weights)
    if pairs and not isinstance(pairs[0], (tuple, list)):
        if len(pairs) % 2:
            raise ValueError(
                "a flat weight list must alternate W, b; got an odd length "
                f"{len(pairs)}"
            )
        pairs = list(zip(pairs[0::2], pairs[1::2]))
    if not pairs:
        raise ValueError("weights is empty: an MLP needs at least one layer")
    if isinstance(activations, str) or len(activations) != len(pairs):
        n = 1 if isinstance(activations, str) else len(activations)
        raise ValueError(
            f"got {len(pairs)} layers but {n} activations; give one activation name "
            "per layer"
        )
    h = x
    for i, (pair, act) in enumerate(zip(pairs, activations)):
        if len(pair) != 2:
            raise ValueError(
                f"layer {i}: expected a (W, b) pair, got {len(pair)} arrays"
            )
        W, b = pair
        try:
            h = dense(h, W, b, act)
        except ValueError as err:
            raise ValueError(f"layer {i}: {err}") from None
    return h
