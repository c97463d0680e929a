"""Small NumPy image operations: layouts, scaling, standardization, flips and shifts.

Chapter 1 ("Images as tensors") explains each one and checks it against TensorFlow; later
chapters use them for preprocessing. Images are NHWC batches unless a docstring says otherwise.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import check_nhwc

LAYOUTS = ("NHWC", "NCHW")


def to_layout(x, source: str, target: str) -> np.ndarray:
    """Reorder a rank-4 batch between ``"NHWC"`` and ``"NCHW"`` (a transpose, not a reshape)."""
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
    """uint8 pixels 0..255 to float32 in [0, 1]. Other dtypes are refused: they may already be scaled.

    Multiplies by the float32 constant 1/255, as ``tf.image.convert_image_dtype`` does, so the
    two agree bit for bit (dividing by 255 differs from it in the last bit for half the values).
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"to_float01 expects uint8 pixels (0-255), got dtype {x.dtype}; is the image already scaled?")
    return x.astype(np.float32) * np.float32(1 / 255)


def channel_stats(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of an NHWC batch (computed in float64)."""
    x = check_nhwc(x)
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), flat.std(axis=0)


def standardize(x, mean, std) -> np.ndarray:
    """``(x - mean) / std`` per channel, as float32. Use statistics of the *training* set only."""
    x = check_nhwc(x)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    channels = x.shape[-1]
    if mean.shape != (channels,) or std.shape != (channels,):
        raise ValueError(f"mean and std need one value per channel ({channels}), got shapes {mean.shape} and {std.shape}")
    if np.any(std <= 0):
        raise ValueError(f"std must be positive in every channel, got {std}")
    return ((x - mean) / std).astype(np.float32)


def hflip(x) -> np.ndarray:
    """Mirror each image left-right (the width axis of NHWC)."""
    return check_nhwc(x)[:, :, ::-1, :]


def translate(x, dy: int, dx: int, *, mode: str = "constant") -> np.ndarray:
    """Shift every image by ``dy`` rows down and ``dx`` columns right, keeping the size.

    Pixels that enter from outside are zeros (``mode="constant"``) or a mirror of the border
    (``mode="reflect"``, the reflect-pad-then-crop trick of fast CIFAR-10 training).
    """
    x = check_nhwc(x)
    if mode not in ("constant", "reflect"):
        raise ValueError(f"mode must be 'constant' or 'reflect', got {mode!r}")
    h, w = x.shape[1:3]
    if not (isinstance(dy, (int, np.integer)) and isinstance(dx, (int, np.integer))):
        raise ValueError(f"shifts must be ints, got dy={dy!r}, dx={dx!r}")
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift ({dy}, {dx}) must be smaller than the image ({h}x{w})")
    py, px = abs(int(dy)), abs(int(dx))
    padded = np.pad(x, ((0, 0), (py, py), (px, px), (0, 0)), mode=mode)
    top, left = py - dy, px - dx
    return padded[:, top : top + h, left : left + w, :]
