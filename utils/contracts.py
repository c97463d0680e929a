"""The input contract of the package: the checks every NumPy teaching module runs on
its arguments.

Chapter 1 ("Images as tensors") introduces the dtypes and the NHWC layout these checks
enforce; chapter 6 explains the integer class indices of :func:`check_class_indices`.
Every check raises one ``ValueError`` that says what was wrong and how to fix it, so the
modules that use them all complain the same way. :mod:`utils.shapes` (shape arithmetic
and the float policy of :func:`utils.shapes.as_float`) re-exports every public name
here, so ``shapes.check_finite`` and ``from utils.shapes import check_nhwc`` keep
working. This module imports nothing from the package.

The contract (issue 25), written once here and used everywhere:

- **Layout.** The rank and the length of every axis a function relies on are checked,
  never reshaped into place (a ``(G, 5)`` array of ``[box | class]`` rows is refused
  where ``(G, 4)`` boxes are wanted, :func:`check_last_axis`). Images and feature maps
  are NHWC; :func:`check_nhwc` also refuses a batch that looks channels-first
  (:func:`looks_nchw`), with the transpose that fixes it.
- **Values.** Arrays whose values must lie in a domain (probabilities, pixel scales,
  noise schedules, class indices, counts) are checked with :func:`check_range` or
  :func:`check_class_indices`; the message names the argument, the range of what was
  passed (in the caller's units) and the usual fix (a softmax or sigmoid forgotten,
  ``alpha_bars`` mixed up with ``betas``, ...).
- **NaN, infinity and empty input: refused.** A NaN or an infinity in an argument is a
  ``ValueError`` from :func:`check_finite` (how many, where the first one is, where to
  look), and an input with nothing in it is a ``ValueError`` from
  :func:`check_nonempty`, unless the empty answer is exact and documented (an image
  with no boxes has no detections). A NaN is never sorted last, clipped, counted or
  averaged into a finite number. Two documented exceptions: the layer primitives that
  mirror one Keras layer value for value (activations, convolution, pooling,
  normalization, dropout and their backward passes, chapters 2-5 and 9) compute what
  the layer computes, a NaN included (chapter 4's NaN rule), so that it shows where it
  appears, while the losses, metrics, statistics and running averages that consume
  their outputs refuse it; and a logit of ``-inf`` (a class of probability 0) is
  accepted by the log-sum-exp family and the losses.
- **Statistics.** Preconditions such as "at least 2 samples" or "a covariance is
  positive semi-definite" are checked and refused with the measured value, never
  clipped into range silently.

The checks are vectorised (one pass of NumPy, no Python loop over values), so they cost
a small fraction of the computation they guard.
"""

from __future__ import annotations

import numpy as np


def check_real(a, name: str) -> np.ndarray:
    """``a`` as an array (dtype kept) after checking it holds real numbers.

    Integers and floats pass; bool, complex, strings and objects raise ``ValueError``.
    Chapter 1 ("dtypes").
    """
    try:
        a = np.asarray(a)
    except ValueError as err:  # ragged nested lists
        raise ValueError(
            f"{name} must be a rectangular array of numbers: {err}"
        ) from None
    if a.dtype == bool:
        raise ValueError(
            f"{name} must hold real numbers, got a bool array; convert it with "
            f"{name}.astype(np.float32) if 0/1 values are meant"
        )
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(
        a.dtype, np.complexfloating
    ):
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def looks_nchw(shape) -> bool:
    """True when a rank-4 ``shape`` read as NHWC looks like a channels-first batch.

    The book's arrays are NHWC ``(N, H, W, C)``. A channels-first ``(N, C, H, W)`` array
    of square images or maps, read as NHWC, has a "width" equal to its "channels" and a
    "height" that differs: ``shape[2] == shape[3] != shape[1]``. It is flagged when
    ``shape[1]`` is an image's channel count (1, 3 or 4) and the side is at least 4
    pixels (``(N, 3, 32, 32)``), or when ``shape[1]`` is a feature map's channel count,
    at least 16 and at least 4 times the side (``(N, 64, 4, 4)``). Read as NHWC, such a
    shape would be a strip of 1 to 4 rows, or a map at least 4 times taller than wide,
    whose width equals its channel count: shapes the book never builds. Smaller
    ambiguous shapes (``(N, 8, 4, 4)``) are let through. Never raises; False for other
    ranks. Chapter 1 ("layouts").
    """
    shape = tuple(shape)
    if len(shape) != 4:
        return False
    _, a, b, c = shape
    if b != c or a == b:
        return False
    return (a in (1, 3, 4) and c >= 4) or (a >= 16 and a >= 4 * c)


def check_nhwc(x, name: str = "x", *, channels: int | None = None) -> np.ndarray:
    """``x`` as a real array (dtype kept) after checking it is a rank-4 NHWC batch.

    Raises ``ValueError`` for another rank (with the ``x[None]`` hint for one image), a
    non-real dtype (see :func:`check_real`), a batch that looks channels-first
    (:func:`looks_nchw`; the message gives the transpose) and, when ``channels`` is
    given, a last axis of another length. Empty axes pass: callers that cannot handle
    them say so themselves (:func:`check_nonempty`). Chapter 1 ("layouts").
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            f"{name} must be a rank-4 NHWC batch (batch, height, width, channels), got "
            f"shape {x.shape}; for a single image use {name}[None]"
        )
    x = check_real(x, name)
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(
            f"{name} must have {channels} channels on its last axis (NHWC), got shape "
            f"{x.shape}"
            + (
                f"; it looks channels-first: use np.transpose({name}, (0, 2, 3, 1))"
                if x.shape[1] == channels
                else ""
            )
        )
    if channels is None and looks_nchw(x.shape):
        n, c, h, w = x.shape
        raise ValueError(
            f"{name} has shape {x.shape}, which looks channels-first (NCHW: {c} "
            f"channels of {h}x{w} pixels), but the book's arrays are NHWC (batch, "
            f"height, width, channels); convert it with np.transpose({name}, "
            f"(0, 2, 3, 1)) or utils.images.to_layout({name}, 'NCHW', 'NHWC')"
        )
    return x


def check_finite(a, name: str, *, hint: str | None = None, allow_neg_inf=False):
    """``a`` as an array (dtype kept) after checking it holds no NaN and no infinity.

    The package's NaN policy (module docstring): a NaN or an infinity in an argument
    is refused, never sorted, clipped or averaged into a finite answer. The message
    says how many values are bad, the index of the first one, and ``hint`` (default:
    where NaN usually comes from and how to find it). ``allow_neg_inf=True`` accepts
    ``-inf`` (a logit of a class with probability 0). Integer arrays always pass. The
    check is one vectorised sum, plus a mask only when something is wrong. Raises
    ``ValueError``. Chapter 1 ("dtypes").
    """
    a = check_real(a, name)
    if a.dtype.kind != "f":
        return a
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(a, axis=None, dtype=np.float64)
    if np.isfinite(total):  # no NaN or inf can hide in a finite sum
        return a
    bad = np.isnan(a) | (np.isposinf(a) if allow_neg_inf else np.isinf(a))
    if not bad.any():  # the sum overflowed, or only allowed -inf values
        return a
    n_nan = int(np.isnan(a).sum())
    n_inf = int(bad.sum()) - n_nan
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if a.ndim else ()
    where = f" (the first at index {first})" if a.ndim else ""
    fix = hint or (
        "NaN and inf come from an earlier step that diverged or divided by zero: find "
        "where they first appear (np.isnan, np.isinf) and fix that step; this "
        "function refuses them instead of returning a misleading number"
    )
    raise ValueError(
        f"{name} holds {n_nan} NaN and {n_inf} infinite value(s) among {a.size}"
        f"{where}; {fix}"
    )


def check_nonempty(a, name: str, *, what: str = "value", axis: int | None = None):
    """``a`` as an array after checking it is not empty (along ``axis``, if given).

    The package refuses input with nothing in it wherever the answer would be
    undefined (a mean, a statistic, a rate over no values). Raises ``ValueError``
    naming ``name``, its shape and the fix ("pass at least one ``what``"). Chapter 1.
    """
    a = np.asarray(a)
    empty = a.size == 0 if axis is None else (a.ndim > axis and a.shape[axis] == 0)
    if empty:
        raise ValueError(f"{name} is empty (shape {a.shape}); pass at least one {what}")
    return a


def check_last_axis(a, name: str, size: int, *, layout: str, ndim: int | None = None):
    """``a`` as an array after checking its last axis has ``size`` entries.

    ``layout`` is how the expected shape reads, e.g. ``"(G, 4) boxes [x0, y0, x1,
    y1]"``; ``ndim`` (optional) is the required rank. The array is never reshaped to
    fit: a ``(G, 5)`` array of boxes with a class column is refused, with a slicing
    hint, instead of being read as 5 wrong boxes. Raises ``ValueError``. Chapter 1
    ("layouts").
    """
    a = np.asarray(a)
    if (ndim is not None and a.ndim != ndim) or a.ndim < 1 or a.shape[-1] != size:
        hint = ""
        if a.ndim >= 1 and a.shape[-1] > size:
            hint = (
                f"; if the first {size} columns are the ones meant, pass "
                f"{name}[..., :{size}]"
            )
        raise ValueError(f"{name} must have shape {layout}, got shape {a.shape}{hint}")
    return a


def _interval(low, high, low_open, high_open) -> str:
    left = "-inf" if low is None else f"{low:g}"
    right = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open or low is None else '['}{left}, {right}" + (
        ")" if high_open or high is None else "]"
    )


def check_range(
    a,
    name: str,
    *,
    low=None,
    high=None,
    low_open=False,
    high_open=False,
    hint: str = "",
) -> np.ndarray:
    """``a`` as a real array after checking every value lies in a range.

    ``low``/``high`` bound the values (``None``: unbounded); ``low_open``/``high_open``
    make a bound strict. NaN is refused too (:func:`check_finite`). The message gives
    the range of the values passed, in the caller's units, and ``hint`` (the usual
    fix). Raises ``ValueError``. Chapter 1.
    """
    a = check_finite(a, name)
    if a.size == 0:
        return a
    lo, hi = a.min(), a.max()
    below = low is not None and (lo < low or (low_open and lo == low))
    above = high is not None and (hi > high or (high_open and hi == high))
    if below or above:
        raise ValueError(
            f"{name} must lie in {_interval(low, high, low_open, high_open)}, got "
            f"values from {lo:.6g} to {hi:.6g}" + (f"; {hint}" if hint else "")
        )
    return a


def check_class_indices(labels, n_classes: int | None, name: str) -> np.ndarray:
    """Class indices of any shape as int64, after checking dtype and range.

    Integer dtypes only (bool, floats and strings are refused: take ``argmax`` of
    scores first, or ``astype(int)`` after checking the values are whole). Every index
    must be non-negative and, when ``n_classes`` is given, below it. The message names
    ``name`` and the smallest and largest index passed. Raises ``ValueError``.
    Chapter 6 explains integer labels; :func:`utils.labels.integer_labels` is the
    variant that also accepts whole-number floats, as the losses do.
    """
    arr = np.asarray(labels)
    if arr.size == 0 and np.issubdtype(arr.dtype, np.number):
        return np.zeros(arr.shape, np.int64)  # e.g. np.array([]): no labels at all
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{name} must hold integer class indices, got dtype {arr.dtype}; take "
            "scores.argmax(-1) of class scores, or astype(np.int64) of whole numbers"
        )
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or (n_classes is not None and hi >= n_classes):
            allowed = (
                f"in [0, {n_classes - 1}]" if n_classes is not None else "that are >= 0"
            )
            raise ValueError(
                f"{name} must be class indices {allowed}"
                + (f" for {n_classes} classes" if n_classes is not None else "")
                + f", got values from {lo} to {hi}"
            )
    return arr.astype(np.int64, copy=False)
