"""Attribution maps: which input pixels a classifier's score depends on.

Chapter 12 ("What the network looks at, and how far to trust it") teaches these methods
and puts them through sanity checks:

- :func:`saliency_map`: the largest absolute input gradient over the colour channels
  (Simonyan, Vedaldi and Zisserman 2014);
- :func:`gradient_times_input`: gradient times input, one number per input value;
- :func:`path_alphas` and :func:`integrated_gradients`: the Riemann sum of Integrated
  Gradients (Sundararajan, Taly and Yan 2017) from gradients that the caller supplies;
- :func:`grad_cam`: Grad-CAM's channel weighting of given activations and gradients
  (Selvaraju et al. 2017), and :func:`upsample_bilinear` to bring it to image size;
- :func:`occlusion_map`: how much the class probability drops when a square patch is
  covered (Zeiler and Fergus 2014);
- :func:`rank_correlation` (from :mod:`utils.ranks`): Spearman's rank correlation,
  the similarity measure of the sanity checks of Adebayo et al. (2018);
- :func:`input_gradients`, :func:`grad_cam_inputs` and :func:`randomized_copy`: the
  Keras side (TensorFlow backend: they use ``tf.GradientTape``).

NumPy cannot differentiate a Keras model, so every NumPy function here takes the
gradients as arrays (or as a function that returns them); the chapter gets them from
``tf.GradientTape`` and asserts the NumPy results against TensorFlow computations.
Images are NHWC float arrays; maps are ``(N, H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ranks import rank_correlation  # noqa: F401  (re-exported: chapter 12)
from .shapes import (
    as_float,
    as_pair,
    check_class_indices,
    check_finite,
    check_nhwc,
    check_range,
    is_int,
    positive_int,
    real_number,
)


def _nhwc(x, name: str) -> np.ndarray:
    """``x`` as a float array of rank 4 (N, H, W, C), not channels-first, non-empty,
    with finite values (the checks of :mod:`utils.shapes`)."""
    arr = as_float(x, name)
    if arr.ndim != 4 or 0 in arr.shape:
        raise ValueError(
            f"{name} must be a non-empty (N, H, W, C) array, got shape {arr.shape}; "
            f"for one image use {name}[None]"
        )
    return check_finite(check_nhwc(arr, name), name)


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names} must have the same shape, got {a.shape} and {b.shape}"
        )


# ----------------------------------------------------------------- gradient maps


def saliency_map(gradients) -> np.ndarray:
    """Saliency of each pixel: ``max_c |dS/dx[n, h, w, c]|``; shape ``(N, H, W)``.

    ``gradients`` is ``(N, H, W, C)``: the gradient of a class score ``S`` (a logit,
    before the softmax) with respect to the input image, e.g. from
    :func:`input_gradients`. The maximum over colour channels is the choice of
    Simonyan, Vedaldi and Zisserman (2014). The dtype is kept (float32 stays
    float32). Raises ``ValueError`` for another rank, an empty array, NaN/inf or a
    non-real dtype. Chapter 12.
    """
    g = _nhwc(gradients, "gradients")
    return np.abs(g).max(axis=-1)


def gradient_times_input(images, gradients) -> np.ndarray:
    """Gradient times input, ``x * dS/dx``, elementwise; shape ``(N, H, W, C)``.

    ``images`` and ``gradients`` are ``(N, H, W, C)`` arrays of the same shape, the
    images in the units the model takes (0-255 pixels for the book's seed CNN). For a
    model that is linear in ``x`` (no bias), the values sum to the score. Raises
    ``ValueError`` for shapes that differ, a rank other than 4, NaN/inf or a non-real
    dtype. Chapter 12.
    """
    x = _nhwc(images, "images")
    g = _nhwc(gradients, "gradients")
    _same_shape(x, g, "images and gradients")
    return x * g


def path_alphas(steps: int) -> np.ndarray:
    """The ``steps`` midpoints ``(k + 1/2) / steps`` of ``[0, 1]``, float64.

    Integrated Gradients evaluates the gradient at ``x' + alpha (x - x')`` for these
    ``alpha`` (the midpoint Riemann rule). Raises ``ValueError`` unless ``steps`` is
    a positive int. Chapter 12.
    """
    steps = positive_int(steps, "steps (Riemann sum points)")
    return (np.arange(steps, dtype=np.float64) + 0.5) / steps


def integrated_gradients(
    image, gradient_fn: Callable, *, baseline=None, steps: int = 32
) -> np.ndarray:
    """Integrated Gradients of ONE image, by the midpoint Riemann sum; chapter 12.

    .. math:: IG_i = (x_i - x'_i)\\,\\frac{1}{m}\\sum_{k=0}^{m-1}
              \\partial_i S\\bigl(x' + \\tfrac{k + 1/2}{m}(x - x')\\bigr)

    (Sundararajan, Taly and Yan 2017, section 3 and their Riemann approximation).
    ``image`` is ``(H, W, C)``; ``baseline`` ``x'`` has the same shape (``None``: all
    zeros, a black image). ``gradient_fn`` takes a float32 batch ``(steps, H, W, C)``
    of points on the straight path and returns the gradients of the class score at
    them, same shape (e.g. ``lambda b: input_gradients(model, b, [c] * len(b))``).
    Returns ``(H, W, C)`` float64 attributions, whose sum approximates
    ``S(x) - S(x')`` (completeness); the error shrinks as ``steps`` grows.

    Raises ``ValueError`` for an image that is not ``(H, W, C)``, a baseline of
    another shape, NaN/inf, a non-positive ``steps`` and a ``gradient_fn`` that
    returns the wrong shape or NaN/inf; ``TypeError`` if ``gradient_fn`` is not
    callable.
    """
    x = as_float(image, "image")
    if x.ndim != 3:
        raise ValueError(
            f"image must be ONE (H, W, C) image, got shape {x.shape}; loop over a batch"
        )
    x = _nhwc(x[None], "image")[0].astype(np.float64)
    if baseline is None:
        base = np.zeros_like(x)
    else:
        base = _nhwc(as_float(baseline, "baseline")[None], "baseline")[0]
        _same_shape(x, base, "image and baseline")
    if not callable(gradient_fn):
        raise TypeError(
            f"gradient_fn must be a function of a batch of images, got "
            f"{type(gradient_fn).__name__}"
        )
    alphas = path_alphas(steps)
    path = base[None] + alphas[:, None, None, None] * (x - base)[None]
    grads = np.asarray(gradient_fn(path.astype(np.float32)))
    if grads.shape != path.shape:
        raise ValueError(
            f"gradient_fn returned shape {grads.shape} for a path of shape "
            f"{path.shape}; it must return one gradient per path point"
        )
    grads = _nhwc(grads, "gradient_fn's gradients").astype(np.float64)
    return (x - base) * grads.mean(axis=0)


# ---------------------------------------------------------------------- Grad-CAM


def grad_cam(activations, gradients, *, relu: bool = True) -> np.ndarray:
    """Grad-CAM maps at the resolution of the chosen layer: ``(N, h, w)``; chapter 12.

    .. math:: \\alpha_k = \\frac{1}{hw}\\sum_{i,j} \\frac{\\partial y^c}{\\partial
              A^k_{ij}}, \\qquad L = \\mathrm{ReLU}\\Bigl(\\sum_k \\alpha_k A^k\\Bigr)

    (Selvaraju et al. 2017, eqs. 1-2). ``activations`` ``A`` and ``gradients``
    ``dy^c/dA`` are ``(N, h, w, K)`` arrays of the same shape, for one class score
    ``y^c`` per image (a logit), e.g. from :func:`grad_cam_inputs`. ``relu=False``
    keeps the negative evidence. The dtype follows the inputs. Raises ``ValueError``
    for shapes that differ, a rank other than 4, NaN/inf or a non-real dtype.
    """
    a = _nhwc(activations, "activations")
    g = _nhwc(gradients, "gradients")
    _same_shape(a, g, "activations and gradients")
    weights = g.mean(axis=(1, 2), keepdims=True)  # alpha_k, shape (N, 1, 1, K)
    cam = (weights * a).sum(axis=-1)
    return np.maximum(cam, 0) if relu else cam


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) interpolation weights, half-pixel centres, edges clamped."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def upsample_bilinear(maps, size) -> np.ndarray:
    """Bilinear resize of ``(N, h, w)`` maps to ``(N, H, W)``, float64; chapter 12.

    ``size`` is an int or ``(H, W)``. Pixel centres sit at half-integer positions and
    samples outside the map take the edge value, the convention of
    ``tf.image.resize(..., "bilinear")`` without anti-aliasing, which it equals.
    Grad-CAM uses it to lay a coarse map over the image. Raises ``ValueError`` for a
    rank other than 3, an empty map, NaN/inf or a size that is not positive ints.
    """
    m = as_float(maps, "maps")
    if m.ndim != 3 or 0 in m.shape:
        raise ValueError(f"maps must be a non-empty (N, h, w) array, got {m.shape}")
    check_finite(m, "maps")
    height, width = as_pair(size, "size (height, width in pixels)")
    rows = _bilinear_matrix(m.shape[1], height)
    cols = _bilinear_matrix(m.shape[2], width)
    return np.einsum("Hh,nhw,Ww->nHW", rows, m.astype(np.float64), cols)


# --------------------------------------------------------------------- occlusion


def _label(label) -> int:
    """A class index: an int >= 0 (bool refused), checked before any prediction."""
    if not is_int(label) or label < 0:
        raise ValueError(
            f"label must be a class index, an int >= 0, got {label!r}"
            + (" (a bool, not a class index)" if isinstance(label, bool) else "")
        )
    return int(label)


def _probabilities(probs, label: int) -> np.ndarray:
    """predict_fn's ``(B, K)`` output: finite, in [0, 1], and ``label < K``."""
    probs = check_range(
        as_float(probs, "predict_fn's output"),
        "predict_fn's output",
        low=0,
        high=1,
        hint="it must return probabilities; if the model returns logits, wrap it as "
        "lambda b: utils.nn.softmax(model.predict(b, verbose=0))",
    )
    if label >= probs.shape[1]:
        raise ValueError(
            f"label must be in [0, {probs.shape[1] - 1}] for the {probs.shape[1]} "
            f"classes predict_fn returns, got {label}"
        )
    return probs


def _starts(n: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, n - patch + 1, stride))
    if starts[-1] != n - patch:  # always cover the last rows / columns
        starts.append(n - patch)
    return starts


def occlusion_map(
    predict_fn: Callable,
    image,
    label: int,
    *,
    patch: int = 8,
    stride: int = 4,
    fill: float = 0.0,
) -> np.ndarray:
    """Occlusion sensitivity of ONE image: ``(H, W)`` float64; chapter 12.

    A ``patch x patch`` square of value ``fill`` is slid over the image with step
    ``stride`` (the last row and column of positions is added if the step misses the
    border, so every pixel is covered). Each occluded copy's drop in the probability
    of class ``label``, ``p(x) - p(x_occluded)``, is credited to the pixels the patch
    covered; each pixel gets the mean drop over the patches that covered it. Positive
    values: covering the pixel hurt the class (Zeiler and Fergus 2014, section 4.2).

    ``predict_fn`` maps a float32 batch ``(B, H, W, C)`` to class probabilities
    ``(B, K)`` (e.g. ``lambda b: softmax(model.predict(b, verbose=0))``); it is called
    once with the original image first and all occluded copies after it. ``image`` is
    ``(H, W, C)`` in the model's units, ``fill`` in the same units.

    Raises ``ValueError`` for an image that is not ``(H, W, C)``, a patch larger than
    the image, a non-positive ``patch`` or ``stride``, a ``label`` that is not an int
    in ``[0, K)`` (bool included; checked before ``predict_fn`` runs where it can be),
    and ``predict_fn`` outputs of the wrong shape, with NaN/inf or outside [0, 1]
    (logits); ``TypeError`` if ``predict_fn`` is not callable.
    """
    if not callable(predict_fn):
        raise TypeError(
            f"predict_fn must be a function of a batch of images, got "
            f"{type(predict_fn).__name__}"
        )
    label = _label(label)
    x = as_float(image, "image")
    if x.ndim != 3:
        raise ValueError(
            f"image must be ONE (H, W, C) image, got shape {x.shape}; loop over a batch"
        )
    x = _nhwc(x[None], "image")[0]
    patch = positive_int(patch, "patch (pixels)")
    stride = positive_int(stride, "stride (pixels)")
    fill = real_number(fill, "fill (pixel value)")
    h, w = x.shape[:2]
    if patch > min(h, w):
        raise ValueError(f"patch {patch} is larger than the image ({h}x{w})")
    positions = [
        (r, c) for r in _starts(h, patch, stride) for c in _starts(w, patch, stride)
    ]
    batch = np.repeat(x[None], len(positions) + 1, axis=0).astype(np.float32)
    for k, (r, c) in enumerate(positions, start=1):
        batch[k, r : r + patch, c : c + patch, :] = fill
    probs = np.asarray(predict_fn(batch))
    if probs.ndim != 2 or probs.shape[0] != len(batch):
        raise ValueError(
            f"predict_fn must return (B, K) probabilities for B={len(batch)} images, "
            f"got shape {probs.shape}"
        )
    probs = _probabilities(probs, label)
    drops = probs[0, label] - probs[1:, label]
    total = np.zeros((h, w))
    covered = np.zeros((h, w))
    for drop, (r, c) in zip(drops, positions):
        total[r : r + patch, c : c + patch] += drop
        covered[r : r + patch, c : c + patch] += 1
    return total / covered


# ------------------------------------------------------------ the Keras side


def _class_indices(classes, n: int) -> np.ndarray:
    """One non-negative int class index per image, as int32 ``(n,)``."""
    idx = np.asarray(classes)
    if idx.ndim > 1 or (idx.ndim == 0 and n != 1) or idx.size != n:
        raise ValueError(
            f"classes must hold one integer class index per image ({n}), got shape "
            f"{idx.shape}"
        )
    return check_class_indices(idx.reshape(-1), None, "classes").astype(np.int32)


def _picked_scores(scores, idx: np.ndarray):
    """``scores[i, idx[i]]``, after checking every index is below the class count.

    ``tf.gather`` raises a bare error for an index out of range on a CPU and, on a
    GPU, returns 0 without a word, so the range is checked here first.
    """
    import tensorflow as tf

    if len(scores.shape) != 2:
        raise ValueError(
            f"the model outputs shape {tuple(scores.shape)}; attribution needs one "
            "score per class, (N, K)"
        )
    check_class_indices(idx, int(scores.shape[-1]), "classes")
    return tf.gather(scores, idx, axis=1, batch_dims=1)


def input_gradients(model, images, classes) -> np.ndarray:
    """``dS_c/dx`` for each image and its class ``c``: float32 ``(N, H, W, C)``.

    ``S_c`` is the model's output for class ``c`` (for the book's seed CNN a logit,
    before any softmax). ``images`` is a batch in the model's units, ``classes`` one
    integer index per image, in ``[0, K)`` for a model with ``K`` outputs. Uses
    ``tf.GradientTape``, so it needs the TensorFlow backend. Raises ``ValueError`` for
    a bad image batch or class list (count, dtype, range). Chapter 12.
    """
    import tensorflow as tf

    x = tf.constant(_nhwc(images, "images"), dtype=tf.float32)
    idx = _class_indices(classes, int(x.shape[0]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = model(x, training=False)
        picked = _picked_scores(scores, idx)
    return tape.gradient(picked, x).numpy()


def grad_cam_inputs(model, layer_name: str, images, classes):
    """``(activations, gradients)`` of layer ``layer_name`` for Grad-CAM; chapter 12.

    Both are float32 ``(N, h, w, K)`` NumPy arrays: the layer's output ``A`` and the
    gradient of the class score ``y^c`` (the model's output for class ``c``) with
    respect to it, from one ``tf.GradientTape`` pass through a two-output model.
    Feed them to :func:`grad_cam`. Raises ``ValueError`` for an unknown layer name
    (the message lists the model's layers), a layer whose output is not 4-D, and a bad
    image batch or class list (count, dtype, range ``[0, K)``).
    """
    import keras
    import tensorflow as tf

    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model has no layer {layer_name!r}; its layers are {names}")
    layer = model.get_layer(layer_name)
    if len(layer.output.shape) != 4:
        raise ValueError(
            f"layer {layer_name!r} outputs shape {layer.output.shape}; Grad-CAM needs "
            "a convolutional feature map (N, h, w, K)"
        )
    x = tf.constant(_nhwc(images, "images"), dtype=tf.float32)
    idx = _class_indices(classes, int(x.shape[0]))
    both = keras.Model(model.inputs, [layer.output, model.outputs[0]])
    with tf.GradientTape() as tape:
        acts, scores = both(x, training=False)
        picked = _picked_scores(scores, idx)
    grads = tape.gradient(picked, acts)
    return acts.numpy(), grads.numpy()


def randomized_copy(model, layer_names, *, seed: int = 0):
    """A copy of ``model`` whose named layers get freshly drawn weights; chapter 12.

    Each named layer's kernel is redrawn with the layer's own kernel initializer (a
    new seed per layer) and its bias with its bias initializer; every other weight is
    copied. Randomizing the top layer, then the top two, and so on is the cascading
    model-parameter randomization test of Adebayo et al. (2018); one name alone is
    their independent (single-layer) test. ``model`` is unchanged. Raises
    ``ValueError`` for a name the model does not have or a layer without a kernel.
    """
    import keras

    if isinstance(layer_names, str):
        names = [layer_names]
    elif isinstance(layer_names, (list, tuple)) and all(
        isinstance(n, str) for n in layer_names
    ):
        names = list(layer_names)
    else:
        raise ValueError(
            f"layer_names must be a layer name or a list of names, got {layer_names!r}"
        )
    known = [layer.name for layer in model.layers]
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for k, name in enumerate(names):
        if name not in known:
            raise ValueError(f"model has no layer {name!r}; its layers are {known}")
        layer = copy.get_layer(name)
        if not hasattr(layer, "kernel_initializer"):
            raise ValueError(f"layer {name!r} has no kernel to randomize")
        config = layer.kernel_initializer.get_config()
        if "seed" in config:
            config["seed"] = seed + 1000 * k
        init = type(layer.kernel_initializer).from_config(config)
        new = [np.asarray(init(layer.kernel.shape))]
        if getattr(layer, "bias", None) is not None:
            new.append(np.asarray(layer.bias_initializer(layer.bias.shape)))
        layer.set_weights(new)
    return copy
