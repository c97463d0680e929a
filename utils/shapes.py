"""Shape arithmetic and input checks shared by the NumPy layers (convolution, pooling, backprop).

Chapter 3 ("Convolution") derives the output-size formula; chapter 4 ("Pooling") reuses it.
Every check raises a ``ValueError`` that says what was wrong and what is expected.
"""

from __future__ import annotations

import math

import numpy as np

PADDINGS = ("valid", "same")


def as_pair(value, name: str) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``; anything else that is not a positive int raises."""
    if isinstance(value, (int, np.integer)):
        pair = (value, value)
    elif isinstance(value, (tuple, list)):
        pair = tuple(value)
    else:
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_nhwc(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float array after checking it is a rank-4 NHWC batch."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            f"{name} must be a rank-4 NHWC batch (batch, height, width, channels), got shape {x.shape}; "
            f"for a single image use {name}[None]"
        )
    return check_real(x, name)


def check_real(a, name: str) -> np.ndarray:
    """Return ``a`` as an array after checking it holds real numbers (not strings, objects or complex)."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def output_size(n: int, f: int, padding: int | str = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length along one axis: ``floor((n - d(f-1) - 1 + 2p) / s) + 1``.

    With ``dilation=1`` this is the familiar ``floor((W - F + 2P) / S) + 1``. ``padding`` may be
    an int (the same on both sides), ``"valid"`` (0) or ``"same"`` (``ceil(n / s)``, as in
    TensorFlow). Raises ``ValueError`` when the window does not fit.
    """
    for value, name in ((n, "input size"), (f, "filter size"), (stride, "stride"), (dilation, "dilation")):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if padding == "same":
        return math.ceil(n / stride)
    if padding == "valid":
        padding = 0
    if not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be 'valid', 'same' or a non-negative int, got {padding!r}")
    span = dilation * (f - 1) + 1
    if n + 2 * padding < span:
        raise ValueError(
            f"a window spanning {span} pixels (filter {f}, dilation {dilation}) does not fit an input of "
            f"{n} pixels with padding {padding}"
        )
    return (n + 2 * padding - span) // stride + 1


def same_padding(n: int, f: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``'same'`` padding ``(before, after)`` along one axis (extra pixel goes after)."""
    out = math.ceil(n / stride)
    span = dilation * (f - 1) + 1
    total = max((out - 1) * stride + span - n, 0)
    return total // 2, total - total // 2
