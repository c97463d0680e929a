"""Checks of attribution maps for chapter 12: completeness of integrated gradients and
the cascading randomization test of Adebayo et al. (2018).

- :func:`completeness_error` measures how far the integrated-gradients attributions of
  an image miss their sum ``S_c(x) - S_c(x')``, without dividing by a near-zero score
  difference; :func:`complete_integrated_gradients` doubles the Riemann points of each
  image until that error is small, as Sundararajan et al. (2017) advise;
- :func:`all_maps` computes the maps the chapter compares (magnitude and signed
  gradients, gradient x input, integrated gradients, Grad-CAM) for one network;
  :func:`mean_rho` averages Spearman's correlation over images;
  :func:`randomization_cascade` re-initialises a network's layers from the top down and
  correlates each stage's maps with the trained network's.

The gradients come from TensorFlow (:mod:`utils.attribution`); everything else is NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import attribution
from .shapes import as_float, positive_int, real_number


def completeness_error(attribution_sums, score_differences) -> np.ndarray:
    """``|sum IG - (S_c(x) - S_c(x'))| / max(|S_c(x) - S_c(x')|, 1)`` per image.

    Completeness says the attributions of an image add up to its score difference
    ``delta = S_c(x) - S_c(x')`` (Sundararajan et al. 2017). The error of the Riemann
    sum is measured relative to ``|delta|``, but never relative to less than one logit
    (a factor e in the odds): where the baseline scores the class about as high as the
    image, ``delta`` is near 0 and a relative error would blow up whatever the sum's
    accuracy. Both arguments are ``(N,)`` float arrays (logits); returns float64
    ``(N,)``. Chapter 12. Raises ``ValueError`` for other shapes or NaN/inf.
    """
    total = as_float(attribution_sums, "attribution_sums", np.float64)
    delta = as_float(score_differences, "score_differences", np.float64)
    if total.ndim != 1 or total.shape != delta.shape:
        raise ValueError(
            "attribution_sums and score_differences must be two (N,) arrays, got "
            f"{total.shape} and {delta.shape}"
        )
    if not (np.isfinite(total).all() and np.isfinite(delta).all()):
        raise ValueError("attribution_sums and score_differences must be finite")
    return np.abs(total - delta) / np.maximum(np.abs(delta), 1.0)


def complete_integrated_gradients(
    images,
    classes,
    gradient_fn: Callable,
    score_differences,
    *,
    steps: int,
    max_steps: int,
    tol: float = 0.05,
):
    """Integrated gradients of each image, with Riemann points doubled from ``steps``
    until :func:`completeness_error` is at most ``tol`` (or ``max_steps`` is reached).

    ``images``: ``(N, H, W, C)`` in the model's units; ``classes``: ``(N,)`` ints;
    ``gradient_fn(c)`` returns the function of a batch that
    :func:`utils.attribution.integrated_gradients` needs, for class ``c``;
    ``score_differences``: ``(N,)`` ``S_c(x) - S_c(x')`` for the black baseline.
    Returns ``(maps, steps_used, errors)``: float ``(N, H, W, C)``, int ``(N,)``, float
    ``(N,)``. Chapter 12. Raises ``ValueError`` for mismatched sizes or
    ``max_steps < steps``.
    """
    x = as_float(images, "images")
    delta = as_float(score_differences, "score_differences", np.float64)
    classes = np.asarray(classes).reshape(-1)
    steps = positive_int(steps, "steps")
    max_steps = positive_int(max_steps, "max_steps")
    tol = real_number(tol, "tol", low=0.0, low_open=True)
    if x.ndim != 4 or not len(x) == len(classes) == len(delta):
        raise ValueError(
            f"need images (N, H, W, C) with N classes and N score differences, got "
            f"{x.shape}, {classes.shape}, {delta.shape}"
        )
    if max_steps < steps:
        raise ValueError(f"max_steps ({max_steps}) must be at least steps ({steps})")
    maps, used, errors = [], [], []
    for image, c, d in zip(x, classes, delta):
        m = steps
        while True:
            ig = attribution.integrated_gradients(image, gradient_fn(int(c)), steps=m)
            err = float(completeness_error([ig.sum()], [d])[0])
            if err <= tol or 2 * m > max_steps:
                break
            m *= 2
        maps.append(ig)
        used.append(m)
        errors.append(err)
    return np.stack(maps), np.array(used), np.array(errors)


def all_maps(net, images, classes, *, steps: int, layer: str = "conv3") -> dict:
    """The six maps chapter 12 compares, for network ``net``: ``{name: (N, H, W)}``.

    ``"|gradient|"`` (saliency), ``"|gradient × input|"`` and ``"|integrated
    gradients|"`` (absolute sums over colour channels), ``"Grad-CAM"`` of ``layer``
    upsampled to the image size, and the signed ``"gradient (signed)"`` and
    ``"integrated gradients (signed)"`` (sums over channels, black baseline, ``steps``
    points). ``images``: ``(N, H, W, C)`` float32 in the model's units; ``classes``:
    ``(N,)`` ints. Chapter 12. Raises ``ValueError`` as the functions of
    :mod:`utils.attribution` it calls.
    """
    x = np.asarray(images, dtype=np.float32)
    classes = np.asarray(classes).reshape(-1)
    g = attribution.input_gradients(net, x, classes)
    ig = np.stack(
        [
            attribution.integrated_gradients(
                xi,
                lambda b, c=int(c): attribution.input_gradients(net, b, [c] * len(b)),
                steps=steps,
            )
            for xi, c in zip(x, classes)
        ]
    )
    acts, grads = attribution.grad_cam_inputs(net, layer, x, classes)
    cam = attribution.grad_cam(acts, grads)
    return {
        "|gradient|": attribution.saliency_map(g),
        "|gradient × input|": np.abs((x * g).sum(axis=-1)),
        "|integrated gradients|": np.abs(ig.sum(axis=-1)),
        "Grad-CAM": attribution.upsample_bilinear(cam, x.shape[1:3]),
        "gradient (signed)": g.sum(axis=-1),
        "integrated gradients (signed)": ig.sum(axis=-1),
    }


def mean_rho(maps_a, maps_b) -> float:
    """Mean over images of Spearman's rank correlation of two stacks of maps.

    ``maps_a``, ``maps_b``: ``(N, H, W)``. An image whose map is constant (a Grad-CAM
    map that the ReLU zeroed) has no rank correlation and is left out of the mean;
    ``nan`` if every image is. Chapter 12. Raises ``ValueError`` for different shapes.
    """
    a, b = np.asarray(maps_a), np.asarray(maps_b)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(
            f"maps_a and maps_b must be two (N, H, W) stacks, got {a.shape}, {b.shape}"
        )
    rhos = [attribution.rank_correlation(u, v) for u, v in zip(a, b)]
    rhos = [r for r in rhos if np.isfinite(r)]
    return float(np.mean(rhos)) if rhos else float("nan")


class Cascade(NamedTuple):
    """What :func:`randomization_cascade` measured. Chapter 12."""

    stages: list  # stage names: "none", then the layer randomized last at each stage
    maps: list  # maps_fn's dict at each stage (stage 0: the trained network)
    rho: dict  # map name -> mean_rho with the trained maps, one value per stage
    network: object  # the last stage's network (every named layer random)


def randomization_cascade(model, layers, maps_fn: Callable, *, seed: int = 0):
    """The cascading model-parameter randomization test (Adebayo et al. 2018).

    ``layers``: layer names from the top of ``model`` down; stage ``s`` re-initialises
    the first ``s`` of them (:func:`utils.attribution.randomized_copy`, ``seed``).
    ``maps_fn(net)`` returns a dict of ``(N, H, W)`` maps (e.g. :func:`all_maps`).
    Returns a :class:`Cascade`: stage 0 is the trained model, whose correlation with
    itself is 1. Chapter 12. Raises ``ValueError`` for an empty layer list and as
    ``randomized_copy`` for unknown names.
    """
    if isinstance(layers, str) or not list(layers):
        raise ValueError(f"layers must be a non-empty list of names, got {layers!r}")
    layers = list(layers)
    trained = maps_fn(model)
    maps, rho, net = [trained], {k: [1.0] for k in trained}, model
    for depth in range(1, len(layers) + 1):
        net = attribution.randomized_copy(model, layers[:depth], seed=seed)
        stage = maps_fn(net)
        maps.append(stage)
        for k in trained:
            rho[k].append(mean_rho(trained[k], stage[k]))
    return Cascade(["none", *layers], maps, rho, net)


def plot_cascade(cascade: Cascade, image, index: int, names, *, cmaps=None):
    """One image's maps at every stage of a :class:`Cascade`, as in Adebayo et al.'s
    figures: a row per map name in ``names``, a column per stage.

    ``image``: the ``(H, W, 3)`` image (0-255), drawn at the left of every row;
    ``index``: its position in the explained batch. Signed maps (names containing
    "signed") use a diverging colormap centred on 0 with symmetric limits, the others
    ``magma`` from 0; each map is scaled to its own largest magnitude. Returns the
    ``Figure``. Chapter 12. Raises ``ValueError`` for an unknown name or an index out
    of range.
    """
    import matplotlib.pyplot as plt

    names = list(names)
    unknown = [n for n in names if n not in cascade.maps[0]]
    n_images = len(cascade.maps[0][names[0]]) if names and not unknown else 0
    if not names or unknown:
        raise ValueError(f"names must be maps of the cascade, unknown: {unknown}")
    if not 0 <= index < n_images:
        raise ValueError(f"index must be in [0, {n_images}), got {index}")
    cols = len(cascade.stages) + 1
    fig, axes = plt.subplots(
        len(names), cols, figsize=(1.35 * cols, 1.4 * len(names)), squeeze=False
    )
    for r, name in enumerate(names):
        signed = "signed" in name
        axes[r, 0].imshow(np.asarray(image, dtype=np.uint8))
        axes[r, 0].set_ylabel(name.replace(" (signed)", "\n(signed)"), fontsize=8)
        for s, stage in enumerate(cascade.maps, start=1):
            m = np.asarray(stage[name][index], dtype=np.float64)
            scale = max(np.abs(m).max(), 1e-12)
            if signed:
                axes[r, s].imshow(m / scale, cmap="RdBu_r", vmin=-1, vmax=1)
            else:
                axes[r, s].imshow(m / scale, cmap="magma", vmin=0, vmax=1)
            if r == 0:
                axes[r, s].set_title(cascade.stages[s - 1], fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.tight_layout()
    return fig
