"""The seed article's CIFAR-10 classifier, fixed and made reusable.

Chapter 8 ("A first CIFAR-10 CNN, end to end") builds, trains and evaluates this model;
chapter 9 ("Fast GPU training") uses :func:`build_seed_model` as its baseline.

- :func:`build_seed_model` is the seed's network (Conv2D 32-64-64, two max-pools, Dense 64,
  Dense 10; 122,570 parameters) written the Keras 3 way, ending in *logits* by default;
- :func:`default_augmentation` is the random flip + shift used in the FULL profile;
- :func:`softmax` and :func:`sparse_cross_entropy` are the NumPy loss the chapter checks against Keras;
- :func:`confusion_matrix` and :func:`per_class_accuracy` are the NumPy evaluation helpers;
- :func:`to_model_size` turns an arbitrary photo into a 32x32 uint8 image;
- :func:`predict_image` classifies one image and rejects inputs of the wrong rank, size or dtype;
- :class:`EpochSummary` prints one short line per epoch instead of a progress bar.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

SEED_PARAMS = 122_570  # trainable parameters of the seed's architecture (checked in tests and chapter 8)
INPUT_SHAPE = (32, 32, 3)


def default_augmentation(*, seed: int | None = 0, shift: float = 0.125):
    """Random horizontal flips and random shifts of up to ``shift`` of the image size (chapter 8).

    The shift uses reflection padding, so it behaves like the classic "pad 4 pixels and crop
    32x32" CIFAR-10 augmentation. The layers are active only when called with ``training=True``
    (inside ``fit``); ``predict`` and ``evaluate`` see the image unchanged.
    """
    import keras

    if not 0.0 <= shift < 0.5:
        raise ValueError(f"shift is a fraction of the image size and must be in [0, 0.5), got {shift!r}")
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed),
        ],
        name="augment",
    )


def build_seed_model(*, logits: bool = True, augment=None, normalize: bool = True, name: str = "seed_cnn"):
    """The seed article's CNN (its section 4.3) as a Keras 3 functional model; chapter 8.

    Input: ``(32, 32, 3)`` images with pixel values 0-255 (uint8 or float).

    Parameters
    ----------
    logits:
        ``True`` (default) ends in a linear ``Dense(10)``: pair it with
        ``SparseCategoricalCrossentropy(from_logits=True)``. ``False`` ends in softmax, as the seed did;
        then the loss must use ``from_logits=False``. (The seed combined softmax with
        ``from_logits=True``, which is the bug chapter 8 explains.)
    augment:
        ``None``/``False``: no augmentation. ``True``: :func:`default_augmentation`. A Keras layer
        (e.g. a ``keras.Sequential`` of preprocessing layers): used as given. Augmentation layers
        are active only during training.
    normalize:
        ``True`` rescales pixels from 0-255 to 0-1 inside the model (a ``Rescaling`` layer, so the
        saved model takes raw pixels). ``False`` leaves scaling to the caller.

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
        raise ValueError(f"augment must be None, True/False or a Keras layer, got {type(augment).__name__}")

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
    outputs = layers.Dense(10, activation=None if logits else "softmax", name="logits" if logits else "probs")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_seed_model(model, *, learning_rate: float = 1e-3):
    """Compile with Adam and sparse cross-entropy whose ``from_logits`` matches the model's last layer (chapter 8)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not ends_in_softmax(model)),
        metrics=["accuracy"],
    )
    return model


def ends_in_softmax(model) -> bool:
    """True when the model's last layer applies a softmax (its outputs are already probabilities)."""
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (the largest entry is subtracted first); chapter 8."""
    z = np.asarray(z, dtype=np.float64 if np.asarray(z).dtype == np.float64 else np.float32)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sparse_cross_entropy(logits: np.ndarray, labels) -> float:
    """Mean cross-entropy of integer ``labels`` under ``softmax(logits)``, computed from the logits; chapter 8.

    Uses the log-sum-exp form ``logsumexp(z) - z[y]``, which never takes the log of a rounded-to-zero
    probability. Equals ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if z.ndim != 2:
        raise ValueError(f"logits must be (batch, classes), got shape {z.shape}")
    if len(y) != len(z):
        raise ValueError(f"got {len(z)} rows of logits but {len(y)} labels")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must be integers in [0, {z.shape[1]}), got dtype {y.dtype}")
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``(k, k)`` int64 counts: row = true class, column = predicted class (chapter 8).

    Equal to ``tf.math.confusion_matrix`` and ``sklearn.metrics.confusion_matrix`` (the chapter checks).
    """
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if not (np.issubdtype(t.dtype, np.integer) and np.issubdtype(p.dtype, np.integer)):
        raise ValueError(f"labels must be integers, got {t.dtype} and {p.dtype} (take argmax of scores first)")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values from {min(t.min(), p.min())} "
                         f"to {max(t.max(), p.max())}")
    counts = np.bincount(t.astype(np.int64) * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix: diagonal / row sum (0 for an empty row)."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square (k, k), got shape {cm.shape}")
    rows = cm.sum(axis=1)
    return np.divide(np.diag(cm), rows, out=np.zeros(len(cm), dtype=float), where=rows > 0)


def to_model_size(image: np.ndarray, size: int = 32) -> np.ndarray:
    """Centre-crop a photo to a square and shrink it to ``size x size`` uint8 RGB (chapter 8).

    Accepts ``(H, W, 3)`` colour or ``(H, W)`` grey (copied to 3 channels), uint8 or floats in [0, 1].
    The resize averages over each output pixel's footprint (anti-aliasing), which is how a
    camera-sized photo becomes a CIFAR-sized one without aliasing artefacts.
    """
    from skimage.transform import resize

    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) colour or (H, W) grey photo, got shape {img.shape}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = img[top:top + s, left:left + s]
    small = resize(img, (size, size), anti_aliasing=True, preserve_range=True)
    if img.dtype != np.uint8:  # floats in [0, 1]
        small = small * 255.0
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


class Prediction(NamedTuple):
    """What :func:`predict_image` returns."""

    label: str  # the winning class name
    index: int  # its index
    confidence: float  # its softmax probability
    probabilities: np.ndarray  # all class probabilities, float32 (k,)


def predict_image(model, image, class_names) -> Prediction:
    """Classify ONE image; chapter 8.

    ``image`` must be a uint8 array of the model's input shape, ``(32, 32, 3)`` for the seed model,
    with pixel values 0-255 (what :func:`utils.data.load_cifar10` and :func:`to_model_size` return).
    Floats are refused on purpose: a float image scaled to [0, 1] would be rescaled a second time
    by the model and look almost black, without any error. Logits are turned into probabilities
    with a softmax; a model that already ends in softmax is used as is.
    """
    import keras

    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a NumPy array, got {type(image).__name__}")
    expected = tuple(model.input_shape[1:])
    if image.ndim == len(expected) + 1 and image.shape[0] == 1:
        raise ValueError(f"predict_image takes one image of shape {expected}, got a batch of shape {image.shape}; "
                         f"pass image[0], or use model.predict for batches")
    if image.ndim != len(expected):
        raise ValueError(f"image must have rank {len(expected)} (height, width, channels), got rank {image.ndim} "
                         f"with shape {image.shape}")
    if image.shape != expected:
        raise ValueError(f"image must have shape {expected}, got {image.shape}; "
                         f"resize it first, e.g. with utils.first_cnn.to_model_size")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 with pixel values 0-255, got dtype {image.dtype}; "
                         f"for floats in [0, 1] use (image * 255).round().astype(np.uint8)")
    names = list(class_names)
    outputs = model.predict(image[None], verbose=0)[0]
    if len(names) != outputs.shape[-1]:
        raise ValueError(f"the model has {outputs.shape[-1]} outputs but {len(names)} class names were given")
    probs = outputs if ends_in_softmax(model) else keras.ops.convert_to_numpy(keras.ops.softmax(outputs))
    probs = np.asarray(probs, dtype=np.float32)
    k = int(np.argmax(probs))
    return Prediction(names[k], k, float(probs[k]), probs)


def _keras_callback_base():
    import keras

    return keras.callbacks.Callback


class EpochSummary(_keras_callback_base()):
    """A Keras callback that prints one line per epoch (loss, accuracy, validation, seconds); chapter 8.

    Use it with ``verbose=0`` in ``fit``: no progress bars, one readable line per epoch.
    ``history`` keeps the per-epoch wall times in ``self.seconds``.
    """

    def __init__(self, every: int = 1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
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
