"""The loss and the update rules of the fast trainer, written out in keras.ops.

Chapter 10 (fast CIFAR-10 training). airbench94 (Keller Jordan,
github.com/KellerJordan/cifar10-airbench) uses a summed, label-smoothed cross-entropy,
PyTorch's Nesterov SGD with coupled weight decay and a lookahead average; Keras 3 has
none of these in that exact form, so they are written out here.
"""

from __future__ import annotations

from keras import ops


def _same_length(**lists) -> None:
    lengths = {name: len(v) for name, v in lists.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"these lists must have one entry per variable, got lengths {lengths}"
        )


def smoothed_cross_entropy(logits, onehot, smoothing: float, *, reduction: str = "sum"):
    """Cross-entropy of (N, K) logits against (N, K) one-hot targets smoothed to ``(1-e)
    y + e/K``.

    Returns a float32 scalar, summed over the batch (airbench) or averaged
    (``reduction="mean"``). Written out because Keras 3's sparse loss has no label
    smoothing. Chapter 10 (fast CIFAR-10); airbench94. Raises ``ValueError`` for
    mismatched shapes, ``smoothing`` outside [0, 1) or an unknown reduction.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    if len(logits.shape) != 2 or tuple(logits.shape) != tuple(onehot.shape):
        raise ValueError(
            f"logits and onehot must both be (N, K), got {tuple(logits.shape)} "
            f"and {tuple(onehot.shape)}"
        )
    logits = ops.cast(logits, "float32")
    k = logits.shape[-1]
    target = ops.cast(onehot, "float32") * (1 - smoothing) + smoothing / k
    per_example = -ops.sum(target * ops.log_softmax(logits, axis=-1), axis=-1)
    return ops.sum(per_example) if reduction == "sum" else ops.mean(per_example)


def nesterov_sgd(params, grads, buffers, lrs, l2s, momentum: float):
    """One PyTorch-style Nesterov SGD step with coupled L2 and a rate per variable.

    ``g = grad + l2 * w;  b = momentum * b + g;  w = w - lr * (g + momentum * b)``.
    All arguments but ``momentum`` are lists with one entry per variable (tensors of any
    shape; ``lrs``/``l2s`` scalars). Returns ``(new_params, new_buffers)``. Keras's SGD
    puts the rate elsewhere and its ``weight_decay`` is decoupled. Chapter 10 (fast
    CIFAR-10 training); airbench94 / ``torch.optim.SGD(nesterov=True)``. Raises
    ``ValueError`` for lists of different lengths or ``momentum`` outside [0, 1).
    """
    _same_length(params=params, grads=grads, buffers=buffers, lrs=lrs, l2s=l2s)
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    new_p, new_b = [], []
    for w, g, b, lr, l2 in zip(params, grads, buffers, lrs, l2s):
        g = ops.cast(g, w.dtype) + l2 * w
        b = momentum * b + g
        new_p.append(w - lr * (g + momentum * b))
        new_b.append(b)
    return new_p, new_b


def lookahead_update(ema, weights, decay):
    """``ema <- decay * ema + (1 - decay) * w``, then ``w <- ema``, for lists of
    tensors.

    Returns ``(new_ema, new_weights)`` (the same tensors). ``decay`` is a scalar in
    [0, 1] (a tensor inside compiled code). Chapter 10 (fast CIFAR-10 training);
    airbench94's lookahead. Raises ``ValueError`` for lists of different lengths, or a
    Python ``decay`` outside [0, 1].
    """
    _same_length(ema=ema, weights=weights)
    if isinstance(decay, (int, float)) and not 0 <= decay <= 1:
        raise ValueError(f"decay must be in [0, 1], got {decay!r}")
    new = [e + (1 - decay) * (ops.cast(w, e.dtype) - e) for e, w in zip(ema, weights)]
    return new, list(new)
