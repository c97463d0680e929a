"""Where a notebook runs, and how hard it may work there.

Introduced in chapter 1 ("Images as tensors"), used by every chapter:

- :func:`in_colab` and :func:`gpu_names` tell where we are;
- :func:`seed_everything` makes runs repeatable (Python, NumPy and the Keras backend,
  plus TensorFlow's deterministic kernels);
- :func:`fingerprint` is the one-line record of the software and device a result came from;
- :func:`resolve_profile` picks the run profile: ``"quick"`` (a CPU and a few minutes,
  what CI and the stored notebook outputs use) or ``"full"`` (a GPU, what a Colab reader runs).
"""

from __future__ import annotations

import os
import platform
import sys

PROFILES = ("quick", "full")


class NoGPUError(RuntimeError):
    """Raised by :func:`require_gpu` when work that needs a GPU finds none."""


def silence_tensorflow() -> None:
    """Hide TensorFlow's C++ start-up logs; call before ``import tensorflow``.

    Both variables are needed: TF 2.21 prints its oneDNN banner whatever the log level, and
    level 3 also hides harmless C++ "errors" that tf.data logs during ``fit``. Python
    exceptions are unaffected. Chapter 1 explains why the stored notebook outputs depend on this.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def in_colab() -> bool:
    """True inside a Google Colab runtime (chapter 1, "How to run this book")."""
    return "google.colab" in sys.modules


def keras_backend() -> str:
    """Name of the Keras backend in use (``"tensorflow"``, ``"jax"``, ...)."""
    import keras

    return keras.backend.backend()


def gpu_names() -> list[str]:
    """Names of the GPUs the Keras backend can use; an empty list on a CPU-only machine."""
    backend = keras_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def has_gpu() -> bool:
    """True when at least one GPU is visible to the Keras backend."""
    return bool(gpu_names())


def require_gpu(what: str) -> None:
    """Raise :class:`NoGPUError` with instructions when ``what`` needs a GPU and there is none."""
    if has_gpu():
        return
    hint = (
        "In Colab choose Runtime > Change runtime type > GPU, then run the notebook again."
        if in_colab()
        else "Run it on a machine with an NVIDIA GPU (or Colab with a GPU runtime), "
        "or use the QUICK profile (BOOK_MODE=quick), which is sized for a CPU."
    )
    raise NoGPUError(f"{what} needs a GPU, but the Keras backend '{keras_backend()}' sees none. {hint}")


def seed_everything(seed: int = 0, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the Keras backend; optionally ask for deterministic kernels.

    Used at the top of every chapter (chapter 1 explains it). On the TensorFlow backend
    ``deterministic=True`` also turns on ``tf.config.experimental.enable_op_determinism()``,
    which makes repeated runs on the same machine give identical numbers.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import keras

    keras.utils.set_random_seed(seed)  # seeds random, numpy and the backend
    if deterministic and keras_backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def device_description() -> str:
    """A short description of the compute device, e.g. ``"CPU (2 cores)"`` or a GPU name."""
    gpus = gpu_names()
    if gpus:
        if keras_backend() == "tensorflow":
            import tensorflow as tf

            details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
            name = details.get("device_name", gpus[0])
        else:
            name = gpus[0]
        return f"GPU: {name}" + (f" x{len(gpus)}" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def fingerprint() -> str:
    """One line naming Python, TensorFlow, Keras (and backend), NumPy and the device.

    Chapters print it under ``# NBVAL_IGNORE_OUTPUT`` because it differs between machines.
    """
    import keras
    import numpy as np

    parts = [f"Python {platform.python_version()}"]
    try:
        import tensorflow as tf

        parts.append(f"TensorFlow {tf.__version__}")
    except ImportError:
        parts.append("TensorFlow not installed")
    parts.append(f"Keras {keras.__version__} ({keras_backend()} backend)")
    parts.append(f"NumPy {np.__version__}")
    parts.append(device_description())
    if in_colab():
        parts.append("Colab")
    return " | ".join(parts)


def resolve_profile(mode: str | None = None) -> str:
    """Return ``"quick"`` or ``"full"``: the notebook parameter, else ``BOOK_MODE``, else the hardware.

    ``mode`` is the papermill parameter ``MODE`` of a chapter (``None`` means "decide for me").
    Without it the environment variable ``BOOK_MODE`` decides; without that, a machine with a
    GPU runs FULL and a CPU-only machine runs QUICK. Chapter 1 explains the two profiles.
    """
    source = "parameter MODE"
    if mode is None:
        mode = os.environ.get("BOOK_MODE") or None
        source = "environment variable BOOK_MODE"
    if mode is None:
        return "full" if has_gpu() else "quick"
    if not isinstance(mode, str) or mode.strip().lower() not in PROFILES:
        raise ValueError(f"{source} must be one of {PROFILES} (or unset for automatic), got {mode!r}")
    return mode.strip().lower()
