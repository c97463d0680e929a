"""Evaluating a detector: matching, precision-recall, AP and mAP at an IoU threshold.

Chapter 14 ("Object detection") explains the recipe, which follows the PASCAL VOC
devkit (Everingham et al. 2010) as re-implemented in py-faster-rcnn's ``voc_eval.py``:

1. For one class, pool the detections of every image and sort them by score.
2. Walk down that list: a detection is a true positive when its best-overlapping
   ground-truth box of the same image has IoU at least the threshold and was not
   matched before; otherwise (low IoU, or a duplicate of a matched box) a false
   positive.
3. Precision and recall after each detection give the precision-recall curve; AP is
   the area under its monotone envelope (``"all"``, VOC 2010 and later) or the mean
   of the envelope at 11 recall levels 0, 0.1, ..., 1 (``"11point"``, VOC 2007).
4. mAP is the mean AP over the classes that have ground truth.

IoU >= threshold counts, as in the official devkit (``VOCevaldet.m``: ``ovmax >=
minoverlap``; py-faster-rcnn's port uses ``>``, and the paper's text says "exceed").
Before comparing an mAP computed here on VOC files with the devkit's (they differ):

- boxes are ``xyxy`` pixels on a continuous plane as in :mod:`utils.boxes`; the
  devkit works on 1-based inclusive corners and adds 1 to every width and height.
  Converting its corners with ``xmin - 1, ymin - 1, xmax, ymax``
  (:func:`utils.voc.parse_voc_xml`) gives the same IoU, as long as detections are
  converted the same way;
- VOC's "difficult" objects (:func:`utils.voc.parse_voc_xml` reads the flags) are not
  modelled: the devkit leaves them out of the ground-truth count and counts a detection
  matched to one as neither a true nor a false positive;
- NaN/inf scores or boxes are refused (:func:`utils.shapes.check_finite`) instead of
  being ranked.

COCO's evaluation (pycocotools) differs more: it matches each detection to the best
*unclaimed* true box, interpolates precision at 101 recall points, keeps at most 100
detections per image, and also reports AP by object area and average recall.
"""

from __future__ import annotations

import numpy as np

from . import boxes as box_ops
from .shapes import (
    as_float,
    check_class_indices,
    check_finite,
    check_last_axis,
    positive_int,
    real_number,
)

__all__ = [
    "match_detections",
    "precision_recall",
    "average_precision",
    "mean_average_precision",
]

METHODS = ("all", "11point")


def _boxes(boxes, name: str) -> np.ndarray:
    """``boxes`` as a float ``(K, 4)`` array; an empty list or array is ``(0, 4)``."""
    arr = as_float(boxes, name)
    if arr.size == 0 and arr.ndim <= 2 and (arr.ndim < 2 or arr.shape[-1] in (0, 4)):
        return arr.reshape(0, 4)
    check_last_axis(
        arr, name, 4, layout="(K, 4): one [x0, y0, x1, y1] box per row", ndim=2
    )
    return check_finite(arr, name)


def _scores(scores, name: str, n: int | None = None) -> np.ndarray:
    """``scores`` as a finite 1-D float array (of length ``n`` when given)."""
    arr = as_float(scores, name)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        want = f"({n},), one score per box" if n is not None else "(D,)"
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    return check_finite(
        arr,
        name,
        hint="a detector whose scores are NaN or inf has diverged; a NaN score "
        "cannot be ranked, so no precision, recall or AP is defined for it",
    )


def match_detections(pred_boxes, pred_scores, gt_boxes, iou_threshold: float = 0.5):
    """True-positive flags of one image's detections of one class, in score order.

    ``pred_boxes`` ``(D, 4)`` and ``gt_boxes`` ``(G, 4)`` xyxy (an empty list for
    none), ``pred_scores`` ``(D,)`` finite. Returns ``(order (D,) int64, is_tp (D,)
    bool)``: ``order`` sorts the detections by decreasing score (ties keep their input
    order) and ``is_tp[k]`` says whether detection ``order[k]`` matched. A detection
    matches its best-overlapping ground-truth box if that IoU is at least the threshold
    and the box was not matched before (the VOC rule; a detection whose best box is
    taken is a false positive even if another free box overlaps it enough). Chapter 14.
    Raises ``ValueError`` for boxes that are not ``(K, 4)`` (a ``(G, 5)`` array with a
    class column is refused, never reshaped), mismatched lengths, NaN/inf boxes or
    scores, or a threshold outside (0, 1].
    """
    pred_boxes = _boxes(pred_boxes, "pred_boxes")
    gt_boxes = _boxes(gt_boxes, "gt_boxes")
    scores = _scores(pred_scores, "pred_scores", len(pred_boxes))
    thr = real_number(iou_threshold, "iou_threshold", low=0, high=1, low_open=True)
    order = np.argsort(-scores, kind="stable")
    is_tp = np.zeros(len(order), dtype=bool)
    if len(gt_boxes) == 0 or len(order) == 0:
        return order.astype(np.int64), is_tp
    overlaps = box_ops.iou(pred_boxes[order], gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for k, row in enumerate(overlaps):
        best = int(np.argmax(row))
        if row[best] >= thr and not taken[best]:
            is_tp[k], taken[best] = True, True
    return order.astype(np.int64), is_tp


def precision_recall(scores, is_tp, n_ground_truth: int):
    """Precision and recall after each detection, detections taken by decreasing score.

    ``scores`` ``(D,)`` and ``is_tp`` ``(D,)`` bool (any order: they are sorted here);
    ``n_ground_truth`` is the number of ground-truth boxes of the class. Returns
    float64 ``(precision (D,), recall (D,))``; recall is all zeros when
    ``n_ground_truth`` is 0. Detections of equal score keep their input order (a
    stable sort, as the VOC devkit and pycocotools do), so with ties the curve, and the
    AP, depend on that order. Chapter 14. Raises ``ValueError`` for mismatched lengths,
    scores that are not 1-D or hold NaN/inf, or more true positives than
    ``n_ground_truth`` (each true box matches at most once).
    """
    scores = _scores(scores, "scores")
    is_tp = np.asarray(is_tp)
    if is_tp.dtype != bool or is_tp.shape != scores.shape:
        raise ValueError(
            f"is_tp must be a bool array with one flag per score, shape "
            f"{scores.shape}, got {is_tp.dtype} of shape {is_tp.shape}"
        )
    n_gt = positive_int(n_ground_truth, "n_ground_truth", allow_zero=True)
    if int(is_tp.sum()) > n_gt:
        raise ValueError(
            f"is_tp has {int(is_tp.sum())} true positives but n_ground_truth is "
            f"{n_gt}; a ground-truth box matches at most one detection, so pass the "
            "number of ground-truth boxes of the class"
        )
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_tp[order])
    fp = np.cumsum(~is_tp[order])
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_gt if n_gt else np.zeros(len(tp))
    return precision.astype(np.float64), recall.astype(np.float64)


def average_precision(precision, recall, method: str = "all") -> float:
    """Area under a precision-recall curve (VOC style); chapter 14.

    ``precision`` and ``recall`` ``(D,)`` from :func:`precision_recall` (recall not
    decreasing). The curve is first replaced by its monotone envelope, the best
    precision at any recall at least as large. ``"all"`` integrates the envelope
    exactly (a sum of rectangles at every recall step); ``"11point"`` averages it at
    recall 0, 0.1, ..., 1 (0 where a recall is never reached). Empty input gives 0.
    Raises ``ValueError`` for an unknown method, mismatched lengths, NaN or values
    outside [0, 1] or a decreasing recall.
    """
    p = check_finite(as_float(precision, "precision"), "precision").reshape(-1)
    r = check_finite(as_float(recall, "recall"), "recall").reshape(-1)
    p, r = p.astype(np.float64), r.astype(np.float64)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(p) != len(r):
        raise ValueError(f"precision ({len(p)}) and recall ({len(r)}) lengths differ")
    if np.any((p < 0) | (p > 1) | (r < 0) | (r > 1)):
        raise ValueError("precision and recall must lie in [0, 1]")
    if np.any(np.diff(r) < 0):
        raise ValueError("recall must not decrease; sort detections by score first")
    if len(p) == 0:
        return 0.0
    if method == "11point":
        levels = np.linspace(0, 1, 11)
        return float(
            np.mean([p[r >= t].max() if np.any(r >= t) else 0.0 for t in levels])
        )
    r_ext = np.concatenate([[0.0], r, [1.0]])
    p_ext = np.concatenate([[0.0], p, [0.0]])
    envelope = np.maximum.accumulate(p_ext[::-1])[::-1]
    steps = np.flatnonzero(r_ext[1:] != r_ext[:-1]) + 1
    return float(np.sum((r_ext[steps] - r_ext[steps - 1]) * envelope[steps]))


def _check_image_lists(detections, ground_truths):
    if not isinstance(detections, (list, tuple)) or not isinstance(
        ground_truths, (list, tuple)
    ):
        raise TypeError(
            "detections and ground_truths must be lists with one entry per image"
        )
    if len(detections) != len(ground_truths):
        raise ValueError(
            f"{len(detections)} images of detections but {len(ground_truths)} of "
            "ground truth; give one entry per image in both"
        )


def _image_entry(entry, parts: int, what: str, i: int, n_classes: int):
    """One image's ``(boxes, [scores,] classes)``, checked: shapes, values, classes."""
    layout = "(boxes, scores, classes)" if parts == 3 else "(boxes, classes)"
    if not isinstance(entry, (tuple, list)) or len(entry) != parts:
        raise ValueError(
            f"{what}[{i}] must be a tuple {layout} of one image, got "
            f"{type(entry).__name__}"
            + (f" of length {len(entry)}" if isinstance(entry, (tuple, list)) else "")
        )
    boxes = _boxes(entry[0], f"{what}[{i}] boxes")
    classes = check_class_indices(
        np.asarray(entry[-1]).reshape(-1) if np.ndim(entry[-1]) <= 1 else entry[-1],
        n_classes,
        f"{what}[{i}] classes",
    )
    if classes.shape != (len(boxes),):
        raise ValueError(
            f"{what}[{i}] has {len(boxes)} boxes but classes of shape "
            f"{classes.shape}; give one class per box"
        )
    if parts == 2:
        return boxes, classes
    scores = _scores(entry[1], f"{what}[{i}] scores", len(boxes))
    return boxes, scores, classes


def mean_average_precision(
    detections,
    ground_truths,
    n_classes: int,
    iou_threshold: float = 0.5,
    method: str = "all",
):
    """mAP over classes, and each class's AP (NaN for a class without ground truth).

    ``detections[i] = (boxes (D, 4), scores (D,), classes (D,))`` and
    ``ground_truths[i] = (boxes (G, 4), classes (G,))`` for image ``i``; boxes xyxy,
    classes int in ``[0, n_classes)``. Returns ``(map, ap_per_class (n_classes,)
    float64)``; ``map`` is the mean over classes with ground truth (NaN if none has).
    Chapter 14. Raises ``TypeError`` / ``ValueError`` for lists of different lengths,
    entries of the wrong shape (boxes must be ``(K, 4)``, never reshaped), NaN/inf
    boxes or scores, or class indices outside ``[0, n_classes)`` (they would otherwise
    drop out of the evaluation unnoticed).
    """
    _check_image_lists(detections, ground_truths)
    n_classes = positive_int(n_classes, "n_classes")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    dets = [
        _image_entry(e, 3, "detections", i, n_classes) for i, e in enumerate(detections)
    ]
    gts = [
        _image_entry(e, 2, "ground_truths", i, n_classes)
        for i, e in enumerate(ground_truths)
    ]
    ap = np.full(n_classes, np.nan)
    for c in range(n_classes):
        all_scores, all_tp, n_gt = [], [], 0
        for (d_boxes, d_scores, d_cls), (g_boxes, g_cls) in zip(dets, gts):
            mine, gt = d_cls == c, g_boxes[g_cls == c]
            order, is_tp = match_detections(
                d_boxes[mine], d_scores[mine], gt, iou_threshold
            )
            all_scores.append(d_scores[mine][order])
            all_tp.append(is_tp)
            n_gt += len(gt)
        if n_gt == 0:
            continue
        p, r = precision_recall(
            np.concatenate(all_scores), np.concatenate(all_tp), n_gt
        )
        ap[c] = average_precision(p, r, method)
    valid = ap[~np.isnan(ap)]
    return (float(valid.mean()) if len(valid) else float("nan")), ap
