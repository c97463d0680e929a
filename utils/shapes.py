"""Shape arithmetic and the input checks shared by every NumPy teaching module.

Chapter 1 ("Images as tensors") introduces arrays, dtypes and the NHWC layout that these
checks enforce; chapter 3 ("Convolution") derives the output-size formula, padding
(:func:`resolve_padding`) and a convolution's output shape
(:func:`conv2d_output_shape`), and chapter 4 ("Pooling") reuses them. Every check raises
one ``ValueError`` that says what was wrong and how to fix it, so the modules that use
them (``nn``, ``conv``, ``pool``, ``backprop``, ``losses``, ``optim``, ``images``) all
complain the same way.

Float policy of :func:`as_float` (the one float coercion of the book):

- float32 and float64 are kept as they are (float32 reproduces TensorFlow's float32
  rounding);
- float16 becomes float32 (NumPy's half precision is slow and loses digits in every
  sum);
- integers become float64 (exact for every pixel and label value);
- bool, complex, strings and objects are refused: they are almost always a mistake.

The input contract of the package (issue 25), written once here and used everywhere:

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

import math
from numbers import Real

import numpy as np

PADDINGS = ("valid", "same")


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for bool and everything else. Chapter
    1.

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
    make the bound strict. bool, NaN, inf and non-numbers raise ``ValueError``. Chapter
    7 uses it for hyper-parameters (learning rates, momenta, decay rates).
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
    ``name`` and the smallest and largest index passed. Raises ``ValueError``. Chapter
    6 explains integer labels; :func:`utils.labels.integer_labels` is the variant that
    also accepts whole-number floats, as the losses do.
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
    input.
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
