"""Augmentation of whole on-device arrays, and test-time augmentation (keras.ops).

Chapter 10 (fast CIFAR-10). The recipe, a reflect-padded training set translated
and flipped once per epoch with a handful of whole-array operations, and the 6-view TTA,
is Keller Jordan's airbench94 (github.com/KellerJordan/cifar10-airbench); the
alternating flip is airbench's. Shifts use the sign convention of
:func:`utils.images.translate`: a positive ``dy`` moves the content DOWN, a positive
``dx`` moves it RIGHT.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from utils.fast.recipe import CIFAR_MEAN, CIFAR_STD, tta_weights
from utils.shapes import is_int


def _check_rank4(x, what: str) -> None:
    if len(x.shape) != 4:
        raise ValueError(
            f"{what} expects an NHWC batch (rank 4), got shape {tuple(x.shape)}"
        )


def normalize_batch(x, dtype: str = "float32"):
    """uint8 (N, H, W, 3) images -> ``(x / 255 - mean) / std`` in ``dtype`` (keras.ops).

    The device twin of :func:`utils.fast.recipe.normalize` (the NumPy reference it is
    tested against), run inside the compiled train step and prediction: the trainer
    keeps the training set as uint8, a quarter of the float32 memory, and every
    augmentation copy is a quarter as large. The arithmetic is float32 whatever
    ``dtype`` (the compute dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``).
    Chapter 10 (fast CIFAR-10 training); airbench94 normalises on the GPU too. Raises
    ``ValueError`` for a rank other than 4, a channel count other than 3 or a dtype
    other than uint8.
    """
    _check_rank4(x, "normalize_batch")
    dtype_in = keras.backend.standardize_dtype(x.dtype)
    if x.shape[-1] != 3 or dtype_in != "uint8":
        raise ValueError(
            f"normalize_batch expects uint8 RGB images (..., 3), got {dtype_in} with "
            f"{x.shape[-1]} channels; to_device keeps images as uint8"
        )
    scale = ops.convert_to_tensor(1.0 / (255.0 * CIFAR_STD), "float32")
    shift = ops.convert_to_tensor(CIFAR_MEAN / CIFAR_STD, "float32")
    return ops.cast(ops.cast(x, "float32") * scale - shift, dtype)


def reflect_pad(x, pad: int):
    """Reflect-pad an (N, H, W, C) tensor by ``pad`` pixels: (N, H + 2 pad, W + 2 pad,
    C).

    Same dtype as ``x``. Chapter 10 (fast CIFAR-10 training); airbench94 pads once per
    run. Raises ``ValueError`` for a rank other than 4 or unless ``0 <= pad < min(H,
    W)``.
    """
    _check_rank4(x, "reflect_pad")
    if not is_int(pad) or not 0 <= pad < min(x.shape[1], x.shape[2]):
        raise ValueError(
            f"pad must be an int in [0, {min(x.shape[1], x.shape[2])}) for images of "
            f"{x.shape[1]}x{x.shape[2]}, got {pad!r}"
        )
    if pad == 0:
        return x
    return ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")


def _host_shifts(d, name: str, pad: int, n: int) -> np.ndarray:
    d = np.asarray(d)
    if not np.issubdtype(d.dtype, np.integer) or d.shape != (n,):
        raise ValueError(
            f"{name} must be {n} ints (one per image), got {d.dtype} {d.shape}"
        )
    if d.size and np.abs(d).max() > pad:
        raise ValueError(
            f"{name} must lie in [-{pad}, {pad}] (the padding), got {d.tolist()}"
        )
    return d.astype("int32").reshape(-1, 1, 1, 1)


def translate(padded, dy, dx, pad: int):
    """Shift image n of a reflect-padded batch by ``dy[n]`` rows down, ``dx[n]`` columns
    right.

    ``padded``: (N, H + 2 pad, W + 2 pad, C) from :func:`reflect_pad`; ``dy``, ``dx``: N
    ints in ``[-pad, pad]``. Returns (N, H, W, C), the same as
    ``utils.images.translate(x[n:n+1], dy[n], dx[n], mode="reflect")`` for every n, done
    as 2 (2 pad + 1) whole-array selects (rows, then columns): static shapes, no loop
    over images. Chapter 10 (fast CIFAR-10); airbench94's ``batch_crop``. Raises
    ``ValueError`` for a rank other than 4 or shifts of the wrong length, dtype or
    range.
    """
    _check_rank4(padded, "translate")
    n = padded.shape[0]
    dy, dx = _host_shifts(dy, "dy", pad, n), _host_shifts(dx, "dx", pad, n)
    if pad == 0:
        return padded
    h, w = padded.shape[1] - 2 * pad, padded.shape[2] - 2 * pad
    rows = padded[:, pad : pad + h]
    for s in range(-pad, pad + 1):  # content moves down by s: start s rows higher
        rows = ops.where(dy == s, padded[:, pad - s : pad - s + h], rows)
    out = rows[:, :, pad : pad + w]
    for s in range(-pad, pad + 1):
        out = ops.where(dx == s, rows[:, :, pad - s : pad - s + w], out)
    return out


def crop_flip_shuffle(padded, dy, dx, flip, order, pad: int):
    """One epoch of augmented images in two gathers: the same array as
    ``take(flip_where(translate(padded, dy, dx, pad), flip), order)``, faster.

    ``padded``: (N, H + 2 pad, W + 2 pad, C) from :func:`reflect_pad`, any dtype;
    ``dy``, ``dx``: N ints in ``[-pad, pad]`` (the shift of each image, as in
    :func:`translate`); ``flip``: N bools (mirror after shifting); ``order``: a
    permutation of ``range(N)`` (output image i is input image ``order[i]``). Returns
    (N, H, W, C), same dtype. The row gather picks each output row from its image and
    shift; the column gather picks each column, in reverse for a mirrored image. No
    ``where`` over the whole set: on TensorFlow's CPU kernels a broadcast ``where`` is
    slow, and this runs in a fraction of the time (chapter 10 measures it). The index
    arithmetic is NumPy on the host. Chapter 10 (fast CIFAR-10 training); airbench94's
    per-epoch crop, flip and shuffle. Raises ``ValueError`` for a rank other than 4,
    bad shifts, a mask that is not N bools or an ``order`` that is not a permutation.
    """
    _check_rank4(padded, "crop_flip_shuffle")
    n, hp, wp, c = padded.shape
    if not is_int(pad) or pad < 0 or 2 * pad >= min(hp, wp):
        raise ValueError(f"pad must be an int in [0, {min(hp, wp) // 2}), got {pad!r}")
    dy = _host_shifts(dy, "dy", pad, n).reshape(-1)
    dx = _host_shifts(dx, "dx", pad, n).reshape(-1)
    flip, order = np.asarray(flip), np.asarray(order)
    if flip.dtype != bool or flip.shape != (n,):
        raise ValueError(f"flip must be {n} bools, got {flip.dtype} {flip.shape}")
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError(f"order must be a permutation of range({n}), got {order!r}")
    h, w = hp - 2 * pad, wp - 2 * pad
    dy, dx, flip = dy[order], dx[order], flip[order]
    # rows: output row r of image i is row pad - dy + r of padded image order[i]
    rows = order[:, None] * hp + (pad - dy)[:, None] + np.arange(h)
    x = ops.take(ops.reshape(padded, (n * hp, wp, c)), _i32(rows), axis=0)
    x = ops.transpose(ops.reshape(x, (n, h, wp, c)), (0, 2, 1, 3))  # columns first
    cols = (pad - dx)[:, None] + np.arange(w)
    cols = np.where(flip[:, None], cols[:, ::-1], cols)  # a mirror reads them backwards
    x = ops.take(
        ops.reshape(x, (n * wp, h, c)), _i32(np.arange(n)[:, None] * wp + cols), axis=0
    )
    return ops.transpose(ops.reshape(x, (n, w, h, c)), (0, 2, 1, 3))


def _i32(index) -> np.ndarray:
    return np.asarray(index, dtype=np.int32).reshape(-1)


def flip_left_right(x):
    """Mirror an (N, H, W, C) batch left-right (keras.ops); same shape and dtype.

    Chapter 10 (fast CIFAR-10 training). Raises ``ValueError`` for a rank other than 4.
    """
    _check_rank4(x, "flip_left_right")
    return ops.flip(x, axis=2)


def alternating_flip_mask(base_mask, epoch: int) -> np.ndarray:
    """Bool (N,): which images are mirrored in ``epoch`` (``base_mask`` in even epochs,
    its negation in odd).

    Every image alternates orientation from one epoch to the next, so each pair of
    epochs sees both versions of every image. Chapter 10 (fast CIFAR-10 training);
    airbench94's alternating flip. Raises ``ValueError`` unless ``base_mask`` is a 1-D
    bool array and ``epoch`` a non-negative int.
    """
    base_mask = np.asarray(base_mask)
    if base_mask.dtype != bool or base_mask.ndim != 1:
        raise ValueError(
            "base_mask must be a 1-D bool array, "
            f"got {base_mask.dtype} {base_mask.shape}"
        )
    if not is_int(epoch) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
    return base_mask ^ bool(epoch % 2)


def flip_where(x, mask):
    """Mirror the images of an (N, H, W, C) batch where the bool (N,) ``mask`` is true.

    Chapter 10 (fast CIFAR-10). Raises ``ValueError`` for a rank other than 4 or
    a mask that is not N bools.
    """
    _check_rank4(x, "flip_where")
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (x.shape[0],):
        raise ValueError(
            f"mask must be {x.shape[0]} bools, got {mask.dtype} {mask.shape}"
        )
    return ops.where(mask.reshape(-1, 1, 1, 1), flip_left_right(x), x)


def tta_logits(predict, x, level: int):
    """Float32 (N, K): ``predict`` averaged over the views of :func:`tta_weights`
    (``level``).

    ``predict`` maps an (N, H, W, C) batch to (N, K) logits; shifted views are 1-pixel
    reflect shifts (content down/right for positive offsets). Chapter 10 (fast CIFAR-10
    training); airbench94's TTA. Raises ``ValueError`` for a bad level or rank.
    """
    weights = tta_weights(level)
    _check_rank4(x, "tta_logits")
    padded = reflect_pad(x, 1) if level == 2 else None
    h, w = x.shape[1], x.shape[2]
    total = 0.0
    for (flipped, dy, dx), weight in weights.items():
        view = x
        if (dy, dx) != (0, 0):
            view = padded[:, 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w, :]
        if flipped:
            view = flip_left_right(view)
        total = total + weight * ops.cast(predict(view), "float32")
    return total
