"""Integer quantization of weights and activations, in NumPy (chapter 16).

Chapter 16 ("Small and fast networks", section "Quantization") derives the affine
map between real numbers and ``bits``-bit integers,

    q = clip(round(x / scale) + zero_point, q_min, q_max),
    x_hat = (q - zero_point) * scale,

shows that the round trip errs by at most ``scale / 2`` inside the range
(:func:`affine_params` picks the range), and compares one scale for a whole tensor
with one per output channel. :func:`keras_int8_kernel` and :func:`int8_dense` redo
what Keras 3's ``model.quantize("int8")`` does to a ``Dense`` layer (symmetric, one
scale per output unit, inputs quantized per row on the fly), so the chapter can
assert the two equal. The scheme follows Jacob et al. (2018), "Quantization and
training of neural networks for efficient integer-arithmetic-only inference".

Bad input raises ``ValueError`` naming the argument, the value and the fix.
"""

from __future__ import annotations

import numpy as np

from .shapes import is_int

__all__ = [
    "integer_range",
    "affine_params",
    "quantize",
    "dequantize",
    "symmetric_scales",
    "fake_quantize",
    "keras_int8_kernel",
    "int8_dense",
]


def integer_range(bits, signed: bool = True) -> tuple[int, int]:
    """``(q_min, q_max)`` of a ``bits``-bit integer: ``(-2^(b-1), 2^(b-1) - 1)`` when
    ``signed``, else ``(0, 2^b - 1)``.

    ``bits`` must be an int from 2 to 16; a float such as ``8.0``, a bool or a number
    outside that range raises ``ValueError``. Chapter 16.
    """
    if not is_int(bits) or not 2 <= bits <= 16:
        raise ValueError(
            f"bits must be an int from 2 to 16 (a bit width such as 8), got {bits!r}"
        )
    if not isinstance(signed, (bool, np.bool_)):
        raise ValueError(f"signed must be True or False, got {signed!r}")
    bits = int(bits)
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _check_scale(scale) -> np.ndarray:
    scale = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(
            f"scale must be positive and finite everywhere, got {scale.ravel()[:5]}; "
            "a scale of zero maps every number to the zero point (use "
            "affine_params or symmetric_scales to choose one from the data's range)"
        )
    return scale


def affine_params(low, high, bits=8, signed: bool = False) -> tuple[float, int]:
    """``(scale, zero_point)`` that map the real range ``[low, high]`` onto the
    ``bits``-bit integers (asymmetric, "affine" quantization).

    The range is first widened to contain 0, so that 0 (padding, ReLU zeros) is
    represented exactly; then ``scale = (high - low) / (q_max - q_min)`` and
    ``zero_point = round(q_min - low / scale)``, an int in ``[q_min, q_max]``. A range
    of width zero gets ``scale = 1`` (any scale represents a tensor of zeros). Every
    ``x`` in ``[low, high]`` then round-trips with an error of at most ``scale / 2``.
    Raises ``ValueError`` for a non-finite bound, ``low > high`` or a bad ``bits``.
    Chapter 16; Jacob et al. (2018), section 2.1.
    """
    q_min, q_max = integer_range(bits, signed)
    for value, name in ((low, "low"), (high, "high")):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low > high:
        raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}")
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = (high - low) / (q_max - q_min) if high > low else 1.0
    zero_point = int(np.clip(np.round(q_min - low / scale), q_min, q_max))
    return scale, zero_point


def quantize(x, scale, zero_point, bits=8, signed: bool = False) -> np.ndarray:
    """``clip(round(x / scale) + zero_point, q_min, q_max)`` as an int32 array.

    ``x`` is any real array; ``scale`` (positive) and ``zero_point`` (ints) are
    scalars or arrays that broadcast against ``x`` (one per channel: shape ``(C,)``
    for channels last). ``round`` is NumPy's round-half-to-even. Raises ``ValueError``
    for a scale that is zero, negative or not finite, and for a bad ``bits``.
    Chapter 16.
    """
    q_min, q_max = integer_range(bits, signed)
    scale = _check_scale(scale)
    zero_point = np.asarray(zero_point)
    if not np.issubdtype(zero_point.dtype, np.integer):
        raise ValueError(
            f"zero_point must be an integer (array), got dtype {zero_point.dtype}"
        )
    x = np.asarray(x, dtype=np.float64)
    q = np.round(x / scale) + zero_point
    return np.clip(q, q_min, q_max).astype(np.int32)


def dequantize(q, scale, zero_point) -> np.ndarray:
    """``(q - zero_point) * scale`` as float64: the real number each integer stands
    for. ``q`` is an integer array; ``scale`` and ``zero_point`` broadcast as in
    :func:`quantize`. Raises ``ValueError`` for a non-integer ``q`` or a bad scale.
    Chapter 16.
    """
    q = np.asarray(q)
    if not np.issubdtype(q.dtype, np.integer):
        raise ValueError(f"q must be an integer array, got dtype {q.dtype}")
    scale = _check_scale(scale)
    return (q.astype(np.float64) - np.asarray(zero_point)) * scale


def symmetric_scales(w, bits=8, axis=None) -> np.ndarray:
    """Symmetric scales ``max|w| / q_max`` (zero point 0, the grid ``-q_max..q_max``).

    ``axis=None`` gives one scale for the whole tensor (per-tensor, a 0-d array);
    an int gives one scale per index along that axis (per-channel; for a Keras kernel
    the output channels are ``axis=-1``), shaped to broadcast against ``w``. An
    all-zero slice gets scale 1. Raises ``ValueError`` for an empty or non-finite
    ``w``, a bad ``bits`` or an axis out of range. Chapter 16.
    """
    _, q_max = integer_range(bits, True)
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError("w must be a non-empty array of finite numbers")
    if axis is None:
        peak = np.max(np.abs(w))
    else:
        if not is_int(axis) or not -w.ndim <= axis < w.ndim:
            raise ValueError(f"axis must be None or an int below {w.ndim}, got {axis}")
        others = tuple(i for i in range(w.ndim) if i != axis % w.ndim)
        peak = np.max(np.abs(w), axis=others, keepdims=True)
    return np.where(peak > 0, peak / q_max, 1.0)


def fake_quantize(w, bits=8, axis=None) -> np.ndarray:
    """``w`` after a symmetric round trip to ``bits`` bits and back (float64).

    What a network computes with quantized weights, in floating point: used to
    measure the accuracy a quantized model keeps. ``axis`` as in
    :func:`symmetric_scales`. Chapter 16.
    """
    scale = symmetric_scales(w, bits, axis)
    _, q_max = integer_range(bits, True)
    q = np.clip(np.round(np.asarray(w, dtype=np.float64) / scale), -q_max, q_max)
    return q * scale


def keras_int8_kernel(kernel, epsilon: float = 1e-7):
    """What Keras 3 stores for a ``Dense`` kernel ``(n_in, n_out)`` after
    ``quantize("int8")``: ``(q, keras_scale)``.

    Keras' ``AbsMaxQuantizer(axis=0)``: symmetric, one scale per output unit, stored
    as the *reciprocal* of this module's scale, ``keras_scale = 127 / (max|w| +
    epsilon)`` (shape ``(n_out,)``, float32), and ``q = clip(round(w * keras_scale),
    -127, 127)`` (int8). Read from ``keras/src/quantizers/quantizers.py``
    (``abs_max_quantize``) in Keras 3.15. Raises ``ValueError`` for a kernel that is
    not 2-D. Chapter 16.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be (n_in, n_out), got shape {kernel.shape}")
    scale = np.float32(127) / (np.max(np.abs(kernel), axis=0) + np.float32(epsilon))
    q = np.clip(np.round(kernel * scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def int8_dense(x, q, keras_scale, bias=None, epsilon: float = 1e-7) -> np.ndarray:
    """The forward pass of Keras 3's int8 ``Dense`` in NumPy: float32 ``(N, n_out)``.

    Each row of ``x`` ``(N, n_in)`` is quantized on the fly with its own scale
    ``127 / (max|x_row| + epsilon)``; the int8 rows times the int8 kernel ``q``
    ``(n_in, n_out)`` are summed exactly in int32; the sum divided by both scales
    gives the float result, plus ``bias`` ``(n_out,)``. Raises ``ValueError`` for
    mismatched shapes or a ``q`` that is not int8. Chapter 16.
    """
    x = np.asarray(x, dtype=np.float32)
    q = np.asarray(q)
    if q.dtype != np.int8 or q.ndim != 2 or x.ndim != 2 or x.shape[1] != q.shape[0]:
        raise ValueError(
            f"need x (N, n_in) and an int8 q (n_in, n_out), got x {x.shape} and q "
            f"{q.shape} {q.dtype}"
        )
    x_scale = np.float32(127) / (
        np.max(np.abs(x), axis=1, keepdims=True) + np.float32(epsilon)
    )
    xq = np.clip(np.round(x * x_scale), -127, 127).astype(np.int32)
    acc = xq @ q.astype(np.int32)  # exact integer sums
    y = acc.astype(np.float32) / (x_scale * np.asarray(keras_scale, np.float32))
    return y if bias is None else y + np.asarray(bias, np.float32)
