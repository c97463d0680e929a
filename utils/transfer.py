"""Learning from little data: class splits, labelled subsets, a linear probe in NumPy,
pretrained backbones and fine-tuning with a fixed step budget; chapter 11.

- :func:`class_split` keeps the images of some classes and renumbers their labels;
  :func:`labelled_subset` draws ``k`` labelled images per class with a seed;
- :func:`augment` (random flips and reflect shifts, NumPy) and :func:`training_stream`
  turn ``n`` labelled images into exactly ``steps * batch_size`` training examples, so
  every label count gets the same compute;
- the backbones (the chapter's small CNN, ``keras.applications`` networks and their
  checked ImageNet weights) are in :mod:`utils.backbones`;
- :func:`softmax_regression` (full-batch gradient descent) and :func:`fit_linear_probe`
  train a linear classifier on frozen features; :func:`probe_logits` applies it;
- :func:`classifier` puts a new ``Dense`` head on a backbone, with BatchNormalization
  kept in inference mode when fine-tuning; :func:`train_steps` trains any compiled
  model for a fixed number of steps from given weights, re-using its compiled graph;
- :func:`prepare_transfer` readies one pretrained backbone for the comparison and
  :func:`transfer_run` measures the probe and fine-tuning on one labelled set.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .backbones import bn_layers
from .shapes import (
    as_float,
    check_class_indices,
    check_finite,
    check_nhwc,
    check_nonempty,
    is_int,
    positive_int,
    real_number,
)

# CIFAR-10: the source task has classes 0-4, the target task classes 5-9 (chapter 11)
SOURCE_CLASSES = (0, 1, 2, 3, 4)  # airplane, automobile, bird, cat, deer
TARGET_CLASSES = (5, 6, 7, 8, 9)  # dog, frog, horse, ship, truck


def _labels(y, n: int, name: str = "y", n_classes: int | None = None) -> np.ndarray:
    """``y`` as a 1-D int64 array of ``n`` class indices >= 0 (and < ``n_classes``)."""
    labels = np.asarray(y)
    if (
        labels.size != n
        or labels.ndim > 2
        or (labels.ndim == 2 and labels.shape[1] != 1)
    ):
        raise ValueError(
            f"{name} must hold one label per image ({n}), as (N,) or (N, 1), "
            f"got shape {labels.shape}"
        )
    return check_class_indices(labels.reshape(-1), n_classes, name)


def class_split(x, y, classes) -> tuple[np.ndarray, np.ndarray]:
    """The images of ``classes`` and their labels renumbered ``0..len(classes)-1``.

    ``x``: ``(N, ...)`` images, ``y``: ``(N,)`` or ``(N, 1)`` integer labels. Label
    ``classes[i]`` becomes ``i``; the order of the images is kept. Returns ``(x_kept,
    y_kept)`` with ``y_kept`` int64 ``(M,)``. Chapter 11 (a source and a target task
    from one data set). Raises ``ValueError`` for mismatched lengths, non-integer
    labels, an empty or repeated class list, or a class with no image.
    """
    x = np.asarray(x)
    labels = _labels(y, len(x))
    classes = list(classes) if not isinstance(classes, (str, bytes)) else []
    if not classes or not all(is_int(c) for c in classes):
        raise ValueError(f"classes must be a non-empty list of ints, got {classes!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must not repeat, got {classes}")
    missing = [c for c in classes if not np.any(labels == c)]
    if missing:
        raise ValueError(f"no image has class {missing}; check the class indices")
    new = np.full(labels.max(initial=0) + 1 if labels.size else 1, -1, dtype=np.int64)
    for i, c in enumerate(classes):
        if c <= labels.max():
            new[c] = i
    keep = np.isin(labels, classes)
    return x[keep], new[labels[keep]]


def labelled_subset(x, y, per_class: int, *, seed: int = 0):
    """``per_class`` images of every class, drawn at random (seeded), in class order.

    ``y``: ``(N,)`` or ``(N, 1)`` labels ``0..K-1``, every class present. The same
    ``seed`` gives the same subset on every machine, and a larger ``per_class`` with the
    same seed contains the smaller one (the draw is a prefix of one permutation per
    class), so a learning curve adds labels instead of swapping them. Returns ``(x_sub,
    y_sub)``, ``y_sub`` int64 ``(K * per_class,)``. Chapter 11. Raises ``ValueError``
    for a ``per_class`` that is not a positive int or larger than a class.
    """
    x = np.asarray(x)
    labels = _labels(y, len(x))
    per_class = positive_int(per_class, "per_class (labelled images per class)")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if idx.size < per_class:
            raise ValueError(
                f"class {c} has {idx.size} images, fewer than per_class={per_class}"
            )
        picks.append(idx[rng.permutation(idx.size)[:per_class]])
    order = np.concatenate(picks)
    return x[order], labels[order]


def augment(x, *, seed: int = 0, max_shift: int = 4) -> np.ndarray:
    """Flip each image left-right with probability 1/2 and shift it by a random whole
    number of pixels in ``[-max_shift, max_shift]`` per axis (reflect padding).

    ``x``: an NHWC batch (any real dtype); the result has the same shape and dtype.
    Image ``n`` equals ``utils.images.translate(x[n:n+1], dy, dx, mode="reflect")``
    after an optional ``utils.images.hflip``: the classic CIFAR-10 "pad 4 and crop"
    recipe with a mirror. Chapter 11 (augmentation on little data); chapter 1
    introduces both operations. Raises ``ValueError`` for another rank or a
    ``max_shift`` that is negative or not smaller than the image.
    """
    x = check_nhwc(x, "x")
    h, w = x.shape[1:3]
    if not is_int(max_shift) or not 0 <= max_shift < min(h, w):
        raise ValueError(
            f"max_shift must be an int in [0, {min(h, w)}) pixels, got {max_shift!r}"
        )
    rng = np.random.default_rng(seed)
    n, p = len(x), int(max_shift)
    flip = rng.random(n) < 0.5
    dy, dx = rng.integers(-p, p + 1, size=(2, n))
    out = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    if p == 0:
        return out.astype(x.dtype, copy=False)
    padded = np.pad(out, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
    rows = (p - dy)[:, None] + np.arange(h)  # output row i reads padded row p - dy + i
    cols = (p - dx)[:, None] + np.arange(w)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def training_stream(x, y, *, steps: int, batch_size: int, augmented: bool, seed=0):
    """Exactly ``steps * batch_size`` training examples drawn from ``n`` images.

    The images are visited in epochs (a fresh seeded permutation each time, the last
    one cut short), so every image is used about ``steps * batch_size / n`` times; with
    ``augmented`` each visit gets its own random flip and shift (:func:`augment`).
    Feeding the result to one ``fit`` epoch with ``batch_size`` and ``shuffle=False``
    gives ``steps`` optimizer steps whatever ``n`` is: the same compute for every label
    count on a learning curve. Returns ``(x_stream, y_stream)`` with the dtypes of
    ``x`` and int64 labels. Chapter 11. Raises ``ValueError`` for an empty set,
    mismatched lengths or non-positive sizes.
    """
    x = check_nhwc(x, "x")
    labels = _labels(y, len(x))
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    if not len(x):
        raise ValueError("training_stream needs at least one image")
    rng = np.random.default_rng(seed)
    total = steps * batch_size
    epochs = -(-total // len(x))
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)])[:total]
    xs, ys = x[order], labels[order]
    if augmented:
        xs = augment(xs, seed=int(rng.integers(2**31)))
    return xs, ys


# ---------------------------------------------------------------------- linear probe


def softmax_regression(features, labels, w, b, *, steps: int, learning_rate, l2=0.0):
    """Full-batch gradient descent on softmax regression; returns the new ``(w, b)``.

    Minimises the mean cross-entropy plus ``l2/2 * ||w||^2`` (no penalty on ``b``)
    from the start ``w`` ``(D, K)``, ``b`` ``(K,)``: each step computes
    ``p = softmax(f w + b)``, ``g = (p - onehot(y)) / N`` and sets ``w -= lr (f^T g +
    l2 w)``, ``b -= lr * sum(g)``. ``features``: ``(N, D)``; ``labels``: ``(N,)`` ints
    in ``[0, K)``. float64 results. Equal to a Keras ``Dense(K)`` trained with
    ``SGD(learning_rate)`` on the whole set as one batch, loss
    ``SparseCategoricalCrossentropy(from_logits=True)`` and kernel regularizer
    ``L2(l2 / 2)`` (chapter 11 checks). Raises ``ValueError`` for shapes that do not
    fit, NaN/inf, labels out of range or non-positive ``steps``/``learning_rate``.
    """
    from .nn import softmax

    f = check_finite(as_float(features, "features", np.float64), "features")
    check_nonempty(f, "features", what="example to fit", axis=0)
    w = as_float(w, "w", np.float64).copy()
    b = as_float(b, "b", np.float64).copy()
    if (
        f.ndim != 2
        or w.ndim != 2
        or b.shape != (w.shape[1],)
        or w.shape[0] != f.shape[1]
    ):
        raise ValueError(
            f"need features (N, D), w (D, K), b (K,); got {f.shape}, {w.shape}, "
            f"{b.shape}"
        )
    y = _labels(labels, len(f), "labels", n_classes=w.shape[1])
    k = w.shape[1]
    steps = positive_int(steps, "steps")
    lr = real_number(learning_rate, "learning_rate", low=0.0, low_open=True)
    l2 = real_number(l2, "l2", low=0.0)
    onehot = np.eye(k)[y]
    for _ in range(steps):
        g = (softmax(f @ w + b) - onehot) / len(f)
        w, b = w - lr * (f.T @ g + l2 * w), b - lr * g.sum(axis=0)
    return w, b


class LinearProbe(NamedTuple):
    """A linear classifier on standardised features (:func:`fit_linear_probe`).

    Chapter 11.
    """

    mean: np.ndarray  # (D,) feature means of the training set
    scale: np.ndarray  # (D,) their standard deviations (1 where a feature is constant)
    w: np.ndarray  # (D, K) weights on standardised features
    b: np.ndarray  # (K,)


def fit_linear_probe(
    features, labels, n_classes: int, *, steps=300, learning_rate=0.5, l2=1e-3
):
    """Train a linear probe: standardise the features, then :func:`softmax_regression`
    from zeros.

    ``features``: ``(N, D)`` outputs of a frozen backbone; ``labels``: ``(N,)`` ints in
    ``[0, n_classes)``. Standardising (training-set mean and standard deviation per
    feature) makes one learning rate work for any backbone; ``l2`` keeps the weights
    finite when a few images can be separated perfectly. Returns a
    :class:`LinearProbe`; :func:`probe_logits` applies it, :func:`probe_as_dense`
    turns it into Dense weights. Chapter 11. Raises ``ValueError`` as
    :func:`softmax_regression`.
    """
    f = check_finite(as_float(features, "features", np.float64), "features")
    if f.ndim != 2 or not len(f):
        raise ValueError(f"features must be a non-empty (N, D) array, got {f.shape}")
    n_classes = positive_int(n_classes, "n_classes")
    mean, scale = f.mean(axis=0), f.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    d = f.shape[1]
    w, b = softmax_regression(
        (f - mean) / scale,
        labels,
        np.zeros((d, n_classes)),
        np.zeros(n_classes),
        steps=steps,
        learning_rate=learning_rate,
        l2=l2,
    )
    return LinearProbe(mean, scale, w, b)


def probe_logits(probe: LinearProbe, features) -> np.ndarray:
    """Logits ``((f - mean) / scale) w + b``, float64 ``(N, K)``; chapter 11.

    Raises ``ValueError`` when ``features`` is not ``(N, D)`` with the probe's ``D`` or
    holds NaN/inf.
    """
    f = check_finite(as_float(features, "features", np.float64), "features")
    if f.ndim != 2 or f.shape[1] != len(probe.mean):
        raise ValueError(
            f"features must be (N, {len(probe.mean)}) like the probe's training "
            f"features, got {f.shape}"
        )
    return (f - probe.mean) / probe.scale @ probe.w + probe.b


def probe_as_dense(probe: LinearProbe) -> list[np.ndarray]:
    """``[kernel, bias]`` (float32) of a ``Dense`` layer on raw features that computes
    exactly :func:`probe_logits`: ``kernel = w / scale``, ``bias = b - (mean / scale)
    w``.

    Used to start fine-tuning from the probe ("linear probing, then fine-tuning",
    chapter 11).
    """
    kernel = probe.w / probe.scale[:, None]
    bias = probe.b - (probe.mean / probe.scale) @ probe.w
    return [kernel.astype(np.float32), bias.astype(np.float32)]


# ----------------------------------------------------------------------- fine-tuning


def classifier(backbone, n_classes: int, *, bn_inference: bool, name="classifier"):
    """``backbone`` plus a new ``Dense(n_classes)`` head (logits); chapter 11.

    ``bn_inference=True`` sets ``trainable = False`` on every BatchNormalization layer
    of the backbone (:func:`utils.backbones.bn_layers`), which in Keras also makes
    them run in inference mode: they normalise with their stored moving statistics
    and never update them, while all other weights are fine-tuned. (The Keras
    transfer-learning guide also calls the backbone with ``training=False``; that call
    argument alone does not stop ``fit`` from updating a nested model's BN statistics,
    because ``fit`` calls the outer model with ``training=True``: keras-team/keras
    issue 20285, and chapter 11 shows it. So the flag is what this function relies on.)
    ``False`` leaves the BN layers trainable and in training mode inside ``fit``
    (batch statistics), as for a network trained from scratch. The backbone's layers
    are shared, not copied, and the change of ``trainable`` is made on them. Returns
    an uncompiled ``keras.Model`` on ``backbone``'s input. Raises ``ValueError`` for a
    non-positive ``n_classes`` or a non-bool ``bn_inference``.
    """
    import keras

    n_classes = positive_int(n_classes, "n_classes")
    if not isinstance(bn_inference, bool):
        raise ValueError(f"bn_inference must be True or False, got {bn_inference!r}")
    for layer in bn_layers(backbone):
        layer.trainable = not bn_inference
    inputs = keras.Input(backbone.input_shape[1:], name="pixels")
    features = backbone(inputs, training=False) if bn_inference else backbone(inputs)
    logits = keras.layers.Dense(n_classes, name="head")(features)
    return keras.Model(inputs, logits, name=name)


def compile_classifier(model, learning_rate: float):
    """Compile with Adam(``learning_rate``), sparse cross-entropy on logits, accuracy.

    Returns ``model``. Chapter 11. Raises ``ValueError`` for a non-positive rate.
    """
    import keras

    lr = real_number(learning_rate, "learning_rate", low=0.0, low_open=True)
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)
    model._book_fresh_optimizer = [v.numpy() for v in model.optimizer.variables]
    return model


def train_steps(model, x, y, *, weights, steps, batch_size, augmented, seed=0):
    """Train a :func:`compile_classifier` model for exactly ``steps`` steps.

    First sets the model's weights to ``weights`` (a list from ``get_weights()``) and
    its optimizer to the freshly compiled state, so one compiled model trains many runs
    (label counts, seeds) without tracing its graph again; then one ``fit`` epoch over
    :func:`training_stream` (``verbose=0``). Returns ``model``. Raises ``ValueError``
    for a model not compiled with :func:`compile_classifier` or wrong ``weights``.
    Chapter 11.
    """
    fresh = getattr(model, "_book_fresh_optimizer", None)
    if fresh is None:
        raise ValueError("compile the model with transfer.compile_classifier first")
    model.set_weights(weights)
    for var, value in zip(model.optimizer.variables, fresh):
        var.assign(value)
    xs, ys = training_stream(
        x, y, steps=steps, batch_size=batch_size, augmented=augmented, seed=seed
    )
    model.fit(xs, ys, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model


def accuracy(logits, labels) -> float:
    """Fraction of rows whose arg-max equals the label; chapter 11.

    ``logits``: ``(N, K)`` finite scores; ``labels``: ``(N,)`` class indices in ``[0,
    K)``. Raises ``ValueError`` for mismatched sizes, an empty set, non-finite scores
    or labels out of range (they could never be predicted).
    """
    s = as_float(logits, "logits")
    if s.ndim != 2 or not len(s):
        raise ValueError(f"logits must be a non-empty (N, K) array, got {s.shape}")
    y = _labels(labels, len(s), "labels", n_classes=s.shape[1])
    check_finite(s, "logits", hint="the model diverged")
    return float(np.mean(s.argmax(axis=1) == y))


# ---------------------------------------------------------------- one comparison


class Transfer(NamedTuple):
    """A pretrained backbone ready for chapter 11's comparison (prepare_transfer)."""

    features_pool: np.ndarray  # (N_pool, D) frozen features of the unlabelled pool
    features_test: np.ndarray  # (N_test, D) frozen features of the test images
    model: object  # the fine-tuning classifier (BN in inference mode), compiled
    start: list  # the backbone's pretrained weights, where every fine-tuning starts


def prepare_transfer(backbone, x_pool, x_test, *, n_classes: int, learning_rate=3e-4):
    """Compute ``backbone``'s features of the pool and test images once, and build and
    compile its fine-tuning :func:`classifier` (``bn_inference=True``) once.

    ``x_pool``, ``x_test``: NHWC images in the backbone's input units. Returns a
    :class:`Transfer`; :func:`transfer_run` uses it for every label count and seed.
    Chapter 11. Raises ``ValueError`` as :func:`classifier` and
    :func:`compile_classifier`.
    """
    features_pool = backbone.predict(x_pool, verbose=0, batch_size=500)
    features_test = backbone.predict(x_test, verbose=0, batch_size=500)
    start = backbone.get_weights()
    model = classifier(backbone, n_classes, bn_inference=True)
    compile_classifier(model, learning_rate)
    return Transfer(features_pool, features_test, model, start)


def transfer_run(
    t: Transfer, x_pool, y_pool, x_test, y_test, *, k: int, seed: int, steps: int
) -> dict:
    """Test accuracy of the linear probe and of fine-tuning, on ``k`` labelled images
    per class drawn from the pool with ``seed``; chapter 11.

    The probe is fitted on the frozen features (:func:`fit_linear_probe`); fine-tuning
    then starts from the pretrained backbone plus a head initialised from that probe
    (:func:`probe_as_dense`: "linear probing, then fine-tuning") and trains every layer
    but BatchNormalization for ``steps`` augmented steps of batch 32. Returns
    ``{"probe": accuracy, "fine-tune": accuracy}``. Raises ``ValueError`` as
    :func:`labelled_subset`.
    """
    x_k, y_k = labelled_subset(x_pool, y_pool, k, seed=seed)
    f_k, _ = labelled_subset(t.features_pool, y_pool, k, seed=seed)
    probe = fit_linear_probe(f_k, y_k, t.model.output_shape[-1])
    found = {"probe": accuracy(probe_logits(probe, t.features_test), y_test)}
    start = t.start + probe_as_dense(probe)
    kw = dict(steps=steps, batch_size=32, augmented=True, seed=seed)
    train_steps(t.model, x_k, y_k, weights=start, **kw)
    logits = t.model.predict(x_test, verbose=0, batch_size=500)
    found["fine-tune"] = accuracy(logits, y_test)
    return found
