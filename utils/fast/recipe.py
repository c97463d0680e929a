"""The airbench94 recipe as data and NumPy: configuration, schedules, whitening, TTA
views.

Chapter 10 (fast CIFAR-10 training). The recipe is Keller Jordan's airbench94
(arXiv:2404.00498, github.com/KellerJordan/cifar10-airbench), which builds on
hlb-CIFAR10 (github.com/tysam-code/hlb-CIFAR10) and David Page's "How to train your
ResNet". Nothing here needs Keras: these are the references the Keras code is tested
against.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from utils.images import standardize, to_float01
from utils.shapes import check_nhwc, is_int

# CIFAR-10 channel statistics of the official training set (airbench uses the same)
CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
CIFAR_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
FLIP_MODES = ("alternating", "random", "none")

#: SHA-256 of ``test_batch.bin`` in the book's offline copy of CIFAR-10, whose images
#: were re-encoded as JPEG (quality 75) by a public mirror: airbench94 reaches about
#: 90.8% on it instead of 94.01% on the official files (the copy's README, in the
#: project's shared data folder). :func:`data_copy` tells the two apart.
JPEG_COPY_TEST_SHA256 = (
    "9eafd003539c0e37e95a24f040c30242fc59b96a577396ae1759afb59b49c3e4"
)


def _positive_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class FastConfig:
    """Every knob of the recipe; the defaults are airbench94's values.

    Chapter 10 (fast CIFAR-10 training); recipe: airbench94 (Keller Jordan,
    github.com/KellerJordan/cifar10-airbench). ``lr`` and ``weight_decay`` are in
    airbench's "decoupled" units (per 1024 examples); :meth:`sgd_hyperparameters`
    converts them. The switches ``whiten``, ``dirac``, ``bias_scaler``, ``lookahead``,
    ``tta_level`` and ``flip`` exist for the chapter's ablation. Raises ``ValueError``
    naming the field for any value outside its range (NaN and infinities included).
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
        for problem in self._problems():
            raise ValueError(f"FastConfig: {problem}")

    def _problems(self):
        # a generator of messages keeps __post_init__ short; the first one is raised.
        # One check per group of fields: longer than 40 lines on purpose.
        w = self.widths
        if (
            not isinstance(w, tuple)
            or len(w) != 3
            or not all(is_int(v) and v >= 1 for v in w)
        ):
            yield (
                "widths must be a tuple of three positive ints (one per conv group), "
                f"got {w!r}"
            )
        for name in ("epochs", "lr", "bias_scaler", "whiten_eps", "head_scale"):
            if not _positive_finite(getattr(self, name)):
                value = getattr(self, name)
                yield f"{name} must be a positive finite number, got {value!r}"
        for name in ("batch_size", "whiten_samples", "lookahead_every", "eval_batch"):
            if not (is_int(getattr(self, name)) and getattr(self, name) >= 1):
                yield f"{name} must be a positive int, got {getattr(self, name)!r}"
        for name in ("translate", "whiten_bias_epochs"):
            if not (is_int(getattr(self, name)) and getattr(self, name) >= 0):
                yield f"{name} must be a non-negative int, got {getattr(self, name)!r}"
        unit = (
            "momentum",
            "label_smoothing",
            "bn_momentum",
            "start_lr_frac",
            "final_lr_frac",
        )
        for name in unit + ("weight_decay",):
            value = getattr(self, name)
            top = math.inf if name == "weight_decay" else 1
            if not (isinstance(value, (int, float)) and 0 <= value < top):
                yield f"{name} must be in [0, {top}), got {value!r}"
        if not 0 < self.warmup_frac < 1:
            yield f"warmup_frac must be in (0, 1), got {self.warmup_frac!r}"
        if self.flip not in FLIP_MODES:
            yield f"flip must be one of {FLIP_MODES}, got {self.flip!r}"
        if self.tta_level not in (0, 1, 2) or isinstance(self.tta_level, bool):
            yield (
                "tta_level must be 0 (none), 1 (flip) or 2 (flip and shift), "
                f"got {self.tta_level!r}"
            )

    def replace(self, **changes) -> FastConfig:
        """A copy with some fields changed (the config is frozen); validated like a new
        one."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as JSON-ready values (``widths`` as a list), for result
        records."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()
        }

    def sgd_hyperparameters(self) -> dict:
        """Coupled (PyTorch-style) rates and L2 coefficients for a *summed* loss.

        Returns floats ``{"lr", "l2", "lr_bias", "l2_bias"}``. airbench states ``lr``
        and ``weight_decay`` per 1024 examples, decoupled from the momentum; dividing by
        ``1024 * (1 + 1/(1 - momentum))`` gives plain Nesterov SGD's rate. BatchNorm
        biases get ``bias_scaler`` times the rate and a coefficient ``bias_scaler``
        times smaller. Chapter 10 (fast CIFAR-10 training), from airbench94.
        """
        kilostep_scale = 1024 * (1 + 1 / (1 - self.momentum))
        lr = self.lr / kilostep_scale
        wd = self.weight_decay * self.batch_size / kilostep_scale
        lr_bias = lr * self.bias_scaler
        return {"lr": lr, "l2": wd / lr, "lr_bias": lr_bias, "l2_bias": wd / lr_bias}

    def steps_per_epoch(self, n_train: int) -> int:
        """Full batches per epoch (the remainder is dropped to keep shapes static).

        Raises ``ValueError`` when ``batch_size`` exceeds ``n_train``.
        """
        steps = int(n_train) // self.batch_size
        if steps < 1:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the training set "
                f"({n_train} images): use a smaller batch or more images"
            )
        return steps

    def total_steps(self, n_train: int) -> int:
        """``ceil(steps_per_epoch * epochs)``: 476 for airbench94 on 50,000 images."""
        return math.ceil(self.steps_per_epoch(n_train) * self.epochs)


# Named profiles. "full" is airbench94 itself (a GPU). "cpu" and "quick" are narrower,
# shorter variants tuned on 2 CPU cores (chapter 10 reports how they were chosen).
PROFILES = {
    "full": FastConfig(),
    "cpu": FastConfig(
        widths=(32, 64, 128), epochs=14.0, batch_size=512, lr=9.0, eval_batch=1000
    ),
    "quick": FastConfig(
        widths=(32, 64, 128), epochs=2.0, batch_size=128, lr=11.5, eval_batch=1000
    ),
}
# load_cifar10(subset=...) of each profile: None is all 50,000 / 10,000 images
PROFILE_DATA = {"full": None, "cpu": None, "quick": (10000, 2000)}


def profile_config(profile: str, **overrides) -> FastConfig:
    """``PROFILES[profile]`` with the overrides that are not ``None`` (e.g. ``epochs``,
    ``widths``, ``lr``, ``batch_size``): the recipe a command-line run trains.

    Chapter 10. Raises ``KeyError`` for an unknown profile, ``ValueError`` (from
    :class:`FastConfig`) for a value it refuses.
    """
    changes = {k: v for k, v in overrides.items() if v is not None}
    return PROFILES[profile].replace(**changes)


def profile_data(profile: str, train_size=None, test_size=None) -> tuple[int, int]:
    """``(training images, test images)`` a run of ``profile`` loads: the profile's
    sizes (all 50,000 / 10,000 when it has none), then the overrides that are given.

    Chapter 10. Raises ``KeyError`` for an unknown profile.
    """
    train, test = PROFILE_DATA[profile] or (50000, 10000)
    return train_size or train, test_size or test


def data_copy(folder) -> str:
    """Which copy of CIFAR-10 a folder holds: ``"jpeg"`` or ``"other"``.

    ``folder`` is a ``cifar-10-batches-bin`` folder (``utils.data.locate_cifar10``
    gives the one the loader uses). ``"jpeg"`` means its ``test_batch.bin`` is the
    book's offline copy, re-encoded as JPEG, on which accuracies are a few points
    lower (:data:`JPEG_COPY_TEST_SHA256`); ``"other"`` means anything else, normally
    the official files (the loader's download checks the official archive's
    checksum). Chapter 10 picks its accuracy floor with it. Raises
    ``FileNotFoundError`` when the folder has no ``test_batch.bin``.
    """
    from pathlib import Path

    from utils.data import file_sha256

    test_file = Path(folder).expanduser() / "test_batch.bin"
    if not test_file.is_file():
        raise FileNotFoundError(
            f"{test_file} does not exist: pass the cifar-10-batches-bin folder "
            "(utils.data.locate_cifar10()[0])"
        )
    return "jpeg" if file_sha256(test_file) == JPEG_COPY_TEST_SHA256 else "other"


def normalize(images) -> np.ndarray:
    """uint8 NHWC CIFAR images (N, H, W, 3) -> float32: ``(x / 255 - mean) / std``.

    Chapter 10 (fast CIFAR-10 training); airbench94's normalisation, done with chapter
    1's :func:`utils.images.to_float01` and :func:`utils.images.standardize` and the
    CIFAR-10 channel statistics. Raises ``ValueError`` for another rank, channel count
    or dtype (float images, even in 0..255, are refused so that nothing is normalised
    twice). An empty batch gives an empty result.
    """
    images = check_cifar_images(images)
    return standardize(to_float01(images), CIFAR_MEAN, CIFAR_STD)


def check_cifar_images(images) -> np.ndarray:
    """``images`` as a NumPy array after checking it is uint8 NHWC RGB: (N, H, W, 3).

    Chapter 10 (fast CIFAR-10 training): what :func:`normalize` and the trainer's
    ``to_device`` accept. Raises ``ValueError`` for another rank, channel count or
    dtype (float images, even in 0..255, are refused so that nothing is normalised
    twice).
    """
    images = check_nhwc(images, "images")
    if images.shape[-1] != 3:
        raise ValueError(f"images must have 3 channels (RGB), got {images.shape[-1]}")
    if images.dtype != np.uint8:
        raise ValueError(
            f"images must be uint8 (0..255) as load_cifar10 returns them, got "
            f"{images.dtype}; convert with images.astype(np.uint8) if they are whole "
            "numbers"
        )
    return images


def patches_2x2(images) -> np.ndarray:
    """Every 2x2 patch at stride 1 of (N, H, W, C) real images, flattened: (N(H-1)(W-1),
    4C).

    Rows are ordered like a Keras conv kernel of shape (2, 2, C, filters), so
    ``patches @ kernel.reshape(4 * C, -1)`` equals a 'valid' 2x2 convolution. Keeps the
    input dtype. Chapter 10 (fast CIFAR-10 training). Raises ``ValueError`` for a rank
    other than 4, non-real dtypes (bool included) or images smaller than 2x2.
    """
    x = check_nhwc(images, "images")
    if x.shape[1] < 2 or x.shape[2] < 2:
        raise ValueError(
            f"images must be at least 2x2 pixels, got {x.shape[1]}x{x.shape[2]}"
        )
    n, h, w, c = x.shape
    parts = [x[:, i : i + h - 1, j : j + w - 1, :] for i in range(2) for j in range(2)]
    return np.stack(parts, axis=3).reshape(n * (h - 1) * (w - 1), 4 * c)


def whitening_kernel(images, eps: float = 5e-4, chunk: int = 500) -> np.ndarray:
    """The frozen first layer: a float32 (2, 2, C, 8C) kernel of scaled eigenvectors.

    ``images``: normalised float NHWC images (:func:`normalize`), at least one. Uses the
    *uncentred* patch covariance ``S = P^T P / n`` of their 2x2 patches, its
    eigenvectors ``v_k`` and eigenvalues ``l_k`` (largest first): filter k is ``v_k /
    sqrt(l_k + eps)``, so responses have second moment ``l_k / (l_k + eps)``.
    ``concat(F, -F)`` doubles them so GELU loses nothing. Chapter 10 (fast CIFAR-10
    training); airbench94's ``init_whitening_conv``. Raises ``ValueError`` for integer
    or bool images (normalise them first), an empty batch, NaN/inf values or ``eps <=
    0``.
    """
    x = check_nhwc(images, "images")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"images must be normalised float images, got dtype {x.dtype}: "
            "pass normalize(images)"
        )
    if len(x) == 0:
        raise ValueError(
            "images is an empty batch: the whitening needs at least one image"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("images contain NaN or infinite values")
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"eps must be positive, got {eps!r}")
    c = x.shape[-1]
    d = 4 * c
    cov = np.zeros((d, d))
    count = 0
    for start in range(0, len(x), chunk):  # in chunks: 5000 images give 4.8 M patches
        p = patches_2x2(x[start : start + chunk].astype(np.float64))
        cov += p.T @ p
        count += len(p)
    eigvals, eigvecs = np.linalg.eigh(cov / count)  # ascending
    order = np.argsort(eigvals)[::-1]
    filters = eigvecs[:, order] / np.sqrt(eigvals[order] + eps)  # column k = filter k
    kernel = filters.reshape(2, 2, c, d)
    return np.concatenate([kernel, -kernel], axis=-1).astype(np.float32)


def dirac_kernel(shape) -> np.ndarray:
    """A float32 (kh, kw, c_in, c_out) kernel whose first min(c_in, c_out) filters copy
    a channel.

    With ``c_in == c_out`` and 'same' padding the convolution is the identity map.
    Chapter 10 (fast CIFAR-10 training); airbench94's dirac init. Raises ``ValueError``
    unless ``shape`` is four positive ints with odd ``kh`` and ``kw``.
    """
    shape = tuple(shape)
    if len(shape) != 4 or not all(is_int(s) and s >= 1 for s in shape):
        raise ValueError(
            "a conv kernel shape has 4 positive ints (kh, kw, c_in, c_out), "
            f"got {shape!r}"
        )
    kh, kw, cin, cout = shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"a dirac kernel needs odd kernel sizes (a centre tap), got {kh}x{kw}"
        )
    k = np.zeros(shape, dtype=np.float32)
    for i in range(min(cin, cout)):
        k[kh // 2, kw // 2, i, i] = 1.0
    return k


def lr_schedule(
    total_steps: int, warmup_frac: float = 0.23, start: float = 0.2, end: float = 0.07
) -> np.ndarray:
    """Rate multipliers, float64 (total_steps + 1,): linear ``start -> 1``, then ``1 ->
    end``.

    Step k uses entry k; the warm-up lasts ``int(warmup_frac * total_steps)`` steps (at
    least 1). Chapter 10 (fast CIFAR-10 training); airbench94's schedule. Raises
    ``ValueError`` unless ``total_steps`` is an int >= 2 and ``warmup_frac`` in (0, 1).
    """
    if not is_int(total_steps) or total_steps < 2:
        raise ValueError(f"total_steps must be an int >= 2, got {total_steps!r}")
    if not 0 < warmup_frac < 1:
        raise ValueError(f"warmup_frac must be in (0, 1), got {warmup_frac!r}")
    warm = max(1, int(warmup_frac * total_steps))
    return np.interp(
        np.arange(total_steps + 1), [0, warm, total_steps], [start, 1.0, end]
    )


def lookahead_decay(step: int, total_steps: int, rho: float = 0.95**5) -> float:
    """Decay of the lookahead average at ``step``: ``rho * (step / total_steps) ** 3``.

    Near 0 early (the average follows the weights), ``rho`` at the end. Chapter 10 (fast
    CIFAR-10 training); airbench94's lookahead. Raises ``ValueError`` unless
    ``total_steps >= 1`` and ``0 <= step <= total_steps``.
    """
    if not (is_int(total_steps) and total_steps >= 1):
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if not 0 <= step <= total_steps:
        raise ValueError(
            f"step must be in [0, total_steps={total_steps}], got {step!r}"
        )
    return float(rho * (step / total_steps) ** 3)


def tta_weights(level: int) -> dict:
    """Weight of each test-time view, keyed by (flipped, dy, dx); the weights sum to 1.

    Level 0: the image. Level 1: the image and its mirror, 1/2 each. Level 2: those two
    at 1/4 each, plus both shifted 1 pixel up-left (-1, -1) and down-right (+1, +1), 1/8
    each (content moves down by ``dy`` and right by ``dx``, as in ``images.translate``).
    Chapter 10 (fast CIFAR-10 training); airbench94's TTA. Raises ``ValueError``
    otherwise.
    """
    if not is_int(level) or level not in (0, 1, 2):
        raise ValueError(f"tta level must be 0, 1 or 2, got {level!r}")
    if level == 0:
        return {(False, 0, 0): 1.0}
    if level == 1:
        return {(False, 0, 0): 0.5, (True, 0, 0): 0.5}
    w = {(False, 0, 0): 0.25, (True, 0, 0): 0.25}
    for s in (-1, 1):
        w[(False, s, s)] = 0.125
        w[(True, s, s)] = 0.125
    return w
