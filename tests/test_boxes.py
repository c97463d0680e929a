"""utils.boxes: encodings, IoU, NMS, centre-point targets and the detector loss.

IoU is checked against a plain-Python loop and Keras' ``compute_iou``; NMS against
``tf.image.non_max_suppression``; the Keras loss against the NumPy one.
"""

import numpy as np
import pytest

from utils import boxes


def random_boxes(rng, n, size=64.0):
    xy = rng.uniform(0, size * 0.7, size=(n, 2))
    wh = rng.uniform(2, size * 0.3, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def iou_loop(a, b):
    out = np.zeros((len(a), len(b)))
    for i, (ax0, ay0, ax1, ay1) in enumerate(a):
        for j, (bx0, by0, bx1, by1) in enumerate(b):
            w = max(0.0, min(ax1, bx1) - max(ax0, bx0))
            h = max(0.0, min(ay1, by1) - max(ay0, by0))
            union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - w * h
            out[i, j] = w * h / union if union > 0 else 0.0
    return out


# ------------------------------------------------------------------ encodings


@pytest.mark.parametrize("source", boxes.FORMATS)
@pytest.mark.parametrize("target", boxes.FORMATS)
def test_convert_round_trips(source, target):
    b = random_boxes(np.random.default_rng(0), 7)
    there = boxes.convert(boxes.convert(b, "xyxy", source), source, target)
    back = boxes.convert(there, target, "xyxy")
    np.testing.assert_allclose(back, b, atol=1e-9)


def test_convert_hand_case_and_batch_shape():
    b = np.array([[3.0, 2.0, 7.0, 10.0]])
    np.testing.assert_array_equal(boxes.convert(b, "xyxy", "xywh"), [[3, 2, 4, 8]])
    np.testing.assert_array_equal(boxes.convert(b, "xyxy", "cxcywh"), [[5, 6, 4, 8]])
    batch = np.zeros((2, 5, 4), np.float32)
    out = boxes.convert(batch, "cxcywh", "xyxy")
    assert out.shape == (2, 5, 4) and out.dtype == np.float32


@pytest.mark.parametrize(
    "args, match",
    [
        (([[0, 0, 1, 1]], "xyxy", "yxyx"), "target must be one of"),
        (([[0, 0, 1, 1]], "corners", "xyxy"), "source must be one of"),
        (([[0, 0, 1]], "xyxy", "xywh"), r"shape \(\.\.\., 4\)"),
        (([[0, 0, np.nan, 1]], "xyxy", "xywh"), "finite"),
        ((["a", "b", "c", "d"], "xyxy", "xywh"), "real numbers"),
    ],
)
def test_convert_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        boxes.convert(*args)


# ------------------------------------------------------------------------ IoU


def test_iou_hand_cases():
    a = np.array([[0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 2]], float)
    b = np.array([[0, 0, 2, 2], [1, 0, 3, 2], [1, 1, 3, 3], [2, 0, 4, 2]], float)
    got = np.diag(boxes.iou(a, b))
    np.testing.assert_allclose(got, [1.0, 2 / 6, 1 / 7, 0.0])  # touching edges: 0


def test_iou_matches_loop_and_keras():
    import keras

    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 9), random_boxes(rng, 13)
    ours = boxes.iou(a, b)
    np.testing.assert_allclose(ours, iou_loop(a, b), atol=1e-12)
    theirs = keras.utils.bounding_boxes.compute_iou(
        a.astype(np.float32), b.astype(np.float32), bounding_box_format="xyxy"
    )
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-5)


def test_iou_empty_and_degenerate():
    assert boxes.iou(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    zero = np.array([[1.0, 1, 1, 1]])
    assert boxes.iou(zero, zero)[0, 0] == 0.0  # no NaN for two empty boxes
    assert boxes.area(np.array([[2.0, 2, 1, 5]]))[0] == 0.0  # x_max < x_min: empty


def test_iou_bad_input():
    with pytest.raises(ValueError, match="boxes_a must be 2-D"):
        boxes.iou(np.zeros(4), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="boxes_b must have shape"):
        boxes.iou(np.zeros((1, 4)), np.zeros((1, 5)))


# ------------------------------------------------------------------------ NMS


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_nms_matches_tensorflow(threshold, seed):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    b = random_boxes(rng, 40, size=32.0).astype(np.float32)
    s = rng.permutation(40).astype(np.float32) / 40  # distinct scores
    ours = boxes.nms(b, s, threshold, max_output=25)
    yxyx = b[:, [1, 0, 3, 2]]
    theirs = tf.image.non_max_suppression(yxyx, s, 25, iou_threshold=threshold)
    np.testing.assert_array_equal(ours, theirs.numpy())


def test_nms_hand_case():
    b = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], float)
    s = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(boxes.nms(b, s, 0.5), [0, 2])  # IoU(0,1)=0.82
    np.testing.assert_array_equal(boxes.nms(b, s, 0.9), [0, 1, 2])
    np.testing.assert_array_equal(boxes.nms(b, s, 0.5, max_output=1), [0])
    assert boxes.nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scores=np.ones(2)), r"scores \(N,\)"),
        (dict(iou_threshold=1.5), "iou_threshold must be <= 1"),
        (dict(max_output=-1), "max_output must be a non-negative int"),
    ],
)
def test_nms_bad_input(kwargs, match):
    args = dict(boxes=np.zeros((3, 4)), scores=np.ones(3)) | kwargs
    with pytest.raises(ValueError, match=match):
        boxes.nms(**args)


def test_nms_per_class_keeps_overlapping_boxes_of_other_classes():
    b = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 1, 10, 11]], float)
    s = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(boxes.nms_per_class(b, s, [0, 0, 1]), [0, 2])
    np.testing.assert_array_equal(boxes.nms_per_class(b, s, [0, 1, 2]), [0, 1, 2])
    assert boxes.nms_per_class(np.zeros((0, 4)), np.zeros(0), []).shape == (0,)
    with pytest.raises(ValueError, match="integer class indices"):
        boxes.nms_per_class(b, s, [0.0, 1.0, 2.0])


# --------------------------------------------------------- centre-point targets


def test_encode_centers_hand_case():
    b = np.array([[8.0, 4.0, 24.0, 12.0]])  # centre (16, 8), size 16 x 8 px
    heat, size, offset, mask = boxes.encode_centers(b, [1], 3, grid=8, stride=4)
    assert heat.shape == (8, 8, 3) and heat.dtype == np.float32
    assert heat[2, 4, 1] == 1.0 and heat.max() == 1.0 and heat[..., [0, 2]].max() == 0
    assert mask.sum() == 1 and mask[2, 4] == 1
    np.testing.assert_array_equal(size[2, 4], [4, 2])  # in cells of 4 px
    np.testing.assert_array_equal(offset[2, 4], [0, 0])
    assert heat[2, 5, 1] < 1 and heat[2, 5, 1] > heat[2, 6, 1]  # falls off


def test_encode_decode_round_trip():
    b = np.array([[3.5, 5.0, 20.0, 29.0], [30.0, 33.0, 60.0, 50.5]], np.float32)
    cls = np.array([0, 2])
    heat, size, offset, _ = boxes.encode_centers(b, cls, 3, grid=16, stride=4)
    heat = heat * 0.9  # a confident but not certain detector
    got_boxes, scores, got_cls = boxes.decode_centers(heat, size, offset, 4)
    assert len(got_boxes) == 2
    order = np.argsort(got_cls)
    np.testing.assert_allclose(got_boxes[order], b, atol=1e-5)
    np.testing.assert_array_equal(got_cls[order], cls)
    np.testing.assert_allclose(scores, 0.9)


def test_decode_keeps_only_local_peaks():
    heat = np.zeros((5, 5, 1), np.float32)
    heat[2, 2, 0], heat[2, 3, 0], heat[0, 0, 0] = 0.9, 0.8, 0.5
    out_boxes, scores, _ = boxes.decode_centers(
        heat, np.ones((5, 5, 2)), np.zeros((5, 5, 2)), 1
    )
    np.testing.assert_allclose(scores, [0.9, 0.5])  # 0.8 is next to 0.9: no peak
    assert out_boxes.shape == (2, 4)


def test_encode_decode_bad_input():
    with pytest.raises(ValueError, match="labels must be 1 integers"):
        boxes.encode_centers([[0, 0, 4, 4]], [0.5], 2, 4, 4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        boxes.encode_centers([[0, 0, 4, 4]], [2], 2, 4, 4)
    with pytest.raises(ValueError, match="outside the 16 px image"):
        boxes.encode_centers([[14, 14, 20, 20]], [0], 2, 4, 4)
    with pytest.raises(ValueError, match="positive width and height"):
        boxes.encode_centers([[4, 4, 4, 8]], [0], 2, 4, 4)
    with pytest.raises(ValueError, match="grid must be a positive int"):
        boxes.encode_centers([[0, 0, 4, 4]], [0], 2, 0, 4)
    with pytest.raises(ValueError, match="heatmap must be"):
        boxes.decode_centers(np.zeros((4, 4, 2)), np.zeros((4, 4, 3)), np.zeros(2), 4)


# ------------------------------------------------------------------------ loss


def packed(rng, n_classes=3, batch=2, grid=8):
    y_true = []
    for _ in range(batch):
        b = random_boxes(rng, 2, size=grid * 4.0).astype(np.float32)
        parts = boxes.encode_centers(
            b, rng.integers(0, n_classes, 2), n_classes, grid, 4
        )
        heat, size, offset, mask = parts
        y_true.append(np.concatenate([heat, size, offset, mask[..., None]], -1))
    y_pred = rng.normal(size=(batch, grid, grid, n_classes + 4)).astype(np.float32)
    return np.stack(y_true), y_pred


def test_focal_loss_hand_case():
    y = np.array([1.0, 0.5, 0.0])
    z = np.array([0.0, 0.0, 0.0])  # p = 0.5 everywhere
    expected = 0.25 * np.log(2) + (0.5**4 * 0.25 * np.log(2)) + 0.25 * np.log(2)
    assert boxes.focal_loss(y, z) == pytest.approx(expected)
    with pytest.raises(ValueError, match="must match"):
        boxes.focal_loss(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("seed", range(3))
def test_keras_loss_matches_numpy(seed):
    import keras

    y_true, y_pred = packed(np.random.default_rng(seed))
    ours = boxes.centernet_loss(y_true, y_pred, size_weight=0.3)
    theirs = boxes.centernet_loss_keras(
        keras.ops.convert_to_tensor(y_true),
        keras.ops.convert_to_tensor(y_pred),
        size_weight=0.3,
    )
    assert float(theirs) == pytest.approx(ours, rel=1e-5)


def test_loss_bad_shapes():
    with pytest.raises(ValueError, match="y_pred"):
        boxes.centernet_loss(np.zeros((1, 4, 4, 8)), np.zeros((1, 4, 4, 8)))
