"""Knowledge distillation: a small network taught by a big one's softened outputs.

Chapter 16 ("Small and fast networks", section "Knowledge distillation") follows
Hinton, Vinyals and Dean (2015), "Distilling the knowledge in a neural network". The
student with logits ``z`` learns from the labels and from the teacher's logits ``v``
softened by a temperature ``T``:

    L = alpha * CE(y, softmax(z)) + (1 - alpha) * T^2 * KL(softmax(v/T) || softmax(z/T))

averaged over the batch. The ``T^2`` factor keeps the soft term's gradient the same size
whatever ``T``: :func:`distillation_grad` gives it in closed form and
the tests check it against ``tf.GradientTape``. :func:`keras_distillation_loss` is the
same loss as a Keras loss whose targets are the one-hot labels and the teacher's
logits side by side, so a student trains with a plain ``model.fit``.

Logits are float arrays ``(N, K)``; labels are class indices ``(N,)``. Bad input
raises ``ValueError`` naming the argument and the value.
"""

from __future__ import annotations

import numpy as np

from .shapes import real_number

__all__ = [
    "soft_targets",
    "distillation_loss",
    "distillation_grad",
    "distillation_targets",
    "keras_distillation_loss",
]


def _check_logits(z, name: str) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"{name} must be (N, K) logits with K >= 2, got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return z


def _check_temperature(temperature) -> float:
    return real_number(temperature, "temperature", low=0, low_open=True)


def soft_targets(logits, temperature=1.0) -> np.ndarray:
    """``softmax(logits / T)`` along the last axis, float64 ``(N, K)``.

    ``T = 1`` is the usual softmax; a larger ``T`` flattens it and reveals how the
    teacher ranks the wrong classes ("dark knowledge", Hinton et al. 2015). Raises
    ``ValueError`` for a temperature that is not positive or logits that are not
    ``(N, K)``. Chapter 16.
    """
    z = _check_logits(logits, "logits") / _check_temperature(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_all(student, teacher, labels, temperature, alpha):
    z = _check_logits(student, "student_logits")
    v = _check_logits(teacher, "teacher_logits")
    if v.shape != z.shape:
        raise ValueError(
            f"teacher_logits {v.shape} must have the student's shape {z.shape}"
        )
    y = np.asarray(labels)
    if (
        y.shape != (z.shape[0],)
        or not np.issubdtype(y.dtype, np.integer)
        or y.min() < 0
        or y.max() >= z.shape[1]
    ):
        raise ValueError(
            f"labels must be {z.shape[0]} class indices in [0, {z.shape[1]}), got "
            f"shape {y.shape} dtype {y.dtype}"
        )
    t = _check_temperature(temperature)
    a = real_number(alpha, "alpha", low=0, high=1)
    return z, v, y, t, a


def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):
    """The distillation loss (float), mean over the batch.

    ``alpha`` (in ``[0, 1]``) weighs the hard-label cross-entropy; ``1 - alpha`` the
    soft term ``T^2 KL(softmax(v/T) || softmax(z/T))``. With ``alpha = 1`` it is the
    plain cross-entropy. Raises ``ValueError`` for mismatched shapes, labels out of
    range, a non-positive temperature or ``alpha`` outside ``[0, 1]``. Chapter 16.
    """
    z, v, y, t, a = _check_all(
        student_logits, teacher_logits, labels, temperature, alpha
    )
    p = soft_targets(z)
    hard = -np.log(p[np.arange(len(y)), y])
    q_t, p_t = soft_targets(v, t), soft_targets(z, t)
    kl = np.sum(q_t * (np.log(q_t) - np.log(p_t)), axis=1)
    return float(np.mean(a * hard + (1 - a) * t**2 * kl))


def distillation_grad(student_logits, teacher_logits, labels, temperature, alpha):
    """Gradient of :func:`distillation_loss` with respect to the student's logits,
    float64 ``(N, K)``:

        (alpha (p - onehot(y)) + (1 - alpha) T (p_T - q_T)) / N

    where ``p = softmax(z)``, ``p_T = softmax(z/T)``, ``q_T = softmax(v/T)``. The
    ``T^2`` in the loss turns the soft term's natural ``1/T`` into ``T``; for large
    ``T`` and zero-mean logits, ``T (p_T - q_T) ~ (z - v) / K``, independent of ``T``
    (Hinton et al. 2015, section 2.1). Errors as :func:`distillation_loss`.
    Chapter 16.
    """
    z, v, y, t, a = _check_all(
        student_logits, teacher_logits, labels, temperature, alpha
    )
    onehot = np.eye(z.shape[1])[y]
    soft = soft_targets(z, t) - soft_targets(v, t)
    return (a * (soft_targets(z) - onehot) + (1 - a) * t * soft) / len(y)


def distillation_targets(labels, teacher_logits, n_classes: int) -> np.ndarray:
    """Targets for :func:`keras_distillation_loss`: the one-hot labels and the
    teacher's logits side by side, float32 ``(N, 2K)``. Raises ``ValueError`` for
    mismatched lengths or a teacher that does not have ``n_classes`` logits.
    Chapter 16.
    """
    v = _check_logits(teacher_logits, "teacher_logits")
    y = np.asarray(labels).reshape(-1)
    if v.shape != (len(y), n_classes):
        raise ValueError(
            f"teacher_logits must be ({len(y)}, {n_classes}), got {v.shape}"
        )
    return np.concatenate([np.eye(n_classes)[y], v], axis=1).astype(np.float32)


def keras_distillation_loss(temperature, alpha, n_classes: int):
    """A Keras loss ``loss(y_true, y_pred)`` equal to :func:`distillation_loss`.

    ``y_true`` is ``(N, 2K)`` from :func:`distillation_targets`, ``y_pred`` the
    student's logits ``(N, K)``; returns one value per example (Keras averages them).
    Written with ``keras.ops``, so it runs on any backend. Raises ``ValueError`` for
    a bad temperature or alpha. Chapter 16.
    """
    from keras import ops

    t = _check_temperature(temperature)
    a = real_number(alpha, "alpha", low=0, high=1)

    def loss(y_true, y_pred):
        onehot, teacher = y_true[:, :n_classes], y_true[:, n_classes:]
        log_p = ops.log_softmax(y_pred, axis=-1)
        hard = -ops.sum(onehot * log_p, axis=-1)
        log_q_t = ops.log_softmax(teacher / t, axis=-1)
        log_p_t = ops.log_softmax(y_pred / t, axis=-1)
        kl = ops.sum(ops.exp(log_q_t) * (log_q_t - log_p_t), axis=-1)
        return a * hard + (1 - a) * t**2 * kl

    loss.__name__ = f"distillation_T{t:g}_alpha{a:g}"
    return loss
