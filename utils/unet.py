"""A small U-Net in Keras 3: an encoder-decoder with skip connections.

Chapter 13 ("Segmentation") builds and trains it on per-pixel labels; the generation
chapter reuses :func:`conv_block` and :func:`unet` for a diffusion denoiser. The design
follows Ronneberger et al., "U-Net: Convolutional Networks for Biomedical Image
Segmentation" (MICCAI 2015, arXiv:1505.04597), scaled down for a CPU:

- the contracting path repeats a :func:`conv_block` (two 3x3 convolutions) and a 2x2 max
  pooling, so each level halves the height and width while ``widths`` sets the channels;
- the expanding path upsamples by 2, concatenates the encoder's feature map of the same
  size (the skip connection) and applies another :func:`conv_block`;
- a 1x1 convolution maps the last features to ``out_channels`` outputs per pixel.

Unlike the paper, the convolutions use ``"same"`` padding, so the output has the
input's height and width and no cropping is needed. Upsampling is either a learned 2x2
transposed convolution (the paper's "up-convolution") or a fixed resize followed by a
3x3 convolution, the fix for checkerboard artefacts of Odena et al. (Distill, 2016).

Bad arguments raise ``ValueError`` naming what was wrong.
"""

from __future__ import annotations

from utils.shapes import is_int, positive_int

NORMS = ("batch", "group", None)
UPSAMPLING = ("transpose", "nearest", "bilinear")

__all__ = ["NORMS", "UPSAMPLING", "conv_block", "upsample", "unet"]


def _check_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    return name


def _norm_layer(norm, filters: int, name: str):
    """The normalisation layer called ``name`` (``None`` when ``norm`` is None)."""
    import keras

    if norm == "batch":
        return keras.layers.BatchNormalization(name=name)
    if norm == "group":
        groups = next(g for g in (8, 4, 2, 1) if filters % g == 0)
        return keras.layers.GroupNormalization(groups=groups, name=name)
    return None


def conv_block(x, filters, *, name, norm="batch", activation="relu"):
    """Two 3x3 convolutions (``"same"`` padding), each followed by an optional
    normalisation and ``activation``: the repeated unit of a U-Net. Chapter 13.

    ``x`` is a Keras tensor ``(N, H, W, C)``; the result is ``(N, H, W, filters)``.
    ``norm`` is ``"batch"`` (BatchNormalization, the default), ``"group"``
    (GroupNormalization with up to 8 groups, independent of the batch, as in diffusion
    models) or ``None``. The layers are named ``{name}_conv1``, ``{name}_norm1``,
    ``{name}_act1``, ``{name}_conv2``, ... so a model summary reads like the figure of
    the paper. Raises ``ValueError`` for a non-positive ``filters``, an empty
    ``name`` or an unknown ``norm``.
    """
    import keras

    filters = positive_int(filters, "filters")
    name = _check_name(name)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=norm is None, name=f"{name}_conv{i}"
        )(x)
        layer = _norm_layer(norm, filters, f"{name}_norm{i}")
        if layer is not None:
            x = layer(x)
        x = keras.layers.Activation(activation, name=f"{name}_act{i}")(x)
    return x


def upsample(x, filters, *, name, mode="transpose"):
    """Double the height and width of ``x`` and map it to ``filters`` channels.
    Chapter 13.

    ``mode="transpose"``: a learned ``Conv2DTranspose`` with a 2x2 kernel and stride 2
    (every output pixel gets exactly one kernel tap, so no uneven overlap; but each of
    the four output phases has its own tap, so a constant input still comes out as a
    2x2 pattern until training makes the taps agree).
    ``"nearest"`` or ``"bilinear"``: a fixed ``UpSampling2D`` followed by a 3x3
    convolution, the resize-then-convolve remedy for checkerboard artefacts (Odena et
    al., 2016). Raises ``ValueError`` for an unknown ``mode``, a non-positive
    ``filters`` or an empty ``name``.
    """
    import keras

    filters = positive_int(filters, "filters")
    name = _check_name(name)
    if mode not in UPSAMPLING:
        raise ValueError(f"mode must be one of {UPSAMPLING}, got {mode!r}")
    if mode == "transpose":
        return keras.layers.Conv2DTranspose(
            filters, 2, strides=2, padding="same", name=f"{name}_convT"
        )(x)
    x = keras.layers.UpSampling2D(2, interpolation=mode, name=f"{name}_resize")(x)
    return keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)


def _check_unet_arguments(input_shape, widths, out_channels, upsampling, name):
    """The checks of :func:`unet`'s arguments; returns ``widths`` as a list of ints."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    for i, size in enumerate(input_shape):
        if size is None and i < 2:
            continue
        positive_int(size, f"input_shape[{i}]")
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
        raise ValueError(f"widths must be a sequence of ints, got {widths!r}")
    widths = [positive_int(w, "each of widths") for w in widths]
    if len(widths) < 2:
        raise ValueError(
            f"widths needs at least 2 levels (encoder + bottleneck), got {widths}"
        )
    factor = 2 ** (len(widths) - 1)
    for size in input_shape[:2]:
        if is_int(size) and size % factor:
            raise ValueError(
                f"input height and width must be divisible by {factor} for "
                f"{len(widths)} levels, got {tuple(input_shape[:2])}; pad or resize "
                "the images, or use fewer widths"
            )
    out_channels = positive_int(out_channels, "out_channels")
    if upsampling not in UPSAMPLING:
        raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    name = _check_name(name)
    return widths


def unet(
    input_shape,
    widths=(16, 32, 64),
    out_channels=1,
    out_activation=None,
    *,
    upsampling="transpose",
    norm="batch",
    name="unet",
):
    """A U-Net ``keras.Model`` mapping ``(N, H, W, C)`` images to ``(N, H, W,
    out_channels)`` per-pixel outputs. Chapter 13.

    ``input_shape`` is ``(H, W, C)``; ``H`` and ``W`` may be ``None`` (any size) but a
    known size must be divisible by ``2 ** (len(widths) - 1)``, since every level halves
    it. ``widths`` gives the channels per level, from the full-resolution level down to
    the bottleneck (the paper uses ``(64, 128, 256, 512, 1024)``); at least two levels.
    ``out_activation=None`` leaves logits (use ``from_logits=True`` losses);
    ``"softmax"`` or ``"sigmoid"`` give probabilities. ``upsampling`` is passed to
    :func:`upsample` and ``norm`` to :func:`conv_block`. Raises ``ValueError`` for a
    bad ``input_shape``, fewer than two widths, a size that does not halve evenly, or
    bad ``out_channels``/``upsampling``/``norm``.
    """
    import keras

    widths = _check_unet_arguments(input_shape, widths, out_channels, upsampling, name)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, skips = inputs, []
    for level, width in enumerate(widths[:-1]):
        x = conv_block(x, width, name=f"down{level}", norm=norm)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = conv_block(x, widths[-1], name="bottleneck", norm=norm)
    for level in reversed(range(len(widths) - 1)):
        x = upsample(x, widths[level], name=f"up{level}", mode=upsampling)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = conv_block(x, widths[level], name=f"dec{level}", norm=norm)
    outputs = keras.layers.Conv2D(
        out_channels, 1, activation=out_activation, name="head"
    )(x)
    return keras.Model(inputs, outputs, name=name)
