"""How big and how costly a layer is: parameters, multiply-accumulates, receptive field.

Chapter 2 ("Neural-network basics") counts the parameters of dense layers and MLPs
(re-exported by :mod:`utils.nn`: ``nn.dense_param_count``); chapter 3 ("Convolution",
section "Counting") derives the convolution counts and checks each against Keras
(``count_params``); :mod:`utils.conv` re-exports those (``conv.conv2d_params``). Sizes
are positive ints (pixels, channels); bad ones raise one ``ValueError`` naming the
argument.
"""

from __future__ import annotations

import numpy as np

from utils.shapes import as_pair, conv2d_output_shape, positive_int

__all__ = [
    "dense_param_count",
    "mlp_param_count",
    "conv2d_params",
    "conv2d_macs",
    "conv2d_flops",
    "transposed_conv2d_macs",
    "receptive_field",
    "model_macs",
]


def _check_bias(bias) -> None:
    if not isinstance(bias, (bool, np.bool_)):
        raise ValueError(f"bias must be True or False, got {bias!r}")


def dense_param_count(n_in: int, n_out: int, *, bias: bool = True) -> int:
    """Parameters of a dense layer: ``n_in * n_out`` weights plus ``n_out`` biases.

    ``n_in`` and ``n_out`` are positive ints (else ``ValueError``); returns an int equal
    to Keras' ``Dense(n_out).count_params()`` on ``n_in`` inputs. Chapter 2.
    """
    _check_bias(bias)
    n_in, n_out = positive_int(n_in, "n_in"), positive_int(n_out, "n_out")
    return n_in * n_out + (n_out if bias else 0)


def mlp_param_count(sizes) -> int:
    """Parameters of an MLP with widths ``sizes = [n_in, h1, ..., n_out]``.

    The sum of ``(n_i + 1) n_{i+1}`` over the layers, an int. Raises ``ValueError`` for
    fewer than two widths or a width that is not a positive int. Chapter 2.
    """
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) < 2:
        raise ValueError(
            f"sizes needs the input width and at least one layer width, got {sizes}"
        )
    return sum(dense_param_count(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def conv2d_params(kh: int, kw: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Trainable numbers in a Conv2D layer: ``KH*KW*C_in*C_out`` weights plus ``C_out``
    biases.

    Equals ``keras.layers.Conv2D(c_out, (kh, kw), use_bias=bias)`` built on ``c_in``
    channels, ``.count_params()``. Independent of the image size. The book's one conv
    parameter count (chapter 2 uses it too). Every size must be a positive int, else
    ``ValueError``; returns an int. Chapter 3.
    """
    _check_bias(bias)
    kh, kw = positive_int(kh, "kh"), positive_int(kw, "kw")
    c_in, c_out = positive_int(c_in, "c_in"), positive_int(c_out, "c_out")
    return kh * kw * c_in * c_out + (c_out if bias else 0)


def conv2d_macs(
    in_hw,
    kh: int,
    kw: int,
    c_in: int,
    c_out: int,
    *,
    stride=1,
    padding="valid",
    dilation=1,
    batch: int = 1,
    groups: int = 1,
) -> int:
    """Multiply-accumulates of one Conv2D forward pass: ``N*OH*OW*C_out *
    KH*KW*C_in/groups``.

    Every output number is a dot product of length ``KH*KW*C_in/groups`` (padding zeros
    are counted, as a dense implementation multiplies them too). ``groups`` splits the
    channels into independent groups (Keras' ``Conv2D(groups=...)``); a depthwise
    convolution is the case ``groups = C_in`` with ``C_out = C_in * depth_multiplier``
    (each output channel sees one input channel: ``C_in`` times fewer MACs than a full
    convolution). Chapter 3. ``in_hw`` is an int or ``(H, W)`` in pixels; returns an
    int. Raises ``ValueError`` for sizes that are not positive ints, a ``groups`` that
    does not divide both channel counts, or a window that does not fit.
    """
    for value, name in ((kh, "kh"), (kw, "kw"), (c_in, "c_in"), (c_out, "c_out")):
        positive_int(value, name)
    positive_int(batch, "batch")
    groups = positive_int(groups, "groups")
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both c_in ({c_in}) and c_out ({c_out}); a "
            "depthwise convolution has groups = c_in and c_out = c_in * multiplier"
        )
    h, w_ = as_pair(in_hw, "in_hw")
    _, oh, ow, _ = conv2d_output_shape(
        (batch, h, w_, c_in),
        (kh, kw, c_in, c_out),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    return batch * oh * ow * c_out * kh * kw * (c_in // groups)


def conv2d_flops(in_hw, kh, kw, c_in, c_out, *, bias: bool = True, **settings) -> int:
    """Floating-point operations of one Conv2D forward pass, counting 1 MAC = 2 FLOPs.

    ``2 * conv2d_macs(...)`` plus, when ``bias`` is true, one addition per output number
    (``N*OH*OW*C_out``). Activations are not counted. ``settings`` are the keyword
    arguments of :func:`conv2d_macs` (``stride``, ``padding``, ``dilation``, ``batch``,
    ``groups``). Returns an int; raises ``ValueError`` like :func:`conv2d_macs` (and
    ``TypeError`` for an unknown keyword). Chapter 3.
    """
    macs = conv2d_macs(in_hw, kh, kw, c_in, c_out, **settings)
    outputs = macs // (kh * kw * (c_in // settings.get("groups", 1)))
    return 2 * macs + (outputs if bias else 0)


def transposed_conv2d_macs(
    in_hw, kh: int, kw: int, c_in: int, c_out: int, *, batch: int = 1
) -> int:
    """Multiply-accumulates of one transposed convolution: ``N*H*W*C_in * KH*KW*C_out``.

    Each input pixel stamps a ``KH x KW`` copy of the kernel, a ``C_in -> C_out``
    matrix per tap, into the output (the scatter-add of chapter 13's
    :func:`utils.segmentation.transposed_conv2d`), whatever the stride and padding
    ("same" only crops the result). ``in_hw`` is the *input* size, an int or ``(H,
    W)``. Returns an int. Raises ``ValueError`` for sizes that are not positive ints.
    Chapter 13.
    """
    h, w_ = as_pair(in_hw, "in_hw")
    for value, name in ((kh, "kh"), (kw, "kw"), (c_in, "c_in"), (c_out, "c_out")):
        positive_int(value, name)
    return positive_int(batch, "batch") * h * w_ * c_in * kh * kw * c_out


# ---------------------------------------------------------------------- receptive field


def receptive_field(layers) -> list[dict]:
    """Receptive field after each layer of a stack of convolutions / poolings (one
    axis).

    ``layers`` is a sequence of ``(kernel, stride)`` or ``(kernel, stride, dilation)``
    tuples. With ``j_0 = 1`` and ``r_0 = 1`` (one input pixel sees itself), layer ``l``
    gives

    ``r_l = r_{l-1} + (k_l - 1) * d_l * j_{l-1}`` and ``j_l = j_{l-1} * s_l``,

    where ``j`` (the "jump") is the distance in input pixels between neighbouring
    outputs. Returns one dict per layer with keys ``layer, kernel, stride, dilation, rf,
    jump``. Chapter 3. ``rf`` and ``jump`` are in input pixels. Raises ``ValueError``
    when ``layers`` is not a list of such tuples or a value is not a positive int.
    """
    if not isinstance(layers, (list, tuple)):
        raise ValueError(
            f"layers must be a list of (kernel, stride) tuples, got {layers!r}"
        )
    rows, r, j = [], 1, 1
    for idx, spec in enumerate(layers, start=1):
        if not isinstance(spec, (list, tuple)) or len(spec) not in (2, 3):
            raise ValueError(
                f"layer {idx}: expected (kernel, stride) or (kernel, stride, "
                f"dilation), got {spec!r}"
            )
        k, s, d = (*spec, 1) if len(spec) == 2 else spec
        for value, name in ((k, "kernel"), (s, "stride"), (d, "dilation")):
            positive_int(value, f"layer {idx}: {name}")
        r += (k - 1) * d * j
        j *= s
        rows.append(
            {
                "layer": idx,
                "kernel": int(k),
                "stride": int(s),
                "dilation": int(d),
                "rf": int(r),
                "jump": int(j),
            }
        )
    return rows


# ------------------------------------------------------------------ a whole model


def _spatial(shape, layer) -> tuple[int, int]:
    """``(H, W)`` of an NHWC tensor shape, else ``ValueError``."""
    if len(shape) != 4 or not all(isinstance(v, int) for v in shape[1:]):
        raise ValueError(
            f"layer {layer.name!r} has input or output shape {tuple(shape)}; counting "
            "its MACs needs a known NHWC size: build the model on a fixed image size"
        )
    return shape[1], shape[2]


def _conv_kwargs(layer) -> dict:
    return dict(
        stride=tuple(layer.strides),
        padding=layer.padding,
        dilation=tuple(layer.dilation_rate),
    )


def _layer_macs(layer) -> int:
    """MACs of one (non-model) Keras layer on one example; 0 for uncounted layers."""
    import keras

    L = keras.layers
    if isinstance(layer, L.Conv2DTranspose):
        h, w = _spatial(layer.input.shape, layer)
        kh, kw = layer.kernel_size
        return transposed_conv2d_macs(
            (h, w), kh, kw, int(layer.input.shape[-1]), layer.filters
        )
    if isinstance(layer, L.SeparableConv2D):  # depthwise, then a 1x1 pointwise
        h, w = _spatial(layer.input.shape, layer)
        oh, ow = _spatial(layer.output.shape, layer)
        kh, kw = layer.kernel_size
        c_in = int(layer.input.shape[-1])
        mid = c_in * layer.depth_multiplier
        depthwise = conv2d_macs(
            (h, w), kh, kw, c_in, mid, groups=c_in, **_conv_kwargs(layer)
        )
        return depthwise + conv2d_macs((oh, ow), 1, 1, mid, layer.filters)
    if isinstance(layer, L.DepthwiseConv2D):  # one filter per input channel
        h, w = _spatial(layer.input.shape, layer)
        kh, kw = layer.kernel_size
        c_in = int(layer.input.shape[-1])
        return conv2d_macs(
            (h, w),
            kh,
            kw,
            c_in,
            c_in * layer.depth_multiplier,
            groups=c_in,
            **_conv_kwargs(layer),
        )
    if isinstance(layer, L.Conv2D):
        h, w = _spatial(layer.input.shape, layer)
        kh, kw = layer.kernel_size
        return conv2d_macs(
            (h, w),
            kh,
            kw,
            int(layer.input.shape[-1]),
            layer.filters,
            groups=layer.groups,
            **_conv_kwargs(layer),
        )
    if isinstance(layer, L.Dense):  # applied at every position of a (N, ..., n_in)
        positions = int(np.prod(layer.input.shape[1:-1], dtype=np.int64))
        return positions * int(layer.input.shape[-1]) * layer.units
    if len(getattr(getattr(layer, "kernel", None), "shape", ())) == 4:
        # a custom convolution (chapter 10's PatchWhitening): HWIO kernel
        oh, ow = _spatial(layer.output.shape, layer)
        kh, kw, c_in, c_out = layer.kernel.shape
        return oh * ow * c_out * kh * kw * c_in
    return 0


def model_macs(model) -> int:
    """Multiply-accumulates of one forward pass of a built Keras model on one image.

    Sums, over the layers (recursing into nested models): :func:`conv2d_macs` for
    ``Conv2D`` (with its ``groups``; each layer's input shape, kernel, stride, padding
    and dilation read from the layer); the same with ``groups = C_in`` for
    ``DepthwiseConv2D`` (``KH*KW`` MACs per output value, not ``KH*KW*C_in``); both
    parts of a ``SeparableConv2D`` (depthwise, then the 1x1 pointwise); and
    :func:`transposed_conv2d_macs` for ``Conv2DTranspose``; ``n_in * n_out`` per
    position for ``Dense`` (a Dense on ``(N, T, n_in)`` runs ``T`` times); and
    ``OH*OW*C_out*KH*KW*C_in`` for any other layer with a 4-D ``kernel``, such as
    chapter 10's whitening layer. Pooling, normalization and activations are not
    counted (they cost one operation per value, far fewer than a convolution). Chapter
    10 compares networks by this count; chapter 3 derives the per-layer formula. Raises
    ``ValueError`` for a model that is not built (no input shape) or whose image size
    is not fixed, and ``TypeError`` for something that is not a Keras model.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ValueError("the model is not built: give it a keras.Input first")
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += model_macs(layer)
        else:
            total += _layer_macs(layer)
    return int(total)


#: What :func:`t4_minutes` assumes of a free Colab T4 running the book's float32 Keras
#: models: about 1.2 TFLOP/s sustained on small convolutional networks (15% of the
#: card's 8.1 TFLOP/s float32 peak; the FULL-profile audit's estimate for 16-128
#: channels at 32x32 pixels), and 3 ms of host work per training step (Colab's
#: 2-vCPU host), with op determinism on (no XLA).
T4_FLOPS = 1.2e12
T4_STEP_SECONDS = 3e-3


def t4_minutes(
    forward_macs: int, image_passes: int, steps: int, eval_images: int = 0
) -> float:
    """Expected minutes of a training run on a free Colab T4: an estimate, not a
    measurement (chapter 1, the profiles; every chapter states FULL's time with it).

    ``forward_macs`` is the model's forward multiply-accumulates per image
    (:func:`model_macs`); ``image_passes`` the training images seen (epochs x images);
    ``steps`` the optimizer steps (each costs :data:`T4_STEP_SECONDS` of host time);
    ``eval_images`` forward-only images. Training costs 3 forward passes' worth of
    MACs (forward, and the two backward products), at 2 FLOP per MAC, run at
    :data:`T4_FLOPS`. Raises ``ValueError`` for a negative or non-integer count.
    """
    counts = dict(
        forward_macs=forward_macs,
        image_passes=image_passes,
        steps=steps,
        eval_images=eval_images,
    )
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an int count, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    flop = 2 * forward_macs * (3 * image_passes + eval_images)
    return (flop / T4_FLOPS + steps * T4_STEP_SECONDS) / 60
