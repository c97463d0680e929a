"""NumPy pooling layers (NHWC), forward and backward.

Chapter 4 ("Pooling") explains and tests everything here against TensorFlow/Keras;
chapter 5 ("Backpropagation") reuses :func:`max_pool2d_backward`.

Conventions follow TensorFlow:

* tensors are NHWC (batch, height, width, channels);
* ``strides`` defaults to ``pool_size`` (non-overlapping windows), as in
  ``keras.layers.MaxPooling2D``;
* ``padding="valid"`` keeps only windows that fit entirely; ``padding="same"`` gives
  ``ceil(n / stride)`` outputs per axis and pads the extra pixels after, not before
  (see :func:`utils.shapes.same_padding`);
* padded cells never win a max, and an average divides by the number of *real*
  (non-padded) cells in its window, like ``tf.nn.avg_pool2d``;
* dtypes: float32/float64 are kept, float16 becomes float32 and integers float64
  (:func:`utils.shapes.as_float`); bool and complex input are refused.

One convention differs from TensorFlow on purpose: NaN. A max over a window that holds a
NaN is NaN (NumPy's and PyTorch's rule), and :func:`max_pool2d_backward` sends that
window's gradient to the NaN. ``tf.nn.max_pool2d`` skips NaN instead (it returns the
largest number and routes the gradient there), while ``GlobalMaxPooling2D`` propagates
it like this module. Propagating makes a NaN visible where it appears.

Every check raises a ``ValueError`` that says what was wrong and how to fix it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import PADDINGS, as_float, as_pair, check_nhwc, output_size, same_padding

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


def pool_output_shape(
    input_shape, pool_size=2, *, strides=None, padding="valid"
) -> tuple[int, int, int, int]:
    """Shape ``(N, H_out, W_out, C)`` that :func:`pool2d` returns for ``input_shape``.

    Per axis: ``floor((n - k) / s) + 1`` for ``'valid'`` and ``ceil(n / s)`` for
    ``'same'``. Chapter 4. Raises ``ValueError`` for a shape that is not rank 4, an
    empty height or width, bad window arguments, or a window that does not fit with
    ``padding='valid'``.
    """
    (kh, kw), (sh, sw), padding, _ = _check_args(pool_size, strides, padding)
    if len(input_shape) != 4:
        raise ValueError(
            "input_shape must be rank-4 NHWC (batch, height, width, channels), "
            f"got {tuple(input_shape)}"
        )
    n, h, w, c = input_shape
    if min(h, w) < 1:
        raise ValueError(f"input height and width must be positive, got {h}x{w}")
    if padding == "valid" and (h < kh or w < kw):
        raise ValueError(
            f"pool_size {(kh, kw)} does not fit an input of {h}x{w} with "
            "padding='valid'; "
            f"use a smaller window or padding='same'"
        )
    return n, output_size(h, kh, padding, sh), output_size(w, kw, padding, sw), c


def _windows(x: np.ndarray, pool, strides, padding, fill):
    """Padded input, its windows ``(N, H_out, W_out, C, kh, kw)``, and a validity mask.

    ``valid`` has the window layout of the view but only the spatial part
    ``(H_out, W_out, kh, kw)``: True where a window cell lies on the real image, False
    on padding.
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
    x : array of shape ``(N, H, W, C)``, real numbers (dtypes: module docstring).
    pool_size : int or pair ``(kh, kw)``, the window.
    strides : int or pair, the step between windows; ``None`` means ``pool_size``.
    padding : ``'valid'`` or ``'same'`` (TensorFlow's, see the module docstring).
    mode : ``'max'`` or ``'avg'``.

    Returns an array of shape :func:`pool_output_shape`, channels pooled independently.
    A max window holding a NaN gives NaN (TensorFlow's ``max_pool2d`` would skip it; see
    the module docstring); an average over a NaN is NaN, as in TensorFlow. Raises
    ``ValueError`` for a wrong rank or dtype, bad window arguments, or a window that
    does not fit with ``padding='valid'``.
    """
    pool, strides, padding, mode = _check_args(pool_size, strides, padding, mode)
    x = as_float(check_nhwc(x))
    # raises if the window does not fit
    pool_output_shape(x.shape, pool, strides=strides, padding=padding)
    if mode == "max":
        _, view, _, _ = _windows(x, pool, strides, padding, fill=-np.inf)
        return view.max(axis=(-2, -1))
    _, view, valid, _ = _windows(x, pool, strides, padding, fill=0)
    counts = valid.sum(axis=(-2, -1))[None, :, :, None]  # real cells per window
    return (view.sum(axis=(-2, -1)) / counts).astype(x.dtype)


def max_pool2d(x, pool_size=2, *, strides=None, padding="valid") -> np.ndarray:
    """Max pooling, ``pool2d(..., mode="max")``, like ``keras.layers.MaxPooling2D``.

    Chapter 4. NaN propagates (see the module docstring); errors as :func:`pool2d`.
    """
    return pool2d(x, pool_size, strides=strides, padding=padding, mode="max")


def avg_pool2d(x, pool_size=2, *, strides=None, padding="valid") -> np.ndarray:
    """Average pooling, ``pool2d(..., mode="avg")``, like ``AveragePooling2D``.

    Chapter 4; errors as :func:`pool2d`.
    """
    return pool2d(x, pool_size, strides=strides, padding=padding, mode="avg")


def global_avg_pool2d(x, *, keepdims: bool = False) -> np.ndarray:
    """Mean over height and width, ``(N, H, W, C) -> (N, C)``; chapter 4 (global pool).

    ``keepdims=True`` gives ``(N, 1, 1, C)``. Like
    ``keras.layers.GlobalAveragePooling2D``; dtypes as in the module docstring. Raises
    ``ValueError`` for a wrong rank or dtype, or an empty height or width.
    """
    x = as_float(check_nhwc(x))
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(
            f"x must have a non-empty height and width, got shape {x.shape}"
        )
    return x.mean(axis=(1, 2), keepdims=keepdims)


def global_max_pool2d(x, *, keepdims: bool = False) -> np.ndarray:
    """Max over height and width, ``(N, H, W, C) -> (N, C)``; chapter 4 (global pool).

    ``keepdims=True`` gives ``(N, 1, 1, C)``. Like ``keras.layers.GlobalMaxPooling2D``,
    including NaN: a channel holding a NaN gives NaN. Raises ``ValueError`` for a wrong
    rank or dtype, or an empty height or width.
    """
    x = as_float(check_nhwc(x))
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(
            f"x must have a non-empty height and width, got shape {x.shape}"
        )
    return x.max(axis=(1, 2), keepdims=keepdims)


def max_pool2d_backward(
    x, dout, pool_size=2, *, strides=None, padding="valid"
) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to ``x`` (chapters 4 and 5).

    Each output cell's upstream gradient ``dout[n, i, j, c]`` is added to the input cell
    that won its window (the arg-max); every other input cell gets nothing from that
    window. When windows overlap, one input cell can win several windows and its
    gradients add up.

    Ties: the first maximum in row-major scan order of the window (top row first, left
    to right) wins, which is what TensorFlow's CPU kernel does. With continuous random
    inputs ties have probability zero; with ties (ReLU zeros, saturated pixels) other
    implementations may route the gradient to a different, equally valid, cell. Padded
    cells never win.

    NaN: a window holding a NaN pools to NaN (:func:`pool2d`), so its gradient goes to
    that NaN (the first one in scan order), never to a finite cell; this is PyTorch's
    and NumPy's convention. TensorFlow's ``tf.nn.max_pool2d`` differs: it skips NaN,
    returns the largest number and routes the gradient there.

    ``x``: ``(N, H, W, C)`` real numbers; ``dout``: the pooled shape
    (:func:`pool_output_shape`). Returns ``dx`` with the shape of ``x``, float (integers
    become float64). Raises ``ValueError`` for a wrong rank, dtype, window or ``dout``
    shape.
    """
    pool, strides, padding, _ = _check_args(pool_size, strides, padding)
    x = as_float(check_nhwc(x))
    expected = pool_output_shape(x.shape, pool, strides=strides, padding=padding)
    dout = np.asarray(dout)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have the shape of the pooled output {expected} for x of shape "
            f"{x.shape}, pool_size={pool}, strides={strides}, padding={padding!r}; "
            f"got {dout.shape}"
        )
    xp, view, valid, (pt, pl) = _windows(x, pool, strides, padding, fill=-np.inf)
    n, ho, wo, c, kh, kw = view.shape
    flat = view.reshape(n, ho, wo, c, kh * kw)
    top = flat.max(axis=-1, keepdims=True)  # NaN if the window holds one, as forward
    winners = np.where(np.isnan(top), np.isnan(flat), flat == top)
    winners &= valid.reshape(1, ho, wo, 1, kh * kw)  # padding (-inf) never wins
    first = winners.argmax(axis=-1)  # first True = first maximum (or NaN) in scan order
    di, dj = np.divmod(first, kw)  # offset of the winner inside its window
    rows = np.arange(ho)[None, :, None, None] * strides[0] + di
    cols = np.arange(wo)[None, None, :, None] * strides[1] + dj
    batch = np.broadcast_to(np.arange(n)[:, None, None, None], rows.shape)
    chan = np.broadcast_to(np.arange(c)[None, None, None, :], rows.shape)
    dxp = np.zeros(xp.shape, dtype=x.dtype)
    np.add.at(dxp, (batch, rows, cols, chan), dout)
    return dxp[:, pt : pt + x.shape[1], pl : pl + x.shape[2], :]
