"""Where a notebook runs, and how hard it may work there.

Introduced in chapter 1 ("Images as tensors"), used by every chapter:

- :func:`in_colab` and :func:`gpu_names` tell where we are;
- :func:`seed_everything` makes runs repeatable (Python, NumPy and the Keras backend,
  plus TensorFlow's deterministic kernels);
- :func:`fingerprint` is the one-line record of the software and device a result came
  from;
- :func:`resolve_profile` picks the run profile: ``"quick"`` (a CPU and a few minutes,
  what CI and the stored notebook outputs use) or ``"full"`` (a GPU, what a Colab reader
  runs); the knobs of each profile come from :mod:`utils.profiles` (re-exported here:
  ``env.by_profile``, ``env.profile_table``, ``env.smoke_enabled``).
"""

from __future__ import annotations

import os
import platform
import sys

from .profiles import (  # noqa: F401  (chapters write env.by_profile, env.Knobs, ...)
    PROFILES,
    SMOKE_VARIABLE,
    Knobs,
    ProfileTable,
    by_profile,
    profile_table,
    smoke_enabled,
)
from .shapes import is_int


class NoGPUError(RuntimeError):
    """Raised by :func:`require_gpu` when work that needs a GPU finds none.

    Chapter 10 (FULL's benchmark needs a GPU).
    """


def silence_tensorflow() -> None:
    """Hide TensorFlow's C++ start-up logs; call before ``import tensorflow``.

    Both variables are needed: TF 2.21 prints its oneDNN banner whatever the log level,
    and level 3 also hides harmless C++ "errors" that tf.data logs during ``fit``.
    Python exceptions are unaffected. Chapter 1 explains why the stored notebook outputs
    depend on this.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def in_colab() -> bool:
    """True inside a Google Colab runtime (chapter 1, "How to run this book")."""
    return "google.colab" in sys.modules


def keras_backend() -> str:
    """Name of the Keras backend in use (``"tensorflow"``, ``"jax"``, ...); chapter 1"""
    import keras

    return keras.backend.backend()


def gpu_names() -> list[str]:
    """Names (str) of the GPUs the Keras backend can use; ``[]`` on a CPU; chapter 1.

    Only the TensorFlow, JAX and PyTorch backends are asked; any other gives ``[]``.
    """
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
    """True when at least one GPU is visible to the Keras backend (chapter 1)."""
    return bool(gpu_names())


def require_gpu(what: str) -> None:
    """Raise :class:`NoGPUError`, saying what to do, when ``what`` needs a missing GPU.

    ``what`` (str) names the work in the message, e.g. ``"FULL training"``. Chapter 10.
    """
    if has_gpu():
        return
    hint = (
        "In Colab choose Runtime > Change runtime type > GPU, then run the notebook "
        "again."
        if in_colab()
        else "Run it on a machine with an NVIDIA GPU (or Colab with a GPU runtime), "
        "or use the QUICK profile (BOOK_MODE=quick), which is sized for a CPU."
    )
    raise NoGPUError(
        f"{what} needs a GPU, but the Keras backend '{keras_backend()}' sees none. "
        f"{hint}"
    )


def seed_everything(seed: int = 0, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the Keras backend; optionally ask for deterministic ops.

    Used at the top of every chapter (chapter 1 explains it). On the TensorFlow backend
    ``deterministic=True`` also turns on
    ``tf.config.experimental.enable_op_determinism()``,
    which makes repeated runs on the same machine give identical numbers.

    ``seed`` is an int in ``[0, 2**32 - 1]`` (NumPy's seed range); raises
    ``ValueError`` for anything else (bool, float, str, out of range) or a non-bool
    ``deterministic``.
    """
    if not is_int(seed) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32 - 1], got {seed!r}")
    if not isinstance(deterministic, bool):
        raise ValueError(f"deterministic must be True or False, got {deterministic!r}")
    seed = int(seed)
    import keras

    keras.utils.set_random_seed(seed)  # seeds random, numpy and the backend
    if deterministic and keras_backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def device_description() -> str:
    """The compute device in words, e.g. ``"CPU (2 cores, x86_64)"`` or a GPU name.

    Chapter 1 (the environment fingerprint); chapter 8 prints it next to timings.
    """
    gpus = gpu_names()
    if gpus:
        if keras_backend() == "tensorflow":
            import tensorflow as tf

            details = tf.config.experimental.get_device_details(
                tf.config.list_physical_devices("GPU")[0]
            )
            name = details.get("device_name", gpus[0])
        else:
            name = gpus[0]
        return f"GPU: {name}" + (f" x{len(gpus)}" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def load_average() -> str | None:
    """The 1-minute load average as text (e.g. ``"1.9"``), ``None`` where the OS has
    none. Benchmark records store it: a machine shared with other jobs runs slower
    (chapter 10)."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else None


#: CPU features that change which kernels TensorFlow, oneDNN, XLA and OpenBLAS run
KERNEL_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def cpu_info(cpuinfo: str | None = None) -> dict:
    """The CPU a run used: ``{"model": str, "cores": int, "isa": [str, ...]}``.

    ``isa`` lists the features of :data:`KERNEL_FLAGS` the CPU has, the ones that make
    libraries pick different kernels (so two machines round differently, chapter 1).
    Read from ``/proc/cpuinfo`` on Linux (``cpuinfo`` passes that file's text, for
    tests); elsewhere the model comes from :mod:`platform` and ``isa`` is empty.
    Run records and benchmark records store it.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return {
        "model": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count() or 1,
        "isa": [f for f in KERNEL_FLAGS if f in flags],
    }


def fingerprint() -> str:
    """One line naming Python, TensorFlow, Keras (and backend), NumPy and the device.

    Chapters print it under ``# NBVAL_IGNORE_OUTPUT``: it differs between machines.
    Chapter 1 prints it first.
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
    """``"quick"`` or ``"full"``: the parameter, else ``BOOK_MODE``, else the hardware.

    ``mode`` is the papermill parameter ``MODE`` of a chapter (``None``: "you decide").
    Without it the environment variable ``BOOK_MODE`` decides (unset, empty or blank
    means "not set"); without that, a machine with a GPU runs FULL and a CPU-only
    machine runs QUICK. Case and surrounding spaces are ignored. Chapter 1 explains
    the two profiles.
    Raises ``ValueError`` naming the source (parameter or variable) of an unknown value.
    """
    source = "parameter MODE"
    if mode is None:
        mode = os.environ.get("BOOK_MODE", "").strip() or None
        source = "environment variable BOOK_MODE"
    if mode is None:
        return "full" if has_gpu() else "quick"
    if not isinstance(mode, str) or mode.strip().lower() not in PROFILES:
        raise ValueError(
            f"{source} must be one of {PROFILES} (or unset for automatic), got {mode!r}"
        )
    return mode.strip().lower()
