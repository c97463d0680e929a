"""utils.det_data: the composited detection set (chapter 14); VOC is in test_voc.py."""

import numpy as np
import pytest

from utils import boxes, det_data

# ------------------------------------------------------------- composited set


def tiles(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 4


def test_composite_is_deterministic_and_exact():
    x_src, y_src = tiles()
    kwargs = dict(canvas=48, objects=(2, 4), scale=(12, 20), seed=5)
    x, b, c = det_data.composite_detection_set(x_src, y_src, 30, **kwargs)
    x2, b2, c2 = det_data.composite_detection_set(x_src, y_src, 30, **kwargs)
    np.testing.assert_array_equal(x, x2)
    assert x.shape == (30, 48, 48, 3) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    for bi, ci, bi2, ci2 in zip(b, c, b2, c2):
        np.testing.assert_array_equal(bi, bi2)
        np.testing.assert_array_equal(ci, ci2)
        assert 1 <= len(bi) <= 4 and bi.dtype == np.float32 and ci.dtype == np.int64
        wh = boxes.convert(bi, "xyxy", "xywh")[:, 2:]
        assert np.all((wh >= 12) & (wh <= 20)) and np.all(bi % 1 == 0)
        assert np.all(bi[:, :2] >= 0) and np.all(bi[:, 2:] <= 48)
        assert set(ci) <= {0, 1, 2, 3}


def test_composite_last_object_is_its_tile():
    # one object on each canvas, a constant-colour tile: the box holds exactly it
    x_src = np.full((1, 32, 32, 3), 255, np.uint8)
    x, b, c = det_data.composite_detection_set(
        x_src, [7], 5, canvas=32, objects=(1, 1), scale=(8, 16), seed=1
    )
    for img, (x0, y0, x1, y1) in zip(x, (bi[0].astype(int) for bi in b)):
        inside = np.zeros(img.shape[:2], bool)
        inside[y0:y1, x0:x1] = True
        assert np.all(img[inside] == 1.0) and np.all(img[~inside] < 1.0)
    assert all(list(ci) == [7] for ci in c)


def test_composite_keeps_objects_visible():
    x_src, y_src = tiles()
    _, b, _ = det_data.composite_detection_set(
        x_src, y_src, 40, canvas=40, objects=(3, 3), scale=(16, 24), max_covered=0.2
    )
    for bi in b:
        for k in range(1, len(bi)):
            covered = det_data._covered_fraction(bi[k], bi[:k])
            assert np.all(covered <= 0.2 + 1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_images=0), "n_images must be a positive int"),
        (dict(scale=(20, 70)), "scale"),
        (dict(objects=(3, 1)), "objects"),
        (dict(max_covered=2.0), "max_covered must be <= 1"),
        (dict(labels=np.zeros(3, int)), "one label each"),
        (dict(labels=np.full(20, 0.5)), "integer class indices"),
        (dict(images=np.zeros((4, 8, 8))), r"\(N, h, w, 3\)"),
    ],
)
def test_composite_bad_input(kwargs, match):
    x_src, y_src = tiles(4)
    args = dict(images=x_src, labels=y_src, n_images=2) | kwargs
    with pytest.raises(det_data.DetectionDataError, match=match):
        det_data.composite_detection_set(**args)
