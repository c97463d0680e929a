"""Class labels for classification losses: checks, one-hot encoding and label smoothing.

Chapter 6 ("Loss functions") explains both encodings of a class: an integer label (what
``sparse_categorical_crossentropy`` takes) and a one-hot row (what
``categorical_crossentropy`` takes), and label smoothing (Szegedy et al., 2016,
"Rethinking the Inception architecture"). :mod:`utils.losses` and :mod:`utils.backprop`
check labels here, so a bad label gets the same message everywhere; ``losses``
re-exports :func:`one_hot` and :func:`smooth_labels` (chapter 6 writes ``L.one_hot``).
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_float, is_int, real_number

__all__ = [
    "check_num_classes",
    "check_smoothing",
    "integer_labels",
    "one_hot",
    "smooth_labels",
]


def check_num_classes(value) -> int:
    """``value`` as an int after checking it is an int >= 2, else ``ValueError``.
    Chapter 6."""
    if not is_int(value) or value < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {value!r}")
    return int(value)


def check_smoothing(label_smoothing) -> float:
    """``label_smoothing`` as a float after checking it is a number in [0, 1].

    Chapter 6.

    Raises ``ValueError`` for anything else (NaN, strings, bool, out of range).
    """
    ls = real_number(label_smoothing, "label_smoothing")
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return ls


def integer_labels(labels, num_classes: int, what: str) -> np.ndarray:
    """Class labels of any shape as int64, after checking them (chapter 6).

    Integers pass; floats pass when they are whole numbers (Keras accepts those too).
    Raises ``ValueError``, prefixed with ``what`` (the calling function), for bool,
    strings, objects, non-whole or non-finite floats, and labels outside ``[0,
    num_classes)``.
    """
    arr = np.asarray(labels)
    integer = np.issubdtype(arr.dtype, np.integer)
    if not (integer or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(
            f"{what}: class labels must be integers, got dtype {arr.dtype}"
        )
    if not integer:
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if np.any(bad):
            raise ValueError(
                f"{what}: class labels must be whole numbers, got non-integer values "
                f"such as {arr[bad].ravel()[0].item()!r}"
            )
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{what}: class labels must be in [0, {num_classes - 1}] for {num_classes} "
            f"classes, got values from {arr.min()} to {arr.max()}"
        )
    return arr


def one_hot(labels, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels of any shape -> one-hot array with a new last axis of
    ``num_classes``.

    ``labels`` are integers (or whole-number floats) in ``[0, num_classes)``; the result
    has shape ``labels.shape + (num_classes,)`` and dtype ``dtype``. Raises
    ``ValueError`` for ``num_classes`` that is not an int >= 2 or labels that are not
    whole numbers in range. Chapter 6.
    """
    num_classes = check_num_classes(num_classes)
    labels = integer_labels(labels, num_classes, "one_hot")
    return np.eye(num_classes, dtype=dtype)[labels]


def smooth_labels(y_true, label_smoothing: float) -> np.ndarray:
    """Label smoothing ``(1 - eps) * y + eps / K`` with K the size of the last axis
    (chapter 6).

    With K = 2 per output this is Keras's binary rule ``y * (1 - eps) + 0.5 * eps``
    applied to a single sigmoid output, because each sigmoid output stands for two
    classes. Same shape as ``y_true``, in the float dtype of
    :func:`utils.shapes.as_float`. Raises ``ValueError`` for a smoothing outside [0, 1],
    a scalar or a non-real dtype.
    """
    eps = check_smoothing(label_smoothing)
    y = as_float(y_true, "y_true")
    if y.ndim < 1:
        raise ValueError(
            "smooth_labels: y_true must have rank >= 1 (classes on the last axis)"
        )
    return (1.0 - eps) * y + eps / y.shape[-1]
