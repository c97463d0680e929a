"""2-D convolution in NumPy: a readable loop, im2col + one matrix product, and counting helpers.

Chapter 3 ("Convolution") derives every function here and asserts each one equal to
``tf.nn.conv2d`` and ``keras.layers.Conv2D``; the backpropagation chapter reuses them.

Conventions are TensorFlow's, so arrays move between NumPy and TF without transposes:

- input ``x`` is NHWC: ``(batch, height, width, channels)``;
- filters ``w`` are HWIO: ``(kernel_height, kernel_width, in_channels, out_channels)``;
- like ``tf.nn.conv2d`` (and every deep-learning "convolution" layer) :func:`conv2d` computes a
  *cross-correlation*: the kernel is **not** flipped. :func:`true_convolution2d` is the
  textbook convolution with the flipped kernel, for one single-channel image;
- ``padding`` is ``"valid"`` (none), ``"same"`` (TensorFlow's rule, :func:`utils.shapes.same_padding`:
  output size ``ceil(n / stride)``, any odd extra pixel goes at the bottom/right), a non-negative
  int (that many zeros on every side), a pair ``(ph, pw)``, or explicit
  ``((top, bottom), (left, right))``;
- ``stride`` and ``dilation`` are a positive int or a pair ``(along height, along width)``.

Bad input raises ``ValueError`` naming what was wrong.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_pair, check_nhwc, check_real, output_size, same_padding

__all__ = [
    "resolve_padding",
    "conv2d_output_shape",
    "conv2d_loop",
    "im2col",
    "conv2d",
    "true_convolution2d",
    "cross_correlation2d",
    "conv2d_params",
    "conv2d_macs",
    "conv2d_flops",
    "receptive_field",
]


# --------------------------------------------------------------------------- checks and shapes


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_filters(w, c_in: int | None = None) -> np.ndarray:
    """Return ``w`` as an array after checking it is a rank-4 HWIO filter bank matching ``c_in``."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(
            f"w must be a rank-4 HWIO filter bank (kernel_height, kernel_width, in_channels, out_channels), "
            f"got shape {w.shape}; a single 2-D kernel k becomes k[:, :, None, None]"
        )
    check_real(w, "w")
    if min(w.shape) < 1:
        raise ValueError(f"w must not have an empty axis, got shape {w.shape}")
    if c_in is not None and w.shape[2] != c_in:
        raise ValueError(
            f"channel mismatch: x has {c_in} channels but w expects {w.shape[2]} input channels "
            f"(w is HWIO, so w.shape[2] must equal x.shape[-1])"
        )
    return w


def _check_bias(b, c_out: int) -> np.ndarray | None:
    if b is None:
        return None
    b = np.asarray(b)
    if b.shape != (c_out,):
        raise ValueError(f"bias b must have shape ({c_out},), one value per output channel, got shape {b.shape}")
    return check_real(b, "bias b")


def resolve_padding(padding, in_hw, kernel_hw, *, stride=1, dilation=1) -> tuple[tuple[int, int], tuple[int, int]]:
    """Turn any accepted ``padding`` into explicit ``((top, bottom), (left, right))`` zero counts.

    ``in_hw`` and ``kernel_hw`` are ``(height, width)`` pairs. ``"same"`` follows TensorFlow
    (:func:`utils.shapes.same_padding`), so it depends on stride and dilation too. Chapter 3.
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
    if _is_int(padding):
        if padding < 0:
            raise ValueError(f"padding must be non-negative, got {padding}")
        p = int(padding)
        return (p, p), (p, p)
    try:
        parts = tuple(padding)
    except TypeError:
        parts = ()
    if len(parts) == 2 and all(_is_int(p) for p in parts):  # (ph, pw): symmetric per axis
        if min(parts) < 0:
            raise ValueError(f"padding must be non-negative, got {padding!r}")
        return (int(parts[0]),) * 2, (int(parts[1]),) * 2
    if (
        len(parts) == 2
        and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) for v in p) for p in parts)
    ):
        if min(min(p) for p in parts) < 0:
            raise ValueError(f"padding must be non-negative, got {padding!r}")
        (t, b), (left, r) = parts
        return (int(t), int(b)), (int(left), int(r))
    raise ValueError(
        "padding must be 'valid', 'same', a non-negative int, a pair (ph, pw) or "
        f"((top, bottom), (left, right)), got {padding!r}"
    )


def conv2d_output_shape(x_shape, w_shape, *, stride=1, padding="valid", dilation=1) -> tuple[int, int, int, int]:
    """``(N, OH, OW, C_out)`` of :func:`conv2d` for an NHWC input shape and HWIO filter shape.

    Along each axis ``OH = floor((H + top + bottom - D*(KH-1) - 1) / S) + 1``, the chapter-3
    formula ``floor((W - F + 2P)/S) + 1`` generalised to dilation and uneven padding.
    Raises ``ValueError`` when the (dilated) window does not fit the padded input.
    """
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    if len(x_shape) != 4:
        raise ValueError(f"x must be a rank-4 NHWC batch, got shape {x_shape}")
    if len(w_shape) != 4:
        raise ValueError(f"w must be a rank-4 HWIO filter bank, got shape {w_shape}")
    n, h, w_, c = x_shape
    kh, kw, ci, co = w_shape
    if ci != c:
        raise ValueError(f"channel mismatch: x has {c} channels but w expects {ci} input channels")
    if min(h, w_) < 1:
        raise ValueError(f"x must have a non-empty height and width, got shape {x_shape}")
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    (pt, pb), (pl, pr) = resolve_padding(padding, (h, w_), (kh, kw), stride=stride, dilation=dilation)
    out = []
    for axis, size, pad, k, s, d in (("height", h, pt + pb, kh, sh, dh), ("width", w_, pl + pr, kw, sw, dw)):
        span = d * (k - 1) + 1
        if size + pad < span:
            raise ValueError(
                f"the window does not fit along the {axis}: a {k}-tap filter with dilation {d} spans {span} "
                f"pixels but the input has only {size} (+{pad} padding); use a smaller kernel or dilation, "
                f"or more padding (e.g. padding='same')"
            )
        out.append(output_size(size + pad, k, 0, s, d))
    return n, out[0], out[1], co


# --------------------------------------------------------------------------- the three implementations


def _prepare(x, w, b, stride, padding, dilation):
    """Shared checks for conv2d / conv2d_loop: returns padded x, w, b, strides, dilations, out shape."""
    x = check_nhwc(x)
    w = _check_filters(w, x.shape[-1])
    b = _check_bias(b, w.shape[3])
    out_shape = conv2d_output_shape(x.shape, w.shape, stride=stride, padding=padding, dilation=dilation)
    pads = resolve_padding(padding, x.shape[1:3], w.shape[:2], stride=stride, dilation=dilation)
    dtype = np.result_type(x.dtype, w.dtype, np.float32)
    xp = np.pad(x.astype(dtype, copy=False), ((0, 0), pads[0], pads[1], (0, 0)))
    return xp, w.astype(dtype, copy=False), b, as_pair(stride, "stride"), as_pair(dilation, "dilation"), out_shape


def conv2d_loop(x, w, b=None, *, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """2-D cross-correlation written as plain loops: one output number at a time.

    ``y[n, i, j, o] = b[o] + sum_{p, q, c} xpad[n, i*S + p*D, j*S + q*D, c] * w[p, q, c, o]``

    Slow (four Python loops) but easy to check against the formula; :func:`conv2d` is the fast
    version. Shapes, padding, stride and dilation as in the module docstring. Chapter 3.
    """
    xp, w, b, (sh, sw), (dh, dw), (n, oh, ow, co) = _prepare(x, w, b, stride, padding, dilation)
    kh, kw = w.shape[:2]
    y = np.zeros((n, oh, ow, co), dtype=xp.dtype)
    for img in range(n):
        for i in range(oh):
            for j in range(ow):
                top, left = i * sh, j * sw
                # the (dilated) window under output pixel (i, j): shape (kh, kw, c_in)
                window = xp[img, top : top + dh * (kh - 1) + 1 : dh, left : left + dw * (kw - 1) + 1 : dw, :]
                for o in range(co):
                    y[img, i, j, o] = np.sum(window * w[:, :, :, o])
    if b is not None:
        y += b
    return y


def im2col(x, kernel_size, *, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """Gather every receptive-field patch of ``x`` into a row: shape ``(N, OH, OW, KH*KW*C)``.

    The last axis is ordered ``(kernel row, kernel column, channel)`` with the channel fastest,
    exactly the order of ``w.reshape(KH*KW*C, C_out)`` for an HWIO filter bank ``w``, so
    ``im2col(x, (KH, KW), ...) @ w.reshape(-1, C_out)`` is the convolution. ``kernel_size``
    is an int or ``(KH, KW)``. Only ``KH*KW`` strided slices are taken (no per-pixel loop).
    Chapter 3.
    """
    x = check_nhwc(x)
    kh, kw = as_pair(kernel_size, "kernel_size")
    n, h, w_, c = x.shape
    _, oh, ow, _ = conv2d_output_shape(x.shape, (kh, kw, c, 1), stride=stride, padding=padding, dilation=dilation)
    (pt, pb), (pl, pr) = resolve_padding(padding, (h, w_), (kh, kw), stride=stride, dilation=dilation)
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    xp = np.pad(x.astype(np.result_type(x.dtype, np.float32), copy=False), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=xp.dtype)
    for p in range(kh):
        for q in range(kw):
            # kernel tap (p, q) sees this strided grid of input pixels, one per output pixel
            cols[:, :, :, p, q, :] = xp[:, p * dh : p * dh + sh * (oh - 1) + 1 : sh, q * dw : q * dw + sw * (ow - 1) + 1 : sw, :]
    return cols.reshape(n, oh, ow, kh * kw * c)


def conv2d(x, w, b=None, *, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """2-D cross-correlation like ``tf.nn.conv2d``: :func:`im2col` then one matrix product.

    ``x`` NHWC, ``w`` HWIO, optional bias ``b`` of shape ``(C_out,)``; returns a float array
    ``(N, OH, OW, C_out)`` (float64 if either input is float64 or integer, else float32). Chapter 3.
    """
    x = check_nhwc(x)
    w = _check_filters(w, x.shape[-1])
    b = _check_bias(b, w.shape[3])
    kh, kw, c, co = w.shape
    dtype = np.result_type(x.dtype, w.dtype, np.float32)
    cols = im2col(x.astype(dtype, copy=False), (kh, kw), stride=stride, padding=padding, dilation=dilation)
    y = cols @ w.astype(dtype, copy=False).reshape(kh * kw * c, co)
    if b is not None:
        y += b.astype(dtype, copy=False)
    return y


# --------------------------------------------------------------------------- the textbook convolution


def _check_2d(a, name):
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (height, width) array, got shape {a.shape}")
    check_real(a, name)
    if min(a.shape) < 1:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a.astype(np.result_type(a.dtype, np.float32), copy=False)


def _check_mode(mode, image, kernel):
    if mode not in ("valid", "full"):
        raise ValueError(f"mode must be 'valid' or 'full', got {mode!r}")
    if mode == "valid" and (kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]):
        raise ValueError(
            f"the kernel {kernel.shape} does not fit inside the image {image.shape} in 'valid' mode; use mode='full'"
        )


def true_convolution2d(image2d, kernel2d, mode: str = "valid") -> np.ndarray:
    """The textbook convolution of one single-channel image: the kernel is flipped.

    Written as the seed article's formula (section 3.1.1), with ``m x n`` kernel ``w``::

        y(u, v) = sum_{u'=0}^{m-1} sum_{v'=0}^{n-1} w(u', v') * x(u - u', v - v')

    ``x`` is taken as zero outside the image. ``mode="full"`` returns every ``(u, v)`` where the
    sum has at least one term, shape ``(H+m-1, W+n-1)``; ``mode="valid"`` (default) only those
    where the kernel lies entirely inside the image, shape ``(H-m+1, W-n+1)``. This equals
    ``scipy.signal.convolve2d`` and equals cross-correlation (``tf.nn.conv2d``) with the kernel
    rotated by 180 degrees. Chapter 3.
    """
    x = _check_2d(image2d, "image2d")
    w = _check_2d(kernel2d, "kernel2d")
    _check_mode(mode, x, w)
    m, n = w.shape
    h, wd = x.shape
    full = np.zeros((h + m - 1, wd + n - 1), dtype=np.result_type(x, w))
    for up in range(m):
        for vp in range(n):
            # w(u', v') multiplies x(u - u', v - v'): the image shifted down by u' and right by v'
            full[up : up + h, vp : vp + wd] += w[up, vp] * x
    if mode == "full":
        return full
    return full[m - 1 : h, n - 1 : wd]


def cross_correlation2d(image2d, kernel2d, mode: str = "valid") -> np.ndarray:
    """What deep-learning "convolution" layers compute, for one single-channel image (no flip).

    ``y(u, v) = sum_{u', v'} w(u', v') * x(u + u', v + v')``; ``mode`` as in
    :func:`true_convolution2d`. Equal to :func:`conv2d` on ``image[None, :, :, None]`` with
    ``kernel[:, :, None, None]`` (``mode="valid"``). Chapter 3.
    """
    x = _check_2d(image2d, "image2d")
    w = _check_2d(kernel2d, "kernel2d")
    _check_mode(mode, x, w)
    return true_convolution2d(x, w[::-1, ::-1], mode=mode)


# --------------------------------------------------------------------------- counting


def _check_counts(**values):
    for name, v in values.items():
        if not _is_int(v) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def conv2d_params(kh: int, kw: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Trainable numbers in a Conv2D layer: ``KH*KW*C_in*C_out`` weights plus ``C_out`` biases.

    Equals ``keras.layers.Conv2D(c_out, (kh, kw), use_bias=bias)`` built on ``c_in``
    channels, ``.count_params()``. Independent of the image size. Chapter 3.
    """
    _check_counts(kh=kh, kw=kw, c_in=c_in, c_out=c_out)
    return kh * kw * c_in * c_out + (c_out if bias else 0)


def conv2d_macs(in_hw, kh: int, kw: int, c_in: int, c_out: int, *, stride=1, padding="valid", dilation=1, batch: int = 1) -> int:
    """Multiply-accumulates of one Conv2D forward pass: ``N*OH*OW*C_out * KH*KW*C_in``.

    Every output number is a dot product of length ``KH*KW*C_in`` (padding zeros are
    counted, as a dense implementation multiplies them too). Chapter 3.
    """
    _check_counts(kh=kh, kw=kw, c_in=c_in, c_out=c_out, batch=batch)
    h, w_ = as_pair(in_hw, "in_hw")
    _, oh, ow, _ = conv2d_output_shape((batch, h, w_, c_in), (kh, kw, c_in, c_out), stride=stride, padding=padding, dilation=dilation)
    return batch * oh * ow * c_out * kh * kw * c_in


def conv2d_flops(in_hw, kh: int, kw: int, c_in: int, c_out: int, *, stride=1, padding="valid", dilation=1, bias: bool = True, batch: int = 1) -> int:
    """Floating-point operations of one Conv2D forward pass, counting **1 MAC = 2 FLOPs**.

    ``2 * conv2d_macs(...)`` plus, when ``bias`` is true, one addition per output number
    (``N*OH*OW*C_out``). Activations are not counted. Chapter 3.
    """
    macs = conv2d_macs(in_hw, kh, kw, c_in, c_out, stride=stride, padding=padding, dilation=dilation, batch=batch)
    outputs = macs // (kh * kw * c_in)
    return 2 * macs + (outputs if bias else 0)


# --------------------------------------------------------------------------- receptive field


def receptive_field(layers) -> list[dict]:
    """Receptive field after each layer of a stack of convolutions / poolings (one axis).

    ``layers`` is a sequence of ``(kernel, stride)`` or ``(kernel, stride, dilation)`` tuples.
    With ``j_0 = 1`` and ``r_0 = 1`` (one input pixel sees itself), layer ``l`` gives

    ``r_l = r_{l-1} + (k_l - 1) * d_l * j_{l-1}`` and ``j_l = j_{l-1} * s_l``,

    where ``j`` (the "jump") is the distance in input pixels between neighbouring outputs.
    Returns one dict per layer with keys ``layer, kernel, stride, dilation, rf, jump``. Chapter 3.
    """
    rows, r, j = [], 1, 1
    for idx, spec in enumerate(layers, start=1):
        spec = tuple(spec)
        if len(spec) not in (2, 3):
            raise ValueError(f"layer {idx}: expected (kernel, stride) or (kernel, stride, dilation), got {spec!r}")
        k, s, d = (*spec, 1) if len(spec) == 2 else spec
        _check_counts(kernel=k, stride=s, dilation=d)
        r += (k - 1) * d * j
        j *= s
        rows.append({"layer": idx, "kernel": int(k), "stride": int(s), "dilation": int(d), "rf": int(r), "jump": int(j)})
    return rows
