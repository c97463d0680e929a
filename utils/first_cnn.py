"""The seed article's CIFAR-10 classifier, fixed and made reusable.

Chapter 8 ("A first CIFAR-10 CNN, end to end") builds, trains and evaluates this model;
chapter 10 ("Fast GPU training") uses :func:`build_seed_model` as its baseline.

- :func:`build_seed_model` is the seed's network (Conv2D 32-64-64, two max-pools,
  Dense 64, Dense 10; 122,570 parameters) written the Keras 3 way, ending in *logits* by
  default;
- :func:`default_augmentation` is the random flip + shift used in the FULL profile;
- :func:`compile_seed_model` and :func:`predict_image` read the model's output with
  :func:`utils.logits.output_activation`, so they never apply a softmax twice; the NumPy
  softmax and cross-entropy are :func:`utils.nn.softmax` and
  :func:`utils.losses.sparse_categorical_crossentropy`;
- :func:`confusion_matrix` and :func:`per_class_accuracy` are the NumPy evaluation
  helpers;
- :func:`to_model_size` turns an arbitrary photo into a 32x32 uint8 image;
- :func:`predict_image` classifies one image and rejects inputs of the wrong rank, size
  or dtype;
- :class:`EpochSummary` prints one short line per epoch instead of a progress bar.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from .logits import output_activation
from .shapes import positive_int, real_number

# trainable parameters of the seed's architecture (checked in tests and chapter 8)
SEED_PARAMS = 122_570
INPUT_SHAPE = (32, 32, 3)


def default_augmentation(*, seed: int | None = 0, shift: float = 0.125):
    """Random horizontal flips and shifts of up to ``shift`` of the image; chapter 8.

    The shift uses reflection padding, so it behaves like the classic "pad 4 pixels and
    crop 32x32" CIFAR-10 augmentation. The layers are active only when called with
    ``training=True`` (inside ``fit``); ``predict`` and ``evaluate`` see the image
    unchanged.
    """
    import keras

    shift = real_number(
        shift, "shift (a fraction of the image size)", low=0.0, high=0.5, high_open=True
    )
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(
                shift, shift, fill_mode="reflect", seed=seed
            ),
        ],
        name="augment",
    )


def build_seed_model(
    *, logits: bool = True, augment=None, normalize: bool = True, name: str = "seed_cnn"
):
    """The seed article's CNN (its section 4.3) as a Keras 3 functional model; ch. 8.

    Input: ``(32, 32, 3)`` images with pixel values 0-255 (uint8 or float).

    Parameters
    ----------
    logits:
        ``True`` (default) ends in a linear ``Dense(10)``: pair it with
        ``SparseCategoricalCrossentropy(from_logits=True)``. ``False`` ends in softmax,
        as the seed did; then the loss must use ``from_logits=False``. (The seed
        combined softmax with ``from_logits=True``, which is the bug chapter 8
        explains.)
    augment:
        ``None``/``False``: no augmentation. ``True``: :func:`default_augmentation`. A
        Keras layer (e.g. a ``keras.Sequential`` of preprocessing layers): used as
        given. Augmentation layers are active only during training.
    normalize:
        ``True`` rescales pixels from 0-255 to 0-1 inside the model (a ``Rescaling``
        layer, so the saved model takes raw pixels). ``False`` leaves scaling to the
        caller.

    Rescaling and augmentation have no weights, so the model always has
    :data:`SEED_PARAMS` = 122,570 trainable parameters.
    """
    import keras
    from keras import layers

    if augment is True:
        augment = default_augmentation()
    elif augment is False:
        augment = None
    if augment is not None and not isinstance(augment, keras.layers.Layer):
        raise ValueError(
            f"augment must be None, True/False or a Keras layer, got "
            f"{type(augment).__name__}"
        )

    inputs = keras.Input(shape=INPUT_SHAPE, name="pixels")
    x = inputs
    if augment is not None:
        x = augment(x)
    if normalize:
        x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    outputs = layers.Dense(
        10,
        activation=None if logits else "softmax",
        name="logits" if logits else "probs",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def compile_seed_model(model, *, learning_rate: float = 1e-3):
    """Compile with Adam and a sparse cross-entropy that fits the output; chapter 8.

    ``from_logits`` is ``False`` when :func:`utils.logits.output_activation` finds a
    softmax at the end of the model, ``True`` otherwise (linear outputs are logits).
    Returns ``model``.

    Raises ``ValueError`` for a model ending in a sigmoid (independent per-class
    probabilities, which sparse categorical cross-entropy would silently renormalise) or
    a model with several outputs. Chapter 6 ("from_logits") explains the choice.
    """
    import keras

    kind = output_activation(model)
    if kind == "sigmoid":
        raise ValueError(
            f"model {model.name!r} ends in a sigmoid; sparse categorical cross-entropy "
            "needs logits (a linear last layer) or a softmax. Use "
            "keras.losses.BinaryCrossentropy for independent per-class (multi-label) "
            "outputs."
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=kind is None),
        metrics=["accuracy"],
    )
    return model


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``(k, k)`` int64 counts: row = true class, column = predicted class; chapter 8.

    ``y_true`` and ``y_pred`` are integer class indices of equal size (any shape,
    flattened), e.g. ``scores.argmax(axis=1)``. Equal to ``tf.math.confusion_matrix``
    and ``sklearn.metrics.confusion_matrix`` (the chapter checks). Empty inputs give
    zeros.

    Raises ``ValueError`` for a non-positive ``num_classes``, different sizes,
    non-integer labels (floats, bool: take the arg-max of scores first) or labels
    outside ``[0, num_classes)``. NaN scores never get here: check scores with
    ``np.isfinite`` before the arg-max, because NumPy's arg-max picks a NaN and
    TensorFlow's skips it.
    """
    num_classes = positive_int(num_classes, "num_classes")
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if not t.size:
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    if not (np.issubdtype(t.dtype, np.integer) and np.issubdtype(p.dtype, np.integer)):
        raise ValueError(
            f"labels must be integers, got {t.dtype} and {p.dtype} "
            "(take the arg-max of scores first)"
        )
    lo, hi = min(t.min(), p.min()), max(t.max(), p.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got values from {lo} to {hi}"
        )
    flat = t.astype(np.int64) * num_classes + p.astype(np.int64)
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.astype(np.int64).reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class, diagonal / row sum: float64 ``(k,)``, 0 for an empty row.

    ``cm`` is a ``(k, k)`` count matrix from :func:`confusion_matrix` (rows: true
    class). Raises ``ValueError`` for a non-square, non-numeric or negative matrix.
    Chapter 8.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(
            f"confusion matrix must be square (k, k), got shape {cm.shape}"
        )
    if cm.dtype == bool or not np.issubdtype(cm.dtype, np.number) or np.any(cm < 0):
        raise ValueError(
            f"confusion matrix must hold non-negative counts, got dtype {cm.dtype}"
        )
    rows = cm.sum(axis=1).astype(np.float64)
    out = np.zeros(len(cm), dtype=np.float64)
    return np.divide(np.diag(cm), rows, out=out, where=rows > 0)


def _photo_as_float(img: np.ndarray) -> np.ndarray:
    """A uint8 or [0, 1]-float photo as float64 in 0-255; ValueError otherwise."""
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(
            f"photo must be uint8 (0-255) or float (0-1), got dtype {img.dtype}; "
            "rescale it, e.g. (img / img.max()).astype(np.float32) for uint16"
        )
    finite = img[np.isfinite(img)]
    if finite.size < img.size or img.min() < 0 or img.max() > 1:
        span = f"{finite.min():.4g} to {finite.max():.4g}" if finite.size else "none"
        raise ValueError(
            f"a float photo must hold finite values in [0, 1], got "
            f"{img.size - finite.size} NaN/inf and finite values {span}; for 0-255 "
            "floats use img.round().astype(np.uint8)"
        )
    return img.astype(np.float64) * 255.0


def to_model_size(image: np.ndarray, size: int = 32) -> np.ndarray:
    """Centre-crop a photo to a square, shrink it to ``size x size`` uint8; chapter 8.

    Accepts ``(H, W, 3)`` colour or ``(H, W)`` / ``(H, W, 1)`` grey (copied to 3
    channels), uint8 0-255 or floats in [0, 1]. The resize averages over each output
    pixel's footprint (anti-aliasing), so a camera-sized photo becomes a CIFAR-sized one
    without aliasing artefacts. Raises ``ValueError`` for another shape, an empty photo,
    another dtype (uint16, int, bool), floats outside [0, 1] or NaN, and a ``size`` that
    is not a positive int.
    """
    from skimage.transform import resize

    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3 or img.size == 0:
        raise ValueError(
            f"expected a non-empty (H, W, 3) colour or (H, W) grey photo, "
            f"got shape {img.shape}"
        )
    size = positive_int(size, "size (pixels)")
    pixels = _photo_as_float(img)
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = pixels[top : top + s, left : left + s]
    small = resize(square, (size, size), anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


class Prediction(NamedTuple):
    """What :func:`predict_image` returns. Chapter 8."""

    label: str  # the winning class name
    index: int  # its index
    confidence: float  # its probability
    probabilities: np.ndarray  # all class probabilities, float32 (k,)


def _check_image(model, image) -> None:
    """ValueError unless ``image`` is ONE uint8 image of the model's input shape."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a NumPy array, got {type(image).__name__}")
    expected = tuple(model.input_shape[1:])
    if image.ndim == len(expected) + 1 and image.shape[0] == 1:
        raise ValueError(
            f"predict_image takes one image of shape {expected}, got a batch of shape "
            f"{image.shape}; pass image[0], or use model.predict"
        )
    if image.ndim != len(expected):
        raise ValueError(
            f"image must have rank {len(expected)} (height, width, channels), got rank "
            f"{image.ndim} with shape {image.shape}"
        )
    if image.shape != expected:
        raise ValueError(
            f"image must have shape {expected}, got {image.shape}; "
            f"resize it first, e.g. with utils.first_cnn.to_model_size"
        )
    if image.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 with pixel values 0-255, got dtype "
            f"{image.dtype}; for floats in [0, 1] use "
            f"(image * 255).round().astype(np.uint8)"
        )


def predict_image(model, image, class_names) -> Prediction:
    """Classify ONE image; chapter 8.

    ``image`` must be a uint8 array of the model's input shape, ``(32, 32, 3)`` for the
    seed model, with pixel values 0-255 (what :func:`utils.data.load_cifar10` and
    :func:`to_model_size` return). Floats are refused on purpose: a float image scaled
    to [0, 1] would be rescaled a second time by the model and look almost black,
    without any error. The outputs are read as
    :func:`utils.logits.output_activation` says: logits go through
    :func:`utils.nn.softmax`; softmax outputs are used as they are; sigmoid outputs are
    per-class probabilities (one sigmoid unit with two class names means
    ``[1 - p, p]``). ``probabilities`` is float32 ``(k,)``.

    Raises ``ValueError`` for a wrong image (type, rank, shape, dtype), a class-name
    count that does not match the outputs, a model with several outputs, and outputs
    that are NaN or infinite (the model diverged: there is no winning class to report).
    """
    from .nn import softmax

    _check_image(model, image)
    if isinstance(class_names, str):
        raise ValueError(
            f"class_names must be a sequence of names, got the string {class_names!r}"
        )
    names = list(class_names)
    kind = output_activation(model)
    outputs = np.asarray(model.predict(image[None], verbose=0)[0], dtype=np.float32)
    if not np.all(np.isfinite(outputs)):
        raise ValueError(
            f"the model's outputs are not all finite ({outputs.tolist()}): its weights "
            "hold NaN or inf, e.g. after a diverged training run"
        )
    if kind == "sigmoid" and outputs.shape == (1,) and len(names) == 2:
        outputs = np.array([1.0 - outputs[0], outputs[0]], dtype=np.float32)
    if len(names) != outputs.shape[-1]:
        raise ValueError(
            f"the model has {outputs.shape[-1]} outputs but {len(names)} "
            "class names were given"
        )
    probs = outputs if kind else softmax(outputs)
    k = int(np.argmax(probs))
    return Prediction(names[k], k, float(probs[k]), probs.astype(np.float32))


def _keras_callback_base():
    import keras

    return keras.callbacks.Callback


class EpochSummary(_keras_callback_base()):
    """Keras callback: one line per epoch (losses, accuracies, seconds); chapter 8.

    Use it with ``verbose=0`` in ``fit``: no progress bars, one readable line per epoch.
    ``history`` keeps the per-epoch wall times in ``self.seconds``.
    """

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = positive_int(every, "every")
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        logs = logs or {}
        if (epoch + 1) % self.every == 0:
            parts = [f"epoch {epoch + 1:2d}"]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if key in logs:
                    parts.append(f"{key} {float(logs[key]):.4f}")
            parts.append(f"{self.seconds[-1]:.0f} s")
            print(" | ".join(parts))
