"""NumPy pooling layers (NHWC), forward and backward.

Chapter 4 ("Pooling") explains and tests everything here against TensorFlow/Keras;
chapter 5 ("Backpropagation") reuses :func:`max_pool2d_backward`.

Conventions follow TensorFlow:

* tensors are NHWC (batch, height, width, channels);
* ``strides`` defaults to ``pool_size`` (non-overlapping windows), as in ``keras.layers.MaxPooling2D``;
* ``padding="valid"`` keeps only windows that fit entirely; ``padding="same"`` gives
  ``ceil(n / stride)`` outputs per axis and pads the extra pixels after, not before
  (see :func:`utils.shapes.same_padding`);
* padded cells never win a max, and an average divides by the number of *real* (non-padded)
  cells in its window, like ``tf.nn.avg_pool2d``.

Every check raises a ``ValueError`` that says what was wrong and how to fix it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import PADDINGS, as_pair, check_nhwc, output_size, same_padding

MODES = ("max", "avg")

__all__ = [
    "MODES",
    "pool_output_shape",
    "pool2d",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool2d_backward",
]


def _check_args(pool_size, strides, padding, mode="max"):
    """Validate and normalise ``(pool_size, strides, padding, mode)``."""
    kh, kw = as_pair(pool_size, "pool_size")
    sh, sw = (kh, kw) if strides is None else as_pair(strides, "strides")
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    return (kh, kw), (sh, sw), padding.lower(), mode


def _float(x: np.ndarray) -> np.ndarray:
    """Floats stay as they are (float32 stays float32); integers become float64."""
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def pool_output_shape(input_shape, pool_size=2, *, strides=None, padding="valid") -> tuple[int, int, int, int]:
    """Shape ``(N, H_out, W_out, C)`` that :func:`pool2d` returns for an NHWC ``input_shape``.

    Per axis: ``floor((n - k) / s) + 1`` for ``'valid'`` and ``ceil(n / s)`` for ``'same'``.
    """
    (kh, kw), (sh, sw), padding, _ = _check_args(pool_size, strides, padding)
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be rank-4 NHWC (batch, height, width, channels), got {tuple(input_shape)}")
    n, h, w, c = input_shape
    if min(h, w) < 1:
        raise ValueError(f"input height and width must be positive, got {h}x{w}")
    if padding == "valid" and (h < kh or w < kw):
        raise ValueError(
            f"pool_size {(kh, kw)} does not fit an input of {h}x{w} with padding='valid'; "
            f"use a smaller window or padding='same'"
        )
    return n, output_size(h, kh, padding, sh), output_size(w, kw, padding, sw), c


def _windows(x: np.ndarray, pool, strides, padding, fill):
    """Padded input and a strided view of its windows: ``(N, H_out, W_out, C, kh, kw)``, plus a validity mask.

    ``valid`` has the window layout of the view but only the spatial part ``(H_out, W_out, kh, kw)``:
    True where a window cell lies on the real image, False on padding.
    """
    (kh, kw), (sh, sw) = pool, strides
    _, h, w, _ = x.shape
    if padding == "same":
        (pt, pb), (pl, pr) = same_padding(h, kh, sh), same_padding(w, kw, sw)
    else:
        pt = pb = pl = pr = 0
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    view = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    mask = np.zeros(xp.shape[1:3], dtype=bool)
    mask[pt : pt + h, pl : pl + w] = True
    valid = sliding_window_view(mask, (kh, kw))[::sh, ::sw]  # (H_out, W_out, kh, kw)
    return xp, view, valid, (pt, pl)


def pool2d(x, pool_size=2, *, strides=None, padding="valid", mode="max") -> np.ndarray:
    """2-D max or average pooling of an NHWC batch (chapter 4, "Pooling").

    Parameters
    ----------
    x : array of shape ``(N, H, W, C)``; integers are pooled as float64, floats keep their dtype.
    pool_size : int or pair ``(kh, kw)``, the window.
    strides : int or pair, the step between windows; ``None`` means ``pool_size``.
    padding : ``'valid'`` or ``'same'`` (TensorFlow semantics, see the module docstring).
    mode : ``'max'`` or ``'avg'``.

    Returns an array of shape :func:`pool_output_shape`, channels pooled independently.
    """
    pool, strides, padding, mode = _check_args(pool_size, strides, padding, mode)
    x = _float(check_nhwc(x))
    pool_output_shape(x.shape, pool, strides=strides, padding=padding)  # raises if the window does not fit
    if mode == "max":
        _, view, _, _ = _windows(x, pool, strides, padding, fill=-np.inf)
        return view.max(axis=(-2, -1))
    _, view, valid, _ = _windows(x, pool, strides, padding, fill=0)
    counts = valid.sum(axis=(-2, -1))[None, :, :, None]  # real cells per window
    return (view.sum(axis=(-2, -1)) / counts).astype(x.dtype)


def max_pool2d(x, pool_size=2, *, strides=None, padding="valid") -> np.ndarray:
    """Max pooling, ``pool2d(..., mode="max")``; like ``keras.layers.MaxPooling2D``."""
    return pool2d(x, pool_size, strides=strides, padding=padding, mode="max")


def avg_pool2d(x, pool_size=2, *, strides=None, padding="valid") -> np.ndarray:
    """Average pooling, ``pool2d(..., mode="avg")``; like ``keras.layers.AveragePooling2D``."""
    return pool2d(x, pool_size, strides=strides, padding=padding, mode="avg")


def global_avg_pool2d(x, *, keepdims: bool = False) -> np.ndarray:
    """Mean over height and width: ``(N, H, W, C) -> (N, C)`` (``keepdims`` gives ``(N, 1, 1, C)``)."""
    x = _float(check_nhwc(x))
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"x must have a non-empty height and width, got shape {x.shape}")
    return x.mean(axis=(1, 2), keepdims=keepdims)


def global_max_pool2d(x, *, keepdims: bool = False) -> np.ndarray:
    """Maximum over height and width: ``(N, H, W, C) -> (N, C)`` (``keepdims`` gives ``(N, 1, 1, C)``)."""
    x = _float(check_nhwc(x))
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"x must have a non-empty height and width, got shape {x.shape}")
    return x.max(axis=(1, 2), keepdims=keepdims)


def max_pool2d_backward(x, dout, pool_size=2, *, strides=None, padding="valid") -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to ``x`` (chapters 4 and 5).

    Each output cell's upstream gradient ``dout[n, i, j, c]`` is added to the input cell that won
    its window (the arg-max); every other input cell gets nothing from that window. When windows
    overlap, one input cell can win several windows and its gradients add up.

    Ties: the first maximum in row-major scan order of the window (top row first, left to right)
    wins, which is what TensorFlow's CPU kernel does. With continuous random inputs ties have
    probability zero; with ties (ReLU zeros, saturated pixels) other implementations may route
    the gradient to a different, equally valid, cell. Padded cells never win.

    Returns ``dx`` with the shape and (float) dtype of ``x``.
    """
    pool, strides, padding, _ = _check_args(pool_size, strides, padding)
    x = _float(check_nhwc(x))
    expected = pool_output_shape(x.shape, pool, strides=strides, padding=padding)
    dout = np.asarray(dout)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have the shape of the pooled output {expected} for x of shape {x.shape}, "
            f"pool_size={pool}, strides={strides}, padding={padding!r}; got {dout.shape}"
        )
    xp, view, valid, (pt, pl) = _windows(x, pool, strides, padding, fill=-np.inf)
    n, ho, wo, c, kh, kw = view.shape
    flat = view.reshape(n, ho, wo, c, kh * kw)
    winners = (flat == flat.max(axis=-1, keepdims=True)) & valid.reshape(1, ho, wo, 1, kh * kw)
    first = winners.argmax(axis=-1)  # first True = first maximum in scan order
    di, dj = np.divmod(first, kw)  # offset of the winner inside its window
    rows = np.arange(ho)[None, :, None, None] * strides[0] + di
    cols = np.arange(wo)[None, None, :, None] * strides[1] + dj
    batch = np.broadcast_to(np.arange(n)[:, None, None, None], rows.shape)
    chan = np.broadcast_to(np.arange(c)[None, None, None, :], rows.shape)
    dxp = np.zeros(xp.shape, dtype=x.dtype)
    np.add.at(dxp, (batch, rows, cols, chan), dout)
    return dxp[:, pt : pt + x.shape[1], pl : pl + x.shape[2], :]
