"""utils.detection_metrics: matching, precision-recall, AP and mAP on hand-made cases.

Every expected value below is worked out by hand in the comments.
"""

import numpy as np
import pytest

from utils import detection_metrics as dm

GT = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)


def test_match_greedy_by_score_with_duplicates():
    pred = np.array(
        [
            [0, 0, 10, 10],  # exact match of gt 0
            [1, 1, 10, 10],  # IoU 0.81 with gt 0, a duplicate -> FP
            [20, 20, 30, 30],  # gt 1
            [50, 50, 60, 60],  # nothing there -> FP
        ],
        float,
    )
    scores = np.array([0.6, 0.9, 0.5, 0.95])
    order, is_tp = dm.match_detections(pred, scores, GT)
    np.testing.assert_array_equal(order, [3, 1, 0, 2])
    # 0.95: FP; 0.9 takes gt 0 first (TP); 0.6 is then the duplicate (FP); 0.5 TP
    np.testing.assert_array_equal(is_tp, [False, True, False, True])


def test_match_threshold_is_inclusive():
    pred = np.array([[0, 0, 10, 5]], float)  # IoU with gt 0 exactly 0.5
    assert dm.match_detections(pred, [1.0], GT, 0.5)[1][0]
    assert not dm.match_detections(pred, [1.0], GT, 0.51)[1][0]


def test_match_empty():
    order, is_tp = dm.match_detections(np.zeros((0, 4)), np.zeros(0), GT)
    assert order.shape == (0,) and is_tp.shape == (0,)
    order, is_tp = dm.match_detections(GT, [0.1, 0.2], np.zeros((0, 4)))
    np.testing.assert_array_equal(is_tp, [False, False])


def test_precision_recall_hand_case():
    # sorted: TP, FP, TP, FP with 3 ground-truth boxes
    p, r = dm.precision_recall([0.9, 0.8, 0.7, 0.6], [True, False, True, False], 3)
    np.testing.assert_allclose(p, [1, 1 / 2, 2 / 3, 2 / 4])
    np.testing.assert_allclose(r, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    p2, r2 = dm.precision_recall([0.6, 0.9, 0.7, 0.8], [False, True, True, False], 3)
    np.testing.assert_allclose(p2, p)  # the order of the input does not matter
    np.testing.assert_allclose(r2, r)


def test_average_precision_hand_cases():
    p, r = dm.precision_recall([0.9, 0.8, 0.7, 0.6], [True, False, True, False], 3)
    # envelope: 1 up to recall 1/3, 2/3 up to recall 2/3, then 0
    assert dm.average_precision(p, r, "all") == pytest.approx(1 / 3 + (1 / 3) * (2 / 3))
    # 11 points: r = 0, .1, .2, .3 -> 1; .4, .5, .6 -> 2/3; .7 ... 1 -> 0
    assert dm.average_precision(p, r, "11point") == pytest.approx((4 + 3 * 2 / 3) / 11)
    perfect = dm.precision_recall([0.9, 0.8], [True, True], 2)
    assert dm.average_precision(*perfect) == 1.0
    assert dm.average_precision(*perfect, method="11point") == 1.0
    assert dm.average_precision([], []) == 0.0


@pytest.mark.parametrize(
    "args, match",
    [
        (([0.5], [0.5], "coco"), "method must be one of"),
        (([0.5, 0.4], [0.5], "all"), "lengths differ"),
        (([1.5], [0.5], "all"), r"lie in \[0, 1\]"),
        (([0.5, 0.5], [0.6, 0.2], "all"), "must not decrease"),
    ],
)
def test_average_precision_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        dm.average_precision(*args)


def test_mean_average_precision_two_images_two_classes():
    gts = [
        (GT, np.array([0, 1])),
        (np.array([[5, 5, 15, 15]], float), np.array([0])),
    ]
    dets = [
        (np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), [0.9, 0.4], [0, 1]),
        (np.array([[40, 40, 50, 50], [5, 5, 15, 15]], float), [0.8, 0.7], [0, 0]),
    ]
    mean_ap, ap = dm.mean_average_precision(dets, gts, n_classes=3)
    # class 0: scores .9 TP, .8 FP, .7 TP over 2 gt -> P = 1, 1/2, 2/3; R = 1/2, 1/2, 1
    # all-point AP = 1/2 * 1 + 1/2 * 2/3; class 1: AP 1; class 2: no gt -> NaN
    assert ap[0] == pytest.approx(0.5 + 1 / 3)
    assert ap[1] == 1.0 and np.isnan(ap[2])
    assert mean_ap == pytest.approx((0.5 + 1 / 3 + 1) / 2)


def test_mean_average_precision_wrong_class_is_a_miss():
    gts = [(GT[:1], np.array([0]))]
    dets = [(GT[:1], [0.9], [1])]  # right box, wrong class
    mean_ap, ap = dm.mean_average_precision(dets, gts, n_classes=2)
    assert mean_ap == 0.0 and ap[0] == 0.0 and np.isnan(ap[1])


def test_mean_average_precision_bad_input():
    with pytest.raises(TypeError, match="one entry per image"):
        dm.mean_average_precision(np.zeros(3), [], 2)
    with pytest.raises(ValueError, match="give one entry per image in both"):
        dm.mean_average_precision([], [(GT, [0, 1])], 2)
    with pytest.raises(ValueError, match="one class per box"):
        dm.mean_average_precision([(GT, [1, 1], [0])], [(GT, [0, 1])], 2)
    with pytest.raises(ValueError, match="iou_threshold must be > 0"):
        dm.match_detections(GT, [1, 1], GT, 0.0)
    with pytest.raises(ValueError, match="one score per box"):
        dm.match_detections(GT, [1], GT)


def test_stricter_threshold_can_turn_a_duplicate_into_the_hit():
    # gt 0 = [0, 0, 10, 10]. First detection: IoU 0.6 (x1 = 6); second: IoU 0.8 (x1 = 8)
    pred = np.array([[0, 0, 6, 10], [0, 0, 8, 10]], float)
    _, at_50 = dm.match_detections(pred, [0.9, 0.8], GT[:1], 0.5)
    _, at_75 = dm.match_detections(pred, [0.9, 0.8], GT[:1], 0.75)
    np.testing.assert_array_equal(at_50, [True, False])  # the second is a duplicate
    np.testing.assert_array_equal(at_75, [False, True])  # ... and now the hit
    # a false positive became a true positive, yet the count after each rank fell
    assert np.all(np.cumsum(at_75) <= np.cumsum(at_50))


def test_map_never_rises_with_the_iou_threshold():
    # chapter 14's theorem, on random scenes: after every rank there are at most as
    # many true positives at a stricter threshold, so AP cannot rise
    rng = np.random.default_rng(0)
    gts, dets = [], []
    for _ in range(40):
        xy = rng.uniform(0, 40, (3, 2))
        gt = np.concatenate([xy, xy + rng.uniform(5, 20, (3, 2))], 1)
        noisy = np.repeat(gt, 3, axis=0) + rng.normal(0, 2.5, (9, 4))
        noisy[:, 2:] = np.maximum(noisy[:, 2:], noisy[:, :2] + 1)
        gts.append((gt, rng.integers(0, 2, 3)))
        dets.append((noisy, rng.uniform(size=9), rng.integers(0, 2, 9)))
    for method in ("all", "11point"):
        curve = [
            dm.mean_average_precision(dets, gts, 2, t, method)[0]
            for t in np.linspace(0.3, 0.95, 14)
        ]
        assert curve[0] > 0.05 and curve[-1] < curve[0]  # the scenes are not trivial
        assert np.all(np.diff(curve) <= 1e-12), (method, curve)
