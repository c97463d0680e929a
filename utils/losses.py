"""Loss functions for image models, written in NumPy and checked against ``keras.losses``.

Chapter 6 ("Loss functions") explains every function here and asserts that each one
agrees with Keras 3:

- regression: :func:`mean_squared_error`, :func:`mean_absolute_error`, :func:`huber`;
- classification: :func:`binary_crossentropy`, :func:`categorical_crossentropy`,
  :func:`sparse_categorical_crossentropy`, each from probabilities (``from_logits=False``)
  or from logits (``from_logits=True``), with optional label smoothing;
- segmentation: :func:`dice_loss`;
- the numerically stable building blocks :func:`log_sum_exp`, :func:`log_softmax`,
  :func:`softplus`, and the deliberately unstable :func:`naive_log_softmax` that the chapter
  breaks on purpose;
- small closed forms the chapter derives: :func:`double_softmax_floor`,
  :func:`smoothed_optimum`, and the logit gradients in :func:`cross_entropy_logit_grad`.

Conventions (the same as Keras): the class axis is the last axis; a per-sample loss averages
over the last axis for MSE/MAE/Huber/BCE and sums over it for categorical cross-entropy;
``reduction`` then turns the per-sample array into a number. Probabilities are clipped to
``[EPSILON, 1 - EPSILON]`` before a logarithm, exactly as Keras does, so a confident wrong
prediction costs at most about ``-log(EPSILON)`` instead of infinity.

Computation happens in the floating dtype of ``y_pred`` (float32 stays float32, anything
else becomes float64), so float32 inputs reproduce Keras's float32 rounding, clip bound included.
Bad input (mismatched shapes, labels out of range, probabilities outside [0, 1], wrong
ranks, an unknown reduction) raises ``ValueError`` with a message that says what to fix.
"""

from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon(): the clip used before log(probability)
REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "none", None)


# --------------------------------------------------------------------------- input checks


def _float_array(x, name: str, dtype=None) -> np.ndarray:
    """``x`` as a float array: ``dtype`` if given, else float32 kept, everything else float64."""
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if dtype is None:
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return arr.astype(dtype, copy=False)


def _check_same_shape(y_true: np.ndarray, y_pred: np.ndarray, what: str) -> None:
    if y_true.shape != y_pred.shape:
        hint = (
            " For integer class labels use sparse_categorical_crossentropy."
            if "categorical" in what and (y_true.ndim == y_pred.ndim - 1 or y_true.shape[-1:] == (1,))
            else ""
        )
        raise ValueError(
            f"{what}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
            f"they must be equal.{hint}"
        )


def _check_rank(y_pred: np.ndarray, what: str, min_rank: int = 1) -> None:
    if y_pred.ndim < min_rank:
        raise ValueError(
            f"{what}: y_pred must have rank >= {min_rank} (the last axis holds the values of one sample), "
            f"got rank {y_pred.ndim} with shape {y_pred.shape}"
        )


def _check_probabilities(p: np.ndarray, name: str, what: str, *, hint_logits: bool) -> None:
    inside = (p >= 0) & (p <= 1)  # NaN counts as outside
    if not np.all(inside):
        finite = p[np.isfinite(p)]
        span = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite values"
        msg = (
            f"{what}: {name} must hold probabilities in [0, 1], but {int((~inside).sum())} of {p.size} "
            f"values are outside it or NaN (finite values span {span})."
        )
        if hint_logits:
            msg += " If these are raw scores (logits), pass from_logits=True."
        raise ValueError(msg)


def _check_smoothing(label_smoothing: float) -> float:
    ls = float(label_smoothing)
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return ls


def reduce(values, reduction: str | None = "sum_over_batch_size"):
    """Turn an array of per-sample (or per-pixel) losses into the value a Keras loss returns.

    ``"sum_over_batch_size"`` and ``"mean"`` divide the sum by the *number of elements* of
    ``values`` (for a per-pixel loss of shape (N, H, W) that is N*H*W, not N); ``"sum"`` adds;
    ``"none"`` or ``None`` returns ``values`` unchanged. Chapter 6, "Reductions".
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS}")
    values = np.asarray(values)
    if reduction in ("none", None) or values.ndim == 0:
        return values
    if reduction == "sum":
        return values.sum()
    return values.sum() / values.size if values.size else values.sum()


# --------------------------------------------------------------------------- stable building blocks


def log_sum_exp(z, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log(sum(exp(z)))`` along ``axis`` without overflow: shift by the maximum first.

    ``log sum_j exp(z_j) = m + log sum_j exp(z_j - m)`` with ``m = max_j z_j``; every
    exponent is then <= 0, so nothing overflows and the largest term is exactly 1.
    Chapter 6, "Numerical stability".
    """
    z = _float_array(z, "z")
    _check_rank(z, "log_sum_exp")
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf row stays -inf instead of becoming NaN
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for an all -inf row
        out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """``z - log_sum_exp(z)``: the log-probabilities of a softmax, computed stably (chapter 6)."""
    z = _float_array(z, "z")
    return z - log_sum_exp(z, axis=axis, keepdims=True)


def softmax(z, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (shifted by the maximum, so it never overflows); chapter 6."""
    return np.exp(log_softmax(z, axis=axis))


def naive_log_softmax(z, axis: int = -1) -> np.ndarray:
    """``log(exp(z) / sum(exp(z)))`` exactly as written: deliberately *unstable*.

    Chapter 6 uses it to show what goes wrong in float32: ``exp`` overflows to ``inf`` for
    logits above about 88.7, giving ``nan``; a tiny probability underflows to 0, giving
    ``-inf``. NumPy's floating-point warnings are silenced so the result itself is visible.
    """
    z = _float_array(z, "z")
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        e = np.exp(z)
        return np.log(e / np.sum(e, axis=axis, keepdims=True))


def sigmoid(z) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))``, evaluated without overflow (chapter 6)."""
    z = _float_array(z, "z")
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softplus(z) -> np.ndarray:
    """``log(1 + exp(z))`` computed as ``max(z, 0) + log1p(exp(-|z|))`` (chapter 6)."""
    z = _float_array(z, "z")
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# --------------------------------------------------------------------------- labels


def one_hot(labels, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels of any shape -> one-hot array with a new last axis of ``num_classes``."""
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    labels = _integer_labels(labels, int(num_classes), "one_hot")
    return np.eye(num_classes, dtype=dtype)[labels]


def _integer_labels(labels, num_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{what}: class labels must be integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{what}: class labels must be whole numbers, got non-integer values such as {arr.ravel()[0]!r}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{what}: class labels must be in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got values from {arr.min()} to {arr.max()}"
        )
    return arr


def smooth_labels(y_true, label_smoothing: float) -> np.ndarray:
    """Label smoothing ``(1 - eps) * y + eps / K`` with K the size of the last axis (chapter 6).

    With K = 2 per output this is Keras's binary rule ``y * (1 - eps) + 0.5 * eps`` applied to
    a single sigmoid output, because each sigmoid output stands for two classes.
    """
    eps = _check_smoothing(label_smoothing)
    y = _float_array(y_true, "y_true")
    _check_rank(y, "smooth_labels")
    return (1.0 - eps) * y + eps / y.shape[-1]


# --------------------------------------------------------------------------- regression losses


def _regression_inputs(y_true, y_pred, what):
    y_pred = _float_array(y_pred, "y_pred")
    y_true = _float_array(y_true, "y_true", dtype=y_pred.dtype)
    _check_rank(y_pred, what)
    _check_same_shape(y_true, y_pred, what)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred, reduction="sum_over_batch_size"):
    """Mean of ``(y_pred - y_true)**2`` over the last axis, then ``reduction`` (chapter 6).

    Like ``keras.losses.MeanSquaredError``; shapes must match exactly.
    """
    y_true, y_pred = _regression_inputs(y_true, y_pred, "mean_squared_error")
    return reduce(np.mean(np.square(y_pred - y_true), axis=-1), reduction)


def mean_absolute_error(y_true, y_pred, reduction="sum_over_batch_size"):
    """Mean of ``|y_pred - y_true|`` over the last axis, then ``reduction`` (chapter 6)."""
    y_true, y_pred = _regression_inputs(y_true, y_pred, "mean_absolute_error")
    return reduce(np.mean(np.abs(y_pred - y_true), axis=-1), reduction)


def huber(y_true, y_pred, delta: float = 1.0, reduction="sum_over_batch_size"):
    """Huber loss: ``e**2 / 2`` for ``|e| <= delta``, ``delta * (|e| - delta / 2)`` beyond (chapter 6).

    Quadratic near zero like MSE, linear for outliers like MAE; mean over the last axis.
    """
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    y_true, y_pred = _regression_inputs(y_true, y_pred, "huber")
    a = np.abs(y_pred - y_true)
    per = np.where(a <= delta, 0.5 * a * a, delta * a - 0.5 * delta * delta)
    return reduce(np.mean(per, axis=-1), reduction)


# --------------------------------------------------------------------------- cross-entropies


def _clip(p: np.ndarray) -> np.ndarray:
    """Clip to ``[EPSILON, 1 - EPSILON]`` in p's dtype (in float32 the upper bound is 1 - 2**-23)."""
    return np.clip(p, p.dtype.type(EPSILON), p.dtype.type(1.0 - EPSILON))


def binary_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size"):
    """Binary cross-entropy of independent yes/no outputs, averaged over the last axis (chapter 6).

    From probabilities ``p``: ``-(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to
    ``[EPSILON, 1 - EPSILON]`` as in Keras. From logits ``z``: the stable equivalent
    ``softplus(z) - y z``. Targets may be soft (any value in [0, 1]); ``label_smoothing``
    moves them towards 0.5. Use it for multi-label tagging (one sigmoid per class).
    """
    what = "binary_crossentropy"
    ls = _check_smoothing(label_smoothing)
    y_pred = _float_array(y_pred, "y_pred")
    y_true = _float_array(y_true, "y_true", dtype=y_pred.dtype)
    _check_rank(y_pred, what)
    _check_same_shape(y_true, y_pred, what)
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


def categorical_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size"):
    """Cross-entropy ``-sum_k y_k log p_k`` over the last (class) axis, one-hot or soft targets (chapter 6).

    From logits: ``log p = log_softmax(z)``. From probabilities: like Keras, each row is first
    divided by its sum, then clipped to ``[EPSILON, 1 - EPSILON]``, then logged. With
    ``label_smoothing = eps`` the targets become ``(1 - eps) y + eps / K``.
    """
    what = "categorical_crossentropy"
    ls = _check_smoothing(label_smoothing)
    y_pred = _float_array(y_pred, "y_pred")
    y_true = _float_array(y_true, "y_true", dtype=y_pred.dtype)
    _check_rank(y_pred, what)
    _check_same_shape(y_true, y_pred, what)
    if y_pred.shape[-1] < 2:
        raise ValueError(
            f"{what}: the last axis holds the classes and needs at least 2, got shape {y_pred.shape}; "
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
            raise ValueError(f"{what}: a row of y_pred sums to 0, so it is not a probability distribution")
        logp = np.log(_clip(y_pred / total))
    return reduce(-np.sum(y_true * logp, axis=-1), reduction)


def sparse_categorical_crossentropy(y_true, y_pred, *, from_logits=False, reduction="sum_over_batch_size"):
    """Cross-entropy with integer labels: ``-log p[label]`` (chapter 6).

    ``y_pred`` has shape ``(..., K)``; ``y_true`` has shape ``(...)`` or ``(..., 1)`` (the
    (N, 1) label arrays of ``keras.datasets`` work as they are). From probabilities Keras
    computes ``log_softmax(log(clip(p)))``, i.e. ``-log clip(p)[label] + log sum_k clip(p)_k``,
    which also renormalises the row; this function does the same. Works per pixel for
    segmentation: logits (N, H, W, K) with labels (N, H, W).
    """
    what = "sparse_categorical_crossentropy"
    y_pred = _float_array(y_pred, "y_pred")
    _check_rank(y_pred, what)
    num_classes = y_pred.shape[-1]
    if num_classes < 2:
        raise ValueError(f"{what}: the last axis of y_pred holds the classes and needs at least 2, got shape {y_pred.shape}")
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{what}: integer labels of shape {np.shape(y_true)} do not fit y_pred of shape {y_pred.shape}; "
            f"expected labels of shape {y_pred.shape[:-1]} (or {y_pred.shape[:-1] + (1,)}), one label per "
            "prediction. One-hot targets need categorical_crossentropy."
        )
    labels = _integer_labels(labels, num_classes, what)
    if from_logits:
        logp = log_softmax(y_pred)
    else:
        _check_probabilities(y_pred, "y_pred", what, hint_logits=True)
        logp = log_softmax(np.log(_clip(y_pred)))
    per = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return reduce(per, reduction)


# --------------------------------------------------------------------------- segmentation


def dice_loss(y_true, y_pred, axis=None, reduction="sum_over_batch_size"):
    """Soft Dice loss ``1 - 2 sum(y p) / (sum(y) + sum(p) + EPSILON)`` (chapter 6).

    ``axis=None`` pools every element (one number, like ``keras.losses.Dice()``);
    ``axis=(1, 2, 3)`` gives one Dice loss per image of an (N, H, W, C) batch. It measures
    overlap, so a small object counts as much as the background around it.
    """
    what = "dice_loss"
    y_pred = _float_array(y_pred, "y_pred")
    y_true = _float_array(y_true, "y_true", dtype=y_pred.dtype)
    _check_rank(y_pred, what)
    _check_same_shape(y_true, y_pred, what)
    _check_probabilities(y_true, "y_true", what, hint_logits=False)
    _check_probabilities(y_pred, "y_pred", what, hint_logits=True)
    if axis is not None:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        for a in axes:
            if not -y_pred.ndim <= a < y_pred.ndim:
                raise ValueError(f"{what}: axis {a} is out of range for y_pred of rank {y_pred.ndim}")
        axis = axes
    inter = np.sum(y_true * y_pred, axis=axis)
    denom = np.sum(y_true, axis=axis) + np.sum(y_pred, axis=axis) + EPSILON
    return reduce(1.0 - 2.0 * inter / denom, reduction)


# --------------------------------------------------------------------------- closed forms from chapter 6


def double_softmax_floor(num_classes: int) -> float:
    """Smallest possible loss when probabilities are fed to a ``from_logits=True`` cross-entropy.

    The loss sees ``softmax(p)`` with ``p`` already on the simplex; it is smallest at a
    one-hot ``p``: ``-1 + log(e + K - 1) = log(1 + (K - 1) / e)``. Chapter 6 derives it.
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    return math.log1p((num_classes - 1) / math.e)


def smoothed_optimum(num_classes: int, label_smoothing: float) -> tuple[float, float]:
    """Loss-minimising prediction under label smoothing: ``(p_target, logit_gap)`` (chapter 6).

    Cross-entropy against the smoothed target ``q`` is minimised by ``p = q``, so the best
    probability of the true class is ``1 - eps + eps / K`` and every other class gets
    ``eps / K``; the logit gap is ``log(p_target / (eps / K))``, finite whenever ``eps > 0``.
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    eps = _check_smoothing(label_smoothing)
    p_target = 1.0 - eps + eps / num_classes
    gap = math.inf if eps == 0 else math.log(p_target / (eps / num_classes))
    return p_target, gap


def cross_entropy_logit_grad(logits, labels, *, double_softmax: bool = False) -> np.ndarray:
    """Gradient of the *mean* sparse cross-entropy with respect to the logits (chapter 6).

    Correct setup: ``(softmax(z) - onehot(y)) / N``. With ``double_softmax=True`` (a softmax
    layer followed by a ``from_logits=True`` loss) the loss sees ``p = softmax(z)`` as logits,
    and the chain rule multiplies ``softmax(p) - onehot(y)`` by the softmax Jacobian
    ``diag(p) - p p^T``, whose entries are at most 1/4, which is why the gradient shrinks.
    """
    z = _float_array(logits, "logits")
    if z.ndim != 2:
        raise ValueError(f"logits must have shape (N, K), got {z.shape}")
    y = one_hot(labels, z.shape[-1], dtype=z.dtype)
    if y.shape != z.shape:
        raise ValueError(f"labels must have shape ({z.shape[0]},), got {np.shape(labels)}")
    n = z.shape[0]
    p = softmax(z)
    if not double_softmax:
        return (p - y) / n
    g = (softmax(p) - y) / n  # gradient with respect to p
    return p * g - p * np.sum(p * g, axis=-1, keepdims=True)  # (diag(p) - p p^T) g, row by row
