"""Loss functions for image models, written in NumPy and checked against
``keras.losses``.

Chapter 6 ("Loss functions") explains every function here and asserts that each one
agrees with Keras 3:

- regression: :func:`mean_squared_error`, :func:`mean_absolute_error`, :func:`huber`;
- classification: :func:`binary_crossentropy`, :func:`categorical_crossentropy`,
  :func:`sparse_categorical_crossentropy`, each from probabilities
  (``from_logits=False``) or from logits (``from_logits=True``), with optional label
  smoothing;
- segmentation: :func:`dice_loss`;
- the numerically stable building blocks :func:`log_sum_exp`, :func:`log_softmax`,
  :func:`softplus`, and the deliberately unstable :func:`naive_log_softmax` that the
  chapter breaks on purpose (``softmax`` and ``sigmoid`` are :func:`utils.nn.softmax`
  and :func:`utils.nn.sigmoid`, imported here so chapter 6 can write ``L.softmax``);
- re-exported so chapter 6 can write ``L.name``: the label helpers :func:`one_hot` and
  :func:`smooth_labels` (from :mod:`utils.labels`) and the closed forms
  :func:`double_softmax_floor`, :func:`smoothed_optimum` and
  :func:`cross_entropy_logit_grad` (from :mod:`utils.ce_pitfalls`).

Conventions (the same as Keras): the class axis is the last axis; a per-sample loss
averages over the last axis for MSE/MAE/Huber/BCE and sums over it for categorical
cross-entropy; ``reduction`` then turns the per-sample array into a number.
Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` before a logarithm, exactly as
Keras does, so a confident wrong prediction costs at most about ``-log(EPSILON)``
instead of infinity. NaN (or +inf) in a prediction or a target is refused with a
``ValueError`` instead of coming back as a NaN loss (the package's policy,
:mod:`utils.shapes`); a logit of ``-inf`` is accepted (a class of probability 0).

Computation happens in the floating dtype of ``y_pred`` as :func:`utils.shapes.as_float`
gives it (float32 stays float32, float16 becomes float32, integers float64), so float32
inputs reproduce Keras's float32 rounding, clip bound included; ``y_true`` is cast to
it. bool targets are refused (convert them with ``.astype(np.float32)``). Bad input
(mismatched shapes, labels out of range, probabilities outside [0, 1], wrong ranks, an
unknown reduction) raises ``ValueError`` with a message that says what to fix.
"""

from __future__ import annotations

import numpy as np

from utils.ce_pitfalls import (  # noqa: F401  (chapter 6 writes L.double_softmax_floor)
    cross_entropy_logit_grad,
    double_softmax_floor,
    smoothed_optimum,
)
from utils.labels import check_smoothing, integer_labels, one_hot, smooth_labels  # noqa: F401
from utils.nn import sigmoid, softmax  # noqa: F401  (chapter 6 writes L.softmax)
from utils.shapes import as_float, check_finite, is_int, real_number

EPSILON = 1e-7  # keras.backend.epsilon(): the clip used before log(probability)
REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "none", None)


# ------------------------------------------------------------------------- input checks


def _check_same_shape(y_true: np.ndarray, y_pred: np.ndarray, what: str) -> None:
    if y_true.shape != y_pred.shape:
        hint = (
            " For integer class labels use sparse_categorical_crossentropy."
            if "categorical" in what
            and (y_true.ndim == y_pred.ndim - 1 or y_true.shape[-1:] == (1,))
            else ""
        )
        raise ValueError(
            f"{what}: y_true has shape {y_true.shape} but y_pred has shape "
            f"{y_pred.shape}; "
            f"they must be equal.{hint}"
        )


def _check_rank(
    y_pred: np.ndarray, what: str, min_rank: int = 1, name="y_pred"
) -> None:
    """Rank >= ``min_rank``, and no NaN or +inf (the package's NaN policy; a logit of
    -inf, a class of probability 0, is allowed)."""
    if y_pred.ndim < min_rank:
        raise ValueError(
            f"{what}: {name} must have rank >= {min_rank} (the last axis holds the "
            "values of one sample), "
            f"got rank {y_pred.ndim} with shape {y_pred.shape}"
        )
    check_finite(y_pred, f"{what}: {name}", allow_neg_inf=True)


def _check_probabilities(
    p: np.ndarray, name: str, what: str, *, hint_logits: bool
) -> None:
    inside = (p >= 0) & (p <= 1)  # NaN counts as outside
    if not np.all(inside):
        finite = p[np.isfinite(p)]
        span = (
            f"[{finite.min():.4g}, {finite.max():.4g}]"
            if finite.size
            else "no finite values"
        )
        msg = (
            f"{what}: {name} must hold probabilities in [0, 1], but "
            f"{int((~inside).sum())} of {p.size} "
            f"values are outside it or NaN (finite values span {span})."
        )
        if hint_logits:
            msg += " If these are raw scores (logits), pass from_logits=True."
        raise ValueError(msg)


def reduce(values, reduction: str | None = "sum_over_batch_size"):
    """Turn an array of per-sample (or per-pixel) losses into the value a Keras loss
    returns.

    ``"sum_over_batch_size"`` and ``"mean"`` divide the sum by the *number of elements*
    of ``values`` (for a per-pixel loss of shape (N, H, W) that is N*H*W, not N);
    ``"sum"`` adds; ``"none"`` or ``None`` returns ``values`` unchanged. Chapter 6,
    "Reductions". Raises ``ValueError`` for an unknown reduction. Returns a NumPy
    scalar, or the array for ``'none'``.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS}")
    values = as_float(values, "values")
    if reduction in ("none", None) or values.ndim == 0:
        return values
    if reduction == "sum":
        return values.sum()
    return values.sum() / values.size if values.size else values.sum()


# --------------------------------------------------------------- stable building blocks


def log_sum_exp(z, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log(sum(exp(z)))`` along ``axis`` without overflow: shift by the maximum first.

    ``log sum_j exp(z_j) = m + log sum_j exp(z_j - m)`` with ``m = max_j z_j``; every
    exponent is then <= 0, so nothing overflows and the largest term is exactly 1.
    Chapter 6, "Numerical stability". Float dtype of :func:`utils.shapes.as_float`; the
    shape of ``z`` without ``axis`` (kept as 1 with ``keepdims``). Raises ``ValueError``
    for a scalar, an axis out of range or a non-real dtype.
    """
    z = as_float(z, "z")
    _check_rank(z, "log_sum_exp", name="z")
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(
        np.isfinite(m), m, 0
    )  # an all -inf row stays -inf instead of becoming NaN
    with np.errstate(
        divide="ignore"
    ):  # log(0) = -inf is the right answer for an all -inf row
        out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """``z - log_sum_exp(z)``: the log-probabilities of a softmax, computed stably
    (chapter 6).

    Same shape and float dtype as ``z``; errors as :func:`log_sum_exp`.
    """
    z = as_float(z, "z")
    return z - log_sum_exp(z, axis=axis, keepdims=True)


def naive_log_softmax(z, axis: int = -1) -> np.ndarray:
    """``log(exp(z) / sum(exp(z)))`` exactly as written: deliberately *unstable*.

    Chapter 6 uses it to show what goes wrong in float32: ``exp`` overflows to ``inf``
    for logits above about 88.7, giving ``nan``; a tiny probability underflows to 0,
    giving ``-inf``. NumPy's floating-point warnings are silenced so the result itself
    is visible. Same shape and float dtype as ``z``. Raises ``ValueError`` for a
    non-real dtype (bool targets included: convert them with ``.astype(np.float32)``).
    """
    z = as_float(z, "z")
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        e = np.exp(z)
        return np.log(e / np.sum(e, axis=axis, keepdims=True))


def softplus(z) -> np.ndarray:
    """``log(1 + exp(z))`` computed as ``max(z, 0) + log1p(exp(-|z|))`` (chapter 6).

    Elementwise, same shape and float dtype as ``z``. Raises ``ValueError`` for a non-
    real dtype (bool targets included: convert them with ``.astype(np.float32)``).
    """
    z = as_float(z, "z")
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# -------------------------------------------------------------------- regression losses


def _paired_inputs(y_true, y_pred, what):
    """Both as floats in y_pred's dtype, rank >= 1 and of equal shape (else
    ValueError)."""
    y_pred = as_float(y_pred, "y_pred")
    y_true = as_float(y_true, "y_true", dtype=y_pred.dtype)
    _check_rank(y_pred, what)
    _check_same_shape(y_true, y_pred, what)
    check_finite(y_true, f"{what}: y_true")
    return y_true, y_pred


def mean_squared_error(y_true, y_pred, reduction="sum_over_batch_size"):
    """Mean of ``(y_pred - y_true)**2`` over the last axis, then ``reduction``.

    Chapter 6.

    Like ``keras.losses.MeanSquaredError``; shapes must match exactly.
    """
    y_true, y_pred = _paired_inputs(y_true, y_pred, "mean_squared_error")
    return reduce(np.mean(np.square(y_pred - y_true), axis=-1), reduction)


def mean_absolute_error(y_true, y_pred, reduction="sum_over_batch_size"):
    """Mean of ``|y_pred - y_true|`` over the last axis, then ``reduction`` (chapter 6).

    Shapes must match exactly; raises ``ValueError`` otherwise, for a scalar ``y_pred``,
    an unknown reduction or a non-real dtype.
    """
    y_true, y_pred = _paired_inputs(y_true, y_pred, "mean_absolute_error")
    return reduce(np.mean(np.abs(y_pred - y_true), axis=-1), reduction)


def huber(y_true, y_pred, delta: float = 1.0, reduction="sum_over_batch_size"):
    """Huber loss: ``e**2 / 2`` for ``|e| <= delta``, ``delta * (|e| - delta / 2)``
    beyond (chapter 6).

    Quadratic near zero like MSE, linear for outliers like MAE; mean over the last axis.
    Raises ``ValueError`` for a ``delta`` that is not a positive number, mismatched
    shapes, an unknown reduction or a non-real dtype.
    """
    delta = real_number(delta, "delta", low=0, low_open=True)
    y_true, y_pred = _paired_inputs(y_true, y_pred, "huber")
    a = np.abs(y_pred - y_true)
    per = np.where(a <= delta, 0.5 * a * a, delta * a - 0.5 * delta * delta)
    return reduce(np.mean(per, axis=-1), reduction)


# ---------------------------------------------------------------------- cross-entropies


def _clip(p: np.ndarray) -> np.ndarray:
    """Clip to ``[EPSILON, 1 - EPSILON]`` in p's dtype (in float32 the upper bound is 1
    - 2**-23)."""
    return np.clip(p, p.dtype.type(EPSILON), p.dtype.type(1.0 - EPSILON))


def binary_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    label_smoothing=0.0,
    reduction="sum_over_batch_size",
):
    """Binary cross-entropy of independent yes/no outputs, averaged over the last axis
    (chapter 6).

    From probabilities ``p``: ``-(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to
    ``[EPSILON, 1 - EPSILON]`` as in Keras. From logits ``z``: the stable equivalent
    ``softplus(z) - y z``. Targets may be soft (any value in [0, 1]);
    ``label_smoothing`` moves them towards 0.5. Use it for multi-label tagging (one
    sigmoid per class). Shapes must match exactly. Raises ``ValueError`` for mismatched
    shapes, targets outside [0, 1], probabilities outside [0, 1] (with a hint to pass
    ``from_logits=True``), a bad smoothing or reduction, or a non-real dtype.
    """
    what = "binary_crossentropy"
    ls = check_smoothing(label_smoothing)
    y_true, y_pred = _paired_inputs(y_true, y_pred, what)
    _check_probabilities(y_true, "y_true", what, hint_logits=False)
    if ls:
        y_true = y_true * (1.0 - ls) + 0.5 * ls
    if from_logits:
        per = softplus(y_pred) - y_true * y_pred
    else:
        _check_probabilities(y_pred, "y_pred", what, hint_logits=True)
        p = _clip(y_pred)
        per = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
    return reduce(np.mean(per, axis=-1), reduction)


def categorical_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    label_smoothing=0.0,
    reduction="sum_over_batch_size",
):
    """Cross-entropy ``-sum_k y_k log p_k`` over the last (class) axis, one-hot or soft
    targets (chapter 6).

    From logits: ``log p = log_softmax(z)``. From probabilities: like Keras, each row is
    first divided by its sum, then clipped to ``[EPSILON, 1 - EPSILON]``, then logged.
    With ``label_smoothing = eps`` the targets become ``(1 - eps) y + eps / K``. Raises
    ``ValueError`` for mismatched shapes (with a hint for integer labels), fewer than 2
    classes, targets or probabilities outside [0, 1], a row of zeros, a bad smoothing or
    reduction, or a non-real dtype.
    """
    what = "categorical_crossentropy"
    ls = check_smoothing(label_smoothing)
    y_true, y_pred = _paired_inputs(y_true, y_pred, what)
    if y_pred.shape[-1] < 2:
        raise ValueError(
            f"{what}: the last axis holds the classes and needs at least 2, got shape "
            f"{y_pred.shape}; "
            "for one yes/no output use binary_crossentropy"
        )
    _check_probabilities(y_true, "y_true", what, hint_logits=False)
    if ls:
        y_true = smooth_labels(y_true, ls)
    if from_logits:
        logp = log_softmax(y_pred)
    else:
        _check_probabilities(y_pred, "y_pred", what, hint_logits=True)
        total = y_pred.sum(axis=-1, keepdims=True)
        if np.any(total <= 0):
            raise ValueError(
                f"{what}: a row of y_pred sums to 0, so it is not a probability "
                "distribution"
            )
        logp = np.log(_clip(y_pred / total))
    return reduce(-np.sum(y_true * logp, axis=-1), reduction)


def sparse_categorical_crossentropy(
    y_true, y_pred, *, from_logits=False, reduction="sum_over_batch_size"
):
    """Cross-entropy with integer labels: ``-log p[label]`` (chapter 6).

    ``y_pred`` has shape ``(..., K)``; ``y_true`` has shape ``(...)`` or ``(..., 1)``
    (the (N, 1) label arrays of ``keras.datasets`` work as they are). From probabilities
    Keras computes ``log_softmax(log(clip(p)))``, i.e. ``-log clip(p)[label] + log sum_k
    clip(p)_k``, which also renormalises the row; this function does the same. Works per
    pixel for segmentation: logits (N, H, W, K) with labels (N, H, W). Raises
    ``ValueError`` for labels that do not fit ``y_pred`` (one-hot targets included),
    labels that are not whole numbers in ``[0, K)``, fewer than 2 classes, probabilities
    outside [0, 1], an unknown reduction or a non-real dtype.
    """
    what = "sparse_categorical_crossentropy"
    y_pred = as_float(y_pred, "y_pred")
    _check_rank(y_pred, what)
    num_classes = y_pred.shape[-1]
    if num_classes < 2:
        raise ValueError(
            f"{what}: the last axis of y_pred holds the classes and needs at least 2, "
            f"got shape {y_pred.shape}"
        )
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{what}: integer labels of shape {np.shape(y_true)} do not fit y_pred of "
            f"shape {y_pred.shape}; "
            f"expected labels of shape {y_pred.shape[:-1]} (or "
            f"{y_pred.shape[:-1] + (1,)}), one label per "
            "prediction. One-hot targets need categorical_crossentropy."
        )
    labels = integer_labels(labels, num_classes, what)
    if from_logits:
        logp = log_softmax(y_pred)
    else:
        _check_probabilities(y_pred, "y_pred", what, hint_logits=True)
        logp = log_softmax(np.log(_clip(y_pred)))
    per = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return reduce(per, reduction)


# ------------------------------------------------------------------------- segmentation


def dice_loss(y_true, y_pred, axis=None, reduction="sum_over_batch_size"):
    """Soft Dice loss ``1 - 2 sum(y p) / (sum(y) + sum(p) + EPSILON)`` (chapter 6).

    ``axis=None`` pools every element (one number, like ``keras.losses.Dice()``);
    ``axis=(1, 2, 3)`` gives one Dice loss per image of an (N, H, W, C) batch, and
    ``axis=(0, 1, 2)`` one per class channel, averaged (``keras.losses.Dice(axis=(0,
    1, 2))``). Pooled over one-hot targets of *all* classes, every pixel counts the same
    (the loss is 1 minus the mean probability of the true class, so a large background
    dominates); per class, each class weighs the same whatever its size (chapter 13).
    Raises ``ValueError`` for mismatched shapes, values outside [0, 1], an axis that is
    not an int in range, an unknown reduction or a non-real dtype.
    """
    what = "dice_loss"
    y_true, y_pred = _paired_inputs(y_true, y_pred, what)
    _check_probabilities(y_true, "y_true", what, hint_logits=False)
    _check_probabilities(y_pred, "y_pred", what, hint_logits=True)
    if axis is not None:
        axes = (axis,) if is_int(axis) else tuple(axis)
        for a in axes:
            if not is_int(a) or not -y_pred.ndim <= a < y_pred.ndim:
                raise ValueError(
                    f"{what}: axis {a} is out of range for y_pred of rank {y_pred.ndim}"
                )
        axis = axes
    inter = np.sum(y_true * y_pred, axis=axis)
    denom = np.sum(y_true, axis=axis) + np.sum(y_pred, axis=axis) + EPSILON
    return reduce(1.0 - 2.0 * inter / denom, reduction)
