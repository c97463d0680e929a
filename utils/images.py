"""Small NumPy image operations: layouts, scaling, standardization, flips and shifts.

Chapter 1 ("Images as tensors") explains each one and checks it against TensorFlow;
later chapters use them for preprocessing. Images are NHWC batches unless a docstring
says otherwise. Bad input raises one ``ValueError`` that says what was wrong.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, check_finite, check_nhwc, check_real

LAYOUTS = ("NHWC", "NCHW")


def to_layout(x, source: str, target: str) -> np.ndarray:
    """Reorder a rank-4 batch between ``"NHWC"`` and ``"NCHW"`` (a transpose, not a
    reshape).

    Any dtype; returns a view of shape ``(N, C, H, W)`` or ``(N, H, W, C)`` (``x``
    itself when the layouts agree). Raises ``ValueError`` for an unknown layout name or
    a rank other than 4. Chapter 1 (layouts).
    """
    for name, value in (("source", source), ("target", target)):
        if value not in LAYOUTS:
            raise ValueError(f"{name} layout must be one of {LAYOUTS}, got {value!r}")
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected a rank-4 batch, got shape {x.shape}")
    if source == target:
        return x
    return x.transpose(0, 3, 1, 2) if source == "NHWC" else x.transpose(0, 2, 3, 1)


def to_float01(x) -> np.ndarray:
    """uint8 pixels 0..255 (any shape) to float32 in [0, 1], same shape. Chapter 1
    (scaling).

    Other dtypes raise ``ValueError``: float images may already be scaled, and uint16
    (or int) images do not have 255 as their white, so dividing by 255 would be wrong.

    Multiplies by the float32 constant 1/255, as ``tf.image.convert_image_dtype`` does,
    so the two agree bit for bit (dividing by 255 differs from it in the last bit for
    half the values).
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(
            f"to_float01 expects uint8 pixels (0-255), got dtype {x.dtype}; float "
            "images "
            "may already be scaled, other integer images need their own maximum"
        )
    return x.astype(np.float32) * np.float32(1 / 255)


_CHUNK = 1 << 20  # pixels per slice in channel_stats (8 MB per channel in float64)


def channel_stats(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of an NHWC batch.

    ``x`` is a real ``(N, H, W, C)`` array of any real dtype (uint8 pixels or floats);
    returns two float64 arrays of shape ``(C,)`` in the units of ``x`` (the population
    standard deviation, ``ddof=0``). Works in float64 on slices of at most ``_CHUNK``
    pixels, so the 50,000 CIFAR-10 training images as float32 (614 MB) need only a few
    MB more, not float64 copies of the whole batch. Raises ``ValueError`` for another
    rank, a channels-first batch, a non-real dtype, an empty batch or NaN/inf values
    (found from the sums, without an extra pass). Chapter 1 (standardization).
    """
    x = check_nhwc(x)
    if x.size == 0:
        raise ValueError(f"channel_stats needs at least one pixel, got shape {x.shape}")
    flat = x.reshape(-1, x.shape[-1])
    total = np.zeros(flat.shape[1])
    for start in range(0, len(flat), _CHUNK):
        total += flat[start : start + _CHUNK].sum(axis=0, dtype=np.float64)
    mean = total / len(flat)
    if not np.all(np.isfinite(mean)):  # a NaN or inf makes its channel's sum so
        bad = int(np.flatnonzero(~np.isfinite(mean))[0])
        check_finite(x[..., bad], f"x[..., {bad}] (channel {bad})")
    squares = np.zeros(flat.shape[1])
    for start in range(0, len(flat), _CHUNK):  # second pass: exact, no cancellation
        d = flat[start : start + _CHUNK].astype(np.float64) - mean
        squares += np.einsum("ij,ij->j", d, d)
    return mean, np.sqrt(squares / len(flat))


def standardize(x, mean, std) -> np.ndarray:
    """``(x - mean) / std`` per channel, returned as float32 of the shape of ``x``.

    ``x`` is a real NHWC batch; ``mean`` and ``std`` hold one value per channel, shape
    ``(C,)``, in the units of ``x`` (use statistics of the *training* set only). Raises
    ``ValueError`` for a wrong rank or dtype, statistics of the wrong shape, or a
    ``std`` that is not positive and finite in every channel (NaN included). Chapter 1.
    """
    x = check_nhwc(x)
    mean = as_float(mean, "mean", np.float64)
    std = as_float(std, "std", np.float64)
    channels = x.shape[-1]
    if mean.shape != (channels,) or std.shape != (channels,):
        raise ValueError(
            f"mean and std need one value per channel ({channels}), got shapes "
            f"{mean.shape} and {std.shape}"
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise ValueError(
            f"mean must be finite and std positive and finite in every channel, got "
            f"mean {mean} and std {std}"
        )
    return ((x - mean) / std).astype(np.float32)


def hflip(x) -> np.ndarray:
    """Mirror each image of an NHWC batch left-right (a view, dtype and shape kept).

    Raises ``ValueError`` for another rank or a non-real dtype. Chapter 1
    (augmentation).
    """
    return check_nhwc(x)[:, :, ::-1, :]


SHIFT_MODES = ("constant", "reflect", "roll")


def _fill_value(fill, dtype):
    """``fill`` if ``dtype`` can hold it exactly, else ``ValueError`` (no silent
    wrap-around)."""
    if isinstance(fill, bool) or not isinstance(fill, (int, float, np.number)):
        raise ValueError(f"fill must be a number, got {fill!r}")
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if not (
            np.isfinite(fill) and fill == int(fill) and info.min <= fill <= info.max
        ):
            raise ValueError(
                f"fill={fill!r} cannot be stored in the images' dtype "
                f"{np.dtype(dtype)} "
                f"(whole numbers {info.min}..{info.max}); convert the images to float "
                "first"
            )
    return fill


def translate(x, dy: int, dx: int, *, mode: str = "constant", fill=0) -> np.ndarray:
    """Move every image ``dy`` pixels DOWN and ``dx`` pixels RIGHT (negative: up /
    left).

    ``x`` is a batch ``(N, H, W)`` (grayscale) or ``(N, H, W, C)``; the result has the
    same shape and dtype, and output pixel ``(i, j)`` is input pixel ``(i - dy, j -
    dx)``. What enters from outside depends on ``mode``:

    - ``"constant"``: the value ``fill`` (default 0); pixels pushed past the edge are
      lost. With ``fill=0`` this equals TensorFlow's pad-and-crop (chapter 1);
    - ``"reflect"``: a mirror of the border (NumPy's ``reflect``, the edge row itself is
      not repeated), the reflect-pad-then-crop augmentation of fast CIFAR-10 training;
    - ``"roll"``: the pixels pushed out come back on the other side (``np.roll``).

    Raises ``ValueError`` for another rank, a non-real dtype, non-int shifts, a shift of
    at least the image size or an unknown mode. Chapter 1 (augmentation); chapter 2 uses
    it to show that an MLP is not shift-tolerant.
    """
    x = check_real(x, "x")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"x must be a batch (N, H, W) or (N, H, W, C), got shape {x.shape}; "
            "for a single image use x[None]"
        )
    if mode not in SHIFT_MODES:
        raise ValueError(f"mode must be one of {SHIFT_MODES}, got {mode!r}")
    for v, name in ((dy, "dy"), (dx, "dx")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"shifts must be ints (whole pixels), got {name}={v!r}")
    dy, dx = int(dy), int(dx)
    h, w = x.shape[1:3]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(
            f"shift ({dy}, {dx}) must be smaller than the image ({h}x{w}); nothing "
            "would be left"
        )
    if mode == "roll":
        return np.roll(x, shift=(dy, dx), axis=(1, 2))
    if mode == "reflect":
        pads = ((0, 0), (abs(dy),) * 2, (abs(dx),) * 2) + ((0, 0),) * (x.ndim - 3)
        padded = np.pad(x, pads, mode="reflect")
        top, left = abs(dy) - dy, abs(dx) - dx
        return padded[:, top : top + h, left : left + w]
    out = np.full_like(x, _fill_value(fill, x.dtype))
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out
