"""2-D convolution in NumPy: a readable loop, and im2col + one matrix product.

Chapter 3 ("Convolution") derives every function here and asserts each one equal to
``tf.nn.conv2d`` and ``keras.layers.Conv2D``; the backpropagation chapter reuses them.

Conventions are TensorFlow's, so arrays move between NumPy and TF without transposes:

- input ``x`` is NHWC: ``(batch, height, width, channels)``;
- filters ``w`` are HWIO: ``(kernel_height, kernel_width, in_channels, out_channels)``;
- like ``tf.nn.conv2d`` (and every deep-learning "convolution" layer) :func:`conv2d`
  computes a *cross-correlation*: the kernel is **not** flipped.
  :func:`true_convolution2d` is the textbook convolution with the flipped kernel, for
  one single-channel image;
- ``padding`` is ``"valid"`` (none), ``"same"`` (TensorFlow's rule,
  :func:`utils.shapes.same_padding`: output size ``ceil(n / stride)``, any odd extra
  pixel goes at the bottom/right), a non-negative int (that many zeros on every side), a
  pair ``(ph, pw)``, or explicit ``((top, bottom), (left, right))``;
- ``stride`` and ``dilation`` are a positive int or a pair ``(along height, along
  width)``.

Padding and output shapes (:func:`resolve_padding`, :func:`conv2d_output_shape`) live in
:mod:`utils.shapes`, the counts (:func:`conv2d_params`, :func:`conv2d_macs`,
:func:`conv2d_flops`, :func:`receptive_field`) in :mod:`utils.layer_cost`; both are
re-exported here. Bad input raises ``ValueError`` naming what was wrong.
"""

from __future__ import annotations

import numpy as np

from utils.layer_cost import (  # noqa: F401  (chapter 3 writes conv.conv2d_params)
    conv2d_flops,
    conv2d_macs,
    conv2d_params,
    receptive_field,
)
from utils.shapes import (  # noqa: F401  (chapter 3 writes conv.resolve_padding)
    as_pair,
    check_nhwc,
    check_real,
    conv2d_output_shape,
    resolve_padding,
)

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


# -------------------------------------------------------------------- checks and shapes


def _check_filters(w, c_in: int | None = None) -> np.ndarray:
    """Return ``w`` as an array after checking it is a rank-4 HWIO filter bank matching
    ``c_in``."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(
            "w must be a rank-4 HWIO filter bank (kernel_height, kernel_width, "
            "in_channels, out_channels), "
            f"got shape {w.shape}; a single 2-D kernel k becomes k[:, :, None, None]"
        )
    check_real(w, "w")
    if min(w.shape) < 1:
        raise ValueError(f"w must not have an empty axis, got shape {w.shape}")
    if c_in is not None and w.shape[2] != c_in:
        raise ValueError(
            f"channel mismatch: x has {c_in} channels but w expects {w.shape[2]} input "
            "channels "
            f"(w is HWIO, so w.shape[2] must equal x.shape[-1])"
        )
    return w


def _check_bias(b, c_out: int) -> np.ndarray | None:
    if b is None:
        return None
    b = np.asarray(b)
    if b.shape != (c_out,):
        raise ValueError(
            f"bias b must have shape ({c_out},), one value per output channel, got "
            f"shape {b.shape}"
        )
    return check_real(b, "bias b")


# ------------------------------------------------------------ the three implementations


def _prepare(x, w, b, stride, padding, dilation):
    """Shared checks for conv2d / conv2d_loop: returns padded x, w, b, strides,
    dilations, out shape."""
    x = check_nhwc(x)
    w = _check_filters(w, x.shape[-1])
    b = _check_bias(b, w.shape[3])
    out_shape = conv2d_output_shape(
        x.shape, w.shape, stride=stride, padding=padding, dilation=dilation
    )
    pads = resolve_padding(
        padding, x.shape[1:3], w.shape[:2], stride=stride, dilation=dilation
    )
    dtype = np.result_type(x.dtype, w.dtype, np.float32)
    xp = np.pad(x.astype(dtype, copy=False), ((0, 0), pads[0], pads[1], (0, 0)))
    return (
        xp,
        w.astype(dtype, copy=False),
        b,
        as_pair(stride, "stride"),
        as_pair(dilation, "dilation"),
        out_shape,
    )


def conv2d_loop(x, w, b=None, *, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """2-D cross-correlation written as plain loops: one output number at a time.

    ``y[n, i, j, o] = b[o] + sum_{p, q, c} xpad[n, i*S + p*D, j*S + q*D, c] * w[p, q, c,
    o]``

    Slow (four Python loops) but easy to check against the formula; :func:`conv2d` is
    the fast version. Shapes, padding, stride and dilation as in the module docstring.
    Chapter 3. Returns ``(N, OH, OW, C_out)`` in the dtype rule of :func:`conv2d`.
    Raises ``ValueError`` for wrong ranks, mismatched channels, a bias of the wrong
    shape, a non-real dtype, bad padding/stride/dilation, or a window that does not fit.
    """
    xp, w, b, (sh, sw), (dh, dw), (n, oh, ow, co) = _prepare(
        x, w, b, stride, padding, dilation
    )
    kh, kw = w.shape[:2]
    y = np.zeros((n, oh, ow, co), dtype=xp.dtype)
    for img in range(n):
        for i in range(oh):
            for j in range(ow):
                top, left = i * sh, j * sw
                # the (dilated) window under output pixel (i, j): shape (kh, kw, c_in)
                window = xp[
                    img,
                    top : top + dh * (kh - 1) + 1 : dh,
                    left : left + dw * (kw - 1) + 1 : dw,
                    :,
                ]
                for o in range(co):
                    y[img, i, j, o] = np.sum(window * w[:, :, :, o])
    if b is not None:
        y += b
    return y


def im2col(x, kernel_size, *, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """Gather every receptive-field patch of ``x`` into a row: shape ``(N, OH, OW,
    KH*KW*C)``.

    The last axis is ordered ``(kernel row, kernel column, channel)`` with the channel
    fastest, exactly the order of ``w.reshape(KH*KW*C, C_out)`` for an HWIO filter bank
    ``w``, so ``im2col(x, (KH, KW), ...) @ w.reshape(-1, C_out)`` is the convolution.
    ``kernel_size`` is an int or ``(KH, KW)``. Only ``KH*KW`` strided slices are taken
    (no per-pixel loop). Chapter 3. The dtype is ``np.result_type(x, float32)``. Raises
    ``ValueError`` for a wrong rank, a non-real dtype, bad
    kernel/stride/dilation/padding, or a window that does not fit.
    """
    x = check_nhwc(x)
    kh, kw = as_pair(kernel_size, "kernel_size")
    n, h, w_, c = x.shape
    _, oh, ow, _ = conv2d_output_shape(
        x.shape, (kh, kw, c, 1), stride=stride, padding=padding, dilation=dilation
    )
    (pt, pb), (pl, pr) = resolve_padding(
        padding, (h, w_), (kh, kw), stride=stride, dilation=dilation
    )
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    xp = np.pad(
        x.astype(np.result_type(x.dtype, np.float32), copy=False),
        ((0, 0), (pt, pb), (pl, pr), (0, 0)),
    )
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=xp.dtype)
    for p in range(kh):
        for q in range(kw):
            # kernel tap (p, q) sees this strided grid of input pixels, one per output
            # pixel
            cols[:, :, :, p, q, :] = xp[
                :,
                p * dh : p * dh + sh * (oh - 1) + 1 : sh,
                q * dw : q * dw + sw * (ow - 1) + 1 : sw,
                :,
            ]
    return cols.reshape(n, oh, ow, kh * kw * c)


def conv2d(x, w, b=None, *, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """2-D cross-correlation like ``tf.nn.conv2d``: :func:`im2col` then one matrix
    product.

    ``x`` NHWC, ``w`` HWIO, optional bias ``b`` of shape ``(C_out,)``; returns a float
    array ``(N, OH, OW, C_out)`` of dtype ``np.result_type(x, w, float32)``: float32 for
    float16, float32 and 8/16-bit integer inputs, float64 when either input is float64
    or a 32/64-bit integer. Raises ``ValueError`` for wrong ranks, mismatched channels,
    a bias of the wrong shape, a non-real dtype, or a window that does not fit.
    Chapter 3.
    """
    x = check_nhwc(x)
    w = _check_filters(w, x.shape[-1])
    b = _check_bias(b, w.shape[3])
    kh, kw, c, co = w.shape
    dtype = np.result_type(x.dtype, w.dtype, np.float32)
    cols = im2col(
        x.astype(dtype, copy=False),
        (kh, kw),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    y = cols @ w.astype(dtype, copy=False).reshape(kh * kw * c, co)
    if b is not None:
        y += b.astype(dtype, copy=False)
    return y


# ------------------------------------------------------------- the textbook convolution


def _check_2d(a, name):
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (height, width) array, got shape {a.shape}"
        )
    check_real(a, name)
    if min(a.shape) < 1:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a.astype(np.result_type(a.dtype, np.float32), copy=False)


def _check_mode(mode, image, kernel):
    if mode not in ("valid", "full"):
        raise ValueError(f"mode must be 'valid' or 'full', got {mode!r}")
    if mode == "valid" and (
        kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]
    ):
        raise ValueError(
            f"the kernel {kernel.shape} does not fit inside the image {image.shape} in "
            "'valid' mode; use mode='full'"
        )


def true_convolution2d(image2d, kernel2d, mode: str = "valid") -> np.ndarray:
    """The textbook convolution of one single-channel image: the kernel is flipped.

    Written as the seed article's formula (section 3.1.1), with ``m x n`` kernel ``w``::

        y(u, v) = sum_{u'=0}^{m-1} sum_{v'=0}^{n-1} w(u', v') * x(u - u', v - v')

    ``x`` is taken as zero outside the image. ``mode="full"`` returns every ``(u, v)``
    where the sum has at least one term, shape ``(H+m-1, W+n-1)``; ``mode="valid"``
    (default) only those where the kernel lies entirely inside the image, shape
    ``(H-m+1, W-n+1)``. This equals ``scipy.signal.convolve2d`` and equals
    cross-correlation (``tf.nn.conv2d``) with the kernel rotated by 180 degrees.
    Chapter 3. Returns float32 (float64 for float64 or 32/64-bit integer input). Raises
    ``ValueError`` for arrays that are not 2-D, empty or non-real, an unknown mode, or a
    kernel larger than the image in ``'valid'`` mode.
    """
    x = _check_2d(image2d, "image2d")
    w = _check_2d(kernel2d, "kernel2d")
    _check_mode(mode, x, w)
    m, n = w.shape
    h, wd = x.shape
    full = np.zeros((h + m - 1, wd + n - 1), dtype=np.result_type(x, w))
    for up in range(m):
        for vp in range(n):
            # w(u', v') multiplies x(u - u', v - v'): the image shifted down by u' and
            # right by v'
            full[up : up + h, vp : vp + wd] += w[up, vp] * x
    if mode == "full":
        return full
    return full[m - 1 : h, n - 1 : wd]


def cross_correlation2d(image2d, kernel2d, mode: str = "valid") -> np.ndarray:
    """What deep-learning "convolution" layers compute, for one single-channel image (no
    flip).

    ``y(u, v) = sum_{u', v'} w(u', v') * x(u + u', v + v')``; ``mode`` as in
    :func:`true_convolution2d`. Equal to :func:`conv2d` on ``image[None, :, :, None]``
    with ``kernel[:, :, None, None]`` (``mode="valid"``). Chapter 3. Dtype and errors as
    :func:`true_convolution2d`.
    """
    x = _check_2d(image2d, "image2d")
    w = _check_2d(kernel2d, "kernel2d")
    _check_mode(mode, x, w)
    return true_convolution2d(x, w[::-1, ::-1], mode=mode)
