"""Feature extractors for chapter 11 (learning from little data): the chapter's own
small CNN, ``keras.applications`` networks, and their pretrained weights, checked.

- :func:`cnn_backbone` is the chapter's small convolutional feature extractor (with
  BatchNormalization); :func:`pretrained_backbone` builds it, or a
  ``keras.applications`` network, and loads weights from a file or ``"imagenet"``;
- :func:`imagenet_weights_file` finds or downloads the ImageNet weights file of an
  application (:data:`IMAGENET_WEIGHTS`) in the Keras cache and checks it; every failure
  is a :class:`WeightsUnavailable` that says what to do, so a chapter can go on without
  the download;
- :func:`bn_layers` lists a model's BatchNormalization layers, nested models included.

Chapter 11 reuses the same function for both profiles: QUICK loads the weights it saved
after pretraining its own CNN, FULL also loads MobileNetV2's ImageNet weights.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .shapes import is_int, positive_int

# keras.applications networks pretrained_backbone can build: (constructor, module)
APPLICATIONS = {
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2"),
    "efficientnet_b0": ("EfficientNetB0", "efficientnet"),
}
BACKBONES = ("cnn", *APPLICATIONS)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # the first 8 bytes of every HDF5 file


class WeightsFile(NamedTuple):
    """One pretrained weights file: its name in the Keras cache, where it is served
    from, and its size in bytes (what can be checked: see :data:`IMAGENET_WEIGHTS`).
    Chapter 11."""

    name: str
    origin: str
    size: int


_MOBILENET = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)

#: The ImageNet weights ``pretrained_backbone(..., "imagenet")`` accepts, by (network,
#: input size in pixels): the no-top files ``keras.applications.MobileNetV2`` downloads
#: (the same names, so a file Keras cached is reused). Keras publishes no checksum for
#: them (its ``get_file`` call passes no ``file_hash``), so a download is checked for
#: the HDF5 signature and for the size the server sends, 9,406,464 bytes, the count
#: Keras' own download progress reports for every resolution of these files.
IMAGENET_WEIGHTS = {
    ("mobilenet_v2", size): WeightsFile(
        name=f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
        origin=_MOBILENET
        + f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
        size=9_406_464,
    )
    for size in (96, 128, 160, 224)
}


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be had (offline, a failed or damaged download, a
    file that does not fit the network); the message says what to do. Chapter 11."""


def weights_cache_folder() -> Path:
    """``<Keras home>/models``, where Keras caches application weights; chapter 11.

    The Keras home is resolved at every call as :func:`utils.cifar_download.
    keras_cache_folder` does (``$KERAS_HOME``, else ``~/.keras``). Nothing is created.
    """
    from .cifar_download import keras_cache_folder

    return keras_cache_folder().parent / "models"


def check_weights_file(path, size: int | None = None) -> Path:
    """Check that ``path`` is an HDF5 file (its signature) of ``size`` bytes.

    ``size`` ``None`` skips the size check. Returns the path. Chapter 11. Raises
    :class:`WeightsUnavailable` naming the file, what was found and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))
    actual = path.stat().st_size
    problems = []
    if head != HDF5_SIGNATURE:
        problems.append("it does not start with the HDF5 signature")
    if size is not None and actual != size:
        problems.append(f"it has {actual:,} bytes, not {size:,}")
    if problems:
        raise WeightsUnavailable(
            f"{path.name} is not the expected weights file: "
            + " and ".join(problems)
            + " (a download that stopped early, or an error page saved in its place)"
        )
    return path


def imagenet_weights_file(name: str, size: int) -> Path:
    """The path of the ImageNet weights of ``name`` at ``size`` pixels, checked.

    Looks in :func:`weights_cache_folder` under the file's Keras name; a file already
    there is used as it is (it was checked when it was downloaded, or you put it
    there), after a look at its HDF5 signature. Otherwise ``keras.utils.get_file``
    downloads it there, and :func:`check_weights_file` checks it against
    :data:`IMAGENET_WEIGHTS` (a bad download is deleted). Chapter 11.
    Raises ``ValueError`` for a network and size not in :data:`IMAGENET_WEIGHTS`, and
    :class:`WeightsUnavailable` (with the fix) when the file cannot be had.
    """
    if (name, size) not in IMAGENET_WEIGHTS:
        raise ValueError(
            f"no checked ImageNet weights for {name!r} at {size} px; the book knows "
            f"{sorted(IMAGENET_WEIGHTS)}"
        )
    spec = IMAGENET_WEIGHTS[name, size]
    folder = weights_cache_folder()
    cached = folder / spec.name
    if cached.is_file():
        try:
            return check_weights_file(cached)
        except WeightsUnavailable as err:
            raise WeightsUnavailable(f"{err}: delete it and run again") from None
    import keras

    how = (
        f"Download {spec.origin} by hand into {folder}/, or run the chapter with "
        "IMAGE_SIZE_IMAGENET=0 to leave the ImageNet backbone out."
    )
    try:
        path = keras.utils.get_file(
            fname=spec.name,
            origin=spec.origin,
            cache_dir=str(folder.parent),
            cache_subdir=folder.name,
        )
    except Exception as err:  # keras raises plain Exception on network failures
        raise WeightsUnavailable(
            f"downloading {spec.name} failed ({type(err).__name__}: {err}). {how}"
        ) from None
    try:
        return check_weights_file(path, spec.size)
    except WeightsUnavailable as err:
        Path(path).unlink(missing_ok=True)
        raise WeightsUnavailable(f"{err}. The file was removed. {how}") from None


# ------------------------------------------------------------------------- backbones


def cnn_backbone(width: int = 16, *, name: str = "cnn_backbone"):
    """The chapter's small feature extractor: raw 32x32 pixels -> ``4 width`` features.

    Three blocks ``Conv2D(3x3, same, no bias) -> BatchNormalization -> ReLU`` with
    ``width``, ``2 width`` and ``4 width`` channels, max-pooling after the first two
    and global average pooling after the last. A ``Rescaling(1/255)`` layer comes first,
    so the model takes uint8-range pixels ``(32, 32, 3)``. BatchNormalization uses
    momentum 0.9 (Keras' default 0.99 needs hundreds of steps before its moving
    statistics are usable, too many for a few labelled images). Returns an uncompiled
    ``keras.Model``. Chapter 11. Raises ``ValueError`` for a width that is not a
    positive int.
    """
    import keras
    from keras import layers

    width = positive_int(width, "width (channels of the first block)")
    inputs = keras.Input((32, 32, 3), name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for k, filters in enumerate((width, 2 * width, 4 * width), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{k}")(
            x
        )
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{k}")(x)
        x = layers.ReLU(name=f"relu{k}")(x)
        if k < 3:
            x = layers.MaxPooling2D(2, name=f"pool{k}")(x)
    features = layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, features, name=name)


def _check_input_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(shape) != 3 or shape[2] != 3 or not all(is_int(s) and s > 0 for s in shape):
        raise ValueError(
            f"input_shape must be (height, width, 3) with positive ints, "
            f"got {input_shape!r}"
        )
    return tuple(int(s) for s in shape)


def _check_weights(weights) -> None:
    if isinstance(weights, (str, os.PathLike)) and str(weights) != "imagenet":
        if not os.path.isfile(weights):
            raise FileNotFoundError(
                f"weights file {os.fspath(weights)!r} does not exist; save one with "
                "model.save_weights('name.weights.h5') or pass weights=None"
            )
    elif weights not in (None, "imagenet"):
        raise ValueError(
            f"weights must be None, 'imagenet' or a file path, got {weights!r}"
        )


def pretrained_backbone(name: str, weights=None, input_shape=(32, 32, 3), width=16):
    """A feature extractor for raw 32x32 CIFAR pixels, with pretrained weights.

    ``name``: ``"cnn"`` (:func:`cnn_backbone`, input ``(32, 32, 3)`` only) or a
    ``keras.applications`` network in :data:`APPLICATIONS` (``"mobilenet_v2"``,
    ``"efficientnet_b0"``), built without its classifier and with global average
    pooling. ``weights``: ``None`` (random initialisation), the path of a weights file
    saved from the same architecture, or ``"imagenet"`` (applications only: the file
    :func:`imagenet_weights_file` finds or downloads and checks). ``input_shape``: the
    size the network sees; the returned model takes ``(32, 32, 3)`` pixels in 0-255
    and resizes them (bilinear) to ``input_shape``, then applies the network's own
    ``preprocess_input``. ``width``: :func:`cnn_backbone`'s width.

    Returns an uncompiled ``keras.Model`` (pixels -> feature vector). Chapter 11.
    Raises ``ValueError`` for an unknown name, ``"imagenet"`` with ``"cnn"``, an input
    shape the network cannot take, ``FileNotFoundError`` for a weights file that does
    not exist, and :class:`WeightsUnavailable` when ImageNet weights cannot be had or
    do not load (with what to do).
    """
    import keras

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")
    shape = _check_input_shape(input_shape)
    _check_weights(weights)
    if name == "cnn":
        if weights == "imagenet":
            raise ValueError(
                "the chapter's cnn has no ImageNet weights; pass a weights file saved "
                "from it, or choose one of " + ", ".join(APPLICATIONS)
            )
        if shape != (32, 32, 3):
            raise ValueError(f"the cnn backbone takes (32, 32, 3) images, got {shape}")
        model = cnn_backbone(width)
        if weights is not None:
            model.load_weights(weights)
        return model
    if min(shape[:2]) < 32:
        raise ValueError(f"{name} needs images of at least 32x32, got {shape}")
    constructor, module = APPLICATIONS[name]
    apps = keras.applications
    path = imagenet_weights_file(name, shape[0]) if weights == "imagenet" else weights
    try:
        net = getattr(apps, constructor)(
            include_top=False, weights=path, input_shape=shape, pooling="avg"
        )
    except (OSError, ValueError) as err:
        if weights != "imagenet":
            raise
        raise WeightsUnavailable(
            f"{path} does not load into {constructor} ({type(err).__name__}: "
            f"{str(err)[:200]}); delete it and run again to download a fresh copy"
        ) from None
    preprocess = getattr(apps, module).preprocess_input
    inputs = keras.Input((32, 32, 3), name="pixels")
    x = keras.layers.Resizing(shape[0], shape[1], name="resize")(inputs)
    x = keras.layers.Lambda(preprocess, name="preprocess")(x)
    return keras.Model(inputs, net(x), name=f"{name}_backbone")


def bn_layers(model) -> list:
    """Every ``keras.layers.BatchNormalization`` in ``model``, nested models included.

    Chapter 11.
    """
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(bn_layers(layer))
    return found
