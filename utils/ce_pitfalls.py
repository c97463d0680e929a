"""Two cross-entropy pitfalls in closed form: a softmax applied twice, and label
smoothing.

Chapter 6 ("Loss functions") derives each formula here and checks it against Keras and
TensorFlow's gradient tape: the smallest loss a "double softmax" model can reach
(:func:`double_softmax_floor`), the logit gradient with and without the extra softmax
(:func:`cross_entropy_logit_grad`), and the finite optimum that label smoothing (Szegedy
et al., 2016) puts on the logits (:func:`smoothed_optimum`). :mod:`utils.losses`
re-exports all three (``L.double_softmax_floor``).
"""

from __future__ import annotations

import math

import numpy as np

from utils.labels import check_num_classes, check_smoothing, integer_labels
from utils.nn import softmax, softmax_jacobian
from utils.shapes import as_float

__all__ = ["double_softmax_floor", "smoothed_optimum", "cross_entropy_logit_grad"]


def double_softmax_floor(num_classes: int) -> float:
    """Smallest possible loss when probabilities are fed to a ``from_logits=True``
    cross-entropy.

    The loss sees ``softmax(p)`` with ``p`` already on the simplex; it is smallest at a
    one-hot ``p``: ``-1 + log(e + K - 1) = log(1 + (K - 1) / e)``. Chapter 6 derives it.
    Returns a float (nats). Raises ``ValueError`` unless ``num_classes`` is an int >= 2.
    """
    num_classes = check_num_classes(num_classes)
    return math.log1p((num_classes - 1) / math.e)


def smoothed_optimum(num_classes: int, label_smoothing: float) -> tuple[float, float]:
    """Loss-minimising prediction under label smoothing: ``(p_target, logit_gap)``
    (chapter 6).

    Cross-entropy against the smoothed target ``q`` is minimised by ``p = q``, so the
    best probability of the true class is ``1 - eps + eps / K`` and every other class
    gets ``eps / K``; the logit gap is ``log(p_target / (eps / K))``, finite whenever
    ``eps > 0``. Raises ``ValueError`` for ``num_classes`` that is not an int >= 2 or a
    smoothing outside [0, 1].
    """
    num_classes = check_num_classes(num_classes)
    eps = check_smoothing(label_smoothing)
    p_target = 1.0 - eps + eps / num_classes
    gap = math.inf if eps == 0 else math.log(p_target / (eps / num_classes))
    return p_target, gap


def cross_entropy_logit_grad(
    logits, labels, *, double_softmax: bool = False
) -> np.ndarray:
    """Gradient of the *mean* sparse cross-entropy with respect to the logits (chapter
    6).

    Correct setup: ``(softmax(z) - onehot(y)) / N``. With ``double_softmax=True`` (a
    softmax layer followed by a ``from_logits=True`` loss) the loss sees ``p =
    softmax(z)`` as logits, and the chain rule multiplies ``softmax(p) - onehot(y)`` by
    the softmax Jacobian ``diag(p) - p p^T``, whose entries are at most 1/4, which is
    why the gradient shrinks. ``logits`` is ``(N, K)``, ``labels`` ``(N,)`` whole
    numbers in ``[0, K)``; the result is ``(N, K)`` in the logits' float dtype. The
    correct case is :func:`utils.backprop.softmax_cross_entropy_backward` (chapter 5),
    written out again here (this module sits below utils.backprop: no import cycle).
    Raises ``ValueError`` for a wrong rank or bad labels.
    """
    z = as_float(logits, "logits")
    if z.ndim != 2:
        raise ValueError(f"logits must be rank 2 (batch, classes), got shape {z.shape}")
    # whole-number float labels are fine here, as in the sparse loss
    labels = integer_labels(labels, z.shape[-1], "cross_entropy_logit_grad")
    inputs = softmax(z, axis=-1) if double_softmax else z
    # the loss's gradient with respect to its inputs: (softmax(inputs) - onehot) / N,
    # as utils.backprop.softmax_cross_entropy_backward computes it (chapter 5)
    grad = softmax(inputs, axis=-1)
    grad[np.arange(len(grad)), labels] -= 1
    grad /= len(grad)
    if not double_softmax:
        return grad
    # chain rule through the first softmax: J(z) is symmetric, so J^T g = J g, row by
    # row
    return np.einsum("nij,nj->ni", softmax_jacobian(z), grad)
