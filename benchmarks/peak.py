"""The float32 matrix-multiply peak of a machine, and the share of it training reaches.

Chapter 10's trainer is judged against airbench94 (:mod:`benchmarks.vs_airbench`) and
against the machine itself: a training step is mostly convolutions, which a CPU runs
as matrix multiplies, so the fastest large ``float32`` matrix multiply the same cores
can do is the ceiling it can approach. The share reached is

    fraction = 6 * forward MACs per image * training images per second / peak FLOP/s

with 2 FLOP per multiply-accumulate and a backward pass that costs about twice the
forward (one product for the input gradient, one for the weight gradient): the usual
estimate of training compute, as in Kaplan et al. 2020, "Scaling Laws for Neural
Language Models", section 2.1 (``C = 6N`` FLOP per token). MACs come from
:func:`utils.layer_cost.model_macs`; pooling, normalization and activations are not
counted, so the fraction is a slight underestimate of the work done.

The peak is measured, not looked up: the best of ``repeats`` timed products of two
``n`` x ``n`` float32 matrices (``2 n**3`` FLOP each) per library (TensorFlow, which
our side trains with; PyTorch, airbench's; NumPy's BLAS), each with its default threads
(one per core, as the training runs), after one untimed product. The best library's
rate is the peak.
"""

from __future__ import annotations

import math
import time

__all__ = ["matmul_flops", "measure_peak", "peak_fraction", "LIBRARIES"]

LIBRARIES = ("tensorflow", "torch", "numpy")


def _product(library: str, n: int):
    """A zero-argument callable that multiplies two fixed n x n float32 matrices and
    waits for the result."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if library == "numpy":
        return lambda: a @ b
    if library == "tensorflow":
        import tensorflow as tf

        ta, tb = tf.constant(a), tf.constant(b)
        return lambda: tf.linalg.matmul(ta, tb).numpy()
    if library == "torch":
        import torch

        pa, pb = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: torch.mm(pa, pb)
    raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")


def matmul_flops(library: str = "numpy", n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of the fastest of ``repeats`` float32 ``n`` x ``n`` matrix products.

    ``library`` is ``"tensorflow"``, ``"torch"`` or ``"numpy"`` (its default threads);
    one untimed product first. Returns ``2 * n**3 / best_seconds`` (a float, FLOP per
    second). Raises ``ValueError`` for an unknown library, ``n`` < 16 or ``repeats``
    < 1; ``ImportError`` when the library is not installed. Chapter 10, issue 30.
    """
    if not (isinstance(n, int) and n >= 16):
        raise ValueError(f"n must be an int >= 16 (the matrix side), got {n!r}")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    run = _product(library, n)
    run()  # warm-up: thread pools started, kernels chosen
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def measure_peak(n: int = 2048, repeats: int = 10, libraries=LIBRARIES) -> dict:
    """The float32 matrix-multiply peak of this machine: every installed library in
    ``libraries`` measured by :func:`matmul_flops`, the best one the peak.

    Returns ``{"n", "repeats", "flops": {library: FLOP/s}, "skipped": {library:
    reason}, "peak_flops", "library"}``. Raises ``RuntimeError`` when no library could
    be measured, and what :func:`matmul_flops` raises for bad ``n`` or ``repeats``.
    Chapter 10, issue 30.
    """
    flops, skipped = {}, {}
    for library in libraries:
        try:
            flops[library] = matmul_flops(library, n, repeats)
        except ImportError as err:
            skipped[library] = f"not installed ({err})"
    if not flops:
        raise RuntimeError(f"no library could be measured: {skipped}")
    best = max(flops, key=flops.get)
    return {
        "n": n,
        "repeats": repeats,
        "flops": flops,
        "skipped": skipped,
        "peak_flops": flops[best],
        "library": best,
    }


def peak_fraction(
    forward_macs_per_image: float, images_per_second: float, peak_flops: float
) -> float:
    """The share of the matrix-multiply peak that training reaches:
    ``6 * forward_macs_per_image * images_per_second / peak_flops`` (see the module
    docstring for the 6). Arguments are positive finite numbers (MACs, training images
    per second, FLOP per second); raises ``ValueError`` naming the one that is not.
    Chapter 10, issue 30.
    """
    from utils.shapes import real_number

    macs = real_number(
        forward_macs_per_image, "forward_macs_per_image", low=0, low_open=True
    )
    rate = real_number(images_per_second, "images_per_second", low=0, low_open=True)
    peak = real_number(peak_flops, "peak_flops", low=0, low_open=True)
    return 6 * macs * rate / peak
