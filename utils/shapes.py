"""Shape arithmetic and the float policy shared by every NumPy teaching module.

Chapter 1 ("Images as tensors") introduces arrays, dtypes and the NHWC layout; chapter
3 ("Convolution") derives the output-size formula, padding (:func:`resolve_padding`)
and a convolution's output shape (:func:`conv2d_output_shape`), and chapter 4
("Pooling") reuses them. Every check raises one ``ValueError`` that says what was wrong
and how to fix it, so the modules that use them (``nn``, ``conv``, ``pool``,
``backprop``, ``losses``, ``optim``, ``images``) all complain the same way.

Float policy of :func:`as_float` (the one float coercion of the book):

- float32 and float64 are kept as they are (float32 reproduces TensorFlow's float32
  rounding);
- float16 becomes float32 (NumPy's half precision is slow and loses digits in every
  sum);
- integers become float64 (exact for every pixel and label value);
- bool, complex, strings and objects are refused: they are almost always a mistake.

The input contract (layout, values, NaN and empty input, statistics) and its checks
(:func:`check_real`, :func:`check_nhwc`, :func:`looks_nchw`, :func:`check_finite`,
:func:`check_nonempty`, :func:`check_last_axis`, :func:`check_range`,
:func:`check_class_indices`) live in :mod:`utils.contracts` and are re-exported here,
so ``shapes.check_finite`` and ``from utils.shapes import check_nhwc`` keep working.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .contracts import (  # noqa: F401  (re-exported: shapes.check_* is the old home)
    check_class_indices,
    check_finite,
    check_last_axis,
    check_nhwc,
    check_nonempty,
    check_range,
    check_real,
    looks_nchw,
)

PADDINGS = ("valid", "same")


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for bool and everything else.

    Chapter 1.

    Never raises.
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value, name: str, *, allow_zero: bool = False) -> int:
    """``value`` as a Python int after checking it is a positive (or non-negative)
    integer.

    Accepts ``int`` and NumPy integers; refuses bool, floats (even ``3.0``) and anything
    else with a ``ValueError`` naming ``name``. ``allow_zero=True`` also accepts 0.
    Chapter 1.
    """
    low = 0 if allow_zero else 1
    if not is_int(value) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} int, got {value!r}")
    return int(value)


def real_number(
    value, name: str, *, low=None, high=None, low_open=False, high_open=False
) -> float:
    """``value`` as a float after checking it is a finite real number in a range.

    ``low``/``high`` bound the value (``None``: unbounded); ``low_open``/``high_open``
    make the bound strict. bool, NaN, inf and non-numbers raise ``ValueError``.
    Chapter 7 uses it for hyper-parameters (learning rates, momenta, decay rates).
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
    ):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(
            f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}"
        )
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(
            f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}"
        )
    return value


def as_float(x, name: str = "x", dtype=None) -> np.ndarray:
    """``x`` as a real floating-point array (no copy when it already is one).

    With ``dtype`` given the result has that dtype; otherwise float32/float64 are kept,
    float16 becomes float32 and integers become float64 (see the module docstring).
    bool, complex, strings and objects raise ``ValueError``. Works for any shape,
    scalars included. Chapter 1 ("dtypes").
    """
    arr = check_real(x, name)
    if dtype is None:
        if arr.dtype == np.float16:
            dtype = np.float32
        elif np.issubdtype(arr.dtype, np.floating):
            return arr
        else:
            dtype = np.float64
    return arr.astype(dtype, copy=False)


def as_pair(value, name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``; anything but positive ints raises
    ``ValueError``.

    Kernel sizes, strides and dilations are given this way (chapters 3 and 4).
    """
    pair = (value, value) if is_int(value) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(is_int(v) and v >= 1 for v in pair)
    ):
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints, got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def _window_span(n, f, stride, dilation) -> int:
    """Check the four sizes are positive ints; return the dilated window's span."""
    for value, name in (
        (n, "input size"),
        (f, "filter size"),
        (stride, "stride"),
        (dilation, "dilation"),
    ):
        positive_int(value, name)
    return dilation * (f - 1) + 1


def output_size(
    n: int, f: int, padding: int | str = 0, stride: int = 1, dilation: int = 1
) -> int:
    """Output length along one axis: ``floor((n - d(f-1) - 1 + 2p) / s) + 1``.

    With ``dilation=1`` this is the familiar ``floor((W - F + 2P) / S) + 1``.
    ``padding`` may be an int (the same on both sides), ``"valid"`` (0) or ``"same"``
    (``ceil(n / s)``, as in TensorFlow). All sizes are pixels (ints). Raises
    ``ValueError`` for non-positive sizes or when the window does not fit. Chapter 3
    (output size).
    """
    span = _window_span(n, f, stride, dilation)
    if padding == "same":
        return math.ceil(n / stride)
    if padding == "valid":
        padding = 0
    if not is_int(padding) or padding < 0:
        raise ValueError(
            f"padding must be 'valid', 'same' or a non-negative int, got {padding!r}"
        )
    if n + 2 * padding < span:
        raise ValueError(
            f"a window spanning {span} pixels (filter {f}, dilation {dilation}) "
            f"does not fit an input of {n} pixels with padding {padding}"
        )
    return int((n + 2 * padding - span) // stride + 1)


def same_padding(n: int, f: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``'same'`` padding ``(before, after)`` along one axis, in pixels.

    The output has ``ceil(n / stride)`` pixels; an odd extra pixel goes after (bottom or
    right). Raises ``ValueError`` for non-positive sizes. Chapter 3 (padding).
    """
    span = _window_span(n, f, stride, dilation)
    out = math.ceil(n / stride)
    total = max((out - 1) * stride + span - n, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------- 2-D convolution shapes


def resolve_padding(
    padding, in_hw, kernel_hw, *, stride=1, dilation=1
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Turn any accepted ``padding`` into explicit ``((top, bottom), (left, right))``
    zero counts.

    ``in_hw`` and ``kernel_hw`` are ``(height, width)`` pairs. ``"same"`` follows
    TensorFlow (:func:`utils.shapes.same_padding`), so it depends on stride and dilation
    too. Chapter 3. Sizes are pixels (positive ints); raises ``ValueError`` for a
    negative or malformed padding and for non-positive sizes, strides or dilations.
    """
    (h, w_), (kh, kw) = as_pair(in_hw, "input size"), as_pair(kernel_hw, "kernel size")
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0), (0, 0)
        if mode == "same":
            return same_padding(h, kh, sh, dh), same_padding(w_, kw, sw, dw)
        raise ValueError(f"padding string must be 'valid' or 'same', got {padding!r}")
    if is_int(padding):
        if padding < 0:
            raise ValueError(f"padding must be non-negative, got {padding}")
        p = int(padding)
        return (p, p), (p, p)
    try:
        parts = tuple(padding)
    except TypeError:
        parts = ()
    if len(parts) == 2 and all(
        is_int(p) for p in parts
    ):  # (ph, pw): symmetric per axis
        if min(parts) < 0:
            raise ValueError(f"padding must be non-negative, got {padding!r}")
        return (int(parts[0]),) * 2, (int(parts[1]),) * 2
    if len(parts) == 2 and all(
        isinstance(p, (tuple, list)) and len(p) == 2 and all(is_int(v) for v in p)
        for p in parts
    ):
        if min(min(p) for p in parts) < 0:
            raise ValueError(f"padding must be non-negative, got {padding!r}")
        (t, b), (left, r) = parts
        return (int(t), int(b)), (int(left), int(r))
    raise ValueError(
        "padding must be 'valid', 'same', a non-negative int, a pair (ph, pw) or "
        f"((top, bottom), (left, right)), got {padding!r}"
    )


def conv2d_output_shape(
    x_shape, w_shape, *, stride=1, padding="valid", dilation=1
) -> tuple[int, int, int, int]:
    """``(N, OH, OW, C_out)`` of :func:`conv2d` for an NHWC input shape and HWIO filter
    shape.

    Along each axis ``OH = floor((H + top + bottom - D*(KH-1) - 1) / S) + 1``, the
    chapter-3 formula ``floor((W - F + 2P)/S) + 1`` generalised to dilation and uneven
    padding. Raises ``ValueError`` when the (dilated) window does not fit the padded
    input. Chapter 3.
    """
    for shape, what in ((x_shape, "x_shape"), (w_shape, "w_shape")):
        if not isinstance(shape, (tuple, list)) or not all(is_int(v) for v in shape):
            raise ValueError(f"{what} must be a tuple of ints, got {shape!r}")
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    if len(x_shape) != 4 or x_shape[0] < 0:
        raise ValueError(f"x must be a rank-4 NHWC batch, got shape {x_shape}")
    if len(w_shape) != 4:
        raise ValueError(f"w must be a rank-4 HWIO filter bank, got shape {w_shape}")
    n, h, w_, c = x_shape
    kh, kw, ci, co = w_shape
    if ci != c:
        raise ValueError(
            f"channel mismatch: x has {c} channels but w expects {ci} input channels"
        )
    if min(h, w_) < 1:
        raise ValueError(
            f"x must have a non-empty height and width, got shape {x_shape}"
        )
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    (pt, pb), (pl, pr) = resolve_padding(
        padding, (h, w_), (kh, kw), stride=stride, dilation=dilation
    )
    out = []
    for axis, size, pad, k, s, d in (
        ("height", h, pt + pb, kh, sh, dh),
        ("width", w_, pl + pr, kw, sw, dw),
    ):
        span = d * (k - 1) + 1
        if size + pad < span:
            raise ValueError(
                f"the window does not fit along the {axis}: a {k}-tap filter with "
                f"dilation {d} spans {span} "
                f"pixels but the input has only {size} (+{pad} padding); use a smaller "
                "kernel or dilation, "
                f"or more padding (e.g. padding='same')"
            )
        out.append(output_size(size + pad, k, 0, s, d))
    return n, out[0], out[1], co
