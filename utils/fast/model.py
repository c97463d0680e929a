"""The airbench94 network in Keras 3: initialisers, the whitening layer, the model.

Chapter 10 (fast CIFAR-10 training). Architecture and initialisation follow Keller
Jordan's airbench94 (github.com/KellerJordan/cifar10-airbench); the whitening layer and
the pool-before-BatchNorm groups come from hlb-CIFAR10
(github.com/tysam-code/hlb-CIFAR10).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

from utils.fast.recipe import FastConfig, dirac_kernel


def torch_default_init(seed=None):
    """PyTorch's default conv/linear init, ``U(+-1/sqrt(fan_in))``, as a Keras
    initializer.

    Chapter 10 (fast CIFAR-10 training); airbench94 keeps PyTorch's defaults.
    """
    return keras.initializers.VarianceScaling(
        1 / 3, mode="fan_in", distribution="uniform", seed=seed
    )


@keras.saving.register_keras_serializable(package="book")
class DiracInit(keras.initializers.Initializer):
    """PyTorch's default conv init with the first min(c_in, c_out) filters set to a
    dirac.

    For a (kh, kw, c_in, c_out) kernel: filter i < c_in copies input channel i, so a
    conv with as many outputs as inputs starts as the identity. Chapter 10 (fast
    CIFAR-10); airbench94. Raises ``ValueError`` (from :func:`dirac_kernel`) for shapes
    that are not 4 positive ints with odd kernel sizes.
    """

    def __init__(self, seed=None):
        self.seed = seed
        self._base = torch_default_init(seed)

    def __call__(self, shape, dtype=None):
        dirac = dirac_kernel(tuple(shape))
        base = self._base(shape, dtype=dtype)
        touched = np.zeros(shape, dtype=bool)
        touched[..., : min(shape[2], shape[3])] = True  # whole filters become a dirac
        return ops.where(touched, ops.cast(dirac, base.dtype), base)

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="book")
class PatchWhitening(keras.layers.Layer):
    """A 2x2 'valid' convolution with a frozen kernel and a trainable bias.

    (N, H, W, in_channels) -> (N, H-1, W-1, filters). Call :meth:`set_kernel` with
    :func:`utils.fast.recipe.whitening_kernel` before training. With
    ``trainable_kernel=True`` (the ablation without whitening) it is an ordinary conv.
    Chapter 10 (fast CIFAR-10 training); hlb-CIFAR10 / airbench94. Raises ``ValueError``
    for another number of input channels.
    """

    def __init__(
        self, filters=24, in_channels=3, trainable_kernel=False, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.filters, self.in_channels = filters, in_channels
        self.trainable_kernel, self.seed = trainable_kernel, seed

    def build(self, input_shape):
        if input_shape[-1] != self.in_channels:
            raise ValueError(
                f"PatchWhitening expects {self.in_channels} input channels, "
                f"got {input_shape[-1]}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(2, 2, self.in_channels, self.filters),
            initializer=torch_default_init(self.seed),
            trainable=self.trainable_kernel,
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.filters,), initializer="zeros", trainable=True
        )

    def set_kernel(self, kernel) -> None:
        """Assign a (2, 2, in_channels, filters) real, finite kernel; ``ValueError``
        otherwise."""
        kernel = np.asarray(kernel)
        if kernel.shape != tuple(self.kernel.shape):
            raise ValueError(
                f"whitening kernel must have shape {tuple(self.kernel.shape)}, "
                f"got {kernel.shape}"
            )
        if not np.issubdtype(kernel.dtype, np.number) or not np.all(
            np.isfinite(kernel)
        ):
            raise ValueError("whitening kernel must hold finite real numbers")
        self.kernel.assign(kernel.astype(np.float32))

    def call(self, x):
        y = ops.conv(x, ops.cast(self.kernel, x.dtype), strides=1, padding="valid")
        return y + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        shrink = lambda s: None if s is None else s - 1
        return (n, shrink(h), shrink(w), self.filters)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            filters=self.filters,
            in_channels=self.in_channels,
            trainable_kernel=self.trainable_kernel,
            seed=self.seed,
        )
        return cfg


@keras.saving.register_keras_serializable(package="book")
class FusedBatchNorm(keras.layers.BatchNormalization):
    """Keras's ``BatchNormalization`` whose training pass on TensorFlow is one fused
    kernel.

    Same variables, options and results as the parent (to float32 rounding). When
    training on the TensorFlow backend, without a mask, renormalisation or
    synchronised statistics, over the last axis of a 4-D (N, H, W, C) input, the batch
    statistics, the normalisation and their gradient are TensorFlow's
    ``FusedBatchNormV3`` and its gradient op: two kernels (oneDNN's on x86) where the
    parent's ``ops.moments`` and ``ops.batch_normalization`` run a chain of about ten
    elementwise and reduction ops, each a pass over the activations. The moving
    variance gets the biased batch variance, as the parent's does (the fused op
    returns the unbiased one, rescaled here by (n - 1) / n). Everything else
    (inference, JAX, masks) is the parent's ``call``. Inputs are computed in float32,
    as the parent does for float16 and bfloat16. Chapter 10 (fast CIFAR-10 training,
    "Levers, each measured"); ``benchmarks.levers`` measures it.
    """

    def _fusable(self, inputs, training, mask) -> bool:
        return (
            bool(training)
            and self.trainable
            and mask is None
            # Keras 3.13 (Colab's) has neither attribute: read them with a default
            and not getattr(self, "renorm", False)
            and not getattr(self, "synchronized", False)
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        channels = x.shape[-1]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        y, mean, unbiased, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=tf.zeros([0]),
            variance=tf.zeros([0]),
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        n = tf.cast(tf.size(x) // channels, "float32")
        variance = unbiased * (n - 1.0) / n
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        return tf.cast(y, self.compute_dtype)


_SQRT_HALF = float(1.0 / np.sqrt(2.0))  # Python floats: no float64 promotion
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


@functools.cache  # built once, at first use (it imports TensorFlow)
def _xla_gelu():
    import tensorflow as tf

    def cdf(x32):  # Phi(x) = (1 + erf(x/sqrt 2)) / 2, set to 0 below x = -5.5
        # (Phi < 2e-8 there, but float32 erf stays ~1e-7 short of -1, which x scales)
        phi = 0.5 * (1.0 + tf.math.erf(_SQRT_HALF * x32))
        return tf.where(x32 < -5.5, tf.zeros_like(x32), phi)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def forward(x):  # x * Phi(x), one loop over x
        x32 = tf.cast(x, "float32")
        return tf.cast(x32 * cdf(x32), x.dtype)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def backward(x, dy):  # dy * (Phi(x) + x * phi(x)), one loop over x and dy
        x32, dy32 = tf.cast(x, "float32"), tf.cast(dy, "float32")
        pdf = _INV_SQRT_2PI * tf.exp(-0.5 * x32 * x32)
        return tf.cast(dy32 * (cdf(x32) + x32 * pdf), x.dtype)

    @tf.custom_gradient
    def gelu(x):
        return forward(x), lambda dy: backward(x, dy)

    return gelu


@keras.saving.register_keras_serializable(package="book")
class FusedGELU(keras.layers.Layer):
    """The exact GELU, ``x * Phi(x)``, as one fused loop forward and one backward.

    Any shape in, the same shape out, in the layer's compute dtype (Keras casts float
    inputs to it; the XLA loops compute in float32 inside). On TensorFlow on a CPU (no
    GPU or TPU visible), the forward pass, ``x/2 (1 + erf(x/sqrt 2))`` (the formula of
    PyTorch's ``nn.GELU``, which airbench94 uses), and its closed-form gradient,
    ``Phi(x) + x phi(x)``, are each one XLA-compiled function (joined by
    ``tf.custom_gradient``) inside the trainer's plain graph: TensorFlow's CPU path
    otherwise runs the exact GELU and its automatic gradient as a chain of elementwise
    ops, each a pass over the tensor. On JAX, a GPU or a TPU it is
    ``keras.activations.gelu(x, approximate=False)`` (there the trainer compiles the
    whole step with XLA, unless op determinism keeps a GPU step a plain graph).
    Values are within 7e-7 of the exact GELU (float32 erf's error near -1, scaled by x;
    Keras's erfc form is within 3e-8, but its XLA loop took a quarter longer here):
    below what float32 training notices. Chapter 10 (fast CIFAR-10, section "Levers,
    each measured"); ``benchmarks.levers`` measures it. GELU: Hendrycks and Gimpel,
    arXiv:1606.08415.
    """

    def call(self, inputs):
        if keras.backend.backend() != "tensorflow":
            return keras.activations.gelu(inputs, approximate=False)
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices(
            "TPU"
        ):
            return keras.activations.gelu(inputs, approximate=False)
        return _xla_gelu()(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def _gelu(name: str, dtype, fused: bool):
    if fused:
        return FusedGELU(name=name, dtype=dtype)
    return keras.layers.Activation("gelu", name=name, dtype=dtype)


def _bn(cfg: FastConfig, name: str, dtype, fused: bool):
    # Keras momentum m keeps m of the old running value: torch's 0.4 is Keras's 0.6.
    # scale=False removes gamma (airbench freezes it at 1); never freeze via
    # trainable=False, which would also stop the batch statistics.
    layer = FusedBatchNorm if fused else keras.layers.BatchNormalization
    return layer(
        momentum=cfg.bn_momentum,
        epsilon=cfg.bn_epsilon,
        scale=False,
        center=True,
        name=name,
        dtype=dtype,
    )


def _conv(width, init, name, dtype):
    return keras.layers.Conv2D(
        width,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer=init,
        name=name,
        dtype=dtype,
    )


def build_fast_model(
    cfg: FastConfig | None = None,
    *,
    dtype: str = "float32",
    seed: int | None = 0,
    fused_bn: bool = True,
    fused_gelu: bool = True,
) -> keras.Model:
    """The airbench94 network as a Keras model: (N, 32, 32, 3) -> (N, 10) logits.

    ``cfg`` defaults to airbench94's :class:`FastConfig`. whitening 2x2 (3 -> 24) ->
    GELU -> 3 x [conv3x3 -> maxpool2 -> BN -> GELU -> conv3x3 -> BN -> GELU] ->
    maxpool3 -> flatten -> dense (no bias) -> x head_scale; exact (erf) GELU; float32
    logits. ``dtype`` is a Keras dtype policy (``"float32"``,
    ``"mixed_bfloat16"``, ``"mixed_float16"``). ``fused_bn``: the BatchNorm layers are
    :class:`FusedBatchNorm` (one fused kernel when training on TensorFlow), else
    Keras's ``BatchNormalization``; the two compute the same. ``fused_gelu``: the
    GELUs are :class:`FusedGELU` (one XLA loop forward and one backward on a CPU with
    TensorFlow), else Keras's ``Activation("gelu")``; same values. Chapter 10 (fast
    CIFAR-10 training); airbench94. Raises ``ValueError`` for an unknown dtype policy.
    """
    # the layers read top to bottom, one per line: longer than 40 lines on purpose
    cfg = FastConfig() if cfg is None else cfg

    def conv_init(i):
        s = None if seed is None else seed + i
        return DiracInit(s) if cfg.dirac else torch_default_init(s)

    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = PatchWhitening(
        24, trainable_kernel=not cfg.whiten, seed=seed, name="whiten", dtype=dtype
    )(inputs)
    x = _gelu("whiten_gelu", dtype, fused_gelu)(x)
    for g, width in enumerate(cfg.widths, start=1):
        x = _conv(width, conv_init(2 * g - 1), f"g{g}_conv1", dtype)(x)
        x = keras.layers.MaxPooling2D(2, name=f"g{g}_pool", dtype=dtype)(x)
        x = _bn(cfg, f"g{g}_bn1", dtype, fused_bn)(x)
        x = _gelu(f"g{g}_gelu1", dtype, fused_gelu)(x)
        x = _conv(width, conv_init(2 * g), f"g{g}_conv2", dtype)(x)
        x = _bn(cfg, f"g{g}_bn2", dtype, fused_bn)(x)
        x = _gelu(f"g{g}_gelu2", dtype, fused_gelu)(x)
    x = keras.layers.MaxPooling2D(3, name="pool_out", dtype=dtype)(x)
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
    head_init = torch_default_init(None if seed is None else seed + 99)
    x = keras.layers.Dense(
        10, use_bias=False, kernel_initializer=head_init, name="head", dtype=dtype
    )(x)
    outputs = keras.layers.Rescaling(
        cfg.head_scale, name="head_scale", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="airbench_keras")


def t4_minutes(cfg: FastConfig, n_train: int, n_test: int, runs: int = 1) -> float:
    """Expected minutes on a free Colab T4 for ``runs`` training runs of ``cfg``.

    Each run trains ``cfg.total_steps(n_train)`` steps of ``cfg.batch_size`` images
    and evaluates ``n_test`` images with the configured TTA views; the forward MACs
    come from :func:`utils.layer_cost.model_macs` of :func:`build_fast_model`, and
    :func:`utils.layer_cost.t4_minutes` turns them into time at its float32 rate, an
    upper bound for mixed float16 on the T4's tensor cores. Chapter 10 states FULL's
    time with it. Raises ``ValueError`` for counts that are not positive ints.
    """
    from utils.fast.recipe import tta_weights
    from utils.layer_cost import model_macs
    from utils.layer_cost import t4_minutes as minutes
    from utils.shapes import positive_int

    for name, value in (("n_train", n_train), ("n_test", n_test), ("runs", runs)):
        positive_int(value, name)
    steps = cfg.total_steps(n_train)
    views = len(tta_weights(cfg.tta_level))
    one = minutes(
        model_macs(build_fast_model(cfg)),
        steps * cfg.batch_size,
        steps,
        eval_images=views * n_test,
    )
    return runs * one


def variable_groups(model: keras.Model) -> dict:
    """Indices into ``model.trainable_variables``: ``{"bn_bias": [...], "whiten_bias":
    i}``.

    For a model from :func:`build_fast_model` (the BatchNorm biases get airbench94's
    ``bias_scaler``; the whitening bias is frozen after a few epochs). Chapter 10 (fast
    CIFAR-10 training). Raises ``ValueError`` for a model without a "whiten" layer.
    """
    names = [layer.name for layer in model.layers]
    if "whiten" not in names:
        raise ValueError(
            "variable_groups needs a model from build_fast_model ('whiten' layer)"
        )
    bn_ids = {
        id(layer.beta)
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    tv = model.trainable_variables
    whiten_bias = model.get_layer("whiten").bias
    whiten = [i for i, v in enumerate(tv) if v is whiten_bias]
    return {
        "bn_bias": [i for i, v in enumerate(tv) if id(v) in bn_ids],
        "whiten_bias": whiten[0],
    }
