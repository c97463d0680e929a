"""Semantic segmentation in NumPy: transposed convolution and the overlap metrics.

Chapter 13 ("Segmentation") explains everything here and asserts it against Keras 3:

- :func:`transposed_conv2d` is ``keras.layers.Conv2DTranspose`` (NHWC input, kernel
  ``(KH, KW, C_out, C_in)``, ``"valid"`` or ``"same"`` padding), written as a
  scatter-add: every input pixel stamps a weighted copy of the kernel into the output.
  It is the adjoint of the strided convolution :func:`utils.conv.conv2d`, i.e. the
  gradient of a convolution with respect to its input (:func:`utils.backprop.
  conv2d_backward`, chapter 5);
- :func:`confusion_matrix`, :func:`iou_per_class`, :func:`mean_iou` and
  :func:`dice_per_class` score integer label maps of any shape like
  ``keras.metrics.MeanIoU`` and ``keras.metrics.IoU``: counts are pooled over every
  pixel of every image, and a class that appears neither in the truth nor in the
  prediction is left out of the mean (its IoU is NaN here).

The soft Dice *loss* is :func:`utils.losses.dice_loss` (chapter 6); pixel cross-entropy
is :func:`utils.losses.sparse_categorical_crossentropy` applied per pixel.

Bad input raises ``ValueError`` saying what was wrong and how to fix it.
"""

from __future__ import annotations

import numpy as np

from utils.labels import integer_labels
from utils.shapes import PADDINGS, as_float, as_pair, check_nhwc, positive_int

__all__ = [
    "transposed_conv2d_output_size",
    "transposed_conv2d",
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "dice_per_class",
]


def transposed_conv2d_output_size(size, kernel_size, stride, padding) -> int:
    """Output length of a transposed convolution along one axis, as Keras computes it.

    ``"valid"``: ``size * stride + max(kernel_size - stride, 0)``; ``"same"``: ``size
    * stride``. All arguments are positive ints (``size`` may be 0). Chapter 13. Raises
    ``ValueError`` for a non-int or negative value or an unknown padding.
    """
    size = positive_int(size, "size", allow_zero=True)
    k = positive_int(kernel_size, "kernel_size")
    s = positive_int(stride, "stride")
    padding = _check_padding(padding)
    return size * s + (max(k - s, 0) if padding == "valid" else 0)


def _check_padding(padding) -> str:
    if not isinstance(padding, str) or padding.lower() not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def transposed_conv2d(x, w, b=None, *, stride=1, padding="valid") -> np.ndarray:
    """Transposed 2-D convolution, equal to ``keras.layers.Conv2DTranspose``.
    Chapter 13.

    ``x`` is NHWC ``(N, H, W, C_in)``; ``w`` is Keras' kernel layout ``(KH, KW, C_out,
    C_in)``, the same array that, read as an HWIO filter of a convolution from
    ``C_out`` to ``C_in`` channels, makes this function that convolution's input
    gradient; ``b`` is ``(C_out,)`` or None. ``stride`` is an int or a pair; the result
    has ``transposed_conv2d_output_size`` rows and columns and ``C_out`` channels, in
    ``x``'s float dtype. Input pixel ``(i, j)`` adds ``x[i, j] @ w[a, b].T`` to output
    pixel ``(i * stride + a, j * stride + b)`` for every tap ``(a, b)``; ``"same"``
    then crops ``(KH - stride) // 2`` rows from the top (and likewise columns), as
    TensorFlow does. Raises ``ValueError`` for a non-NHWC ``x``, a kernel that is not
    rank 4 or whose ``C_in`` differs from ``x``'s channels, a bias of the wrong shape,
    bad strides or an unknown padding.
    """
    x = as_float(check_nhwc(x, "x"), "x")
    w = as_float(w, "w", dtype=x.dtype)
    if w.ndim != 4:
        raise ValueError(
            f"transposed_conv2d: w must be rank 4 (KH, KW, C_out, C_in), got {w.shape}"
        )
    kh, kw, c_out, c_in = w.shape
    if c_in != x.shape[3]:
        raise ValueError(
            f"transposed_conv2d: x has {x.shape[3]} channels but w (KH, KW, C_out, "
            f"C_in) = {w.shape} expects C_in = {c_in}"
        )
    sh, sw = as_pair(stride, "stride")
    padding = _check_padding(padding)
    if b is not None:
        b = as_float(b, "b", dtype=x.dtype)
        if b.shape != (c_out,):
            raise ValueError(f"transposed_conv2d: b must have shape ({c_out},)")
    n, h, wd, _ = x.shape
    out_h = transposed_conv2d_output_size(h, kh, sh, padding)
    out_w = transposed_conv2d_output_size(wd, kw, sw, padding)
    top = max(kh - sh, 0) // 2 if padding == "same" else 0
    left = max(kw - sw, 0) // 2 if padding == "same" else 0
    full = np.zeros(
        (n, max((h - 1) * sh + kh, top + out_h), max((wd - 1) * sw + kw, left + out_w))
        + (c_out,),
        dtype=x.dtype,
    )
    for a in range(kh):
        for c in range(kw):
            # every input pixel stamps tap (a, c) of the kernel at its place
            full[:, a : a + sh * (h - 1) + 1 : sh, c : c + sw * (wd - 1) + 1 : sw] += (
                x @ w[a, c].T
            )
    y = full[:, top : top + out_h, left : left + out_w]
    return y if b is None else y + b


def _label_pair(y_true, y_pred, num_classes, what, ignore_class=None):
    num_classes = positive_int(num_classes, "num_classes")
    if np.shape(y_true) != np.shape(y_pred):
        raise ValueError(
            f"{what}: y_true has shape {np.shape(y_true)} but y_pred has shape "
            f"{np.shape(y_pred)}; pass label maps of equal shape (take "
            "probabilities.argmax(-1) first if y_pred holds class scores)"
        )
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if ignore_class is not None:
        ignore_class = positive_int(ignore_class, "ignore_class", allow_zero=True)
        keep = y_true != ignore_class  # those pixels are scored by nobody
        y_true, y_pred = y_true[keep], y_pred[keep]
    return (
        integer_labels(y_true, num_classes, what).ravel(),
        integer_labels(y_pred, num_classes, what).ravel(),
        num_classes,
    )


def confusion_matrix(y_true, y_pred, num_classes, *, ignore_class=None) -> np.ndarray:
    """Pixel counts ``C[t, p]`` of true class ``t`` predicted as ``p``; int64 ``(K,
    K)``. Chapter 13.

    ``y_true`` and ``y_pred`` are integer label maps of equal shape (any shape, e.g.
    ``(N, H, W)``) with values in ``[0, num_classes)``. Rows are the truth, columns
    the prediction, as in ``keras.metrics.MeanIoU``'s ``total_cm``. ``ignore_class``
    (an int, or None) drops every pixel whose *true* label is that value before
    counting, like ``keras.metrics.MeanIoU(ignore_class=...)``: an "ignore index" for
    pixels nobody should be scored on (the uncertain border of a trimap). Raises
    ``ValueError`` for unequal shapes, labels out of range or that are not whole
    numbers, a non-positive ``num_classes`` or a negative ``ignore_class``.
    """
    t, p, k = _label_pair(y_true, y_pred, num_classes, "confusion_matrix", ignore_class)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def iou_per_class(y_true, y_pred, num_classes, *, ignore_class=None) -> np.ndarray:
    """Intersection over union ``TP / (TP + FP + FN)`` of every class, float64 ``(K,)``.

    Also called the Jaccard index. A class with no pixel in either map has IoU NaN (0/0:
    there is nothing to score). Same arguments and errors as :func:`confusion_matrix`.
    Chapter 13.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes, ignore_class=ignore_class)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def mean_iou(y_true, y_pred, num_classes, *, ignore_class=None) -> float:
    """Mean of :func:`iou_per_class` over the classes that occur (NaN ones skipped),
    like ``keras.metrics.MeanIoU``. Chapter 13.

    Returns a float in [0, 1]. Same arguments and errors as :func:`confusion_matrix`,
    and ``ValueError`` when no pixel is scored (empty maps, or every pixel's true label
    is ``ignore_class``): a mean over no classes is undefined, and the package refuses
    it rather than return NaN (:mod:`utils.shapes`).
    """
    iou = iou_per_class(y_true, y_pred, num_classes, ignore_class=ignore_class)
    if np.all(np.isnan(iou)):
        raise ValueError(
            f"mean_iou: no pixel is scored (y_true has shape {np.shape(y_true)}"
            + (f", ignore_class={ignore_class}" if ignore_class is not None else "")
            + "); pass label maps with at least one pixel that is not ignored"
        )
    return float(np.nanmean(iou))


def dice_per_class(y_true, y_pred, num_classes, *, ignore_class=None) -> np.ndarray:
    """Dice coefficient (F1 score) ``2 TP / (2 TP + FP + FN)`` of every class, float64
    ``(K,)``. Chapter 13.

    For hard labels it is a monotone function of the IoU, ``Dice = 2 IoU / (1 +
    IoU)``, so it ranks models the same way but reads higher. NaN for a class absent
    from both maps. Same arguments and errors as :func:`confusion_matrix`.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes, ignore_class=ignore_class)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)
