"""Magnitude pruning, unstructured (single weights) and structured (whole channels).

Chapter 16 ("Small and fast networks", section "Pruning"). Unstructured pruning sets
the smallest-magnitude weights to zero (Han et al. 2015, "Learning both weights and
connections for efficient neural networks"): the tensor keeps its shape, so a dense
kernel does the same work. Structured pruning removes whole output channels of a
convolution, ranked by the L1 norm of their filters (Li et al. 2017, "Pruning
filters for efficient ConvNets"), and the next layer loses the matching input
channels: the network becomes a thinner dense network, which *is* faster.

Kernels are NumPy arrays in Keras' layout: convolutions ``(KH, KW, C_in, C_out)``,
dense layers ``(n_in, n_out)``; biases ``(C_out,)``. Sparsity is the fraction
removed, a float in ``[0, 1)``; anything else raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "check_sparsity",
    "magnitude_mask",
    "prune_magnitude",
    "channel_l1",
    "channels_to_keep",
    "thin_chain",
]


def check_sparsity(sparsity) -> float:
    """``sparsity`` as a float after checking it lies in ``[0, 1)``; ``ValueError``
    otherwise (1 would remove everything). Chapter 16."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.number)):
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    if not 0 <= sparsity < 1:
        raise ValueError(
            f"sparsity must be in [0, 1) (the fraction of weights removed), got "
            f"{sparsity!r}"
        )
    return float(sparsity)


def magnitude_mask(w, sparsity) -> np.ndarray:
    """A bool mask of ``w``'s shape that drops the ``floor(sparsity * w.size)``
    weights of smallest ``|w|`` (ties: the earlier index goes first).

    Raises ``ValueError`` for a sparsity outside ``[0, 1)`` or an empty or
    non-finite ``w``. Chapter 16; Han et al. (2015).
    """
    sparsity = check_sparsity(sparsity)
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError("w must be a non-empty array of finite numbers")
    n_drop = int(np.floor(sparsity * w.size))
    order = np.argsort(np.abs(w).ravel(), kind="stable")
    mask = np.ones(w.size, dtype=bool)
    mask[order[:n_drop]] = False
    return mask.reshape(w.shape)


def prune_magnitude(w, sparsity) -> np.ndarray:
    """``w`` with its smallest-magnitude weights set to zero (same shape and dtype).

    Errors as :func:`magnitude_mask`. Chapter 16.
    """
    w = np.asarray(w)
    return np.where(magnitude_mask(w, sparsity), w, np.zeros((), w.dtype))


def channel_l1(kernel) -> np.ndarray:
    """The L1 norm of each output channel's weights: float64 ``(C_out,)``, the sum of
    ``|kernel|`` over every axis but the last. Raises ``ValueError`` for a kernel of
    fewer than 2 dimensions. Chapter 16; Li et al. (2017)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim < 2:
        raise ValueError(f"kernel must have an output axis last, got {kernel.shape}")
    return np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)


def channels_to_keep(kernel, sparsity) -> np.ndarray:
    """Indices (sorted, int64) of the output channels that structured pruning keeps:
    the ``C_out - floor(sparsity * C_out)`` channels of largest L1 norm (at least
    one). Errors as :func:`check_sparsity` and :func:`channel_l1`. Chapter 16.
    """
    sparsity = check_sparsity(sparsity)
    scores = channel_l1(kernel)
    n_keep = max(1, len(scores) - int(np.floor(sparsity * len(scores))))
    strongest = np.argsort(-scores, kind="stable")[:n_keep]
    return np.sort(strongest).astype(np.int64)


def thin_chain(params, sparsity):
    """Remove the weakest output channels of every layer but the last of a chain.

    ``params`` is a list of ``(kernel, bias)`` pairs of layers applied one after the
    other (convolutions, possibly pooling or global pooling between them, a dense
    layer last), each layer's input channels being the previous one's outputs. Each
    layer but the last keeps :func:`channels_to_keep` of its output channels (its
    kernel's last axis and its bias are sliced), and the next layer keeps the
    matching input channels (axis ``-2``). Returns ``(new_params, kept)``: the thinner
    weights and the kept indices per pruned layer. The thinner chain computes what
    the original computes with those channels' kernels and biases set to zero.
    Raises ``ValueError`` for fewer than two layers or channels that do not chain.
    Chapter 16; Li et al. (2017).
    """
    sparsity = check_sparsity(sparsity)
    params = [(np.asarray(k), np.asarray(b)) for k, b in params]
    if len(params) < 2:
        raise ValueError("params needs at least two layers (the last is not pruned)")
    for i, ((k, b), (k_next, _)) in enumerate(zip(params[:-1], params[1:])):
        if k.shape[-1] != k_next.shape[-2] or b.shape != (k.shape[-1],):
            raise ValueError(
                f"layer {i} has {k.shape[-1]} outputs (bias {b.shape}) but layer "
                f"{i + 1} expects {k_next.shape[-2]} inputs"
            )
    new, kept = [list(p) for p in params], []
    for i in range(len(params) - 1):
        keep = channels_to_keep(new[i][0], sparsity)
        new[i][0], new[i][1] = new[i][0][..., keep], new[i][1][keep]
        new[i + 1][0] = np.take(new[i + 1][0], keep, axis=-2)
        kept.append(keep)
    return [tuple(p) for p in new], kept
