"""Fast CIFAR-10 training: a Keras 3 re-implementation of the airbench94 recipe.

Chapter 10 (fast CIFAR-10 training) explains every piece. The recipe is Keller Jordan's
airbench94 (arXiv:2404.00498, github.com/KellerJordan/cifar10-airbench), which builds on
hlb-CIFAR10 and David Page's "How to train your ResNet"; this is the book's own code,
written with ``keras.ops`` so that it runs on the TensorFlow and the JAX backend.

- :mod:`utils.fast.recipe`: :class:`FastConfig`, :data:`PROFILES`, the NumPy references
  (normalisation, 2x2 patches, whitening kernel, dirac kernel, schedules, TTA weights);
- :mod:`utils.fast.model`: :class:`PatchWhitening`, :class:`DiracInit`,
  :class:`FusedBatchNorm`, :class:`FusedGELU`, :func:`build_fast_model`;
- :mod:`utils.fast.augment`: on-device normalisation, reflect pad, translate, flips, an
  epoch in two gathers, TTA logits;
- :mod:`utils.fast.update`: the smoothed loss, Nesterov SGD, the lookahead update;
- :mod:`utils.fast.trainer`: :class:`FastTrainer` (the one training loop),
  :class:`RunResult`;
- :mod:`utils.fast.evaluation`: the trainer's ``evaluate`` (with or without TTA);
- :mod:`utils.fast.backend`: the only TensorFlow/JAX-specific lines;
- :mod:`utils.fast.distribute`: the same loop under ``tf.distribute`` (imported on
  demand);
- :mod:`utils.fast.data_parallel`: the same loop under Keras 3's
  ``keras.distribution.DataParallel`` on JAX (imported on demand);
- :mod:`utils.fast.bench`: the command line, ``python -m utils.fast.bench``, and the
  result records in ``results/bench/`` (imported on demand).
"""

import os

# `python -m utils.fast.bench` imports this package (and Keras) before the CLI runs:
# hide TensorFlow's C++ start-up logs unless the caller chose a level. Ask for
# TensorFlow's oneDNN kernels unless the caller chose (the chapters' setup cell turns
# them off, for repeatable stored outputs): TensorFlow 2.21 enables them by itself only
# on some CPUs, and on the AVX2-only 2-core CPU of the book's CI machine they made the
# fast model's training step 1.9x faster (0.70 s against 1.34 s per batch of 512,
# measured 2026-12-01). Like any TensorFlow setting, it counts only if TensorFlow has
# not been imported yet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from utils.fast import backend
from utils.fast.augment import (
    alternating_flip_mask,
    crop_flip_shuffle,
    flip_left_right,
    flip_where,
    normalize_batch,
    reflect_pad,
    translate,
    tta_logits,
)
from utils.fast.model import (
    DiracInit,
    FusedBatchNorm,
    FusedGELU,
    PatchWhitening,
    build_fast_model,
    t4_minutes,
    torch_default_init,
    variable_groups,
)
from utils.fast.recipe import (
    CIFAR_MEAN,
    CIFAR_STD,
    FLIP_MODES,
    JPEG_COPY_TEST_SHA256,
    PROFILE_DATA,
    PROFILES,
    FastConfig,
    data_copy,
    dirac_kernel,
    lookahead_decay,
    lr_schedule,
    normalize,
    patches_2x2,
    profile_config,
    tta_weights,
    whitening_kernel,
)
from utils.fast.trainer import (
    EpochProgress,
    FastTrainer,
    RunResult,
    TrainingDivergedError,
    pick_precision,
)
from utils.fast.update import lookahead_update, nesterov_sgd, smoothed_cross_entropy

__all__ = [
    "CIFAR_MEAN",
    "CIFAR_STD",
    "FLIP_MODES",
    "JPEG_COPY_TEST_SHA256",
    "PROFILES",
    "PROFILE_DATA",
    "DiracInit",
    "EpochProgress",
    "FastConfig",
    "FastTrainer",
    "FusedBatchNorm",
    "FusedGELU",
    "PatchWhitening",
    "RunResult",
    "TrainingDivergedError",
    "alternating_flip_mask",
    "backend",
    "build_fast_model",
    "crop_flip_shuffle",
    "data_copy",
    "dirac_kernel",
    "flip_left_right",
    "flip_where",
    "lookahead_decay",
    "lookahead_update",
    "lr_schedule",
    "nesterov_sgd",
    "normalize",
    "normalize_batch",
    "patches_2x2",
    "pick_precision",
    "profile_config",
    "reflect_pad",
    "smoothed_cross_entropy",
    "t4_minutes",
    "torch_default_init",
    "translate",
    "tta_logits",
    "tta_weights",
    "variable_groups",
    "whitening_kernel",
]
