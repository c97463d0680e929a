"""Detection data built offline: a composited set with exact boxes (chapter 14).

:func:`composite_detection_set` pastes CIFAR-10 objects (their 32x32 photos, resized)
at random places and scales on a smooth random background. The boxes are exact, since
each is the pasted tile. Everything is deterministic from a seed and needs no network,
so QUICK and CI use it. It follows the idea of d2l's banana data set (Zhang et al.,
*Dive into Deep Learning*, section 14.6): objects pasted on backgrounds. The real data
set of chapter 14, PASCAL VOC 2007, is read by :mod:`utils.voc`.

Every problem with the data raises :class:`DetectionDataError` (also used by
:mod:`utils.voc`) with a message that says how to fix it.
"""

from __future__ import annotations

import numpy as np

from .shapes import (
    as_float,
    check_class_indices,
    check_finite,
    positive_int,
    real_number,
)

OVERSHOOT = 0.05  # float pixels this far outside [0, 1] are clipped (resize overshoot)

__all__ = ["DetectionDataError", "composite_detection_set"]


class DetectionDataError(RuntimeError, ValueError):
    """A detection data set cannot be built, found, verified or parsed; chapter 14.

    Also a ``ValueError``, so code catching bad arguments that way keeps working.
    """


# ------------------------------------------------------------- composited set


def _resize_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of ``(h, w, c)`` floats with pixel-centre alignment."""
    h, w = img.shape[:2]
    ys = np.clip((np.arange(height) + 0.5) * h / height - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * w / width - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour field (a 4x4 grid of colours, upsampled) plus noise."""
    coarse = rng.uniform(0.15, 0.85, size=(4, 4, 3))
    smooth = _resize_bilinear(coarse, size, size)
    return np.clip(smooth + rng.normal(0, 0.04, size=smooth.shape), 0, 1)


def _covered_fraction(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of each of ``boxes`` covered by ``box`` (all xyxy)."""
    w = np.clip(
        np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None
    )
    h = np.clip(
        np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None
    )
    own = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return w * h / own


def _pair(value, name: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high) of ints, got {value!r}")
    return tuple(value)


def _object_photos(images) -> np.ndarray:
    """Photos as float32 in [0, 1]: uint8 / 255, floats checked (scale from dtype)."""
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValueError(
            f"images must be uint8 (0-255) or floats in [0, 1], got dtype {arr.dtype}; "
            "convert with images.astype(np.uint8) if they are 0-255 values"
        )
    x = check_finite(as_float(arr, "images", np.float32), "images")
    if x.size and (x.min() < -OVERSHOOT or x.max() > 1 + OVERSHOOT):
        raise ValueError(
            f"float images must lie in [0, 1], got values from {x.min():.4g} to "
            f"{x.max():.4g}; for 0-255 floats pass images.astype(np.uint8) (or "
            "images / 255), for [-1, 1] images pass (images + 1) / 2"
        )
    return np.clip(x, 0.0, 1.0)


def composite_detection_set(
    images,
    labels,
    n_images: int,
    *,
    canvas: int = 64,
    objects: tuple[int, int] = (1, 3),
    scale: tuple[int, int] = (16, 32),
    max_covered: float = 0.35,
    seed: int = 0,
):
    """Canvases with pasted objects and their exact boxes; chapter 14.

    ``images`` ``(N, h, w, 3)`` object photos (CIFAR-10: 32x32), uint8 0-255 or floats
    in [0, 1] (the scale is read from the dtype, never guessed from the values; floats
    up to ``OVERSHOOT`` outside [0, 1], a resize's overshoot, are clipped), and
    ``labels`` ``(N,)`` or ``(N, 1)`` their integer class indices (>= 0). Each of the
    ``n_images`` canvases (``canvas x canvas`` pixels) gets a smooth random background
    and between
    ``objects[0]`` and ``objects[1]`` objects, drawn at random from ``images``, each
    resized to a random width and height in ``[scale[0], scale[1]]`` pixels and pasted
    at a random integer position. A later object may cover at most ``max_covered`` of
    an earlier one's box (else a new position is drawn; after 50 tries fewer objects
    are kept), so every object stays visible.

    Returns ``(x, boxes, classes)``: ``x`` float32 ``(n_images, canvas, canvas, 3)`` in
    [0, 1]; ``boxes`` a list of float32 ``(k, 4)`` xyxy pixel boxes (exactly the pasted
    tiles); ``classes`` a list of int64 ``(k,)``. The same arguments and ``seed`` give
    the same set. Raises :class:`DetectionDataError` for bad arguments: images of
    another shape, another integer dtype, NaN/inf, or floats outside [0, 1] (e.g.
    0-255 floats or [-1, 1] images, with the fix), labels that are not non-negative
    integers (never truncated), and bad sizes or pairs.
    """
    try:
        x_src = _object_photos(images)
        n_images = positive_int(n_images, "n_images")
        canvas = positive_int(canvas, "canvas")
        lo_k, hi_k = (positive_int(v, "objects") for v in _pair(objects, "objects"))
        lo_s, hi_s = (positive_int(v, "scale") for v in _pair(scale, "scale"))
        max_covered = real_number(max_covered, "max_covered", low=0, high=1)
        y_src = np.asarray(labels)
        if y_src.ndim == 2 and y_src.shape[1] == 1:
            y_src = y_src[:, 0]
        y_src = check_class_indices(y_src, None, "labels")
    except (ValueError, TypeError) as err:
        raise DetectionDataError(f"composite_detection_set: {err}") from None
    if (
        x_src.ndim != 4
        or x_src.shape[-1] != 3
        or len(y_src) != len(x_src)
        or not len(y_src)
    ):
        raise DetectionDataError(
            "images must be (N, h, w, 3) with one label each (N > 0); got "
            f"{x_src.shape} and {len(y_src)} labels"
        )
    if lo_k > hi_k or lo_s > hi_s or hi_s > canvas:
        raise DetectionDataError(
            f"need objects[0] <= objects[1] and scale[0] <= scale[1] <= canvas; got "
            f"objects={objects}, scale={scale}, canvas={canvas}"
        )
    rng = np.random.default_rng(seed)
    x = np.empty((n_images, canvas, canvas, 3), np.float32)
    all_boxes, all_classes = [], []
    for n in range(n_images):
        img = _background(rng, canvas)
        kept_boxes, kept_classes = [], []
        for _ in range(int(rng.integers(lo_k, hi_k + 1))):
            src = int(rng.integers(len(x_src)))
            for _attempt in range(50):
                w, h = (int(v) for v in rng.integers(lo_s, hi_s + 1, size=2))
                x0 = int(rng.integers(0, canvas - w + 1))
                y0 = int(rng.integers(0, canvas - h + 1))
                box = np.array([x0, y0, x0 + w, y0 + h], np.float32)
                if not kept_boxes or np.all(
                    _covered_fraction(box, np.array(kept_boxes)) <= max_covered
                ):
                    break
            else:
                continue  # no free place found: keep fewer objects
            img[y0 : y0 + h, x0 : x0 + w] = _resize_bilinear(x_src[src], h, w)
            kept_boxes.append(box)
            kept_classes.append(int(y_src[src]))
        x[n] = img
        all_boxes.append(np.array(kept_boxes, np.float32).reshape(-1, 4))
        all_classes.append(np.array(kept_classes, np.int64))
    return x, all_boxes, all_classes
