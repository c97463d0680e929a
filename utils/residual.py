"""Residual connections: the block in NumPy, a small ResNet in Keras, and its cost.

Chapter 9 ("Normalization, residual connections and regularization", section
"Residual connections") measures the degradation problem (a deeper plain network that
trains worse than a shallower one), explains the residual block ``y = relu(x + F(x))``
of He et al. (2016, "Deep residual learning for image recognition"), with identity and
projection shortcuts, and trains the CIFAR-10 ResNet of that paper's section 4.2 (depth
``6n + 2``) at a small width. Parameter and multiply-accumulate counts reuse the
convolution chapter's formulas (:mod:`utils.layer_cost`). Bad arguments raise one
``ValueError`` naming what to fix.
"""

from __future__ import annotations

import numpy as np

from utils.conv import conv2d
from utils.layer_cost import conv2d_macs, conv2d_params, dense_param_count
from utils.shapes import check_class_indices, check_nhwc, positive_int, real_number

__all__ = [
    "residual_block",
    "build_cnn",
    "cnn_cost",
    "conv_gradient_norms",
    "gradient_growth",
    "train_sgd",
    "t4_minutes",
]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _check_kernel(w, name: str, c_in: int, size: int) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[:3] != (size, size, c_in):
        raise ValueError(
            f"{name} must have shape ({size}, {size}, {c_in}, C_out), got {w.shape}"
        )
    return w


def residual_block(x, w1, w2, *, stride: int = 1, w_proj=None):
    """Forward pass of a basic residual block (no normalization), in NumPy.

    ``y = relu(F(x) + S(x))`` with ``F(x) = conv3x3(relu(conv3x3(x, w1, stride)), w2)``
    ('same' padding, no biases) and the shortcut ``S``: the identity when ``w_proj`` is
    ``None``, else the projection ``conv1x1(x, w_proj, stride)`` (He et al., 2016, eq.
    2). ``x`` is NHWC ``(N, H, W, C)``; ``w1`` is ``(3, 3, C, F)``, ``w2`` ``(3, 3, F,
    F)``, ``w_proj`` ``(1, 1, C, F)``. Returns ``(N, ceil(H/stride), ceil(W/stride),
    F)`` in ``x``'s float dtype. Chapter 9.

    Raises ``ValueError`` for kernels of the wrong shape, a stride that is not a
    positive int, or an identity shortcut where the shapes of ``x`` and ``F(x)``
    differ (a stride above 1 or ``F != C``): pass ``w_proj`` then.
    """
    x = check_nhwc(x, "x")
    stride = positive_int(stride, "stride")
    c = x.shape[-1]
    w1 = _check_kernel(w1, "w1", c, 3)
    w2 = _check_kernel(w2, "w2", w1.shape[-1], 3)
    if w2.shape[-1] != w1.shape[-1]:
        raise ValueError(
            f"w2 must keep the block's width {w1.shape[-1]}, got {w2.shape[-1]} "
            "output channels"
        )
    if w_proj is None and (stride != 1 or w1.shape[-1] != c):
        raise ValueError(
            f"an identity shortcut needs stride 1 and as many output channels as "
            f"input channels ({c}), got stride {stride} and {w1.shape[-1]} channels; "
            "pass a 1x1 projection kernel w_proj of shape (1, 1, C, F)"
        )
    h = _relu(conv2d(x, w1, stride=stride, padding="same"))
    f = conv2d(h, w2, padding="same")
    if w_proj is None:
        shortcut = x
    else:
        w_proj = _check_kernel(w_proj, "w_proj", c, 1)
        if w_proj.shape[-1] != w1.shape[-1]:
            raise ValueError(
                f"w_proj must map to the block's width {w1.shape[-1]}, got "
                f"{w_proj.shape[-1]} output channels"
            )
        shortcut = conv2d(x, w_proj, stride=stride, padding="same")
    return _relu(f + shortcut).astype(f.dtype, copy=False)


def _check_widths(widths) -> tuple[int, ...]:
    if not isinstance(widths, (list, tuple)) or not widths:
        raise ValueError(f"widths must be a non-empty tuple of ints, got {widths!r}")
    return tuple(positive_int(w, "each width") for w in widths)


def build_cnn(
    *,
    blocks: int = 3,
    widths=(16, 32, 64),
    residual: bool = True,
    batchnorm: bool = True,
    image_size: int = 32,
    num_classes: int = 10,
    dropout: float = 0.0,
    bn_momentum: float = 0.9,
    augment=None,
    name: str | None = None,
):
    """The CIFAR-10 network family of He et al. (2016, section 4.2), with or without
    shortcuts, and with projection shortcuts where the paper's CIFAR nets pad zeros.

    A 3x3 convolution of ``widths[0]`` filters, then one stage per width, each of
    ``blocks`` basic blocks (two 3x3 convolutions); every stage after the first halves
    the height and width with stride 2 in its first block. Global average pooling and a
    ``Dense(num_classes)`` of logits end it: ``2 * blocks * len(widths) + 2`` weight
    layers (20 for ``blocks=3``: ResNet-20). ``residual=False`` drops the shortcuts
    (the paper's "plain" network of the same depth); ``batchnorm=False`` drops the
    ``BatchNormalization`` after every convolution (then the convolutions get biases);
    ``bn_momentum`` is its Keras momentum (0.9, PyTorch's 0.1: short runs need running
    statistics that follow the weights quickly; Keras' default is 0.99).
    Where a block changes the shape, its shortcut is a 1x1 projection with its own
    normalization (option B, which the paper uses in its ImageNet networks of 50 layers
    and more); elsewhere it is the
    identity. The paper's CIFAR-10 networks use option A there instead (subsample the
    input and pad zero channels, no weights), so that residual and plain networks have
    exactly the same parameters; the projections add ``C_in C_out + 2 C_out`` each
    (:func:`cnn_cost`). ``dropout`` is
    a rate applied before the classifier. ``augment`` is a Keras layer run on the
    input first (active only in training).

    Input: float images ``(image_size, image_size, 3)`` already scaled (e.g.
    standardized). Convolutions are named ``conv01``, ``conv02``, ... from the input
    on, which :func:`conv_gradient_norms` relies on. Returns an uncompiled
    ``keras.Model``. Raises ``ValueError`` for sizes that are not positive ints, a
    non-bool flag or a dropout rate outside [0, 1). Chapter 9.
    """
    import keras
    from keras import layers

    blocks = positive_int(blocks, "blocks")
    widths = _check_widths(widths)
    image_size = positive_int(image_size, "image_size")
    num_classes = positive_int(num_classes, "num_classes")
    for flag, label in ((residual, "residual"), (batchnorm, "batchnorm")):
        if not isinstance(flag, bool):
            raise ValueError(f"{label} must be True or False, got {flag!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise ValueError(f"dropout must be a rate in [0, 1), got {dropout!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a rate in [0, 1), got {dropout!r}")
    if name is None:
        kind = "resnet" if residual else "plain"
        name = f"{kind}{2 * blocks * len(widths) + 2}" + ("" if batchnorm else "_nobn")
    counter = iter(range(1, 10_000))

    def conv(t, filters, size=3, stride=1, tag=None):
        label = tag or f"conv{next(counter):02d}"
        return layers.Conv2D(
            filters,
            size,
            strides=stride,
            padding="same",
            use_bias=not batchnorm,
            kernel_initializer="he_normal",
            name=label,
        )(t)

    def norm(t):
        if not batchnorm:
            return t
        return layers.BatchNormalization(momentum=bn_momentum)(t)

    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = inputs if augment is None else augment(inputs)
    x = layers.ReLU()(norm(conv(x, widths[0])))
    width = widths[0]
    for stage, filters in enumerate(widths):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            h = layers.ReLU()(norm(conv(x, filters, stride=stride)))
            h = norm(conv(h, filters))
            if residual:
                shortcut = x
                if stride != 1 or width != filters:
                    tag = f"proj{stage}"
                    shortcut = norm(conv(x, filters, size=1, stride=stride, tag=tag))
                h = layers.Add()([h, shortcut])
            x = layers.ReLU()(h)
            width = filters
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def cnn_cost(
    *,
    blocks: int = 3,
    widths=(16, 32, 64),
    residual: bool = True,
    batchnorm: bool = True,
    image_size: int = 32,
    num_classes: int = 10,
) -> dict:
    """Trainable parameters and forward multiply-accumulates of :func:`build_cnn`.

    Counts each convolution with :func:`utils.layer_cost.conv2d_params` and
    :func:`~utils.layer_cost.conv2d_macs` (chapter 3), each ``BatchNormalization`` as
    ``2 C`` trainable numbers (``gamma``, ``beta``; its moving mean and variance are
    not trained) and the classifier with
    :func:`~utils.layer_cost.dense_param_count`. MACs are per image and count
    convolutions and the classifier only (normalization, ReLU, additions and pooling
    are a few operations per activation, negligible next to them). Returns ``{"params":
    int, "macs": int, "conv_layers": int}``. Raises ``ValueError`` like
    :func:`build_cnn`. Chapter 9.
    """
    blocks = positive_int(blocks, "blocks")
    widths = _check_widths(widths)
    size = positive_int(image_size, "image_size")
    num_classes = positive_int(num_classes, "num_classes")
    for flag, label in ((residual, "residual"), (batchnorm, "batchnorm")):
        if not isinstance(flag, bool):
            raise ValueError(f"{label} must be True or False, got {flag!r}")
    params = macs = layers = 0

    def add_conv(hw, k, c_in, c_out, stride):
        nonlocal params, macs, layers
        params += conv2d_params(k, k, c_in, c_out, bias=not batchnorm)
        params += 2 * c_out if batchnorm else 0
        macs += conv2d_macs(hw, k, k, c_in, c_out, stride=stride, padding="same")
        layers += 1
        return -(-hw // stride)

    size = add_conv(size, 3, 3, widths[0], 1)
    width = widths[0]
    for stage, filters in enumerate(widths):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            if residual and (stride != 1 or width != filters):
                add_conv(size, 1, width, filters, stride)
            out = add_conv(size, 3, width, filters, stride)
            add_conv(out, 3, filters, filters, 1)
            size, width = out, filters
    params += dense_param_count(width, num_classes)
    macs += width * num_classes
    return {"params": params, "macs": macs, "conv_layers": layers}


def _class_labels(y, n: int, model) -> np.ndarray:
    """``y`` ((N,) or (N, 1)) as N int64 labels in ``[0, K)``, K the model's logits."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,) or n == 0:
        raise ValueError(
            f"x has {n} images but y has shape {y.shape}; give y as {n} class labels, "
            f"shape ({n},) or ({n}, 1)"
            + ("; pass at least one image" if n == 0 else "")
        )
    k = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    return check_class_indices(y, k, "y")


def conv_gradient_norms(model, x, y) -> np.ndarray:
    """``||dL/dW||`` of every main-path convolution kernel of a :func:`build_cnn` model.

    ``L`` is the mean sparse softmax cross-entropy of the logits on the batch ``(x,
    y)`` (``x`` float images, ``y`` integer labels ``(N,)`` or ``(N, 1)``), computed
    in training mode (batch statistics) with ``tf.GradientTape``. Kernels are those of
    the layers named ``convNN``, first layer first (projection shortcuts are left
    out). Returns float64 ``(n_conv,)``: the same per-layer view as chapter 5's
    :func:`utils.grad_flow.mlp_gradient_norms` with ``of="weights"``. Needs the
    TensorFlow backend. Raises ``ValueError`` when the model has no such layers, ``x``
    and ``y`` differ in length, or ``y`` is not integer labels in ``[0, K)`` for the
    model's ``K`` logits (checked here: on a GPU an out-of-range label would give a
    NaN loss without an error). Chapter 9.
    """
    import keras
    import tensorflow as tf

    convs = sorted(
        (layer for layer in model.layers if layer.name[:4] == "conv"),
        key=lambda layer: layer.name,
    )
    if not convs:
        raise ValueError(
            f"model {model.name!r} has no layers named convNN; build it with "
            "utils.residual.build_cnn"
        )
    y = _class_labels(y, len(x), model)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    kernels = [layer.kernel for layer in convs]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, kernels)
    return np.array([float(tf.norm(g)) for g in grads], dtype=np.float64)


def gradient_growth(norms, k: int = 3) -> float:
    """How much larger the gradient is at the input end than at the output end.

    ``norms`` are per-layer gradient norms, first layer first (from
    :func:`conv_gradient_norms`); returns the mean of the first ``k`` over the mean of
    the last ``k``, a float. Far above 1: the gradient grows towards the input (a deep
    plain network with batch normalization at initialization, Yang et al. 2019); near
    1: it arrives at every layer at about the same size. Chapter 9. Raises
    ``ValueError`` for fewer than ``2 k`` norms, a bad ``k``, or norms that are not
    positive and finite.
    """
    k = positive_int(k, "k")
    norms = np.asarray(norms, dtype=np.float64).reshape(-1)
    if norms.size < 2 * k:
        raise ValueError(f"need at least {2 * k} norms for k={k}, got {norms.size}")
    if not (np.all(np.isfinite(norms)) and np.all(norms > 0)):
        raise ValueError("norms must be positive and finite (gradient norms)")
    return float(norms[:k].mean() / norms[-k:].mean())


def train_sgd(
    model,
    x,
    y,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
) -> list:
    """Compile ``model`` for SGD and fit it; the mean training loss of every epoch.

    Chapter 9's recipe for its plain and residual networks: SGD with ``momentum``, a
    learning rate that starts at ``learning_rate`` and decays to 0 along a cosine over
    all ``epochs * ceil(N / batch_size)`` steps, decoupled weight decay
    ``weight_decay`` (Keras' ``weight_decay=``: ``w -= lr * weight_decay * w`` each
    step, outside the momentum; He et al. add ``1e-4 w`` to the gradient with momentum
    0.9, which once the velocity has built up decays about ``lr * 1e-3 * w`` per step,
    twice what the default 5e-4 here does), and the sparse softmax cross-entropy of the
    logits, with accuracy as a
    metric. ``x`` float images, ``y`` integer labels. Returns a list of ``epochs``
    floats: each the mean over that epoch's batches (with batch normalization in
    training mode), not the loss at the end. Raises ``ValueError`` for sizes that are
    not positive ints or rates that are not positive numbers (weight decay may be 0).
    """
    import keras

    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    real_number(learning_rate, "learning_rate", low=0, low_open=True)
    real_number(momentum, "momentum", low=0, low_open=True)
    real_number(weight_decay, "weight_decay", low=0)
    steps = epochs * -(-len(x) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(
        optimizer=keras.optimizers.SGD(
            schedule, momentum=momentum, weight_decay=weight_decay or None
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return [float(v) for v in history.history["loss"]]


def t4_minutes(knobs) -> float:
    """Chapter 9's FULL time on a free Colab T4, estimated from its knobs.

    ``knobs`` is the chapter's FULL knob dict (``P.full``: ``IMAGE_SIZE``, ``WIDTH``,
    ``DEPTH_SHALLOW``, ``DEPTH``, ``N_TRAIN``, ``N_TEST``, ``BATCH_SIZE``, ``EPOCHS``,
    ``EPOCHS_SWEEP``, ``N_TRAIN_REG``, ``N_VAL_REG``, ``EPOCHS_REG``). Adds up
    :func:`utils.layer_cost.t4_minutes` for the three trained networks (MACs from
    :func:`cnn_cost`), the batch-normalization sweep (two 8-layer networks, three
    learning rates) and the three regularization runs (MACs of
    :func:`utils.regularization.build_small_cnn`, batch 50). Returns minutes, a float.
    Raises ``KeyError`` for a missing knob.
    """
    import math

    from utils.layer_cost import model_macs
    from utils.layer_cost import t4_minutes as minutes
    from utils.regularization import build_small_cnn

    k = knobs
    widths = (k["WIDTH"], 2 * k["WIDTH"], 4 * k["WIDTH"])
    size, n, b = k["IMAGE_SIZE"], k["N_TRAIN"], k["BATCH_SIZE"]
    steps = math.ceil(n / b)
    total = 0.0
    for blocks, residual in (
        (k["DEPTH_SHALLOW"], False),
        (k["DEPTH"], False),
        (k["DEPTH"], True),
    ):
        macs = cnn_cost(
            blocks=blocks, widths=widths, residual=residual, image_size=size
        )["macs"]
        total += minutes(macs, n * k["EPOCHS"], k["EPOCHS"] * steps, k["N_TEST"])
    sweep = cnn_cost(blocks=1, widths=widths, residual=False, image_size=size)["macs"]
    total += 6 * minutes(sweep, n * k["EPOCHS_SWEEP"], k["EPOCHS_SWEEP"] * steps)
    reg = model_macs(build_small_cnn(image_size=size, width=2 * k["WIDTH"]))
    n_reg, e_reg = k["N_TRAIN_REG"], k["EPOCHS_REG"]
    total += 3 * minutes(
        reg, n_reg * e_reg, e_reg * math.ceil(n_reg / 50), 2 * n_reg + k["N_VAL_REG"]
    )
    return total
