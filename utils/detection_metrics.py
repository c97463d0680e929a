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

Boxes are ``xyxy`` pixels as in :mod:`utils.boxes` (no VOC "+1"); VOC's "difficult"
flags are not modelled. VOC counts IoU strictly above 0.5; here IoU >= threshold
counts, as in COCO's evaluation.
"""

from __future__ import annotations

import numpy as np

from . import boxes as box_ops
from .shapes import as_float, positive_int, real_number

__all__ = [
    "match_detections",
    "precision_recall",
    "average_precision",
    "mean_average_precision",
]

METHODS = ("all", "11point")


def match_detections(pred_boxes, pred_scores, gt_boxes, iou_threshold: float = 0.5):
    """True-positive flags of one image's detections of one class, in score order.

    ``pred_boxes`` ``(D, 4)`` and ``gt_boxes`` ``(G, 4)`` xyxy, ``pred_scores``
    ``(D,)``. Returns ``(order (D,) int64, is_tp (D,) bool)``: ``order`` sorts the
    detections by decreasing score and ``is_tp[k]`` says whether detection
    ``order[k]`` matched. Each ground-truth box matches at most once. Chapter 14.
    Raises ``ValueError`` for bad shapes or a threshold outside (0, 1].
    """
    pred_boxes = as_float(pred_boxes, "pred_boxes").reshape(-1, 4)
    gt_boxes = as_float(gt_boxes, "gt_boxes").reshape(-1, 4)
    scores = as_float(pred_scores, "pred_scores").reshape(-1)
    if len(scores) != len(pred_boxes):
        raise ValueError(
            f"{len(pred_boxes)} pred_boxes but {len(scores)} pred_scores; give one "
            "score per box"
        )
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
    ``n_ground_truth`` is 0. Chapter 14. Raises ``ValueError`` for mismatched lengths.
    """
    scores = as_float(scores, "scores").reshape(-1)
    is_tp = np.asarray(is_tp).reshape(-1)
    if is_tp.dtype != bool or len(is_tp) != len(scores):
        raise ValueError(
            f"is_tp must be a bool array with one flag per score ({len(scores)}), "
            f"got {is_tp.dtype} of length {len(is_tp)}"
        )
    n_gt = positive_int(n_ground_truth, "n_ground_truth", allow_zero=True)
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
    Raises ``ValueError`` for an unknown method, mismatched lengths, values outside
    [0, 1] or a decreasing recall.
    """
    p = as_float(precision, "precision").reshape(-1).astype(np.float64)
    r = as_float(recall, "recall").reshape(-1).astype(np.float64)
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


def mean_average_precision(
    detections,
    ground_truths,
    n_classes: int,
    iou_threshold: float = 0.5,
    method: str = "all",
):
    """mAP over classes, and each class's AP (NaN for a class without ground truth).

    ``detections[i] = (boxes (D, 4), scores (D,), classes (D,))`` and
    ``ground_truths[i] = (boxes (G, 4), classes (G,))`` for image ``i``; boxes xyxy.
    Returns ``(map, ap_per_class (n_classes,) float64)``; ``map`` is the mean over
    classes with ground truth (NaN if none has). Chapter 14. Raises ``TypeError`` /
    ``ValueError`` for lists of different lengths or entries of the wrong shape.
    """
    _check_image_lists(detections, ground_truths)
    n_classes = positive_int(n_classes, "n_classes")
    ap = np.full(n_classes, np.nan)
    for c in range(n_classes):
        all_scores, all_tp, n_gt = [], [], 0
        for (d_boxes, d_scores, d_cls), (g_boxes, g_cls) in zip(
            detections, ground_truths
        ):
            d_cls, g_cls = np.asarray(d_cls).reshape(-1), np.asarray(g_cls).reshape(-1)
            d_boxes = np.asarray(d_boxes).reshape(-1, 4)
            g_boxes = np.asarray(g_boxes).reshape(-1, 4)
            if len(d_cls) != len(d_boxes) or len(g_cls) != len(g_boxes):
                raise ValueError("every image needs one class per box")
            mine, gt = d_cls == c, g_boxes[g_cls == c]
            order, is_tp = match_detections(
                d_boxes[mine], np.asarray(d_scores).reshape(-1)[mine], gt, iou_threshold
            )
            all_scores.append(np.asarray(d_scores).reshape(-1)[mine][order])
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
