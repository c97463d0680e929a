"""Fast CIFAR-10 training: a Keras 3 re-implementation of the airbench94 recipe (chapter 9).

Chapter 9 ("Fast CIFAR-10 training") explains every piece. The recipe is Keller Jordan's
airbench94 (arXiv:2404.00498), which builds on David Page's "How to train your ResNet"
series; this module is the book's own code, written for Keras 3 with ``keras.ops`` so that
it runs on the TensorFlow and the JAX backend. The few backend-specific lines live in
:mod:`utils.fast_backend`.

The pieces, in the order the chapter introduces them:

- NumPy references: :func:`patches_2x2`, :func:`whitening_kernel`, :func:`dirac_kernel`,
  :func:`lr_schedule`, :func:`lookahead_decay`, :func:`tta_weights`;
- layers and model: :class:`PatchWhitening`, :class:`DiracInit`, :func:`build_fast_model`;
- on-device augmentation of whole arrays: :func:`reflect_pad`, :func:`translate`,
  :func:`alternating_flip_mask`, :func:`flip_left_right`;
- the loss and the optimiser written out: :func:`smoothed_cross_entropy`, :func:`nesterov_sgd`,
  :func:`lookahead_update`;
- test-time augmentation: :func:`tta_logits`;
- the trainer: :class:`FastConfig`, :data:`PROFILES`, :class:`FastTrainer`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from utils import fast_backend

# CIFAR-10 channel statistics on the official training set (airbench uses the same values)
CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
CIFAR_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
FLIP_MODES = ("alternating", "random", "none")


# =========================================================================== configuration


@dataclass(frozen=True)
class FastConfig:
    """Every knob of the recipe; the defaults are airbench94's values.

    ``lr`` and ``weight_decay`` are in airbench's "decoupled" units (per 1024 examples);
    :meth:`sgd_hyperparameters` converts them into the coupled form the optimiser uses.
    The switches ``whiten``, ``dirac``, ``bias_scaler``, ``lookahead``, ``tta_level`` and
    ``flip`` exist for the chapter's ablation table.
    """

    widths: tuple = (64, 256, 256)
    epochs: float = 9.9
    batch_size: int = 1024
    lr: float = 11.5
    weight_decay: float = 0.0153
    momentum: float = 0.85
    label_smoothing: float = 0.2
    bias_scaler: float = 64.0
    warmup_frac: float = 0.23
    start_lr_frac: float = 0.2
    final_lr_frac: float = 0.07
    whiten: bool = True
    whiten_eps: float = 5e-4
    whiten_samples: int = 5000
    whiten_bias_epochs: int = 3
    dirac: bool = True
    bn_momentum: float = 0.6
    bn_epsilon: float = 1e-12
    head_scale: float = 1 / 9
    lookahead: bool = True
    lookahead_every: int = 5
    lookahead_rho: float = 0.95**5
    translate: int = 2
    flip: str = "alternating"
    tta_level: int = 2
    eval_batch: int = 2000

    def __post_init__(self):
        if len(self.widths) != 3 or any(int(w) != w or w < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive ints (one per conv group), got {self.widths!r}")
        if not self.epochs > 0:
            raise ValueError(f"epochs must be positive, got {self.epochs!r}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.flip not in FLIP_MODES:
            raise ValueError(f"flip must be one of {FLIP_MODES}, got {self.flip!r}")
        if self.tta_level not in (0, 1, 2):
            raise ValueError(f"tta_level must be 0 (none), 1 (flip) or 2 (flip and shift), got {self.tta_level!r}")
        if int(self.translate) != self.translate or self.translate < 0:
            raise ValueError(f"translate must be a non-negative int (pixels), got {self.translate!r}")
        if not 0 < self.warmup_frac < 1:
            raise ValueError(f"warmup_frac must be in (0, 1), got {self.warmup_frac!r}")

    def replace(self, **changes) -> "FastConfig":
        """A copy with some fields changed (the config is immutable)."""
        return dataclasses.replace(self, **changes)

    def sgd_hyperparameters(self) -> dict:
        """Coupled (PyTorch-style) learning rates and L2 coefficients for a *summed* loss.

        airbench states ``lr`` and ``weight_decay`` per 1024 examples, "decoupled" from the
        momentum; dividing by ``1024 * (1 + 1/(1 - momentum))`` gives the rate of plain
        Nesterov SGD. BatchNorm biases get ``bias_scaler`` times the rate and a coefficient
        ``bias_scaler`` times smaller, so both groups shrink by the same amount per step.
        """
        kilostep_scale = 1024 * (1 + 1 / (1 - self.momentum))
        lr = self.lr / kilostep_scale
        wd = self.weight_decay * self.batch_size / kilostep_scale
        lr_bias = lr * self.bias_scaler
        return {"lr": lr, "l2": wd / lr, "lr_bias": lr_bias, "l2_bias": wd / lr_bias}

    def steps_per_epoch(self, n_train: int) -> int:
        """Full batches per epoch (the remainder is dropped to keep shapes static)."""
        steps = n_train // self.batch_size
        if steps < 1:
            raise ValueError(f"batch_size {self.batch_size} is larger than the training set ({n_train} images)")
        return steps

    def total_steps(self, n_train: int) -> int:
        """``ceil(steps_per_epoch * epochs)``: 476 for airbench94 on 50,000 images."""
        return math.ceil(self.steps_per_epoch(n_train) * self.epochs)


# Named profiles. "full" is airbench94 itself (a GPU). "cpu" and "quick" are narrower and
# shorter variants tuned on 2 CPU cores (chapter 9 reports how they were chosen).
PROFILES = {
    "full": FastConfig(),
    "cpu": FastConfig(widths=(32, 64, 128), epochs=14.0, batch_size=512, lr=9.0, eval_batch=1000),
    "quick": FastConfig(widths=(32, 64, 128), epochs=2.0, batch_size=128, lr=11.5, eval_batch=1000),
}
PROFILE_DATA = {"full": None, "cpu": None, "quick": (24000, 2000)}  # load_cifar10(subset=...)


# =========================================================================== NumPy references


def _check_images(images, name="images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{name} must be NHWC (rank 4), got shape {images.shape}")
    return images


def normalize(images) -> np.ndarray:
    """uint8 NHWC CIFAR images -> float32, scaled to [0, 1], minus the mean, over the std."""
    images = _check_images(images)
    if images.shape[-1] != 3:
        raise ValueError(f"images must have 3 channels (RGB), got {images.shape[-1]}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0..255) as load_cifar10 returns them, got {images.dtype}")
    return ((images.astype(np.float32) / 255.0) - CIFAR_MEAN) / CIFAR_STD


def patches_2x2(images) -> np.ndarray:
    """Every 2x2 patch at stride 1, flattened in (row, column, channel) order.

    An (N, H, W, C) array gives (N * (H-1) * (W-1), 4 * C) rows, ordered like a Keras conv
    kernel of shape (2, 2, C, filters), so ``patches @ kernel.reshape(4 * C, -1)`` equals a
    'valid' 2x2 convolution.
    """
    x = _check_images(images)
    if x.shape[1] < 2 or x.shape[2] < 2:
        raise ValueError(f"images must be at least 2x2 pixels, got {x.shape[1]}x{x.shape[2]}")
    n, h, w, c = x.shape
    parts = [x[:, i : i + h - 1, j : j + w - 1, :] for i in range(2) for j in range(2)]
    return np.stack(parts, axis=3).reshape(n * (h - 1) * (w - 1), 4 * c)


def whitening_kernel(images, eps: float = 5e-4, chunk: int = 500) -> np.ndarray:
    """The frozen first layer: a (2, 2, C, 8*C) kernel of scaled eigenvectors and their negatives.

    Uses the *uncentred* patch covariance ``S = P^T P / n`` of 2x2 patches of ``images``
    (normalised float images), its eigenvectors ``v_k`` and eigenvalues ``l_k`` (largest
    first): filter k is ``v_k / sqrt(l_k + eps)``, so the filter responses have second moment
    ``l_k / (l_k + eps)``, close to 1. ``concat(F, -F)`` doubles them so GELU loses nothing.
    """
    x = _check_images(images).astype(np.float64)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    c = x.shape[-1]
    d = 4 * c
    cov = np.zeros((d, d))
    count = 0
    for start in range(0, len(x), chunk):  # in chunks: 5000 images give 4.8 M patches
        p = patches_2x2(x[start : start + chunk])
        cov += p.T @ p
        count += len(p)
    cov /= count
    eigvals, eigvecs = np.linalg.eigh(cov)  # ascending
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    filters = eigvecs / np.sqrt(eigvals + eps)  # column k = filter k
    kernel = filters.reshape(2, 2, c, d)
    return np.concatenate([kernel, -kernel], axis=-1).astype(np.float32)


def dirac_kernel(shape) -> np.ndarray:
    """A (kh, kw, c_in, c_out) kernel whose first min(c_in, c_out) filters copy their input channel.

    With ``c_in == c_out`` and 'same' padding the convolution is the identity map.
    """
    if len(shape) != 4:
        raise ValueError(f"a conv kernel shape has 4 entries (kh, kw, c_in, c_out), got {shape!r}")
    kh, kw, cin, cout = shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"a dirac kernel needs odd kernel sizes (a centre tap), got {kh}x{kw}")
    k = np.zeros(shape, dtype=np.float32)
    for i in range(min(cin, cout)):
        k[kh // 2, kw // 2, i, i] = 1.0
    return k


def lr_schedule(total_steps: int, warmup_frac: float = 0.23, start: float = 0.2, end: float = 0.07) -> np.ndarray:
    """Learning-rate multiplier for steps 0..total_steps: linear warm-up ``start -> 1``, then ``1 -> end``.

    Step k of the optimiser uses entry k; the warm-up lasts ``int(warmup_frac * total_steps)`` steps.
    """
    if int(total_steps) != total_steps or total_steps < 2:
        raise ValueError(f"total_steps must be an int >= 2, got {total_steps!r}")
    warm = max(1, int(warmup_frac * total_steps))
    return np.interp(np.arange(total_steps + 1), [0, warm, total_steps], [start, 1.0, end])


def lookahead_decay(step: int, total_steps: int, rho: float = 0.95**5) -> float:
    """Decay of the lookahead average at ``step``: ``rho * (step / total_steps) ** 3``.

    Near 0 early (the average simply follows the weights), ``rho`` at the end.
    """
    if not 0 <= step <= total_steps:
        raise ValueError(f"step must be in [0, total_steps={total_steps}], got {step!r}")
    return float(rho * (step / total_steps) ** 3)


def lookahead_numpy(ema, weights, decay):
    """NumPy reference of :func:`lookahead_update`: ``ema <- d*ema + (1-d)*w``, then ``w <- ema``."""
    new = [decay * np.asarray(e) + (1 - decay) * np.asarray(w) for e, w in zip(ema, weights)]
    return new, [n.copy() for n in new]


def tta_weights(level: int) -> dict:
    """Weight of each test-time view, keyed by (flipped, dy, dx); the weights sum to 1.

    Level 0: the image. Level 1: the image and its mirror, 1/2 each. Level 2: those two at
    1/4 each, plus the up-left and down-right 1-pixel shifts of both, 1/8 each.
    """
    if level == 0:
        return {(False, 0, 0): 1.0}
    if level == 1:
        return {(False, 0, 0): 0.5, (True, 0, 0): 0.5}
    if level == 2:
        w = {(False, 0, 0): 0.25, (True, 0, 0): 0.25}
        for s in (-1, 1):
            w[(False, s, s)] = 0.125
            w[(True, s, s)] = 0.125
        return w
    raise ValueError(f"tta level must be 0, 1 or 2, got {level!r}")


def translate_numpy(images, dy, dx, pad: int) -> np.ndarray:
    """NumPy reference of :func:`translate`: image n becomes ``x[n, i + dy[n], j + dx[n]]`` (reflect at edges)."""
    x = _check_images(images)
    p = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    h, w = x.shape[1:3]
    return np.stack([p[n, pad + dy[n] : pad + dy[n] + h, pad + dx[n] : pad + dx[n] + w] for n in range(len(x))])


# =========================================================================== layers and model


@keras.saving.register_keras_serializable(package="book")
class DiracInit(keras.initializers.Initializer):
    """PyTorch's default conv init, ``U(+-1/sqrt(fan_in))``, with the first filters set to a dirac.

    airbench initialises every 3x3 conv this way: filter i < c_in copies input channel i,
    so a conv with as many outputs as inputs starts as the identity.
    """

    def __init__(self, seed=None):
        self.seed = seed
        self._base = keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform", seed=seed)

    def __call__(self, shape, dtype=None):
        base = self._base(shape, dtype=dtype)
        dirac = dirac_kernel(tuple(shape))
        touched = np.zeros(shape, dtype=bool)
        touched[..., : min(shape[2], shape[3])] = True  # whole filters that become a dirac
        return ops.where(touched, ops.cast(dirac, base.dtype), base)

    def get_config(self):
        return {"seed": self.seed}


def torch_default_init(seed=None):
    """PyTorch's default init for conv and linear weights: ``U(+-1/sqrt(fan_in))``."""
    return keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform", seed=seed)


@keras.saving.register_keras_serializable(package="book")
class PatchWhitening(keras.layers.Layer):
    """A 2x2 'valid' convolution with a frozen kernel and a trainable bias (chapter 9).

    Call :meth:`set_kernel` with :func:`whitening_kernel` before training. With
    ``trainable_kernel=True`` (the ablation without whitening) it is an ordinary learnable conv.
    """

    def __init__(self, filters: int = 24, in_channels: int = 3, trainable_kernel: bool = False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.in_channels, self.trainable_kernel, self.seed = filters, in_channels, trainable_kernel, seed

    def build(self, input_shape):
        if input_shape[-1] != self.in_channels:
            raise ValueError(f"PatchWhitening expects {self.in_channels} input channels, got {input_shape[-1]}")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(2, 2, self.in_channels, self.filters),
            initializer=torch_default_init(self.seed),
            trainable=self.trainable_kernel,
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros", trainable=True)

    def set_kernel(self, kernel) -> None:
        kernel = np.asarray(kernel, dtype=np.float32)
        if kernel.shape != tuple(self.kernel.shape):
            raise ValueError(f"whitening kernel must have shape {tuple(self.kernel.shape)}, got {kernel.shape}")
        self.kernel.assign(kernel)

    def call(self, x):
        y = ops.conv(x, ops.cast(self.kernel, x.dtype), strides=1, padding="valid")
        return y + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, None if h is None else h - 1, None if w is None else w - 1, self.filters)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, in_channels=self.in_channels, trainable_kernel=self.trainable_kernel, seed=self.seed)
        return cfg


def _bn(cfg: FastConfig, name: str, dtype):
    # Keras momentum m keeps m of the old running value: airbench's torch momentum 0.4 is Keras 0.6.
    # scale=False removes gamma (airbench freezes it at 1); never freeze via trainable=False,
    # which would also stop the batch statistics.
    return keras.layers.BatchNormalization(
        momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, scale=False, center=True, name=name, dtype=dtype
    )


def build_fast_model(cfg: FastConfig = FastConfig(), *, dtype: str = "float32", seed: int | None = 0) -> keras.Model:
    """The airbench94 network (widths from ``cfg``) as a Keras functional model returning logits.

    whitening 2x2 (3 -> 24) -> GELU -> 3 x [conv3x3 -> maxpool2 -> BN -> GELU -> conv3x3 -> BN -> GELU]
    -> maxpool3 -> flatten -> dense (no bias) -> x head_scale. GELU is the exact (erf) form.
    ``dtype`` is a Keras dtype policy: ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.
    """
    def conv_init(i):
        s = None if seed is None else seed + i
        return DiracInit(s) if cfg.dirac else torch_default_init(s)

    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = PatchWhitening(24, trainable_kernel=not cfg.whiten, seed=seed, name="whiten", dtype=dtype)(inputs)
    x = keras.layers.Activation("gelu", name="whiten_gelu", dtype=dtype)(x)
    k = 1
    for g, width in enumerate(cfg.widths, start=1):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=conv_init(k),
                                name=f"g{g}_conv1", dtype=dtype)(x)
        x = keras.layers.MaxPooling2D(2, name=f"g{g}_pool", dtype=dtype)(x)
        x = _bn(cfg, f"g{g}_bn1", dtype)(x)
        x = keras.layers.Activation("gelu", name=f"g{g}_gelu1", dtype=dtype)(x)
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=conv_init(k + 1),
                                name=f"g{g}_conv2", dtype=dtype)(x)
        x = _bn(cfg, f"g{g}_bn2", dtype)(x)
        x = keras.layers.Activation("gelu", name=f"g{g}_gelu2", dtype=dtype)(x)
        k += 2
    x = keras.layers.MaxPooling2D(3, name="pool_out", dtype=dtype)(x)
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
    x = keras.layers.Dense(10, use_bias=False, kernel_initializer=torch_default_init(None if seed is None else seed + 99),
                           name="head", dtype=dtype)(x)
    outputs = keras.layers.Rescaling(cfg.head_scale, name="head_scale", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="airbench_keras")


def variable_groups(model: keras.Model) -> dict:
    """Indices into ``model.trainable_variables``: the BatchNorm biases and the whitening bias."""
    bn_ids = {id(layer.beta) for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    tv = model.trainable_variables
    whiten = [i for i, v in enumerate(tv) if v is model.get_layer("whiten").bias]
    return {"bn_bias": [i for i, v in enumerate(tv) if id(v) in bn_ids], "whiten_bias": whiten[0]}


# =========================================================================== augmentation (on device)


def reflect_pad(x, pad: int):
    """Reflect-pad an NHWC tensor by ``pad`` pixels on each side of H and W (keras.ops)."""
    if pad == 0:
        return x
    if len(x.shape) != 4:
        raise ValueError(f"reflect_pad expects NHWC (rank 4), got shape {tuple(x.shape)}")
    return ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")


def translate(padded, dy, dx, pad: int):
    """Per-image shifts of a whole padded batch: output ``n`` is ``padded[n, pad+dy[n] :, pad+dx[n] :]``.

    ``dy``/``dx`` are int arrays with values in ``[-pad, pad]``. Done as 2*(2*pad+1) selects
    over the whole array (rows, then columns), so shapes stay static and nothing is per image.
    """
    if len(padded.shape) != 4:
        raise ValueError(f"translate expects a padded NHWC batch (rank 4), got shape {tuple(padded.shape)}")
    if pad == 0:
        return padded
    h, w = padded.shape[1] - 2 * pad, padded.shape[2] - 2 * pad
    dy = ops.reshape(ops.convert_to_tensor(dy, "int32"), (-1, 1, 1, 1))
    dx = ops.reshape(ops.convert_to_tensor(dx, "int32"), (-1, 1, 1, 1))
    rows = None
    for s in range(-pad, pad + 1):
        view = padded[:, pad + s : pad + s + h, :, :]
        rows = view if rows is None else ops.where(ops.equal(dy, s), view, rows)
    out = None
    for s in range(-pad, pad + 1):
        view = rows[:, :, pad + s : pad + s + w, :]
        out = view if out is None else ops.where(ops.equal(dx, s), view, out)
    return out


def flip_left_right(x):
    """Mirror an NHWC batch (keras.ops)."""
    return ops.flip(x, axis=2)


def alternating_flip_mask(base_mask, epoch: int) -> np.ndarray:
    """Which images are mirrored in ``epoch``: a fixed random half in even epochs, the other half in odd ones.

    Every image therefore alternates orientation from one epoch to the next, so each pair of
    epochs sees both versions of every image (airbench's "alternating flip").
    """
    base_mask = np.asarray(base_mask, dtype=bool)
    return base_mask ^ bool(epoch % 2)


def flip_where(x, mask):
    """Mirror the images of an NHWC batch where ``mask`` (bool, one per image) is true."""
    mask = ops.reshape(ops.convert_to_tensor(mask, "bool"), (-1, 1, 1, 1))
    return ops.where(mask, flip_left_right(x), x)


# =========================================================================== loss, optimiser, lookahead


def smoothed_cross_entropy(logits, onehot, smoothing: float, *, reduction: str = "sum"):
    """Cross-entropy with label smoothing, ``(1 - e) * y + e / K``, summed (airbench) or averaged.

    Written out because Keras 3's SparseCategoricalCrossentropy has no label smoothing.
    """
    logits = ops.cast(logits, "float32")
    k = logits.shape[-1]
    target = ops.cast(onehot, "float32") * (1 - smoothing) + smoothing / k
    per_example = -ops.sum(target * ops.log_softmax(logits, axis=-1), axis=-1)
    if reduction == "sum":
        return ops.sum(per_example)
    if reduction == "mean":
        return ops.mean(per_example)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def nesterov_sgd(params, grads, buffers, lrs, l2s, momentum: float):
    """One step of PyTorch-style Nesterov SGD with coupled L2, per variable rate ``lrs[i]``.

    ``g = grad + l2 * w;  b = momentum * b + g;  w = w - lr * (g + momentum * b)``.
    Returns ``(new_params, new_buffers)``. Keras's own SGD differs in where the rate sits and
    its ``weight_decay`` is decoupled, which is why the chapter writes the step out.
    """
    new_p, new_b = [], []
    for w, g, b, lr, l2 in zip(params, grads, buffers, lrs, l2s):
        g = ops.cast(g, w.dtype) + l2 * w
        b = momentum * b + g
        new_p.append(w - lr * (g + momentum * b))
        new_b.append(b)
    return new_p, new_b


def lookahead_update(ema, weights, decay):
    """``ema <- decay * ema + (1 - decay) * w`` and ``w <- ema`` for every float tensor (keras.ops)."""
    new = [e + (1 - decay) * (ops.cast(w, e.dtype) - e) for e, w in zip(ema, weights)]
    return new, list(new)


def tta_logits(predict, x, level: int):
    """Weighted average of ``predict`` over the views of :func:`tta_weights` (1-pixel reflect shifts)."""
    weights = tta_weights(level)
    padded = reflect_pad(x, 1) if level == 2 else None
    h, w = x.shape[1], x.shape[2]
    total = 0.0
    for (flipped, dy, dx), weight in weights.items():
        view = x if (dy, dx) == (0, 0) else padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w, :]
        if flipped:
            view = flip_left_right(view)
        total = total + weight * ops.cast(predict(view), "float32")
    return total


# =========================================================================== the trainer


def pick_precision(requested: str = "auto") -> str:
    """Keras dtype policy: bf16 on Ampere/Hopper, fp16 (with loss scaling) on older GPUs, fp32 on a CPU."""
    if requested != "auto":
        if requested not in ("float32", "mixed_bfloat16", "mixed_float16"):
            raise ValueError(f"precision must be auto, float32, mixed_bfloat16 or mixed_float16, got {requested!r}")
        return requested
    cc = fast_backend.gpu_compute_capability()
    if cc is None:
        return "float32"
    return "mixed_bfloat16" if cc[0] >= 8 else "mixed_float16"


@dataclass
class RunResult:
    """What one training run measured."""

    accuracy: float
    seconds: float  # timed region: whitening init + training + final TTA evaluation
    train_seconds: float
    images_per_second: float
    steps: int
    epoch_accuracy: list = field(default_factory=list)  # (epoch, accuracy without TTA), only if tracked


class FastTrainer:
    """Trains the fast model from arrays held on the device, with compiled steps.

    Build it once per (config, precision); :meth:`warmup` compiles the steps (time it
    separately), then every :meth:`run` starts from a fresh initialisation.
    """

    def __init__(self, cfg: FastConfig, *, precision: str = "auto", jit="auto", loss_scale: float | None = None):
        fast_backend.backend()
        if jit == "auto":  # XLA on a GPU; on a CPU TensorFlow's graph mode with oneDNN was faster (chapter 9)
            jit = fast_backend.gpu_compute_capability() is not None
        self.jit = bool(jit)
        self.cfg = cfg
        self.precision = pick_precision(precision)
        # fp16 needs a loss scale; the summed loss (x batch size) already is one, so 1 is the default
        self.loss_scale = float(loss_scale if loss_scale is not None else 1.0)
        self.compute_dtype = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[self.precision]
        self.model = build_fast_model(cfg, dtype=self.precision, seed=0)
        groups = variable_groups(self.model)
        self.whiten_bias_index = groups["whiten_bias"]
        hp = cfg.sgd_hyperparameters()
        n = len(self.model.trainable_variables)
        is_bn = set(groups["bn_bias"])
        self.lr_mult = [hp["lr_bias"] if i in is_bn else hp["lr"] for i in range(n)]
        self.l2 = [hp["l2_bias"] if i in is_bn else hp["l2"] for i in range(n)]
        self._train_step = fast_backend.compile_fn(self._step, jit=jit)
        self._lookahead = fast_backend.compile_fn(self._lookahead_fn, jit=jit)
        self._predict = fast_backend.compile_fn(self._predict_fn, jit=jit)
        self._predict_plain = fast_backend.compile_fn(self._predict_plain_fn, jit=jit)

    # ---- pure functions (compiled in __init__)
    def _loss(self, trainable, non_trainable, x, y):
        logits, new_nt = self.model.stateless_call(trainable, non_trainable, x, training=True)
        loss = smoothed_cross_entropy(logits, y, self.cfg.label_smoothing, reduction="sum")
        return loss * self.loss_scale, (loss, new_nt)

    def _step(self, trainable, non_trainable, buffers, x, y, lr_factor, whiten_gate):
        (_, (loss, new_nt)), grads = fast_backend.value_and_grad(self._loss)(trainable, non_trainable, x, y)
        grads = [g / self.loss_scale for g in grads]
        lrs = [lr_factor * m for m in self.lr_mult]
        lrs[self.whiten_bias_index] = lrs[self.whiten_bias_index] * whiten_gate
        new_t, new_b = nesterov_sgd(trainable, grads, buffers, lrs, self.l2, self.cfg.momentum)
        if self.precision == "mixed_float16":  # skip a step whose gradients overflowed
            finite = ops.all(ops.stack([ops.all(ops.isfinite(g)) for g in grads]))
            new_t = [ops.where(finite, a, b) for a, b in zip(new_t, trainable)]
            new_b = [ops.where(finite, a, b) for a, b in zip(new_b, buffers)]
        return new_t, new_nt, new_b, loss

    def _lookahead_fn(self, ema, state, decay):
        return lookahead_update(ema, state, decay)

    def _predict_fn(self, trainable, non_trainable, x):
        def predict(v):
            logits, _ = self.model.stateless_call(trainable, non_trainable, v, training=False)
            return logits

        return tta_logits(predict, x, self.cfg.tta_level)

    def _predict_plain_fn(self, trainable, non_trainable, x):
        logits, _ = self.model.stateless_call(trainable, non_trainable, x, training=False)
        return logits

    # ---- state
    def fresh_state(self, seed: int, whiten_images=None):
        """New weights (a freshly initialised model), the whitening kernel, zero momentum."""
        model = build_fast_model(self.cfg, dtype=self.precision, seed=seed)
        if self.cfg.whiten:
            if whiten_images is None:
                raise ValueError("a whitening model needs whiten_images (normalised training images) to set its first layer")
            model.get_layer("whiten").set_kernel(whitening_kernel(whiten_images, self.cfg.whiten_eps))
        trainable = [ops.convert_to_tensor(v.value) for v in model.trainable_variables]
        non_trainable = [ops.convert_to_tensor(v.value) for v in model.non_trainable_variables]
        buffers = [ops.zeros_like(t) for t in trainable]
        return trainable, non_trainable, buffers

    def load_into_model(self, trainable, non_trainable) -> keras.Model:
        """Write a state into the trainer's Keras model (for saving or ``model.predict``)."""
        for v, t in zip(self.model.trainable_variables, trainable):
            v.assign(t)
        for v, t in zip(self.model.non_trainable_variables, non_trainable):
            v.assign(t)
        return self.model

    # ---- data
    def to_device(self, images_uint8, labels=None):
        """Normalise on the host, then hold the images (compute dtype) and one-hot labels on the device."""
        x = ops.convert_to_tensor(normalize(images_uint8), self.compute_dtype)
        if labels is None:
            return x
        y = np.asarray(labels).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels")
        return x, ops.convert_to_tensor(np.eye(10, dtype=np.float32)[y])

    def epoch_arrays(self, padded, y, epoch: int, rng: np.random.Generator, base_flip):
        """The whole training set for one epoch: translated, flipped and shuffled in a few array ops."""
        cfg, n = self.cfg, y.shape[0]
        x = padded
        if cfg.translate:
            shifts = rng.integers(-cfg.translate, cfg.translate + 1, size=(2, n))
            x = translate(padded, shifts[0], shifts[1], cfg.translate)
        if cfg.flip == "alternating":
            x = flip_where(x, alternating_flip_mask(base_flip, epoch))
        elif cfg.flip == "random":
            x = flip_where(x, rng.random(n) < 0.5)
        perm = ops.convert_to_tensor(rng.permutation(n).astype("int32"))
        return ops.take(x, perm, axis=0), ops.take(y, perm, axis=0)

    def evaluate(self, trainable, non_trainable, x_test, y_test, *, tta: bool = True) -> float:
        """Accuracy (with the configured TTA unless ``tta=False``), in fixed-size batches (the last one padded)."""
        predict = self._predict if tta else self._predict_plain
        b = self.cfg.eval_batch
        n = x_test.shape[0]
        labels = np.asarray(ops.convert_to_numpy(y_test))
        labels = labels.argmax(-1) if labels.ndim == 2 and labels.shape[-1] == 10 else labels.reshape(-1)
        preds = []
        for start in range(0, n, b):
            xb = x_test[start : start + b]
            m = xb.shape[0]
            if m < b:  # keep the compiled shape
                xb = ops.concatenate([xb, ops.zeros((b - m, *xb.shape[1:]), dtype=xb.dtype)], axis=0)
            logits = predict(trainable, non_trainable, xb)
            preds.append(ops.convert_to_numpy(ops.argmax(logits, axis=-1))[:m])
        return float(np.mean(np.concatenate(preds) == labels))

    def warmup(self, n_train: int = None) -> float:
        """Compile the train step, the lookahead and the prediction on dummy data; return seconds."""
        b = self.cfg.batch_size
        start = time.perf_counter()
        trainable, non_trainable, buffers = self.fresh_state(0, np.zeros((2, 32, 32, 3), np.float32) + 0.1)
        x = ops.zeros((b, 32, 32, 3), dtype=self.compute_dtype)
        y = ops.convert_to_tensor(np.eye(10, dtype=np.float32)[np.arange(b) % 10])
        f32 = lambda v: ops.convert_to_tensor(v, "float32")  # noqa: E731
        t, nt, bu, loss = self._train_step(trainable, non_trainable, buffers, x, y, f32(0.0), f32(1.0))
        e, s = self._lookahead(list(t) + list(nt), list(t) + list(nt), f32(0.5))
        p = self._predict(t, nt, ops.zeros((self.cfg.eval_batch, 32, 32, 3), dtype=self.compute_dtype))
        fast_backend.synchronize([loss, e, p])
        return time.perf_counter() - start

    def run(self, train, test, *, seed: int = 0, track_epochs: bool = False) -> tuple[RunResult, tuple]:
        """One timed training run. ``train``/``test`` are device arrays from :meth:`to_device`.

        The timer covers the whitening kernel, training and the final TTA evaluation, not the
        compile (see :meth:`warmup`) nor the per-epoch checks of ``track_epochs``.
        Returns the result and the final ``(trainable, non_trainable)`` state.
        """
        cfg = self.cfg
        x_train, y_train = train
        x_test, y_test = test
        n = y_train.shape[0]
        steps_per_epoch = cfg.steps_per_epoch(n)
        total = cfg.total_steps(n)
        schedule = lr_schedule(total, cfg.warmup_frac, cfg.start_lr_frac, cfg.final_lr_frac)
        rng = np.random.default_rng(seed)
        f32 = lambda v: ops.convert_to_tensor(v, "float32")  # noqa: E731
        labels_test = y_test

        fast_backend.synchronize([x_train])
        start = time.perf_counter()
        whiten_images = ops.convert_to_numpy(ops.cast(x_train[: cfg.whiten_samples], "float32")) if cfg.whiten else None
        trainable, non_trainable, buffers = self.fresh_state(seed, whiten_images)
        n_t = len(trainable)
        ema = list(trainable) + list(non_trainable)
        padded = reflect_pad(x_train, cfg.translate)
        base_flip = rng.random(n) < 0.5
        step, epoch, paused, epoch_acc = 0, 0, 0.0, []
        while step < total:
            xe, ye = self.epoch_arrays(padded, y_train, epoch, rng, base_flip)
            gate = f32(1.0 if epoch < cfg.whiten_bias_epochs else 0.0)
            for i in range(steps_per_epoch):
                if step >= total:
                    break
                xb = xe[i * cfg.batch_size : (i + 1) * cfg.batch_size]
                yb = ye[i * cfg.batch_size : (i + 1) * cfg.batch_size]
                trainable, non_trainable, buffers, loss = self._train_step(
                    trainable, non_trainable, buffers, xb, yb, f32(schedule[step]), gate
                )
                step += 1
                if cfg.lookahead and step % cfg.lookahead_every == 0:
                    state = list(trainable) + list(non_trainable)
                    ema, state = self._lookahead(ema, state, f32(lookahead_decay(step, total, cfg.lookahead_rho)))
                    trainable, non_trainable = list(state[:n_t]), list(state[n_t:])
            epoch += 1
            if track_epochs:
                fast_backend.synchronize([loss])
                t0 = time.perf_counter()
                epoch_acc.append((epoch, self.evaluate(trainable, non_trainable, x_test, labels_test, tta=False)))
                paused += time.perf_counter() - t0
        if cfg.lookahead:  # finish on the average (drops the steps after the last multiple of 5)
            trainable, non_trainable = list(ema[:n_t]), list(ema[n_t:])
        fast_backend.synchronize([trainable[-1], loss])
        train_seconds = time.perf_counter() - start - paused
        accuracy = self.evaluate(trainable, non_trainable, x_test, labels_test)
        seconds = time.perf_counter() - start - paused
        result = RunResult(
            accuracy=accuracy,
            seconds=seconds,
            train_seconds=train_seconds,
            images_per_second=total * cfg.batch_size / train_seconds,
            steps=total,
            epoch_accuracy=epoch_acc,
        )
        return result, (trainable, non_trainable)
