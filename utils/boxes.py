"""Bounding boxes: encodings, IoU, centre-point targets and non-maximum suppression.

Chapter 14 ("Object detection") explains every function here. A box is four floats in
pixel units on a continuous image plane: pixel ``(row i, column j)`` covers
``[j, j + 1) x [i, i + 1)``, so a box covering columns 3..6 has ``x_min = 3`` and
``x_max = 7`` and width 4 (no "+1" as in the PASCAL VOC devkit). Three encodings:

- ``"xyxy"``: ``(x_min, y_min, x_max, y_max)``, the corners;
- ``"xywh"``: ``(x_min, y_min, width, height)``, the COCO annotation format;
- ``"cxcywh"``: ``(x_centre, y_centre, width, height)``, what centre-point detectors
  regress.

The detector of chapter 14 is centre-point based, after CenterNet (Zhou et al. 2019,
"Objects as Points", arXiv:1904.07850): one heatmap per class whose peaks are object
centres, plus a size and a sub-cell offset regressed at each centre.
"""

from __future__ import annotations

import numpy as np

from .shapes import (
    as_float,
    check_class_indices,
    check_finite,
    check_last_axis,
    check_range,
    positive_int,
    real_number,
)

__all__ = [
    "FORMATS",
    "convert",
    "area",
    "iou",
    "nms",
    "nms_per_class",
    "encode_centers",
    "decode_centers",
    "focal_loss",
    "centernet_loss",
    "centernet_loss_keras",
]

FORMATS = ("xyxy", "xywh", "cxcywh")


def _check_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """``boxes`` as a finite float array of shape ``(..., 4)``, else ValueError."""
    boxes = as_float(boxes, name)
    check_last_axis(boxes, name, 4, layout="(..., 4), one [x0, y0, x1, y1] box per row")
    return check_finite(boxes, name)


def _check_scores(scores, name: str = "scores") -> np.ndarray:
    """``scores`` as a float array without NaN or inf (a NaN score cannot be ranked)."""
    return check_finite(
        as_float(scores, name),
        name,
        hint="a NaN or inf score cannot be ranked against the others: the detector "
        "diverged, or its outputs were divided by zero; fix that first",
    )


def _check_classes(classes, n: int) -> np.ndarray:
    """One non-negative integer class per box, shape ``(n,)``."""
    classes = check_class_indices(classes, None, "classes")
    if classes.shape != (n,):
        raise ValueError(
            f"classes must hold one integer per box, shape ({n},), got shape "
            f"{classes.shape}"
        )
    return classes


def _check_heatmap(heatmap, name: str) -> np.ndarray:
    """Class probabilities in [0, 1] as float32 (logits are refused with a hint)."""
    return check_range(
        as_float(heatmap, name, np.float32),
        name,
        low=0,
        high=1,
        hint="it must hold probabilities; if these are the head's logits, apply a "
        "sigmoid first (utils.nn.sigmoid(logits))",
    )


def _check_format(fmt, name: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"{name} must be one of {FORMATS}, got {fmt!r}")
    return fmt


def convert(boxes, source: str, target: str) -> np.ndarray:
    """Re-encode boxes ``(..., 4)`` from one of :data:`FORMATS` to another.

    Returns a new float array of the same shape (float32 and float64 are kept, integers
    become float64). Chapter 14. Raises ``ValueError`` for an unknown format, a last
    axis that is not 4, or non-finite values.
    """
    boxes = _check_boxes(boxes)
    _check_format(source, "source")
    _check_format(target, "target")
    a, b, c, d = np.moveaxis(boxes, -1, 0)
    if source == "xyxy":
        x0, y0, x1, y1 = a, b, c, d
    elif source == "xywh":
        x0, y0, x1, y1 = a, b, a + c, b + d
    else:
        x0, y0, x1, y1 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if target == "xyxy":
        out = (x0, y0, x1, y1)
    elif target == "xywh":
        out = (x0, y0, x1 - x0, y1 - y0)
    else:
        out = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
    return np.stack(out, axis=-1).astype(boxes.dtype, copy=False)


def area(boxes) -> np.ndarray:
    """Areas (square pixels) of ``xyxy`` boxes ``(..., 4)``; 0 for an empty box.

    A box with ``x_max < x_min`` or ``y_max < y_min`` is empty. Chapter 14.
    """
    boxes = _check_boxes(boxes)
    w = np.clip(boxes[..., 2] - boxes[..., 0], 0, None)
    h = np.clip(boxes[..., 3] - boxes[..., 1], 0, None)
    return w * h


def iou(boxes_a, boxes_b) -> np.ndarray:
    """Intersection over union of every pair: ``(N, 4)``, ``(M, 4)`` xyxy -> ``(N, M)``.

    $\\mathrm{IoU}(A, B) = |A \\cap B| / |A \\cup B|$, computed for all pairs at once by
    broadcasting (no Python loop). Two empty boxes have IoU 0 (not NaN). Chapter 14.
    Raises ``ValueError`` unless both inputs are 2-D with 4 columns.
    """
    a, b = _check_boxes(boxes_a, "boxes_a"), _check_boxes(boxes_b, "boxes_b")
    for arr, name in ((a, "boxes_a"), (b, "boxes_b")):
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_boxes, 4), got shape {arr.shape}")
    a, b = a[:, None, :], b[None, :, :]
    w = np.clip(
        np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None
    )
    h = np.clip(
        np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None
    )
    inter = w * h
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes, scores, iou_threshold: float = 0.5, max_output: int | None = None):
    """Greedy non-maximum suppression; indices of the kept boxes, best score first.

    Repeatedly keep the highest-scoring box left and drop every remaining box whose
    IoU with it is **greater than** ``iou_threshold`` (the rule of
    ``tf.image.non_max_suppression``). ``boxes`` ``(N, 4)`` xyxy, ``scores`` ``(N,)``;
    returns int64 ``(K,)`` with ``K <= max_output`` (default: no limit). Equal scores
    are taken in index order. Chapter 14. Raises ``ValueError`` for mismatched
    lengths, NaN/inf boxes or scores, a threshold outside [0, 1] or a bad
    ``max_output``.
    """
    boxes = _check_boxes(boxes)
    scores = _check_scores(scores)
    if boxes.ndim != 2 or scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"boxes must be (N, 4) and scores (N,); got {boxes.shape} and "
            f"{scores.shape}"
        )
    iou_threshold = real_number(iou_threshold, "iou_threshold", low=0, high=1)
    limit = (
        len(boxes)
        if max_output is None
        else positive_int(max_output, "max_output", allow_zero=True)
    )
    order = np.argsort(-scores, kind="stable")
    overlaps = iou(boxes, boxes)
    keep = []
    alive = np.ones(len(boxes), dtype=bool)
    for i in order:
        if len(keep) == limit:
            break
        if not alive[i]:
            continue
        keep.append(i)
        alive &= overlaps[i] <= iou_threshold
    return np.asarray(keep, dtype=np.int64)


def nms_per_class(boxes, scores, classes, iou_threshold: float = 0.5):
    """:func:`nms` run separately for each class; kept indices, best score first.

    A box only suppresses boxes of its own class, so a car and a ship that overlap
    both survive. ``classes`` ``(N,)`` non-negative integers; the other arguments as
    in :func:`nms`. Returns int64 ``(K,)``. Chapter 14. Raises ``ValueError`` when
    ``classes`` does not give one non-negative integer per box, and as :func:`nms`.
    """
    boxes, scores = _check_boxes(boxes), _check_scores(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must have shape (N,), got {scores.shape}")
    classes = _check_classes(classes, len(scores))
    kept = [
        np.flatnonzero(classes == c)[
            nms(boxes[classes == c], scores[classes == c], iou_threshold)
        ]
        for c in np.unique(classes)
    ]
    keep = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")].astype(np.int64)


# ------------------------------------------------------------ centre-point targets


def encode_centers(
    boxes, labels, n_classes: int, grid: int, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training targets of a centre-point detector for one image.

    ``boxes`` ``(K, 4)`` xyxy in pixels, ``labels`` ``(K,)`` ints in
    ``[0, n_classes)``; the output grid is ``grid x grid`` cells of ``stride`` pixels.
    Each object's centre falls in cell ``(i, j) = floor(centre / stride)``. Returns
    float32 arrays:

    - ``heatmap`` ``(grid, grid, n_classes)``: a Gaussian bump per object on its class
      channel, exactly 1 at its centre cell, with standard deviations of one sixth of
      the box's width and height in cells (at least half a cell); overlapping bumps
      of one class take the maximum (CenterNet's rule). The widths are a
      simplification: CenterNet uses an isotropic Gaussian whose sigma follows
      CornerNet's radius rule (the largest corner shift that keeps IoU >= 0.7 in
      CenterNet's released code, sigma = (2r + 1) / 6); (w/6, h/6) is close to
      TTFNet's elliptical kernel (Liu et al. 2020, who scale it by 0.54);
    - ``size`` ``(grid, grid, 2)``: ``(w, h) / stride`` at centre cells, 0 elsewhere;
    - ``offset`` ``(grid, grid, 2)``: ``centre / stride - (j, i)`` in ``[0, 1)``;
    - ``mask`` ``(grid, grid)``: 1 at centre cells.

    When two objects share a centre cell the later one wins the size and offset.
    Chapter 14. Raises ``ValueError`` for bad shapes, labels or sizes.
    """
    n_classes = positive_int(n_classes, "n_classes")
    grid, stride = positive_int(grid, "grid"), positive_int(stride, "stride")
    boxes = _check_boxes(boxes)
    if boxes.ndim != 2:
        raise ValueError(
            f"boxes must be (K, 4), one image's boxes, got shape {boxes.shape}; call "
            "encode_centers once per image (np.zeros((0, 4)) for an image without any)"
        )
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(boxes) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be {len(boxes)} integers (one per box), got "
            f"{labels.dtype} of shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got {labels}")
    heatmap = np.zeros((grid, grid, n_classes), np.float32)
    size = np.zeros((grid, grid, 2), np.float32)
    offset = np.zeros((grid, grid, 2), np.float32)
    mask = np.zeros((grid, grid), np.float32)
    cells = np.arange(grid, dtype=np.float64)
    for box, label in zip(convert(boxes, "xyxy", "cxcywh") / stride, labels):
        cx, cy, w, h = box
        if w <= 0 or h <= 0:
            raise ValueError(f"every box needs a positive width and height, got {box}")
        j, i = int(np.floor(cx)), int(np.floor(cy))
        if not (0 <= i < grid and 0 <= j < grid):
            raise ValueError(
                f"box centre ({cx * stride:g}, {cy * stride:g}) px lies outside the "
                f"{grid * stride} px image"
            )
        sx, sy = max(w / 6, 0.5), max(h / 6, 0.5)
        bump = np.exp(
            -((cells[:, None] - i) ** 2) / (2 * sy**2)
            - (cells[None, :] - j) ** 2 / (2 * sx**2)
        )
        heatmap[..., label] = np.maximum(heatmap[..., label], bump)
        size[i, j] = (w, h)
        offset[i, j] = (cx - j, cy - i)
        mask[i, j] = 1.0
    return heatmap, size, offset, mask


def decode_centers(
    heatmap,
    size,
    offset,
    stride: int,
    *,
    max_detections: int = 20,
    score_threshold: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detections of one image from a centre-point detector's outputs.

    ``heatmap`` ``(G, G, C)`` class probabilities, ``size`` and ``offset``
    ``(G, G, 2)`` as in :func:`encode_centers`. A peak is a cell that equals the
    maximum of its 3x3 neighbourhood on its channel (CenterNet's max-pool "NMS"); the
    ``max_detections`` highest peaks above ``score_threshold`` become boxes. Returns
    ``(boxes (K, 4) xyxy float32 px, scores (K,) float32, classes (K,) int64)``, best
    first. Chapter 14. Raises ``ValueError`` for mismatched shapes, NaN/inf, and a
    heatmap outside [0, 1] (logits: apply the sigmoid first).
    """
    heatmap = _check_heatmap(heatmap, "heatmap")
    size, offset = (
        check_finite(as_float(size, "size", np.float32), "size"),
        check_finite(as_float(offset, "offset", np.float32), "offset"),
    )
    if (
        heatmap.ndim != 3
        or size.shape != heatmap.shape[:2] + (2,)
        or offset.shape != size.shape
    ):
        raise ValueError(
            "heatmap must be (G, G, C) and size, offset (G, G, 2); got "
            f"{heatmap.shape}, {size.shape}, {offset.shape}"
        )
    stride = positive_int(stride, "stride")
    max_detections = positive_int(max_detections, "max_detections")
    score_threshold = real_number(score_threshold, "score_threshold", low=0, high=1)
    g_h, g_w, _ = heatmap.shape
    padded = np.pad(heatmap, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    windows = np.stack(
        [padded[di : di + g_h, dj : dj + g_w] for di in range(3) for dj in range(3)]
    )
    peaks = np.where(heatmap >= windows.max(axis=0), heatmap, 0.0)
    flat = peaks.reshape(-1)
    order = np.argsort(-flat, kind="stable")[:max_detections]
    order = order[flat[order] > score_threshold]
    i, j, c = np.unravel_index(order, peaks.shape)
    centre = np.stack([j + offset[i, j, 0], i + offset[i, j, 1]], axis=-1)
    wh = size[i, j]
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], axis=-1) * stride
    return boxes.astype(np.float32), flat[order].astype(np.float32), c.astype(np.int64)


# ------------------------------------------------------------------------- losses


def focal_loss(heatmap_true, logits, alpha: float = 2.0, beta: float = 4.0) -> float:
    """CenterNet's penalty-reduced focal loss on a heatmap, summed and divided by N.

    With $p = \\sigma(z)$ and target $y$: $-(1-p)^\\alpha \\log p$ where $y = 1$, and
    $-(1-y)^\\beta p^\\alpha \\log(1-p)$ elsewhere; N is the number of cells with
    $y = 1$ (at least 1). ``heatmap_true`` (targets in [0, 1]) and ``logits`` have the
    same shape, e.g. ``(B, G, G, C)``. Zhou et al. 2019, eq. 1 (after Lin et al. 2017's
    focal loss). Chapter 14. Raises ``ValueError`` for different shapes, NaN/inf,
    targets outside [0, 1] or a negative ``alpha``/``beta``.
    """
    y, z = _check_heatmap(heatmap_true, "heatmap_true"), _check_logits(logits)
    alpha, beta = real_number(alpha, "alpha", low=0), real_number(beta, "beta", low=0)
    if y.shape != z.shape:
        raise ValueError(f"heatmap_true {y.shape} and logits {z.shape} must match")
    log_p = -np.logaddexp(0.0, -z)  # log sigmoid(z), stable
    log_1mp = -np.logaddexp(0.0, z)
    p = np.exp(log_p)
    positive = y >= 1.0
    pos = -((1 - p) ** alpha) * log_p
    neg = -((1 - y) ** beta) * p**alpha * log_1mp
    total = np.where(positive, pos, neg).sum()
    return float(total / max(positive.sum(), 1))


def _check_logits(logits, name: str = "logits") -> np.ndarray:
    return check_finite(as_float(logits, name), name)


def _split_target(y_true, n_classes):
    return (
        y_true[..., :n_classes],
        y_true[..., n_classes : n_classes + 2],
        y_true[..., n_classes + 2 : n_classes + 4],
        y_true[..., n_classes + 4 :],
    )


def centernet_loss(y_true, y_pred, size_weight: float = 0.1) -> float:
    """The detector's loss in NumPy: focal heatmap loss + L1 on size and offset.

    ``y_true`` ``(B, G, G, C + 5)`` packs ``[heatmap C | size 2 | offset 2 | mask 1]``
    (see :func:`encode_centers`); ``y_pred`` ``(B, G, G, C + 4)`` packs
    ``[heatmap logits C | size 2 | offset 2]``. The L1 terms are summed at centre cells
    only and divided by the number of centres; the size term is weighted by
    ``size_weight`` (CenterNet uses 0.1, with sizes measured on its output map, in
    cells, as here). Chapter 14; the Keras twin is :func:`centernet_loss_keras`.
    Raises ``ValueError`` for bad shapes,
    NaN/inf, a heatmap target outside [0, 1], a mask that is not 0/1 or a negative
    ``size_weight``.
    """
    y_true = check_finite(as_float(y_true, "y_true"), "y_true")
    y_pred = _check_logits(y_pred, "y_pred")
    size_weight = real_number(size_weight, "size_weight", low=0)
    if y_true.ndim != 4 or y_pred.shape != y_true.shape[:3] + (y_true.shape[3] - 1,):
        raise ValueError(
            "y_true must be (B, G, G, C + 5) and y_pred (B, G, G, C + 4); got "
            f"{y_true.shape} and {y_pred.shape}"
        )
    n_classes = y_true.shape[-1] - 5
    heat, size, offset, mask = _split_target(y_true, n_classes)
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError(
            "y_true's last channel is the centre mask and must be 0 or 1; pack "
            "[heatmap | size | offset | mask] as encode_centers returns them"
        )
    n = max(mask.sum(), 1.0)
    l_size = (np.abs(y_pred[..., n_classes : n_classes + 2] - size) * mask).sum() / n
    l_off = (np.abs(y_pred[..., n_classes + 2 :] - offset) * mask).sum() / n
    return focal_loss(heat, y_pred[..., :n_classes]) + size_weight * l_size + l_off


def centernet_loss_keras(y_true, y_pred, size_weight: float = 0.1):
    """:func:`centernet_loss` with ``keras.ops``, for ``model.compile(loss=...)``.

    Same packing and formula; returns a scalar tensor (the whole batch's loss, so Keras'
    batch averaging leaves it unchanged). Chapter 14.
    """
    from keras import ops

    n_classes = ops.shape(y_true)[-1] - 5
    heat, size, offset, mask = _split_target(y_true, n_classes)
    z = y_pred[..., :n_classes]
    log_p = -ops.softplus(-z)
    log_1mp = -ops.softplus(z)
    p = ops.exp(log_p)
    positive = ops.cast(heat >= 1.0, z.dtype)
    n_pos = ops.maximum(ops.sum(positive), 1.0)
    focal = ops.sum(
        positive * (-((1 - p) ** 2) * log_p)
        + (1 - positive) * (-((1 - heat) ** 4) * p**2 * log_1mp)
    )
    n = ops.maximum(ops.sum(mask), 1.0)
    l_size = ops.sum(ops.abs(y_pred[..., n_classes : n_classes + 2] - size) * mask)
    l_off = ops.sum(ops.abs(y_pred[..., n_classes + 2 :] - offset) * mask)
    return focal / n_pos + (size_weight * l_size + l_off) / n
