"""Run the published airbench94 (PyPI ``airbench`` 0.1.8) on a GPU as is, or on a CPU.

Chapter 10 (fast CIFAR-10 training) ports Keller Jordan's airbench94
(github.com/KellerJordan/cifar10-airbench, arXiv:2404.00498; MIT licence) to Keras 3.
To compare the port with the original on one machine, this module calls the package's
own ``warmup94``, ``train94`` and ``make_net94`` with the recipe's knobs (widths,
epochs, batch size, learning rate); every other knob keeps airbench's default. No
airbench code is copied: the package runs from ``site-packages``, and each change below
patches one name for the length of a run (``unittest.mock.patch``, undone afterwards,
also on an error).

On a GPU the package runs exactly as published (changes 4-6 only). On a CPU its
CUDA-only calls are redirected:

1. ``make_net94`` ends with ``net.half().cuda()``. While it runs, ``nn.Module.half`` and
   ``nn.Module.cuda`` return the module unchanged: the network stays float32 on the CPU
   (airbench keeps its BatchNorm layers in float32 anyway).
2. ``CifarLoader(..., gpu=0)`` loads with ``map_location=torch.device(0)`` and turns the
   uint8 images into float16 with ``.half()``. ``airbench.utils.CifarLoader`` (``train``
   builds its test loader from that name) and ``airbench.lib_airbench94.CifarLoader``
   are replaced by a subclass that loads onto the CPU and, during its ``__init__`` only,
   makes ``Tensor.half`` mean ``Tensor.float``: float32 images, exactly ``uint8 / 255``.
3. ``train`` times with ``torch.cuda.Event`` and ``torch.cuda.synchronize()``. These
   become :class:`WallClockEvent` (``time.perf_counter`` at ``record()``) and a no-op,
   so the same regions are timed by the wall clock (CPU operations run synchronously).

On every device:

4. ``airbench.utils`` imports ``torchvision`` but uses only ``transforms.Normalize``
   (and ``datasets.CIFAR10``, to download missing data). PyPI's torchvision does not
   import beside the CPU torch wheel, so when ``import torchvision`` fails,
   :func:`import_airbench` first puts a stand-in module holding those two names in
   ``sys.modules``: :class:`Normalize` does torchvision's arithmetic (a copy, minus the
   channel mean, divided by the channel std); its ``CIFAR10`` raises, since
   :func:`write_cifar10_pt` writes the data.
5. ``train`` returns only the model; the accuracy and the time are in the table it
   prints. ``airbench.utils.print_training_details`` is wrapped to keep each row's
   numbers (the table is still printed, unless ``quiet``).
6. ``train`` reads ``cifar10/train.pt`` and ``cifar10/test.pt`` relative to the working
   folder: a run changes into the folder it is given (``contextlib.chdir``).

Timing is airbench's own convention: a warm-up first (``warmup94``: the network, the
whitening and one training step, not timed), then the timer covers the whitening init,
the training epochs and the final TTA evaluation (level 2: the image, its mirror, both
shifted by one pixel two ways), not the per-epoch accuracy that ``verbose=True`` prints.
``utils.fast.FastTrainer.run`` times the same region.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import inspect
import io
import math
import os
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np

AIRBENCH_VERSION = "0.1.8"
INSTALL_HINT = (
    "install the benchmark requirements: pip install -r requirements-bench.txt "
    "(torch==2.13.0, the CPU wheel, and airbench==0.1.8)"
)
# airbench94's full recipe (its hyp dict) under FastConfig's field names
FULL_RECIPE_KNOBS = ("widths", "epochs", "batch_size", "lr")
# the knobs both sides leave at their defaults; they must agree (checked by the CLI)
SHARED_KNOBS = (
    "momentum",
    "weight_decay",
    "bias_scaler",
    "label_smoothing",
    "whiten_bias_epochs",
    "whiten_eps",
    "bn_momentum",
    "bn_epsilon",
    "head_scale",
    "translate",
    "flip",
    "tta_level",
)
# airbench's train() needs int(0.23 * steps) >= 1 for its learning-rate triangle
MIN_STEPS = 5


# ----------------------------------------------------------------- torchvision stand-in


class Normalize:
    """Stand-in for ``torchvision.transforms.Normalize`` on tensors (change 4).

    ``Normalize(mean, std)(x)`` for a float tensor ``x`` of shape ``(..., C, H, W)``
    returns a new tensor ``(x - mean[c]) / std[c]`` per channel, in ``x``'s dtype,
    device and memory format (torchvision clones, then subtracts and divides in place;
    so does this). ``mean`` and ``std`` are sequences (or 1-D tensors) of ``C`` numbers.
    Raises ``ValueError`` for fewer than 3 dimensions or a channel count other than
    ``len(mean)``. Chapter 10; used by airbench's ``CifarLoader``.
    """

    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        import torch

        channels = len(self.mean)
        if tensor.ndim < 3 or tensor.shape[-3] != channels:
            raise ValueError(
                f"Normalize expects (..., C={channels}, H, W) tensors, got shape "
                f"{tuple(tensor.shape)}"
            )
        kw = {"dtype": tensor.dtype, "device": tensor.device}
        mean = torch.as_tensor(self.mean, **kw).view(-1, 1, 1)
        std = torch.as_tensor(self.std, **kw).view(-1, 1, 1)
        out = tensor if self.inplace else tensor.clone()
        return out.sub_(mean).div_(std)


class NoDownloadCIFAR10:
    """Stand-in for ``torchvision.datasets.CIFAR10`` (change 4): always raises.

    airbench calls it only when ``cifar10/train.pt`` or ``test.pt`` is missing from the
    working folder. Raises ``FileNotFoundError`` saying how to write them. Chapter 10.
    """

    def __init__(self, root, *args, **kwargs):
        raise FileNotFoundError(
            f"airbench looked for its data files in {os.path.abspath(root)} and wanted "
            "to download CIFAR-10 (torchvision is not importable here). Write them "
            "from the book's copy with benchmarks.airbench_cpu.write_cifar10_pt(FOLDER)"
            " and run from FOLDER"
        )


def _install_torchvision_standin() -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
        del sys.modules[name]  # a half-imported torchvision left by the failed import
    tv = types.ModuleType("torchvision", "Stand-in (benchmarks.airbench_cpu).")
    transforms = types.ModuleType("torchvision.transforms", "Normalize only.")
    datasets = types.ModuleType("torchvision.datasets", "CIFAR10 raises.")
    transforms.Normalize = Normalize
    datasets.CIFAR10 = NoDownloadCIFAR10
    tv.transforms, tv.datasets, tv.IS_STANDIN = transforms, datasets, True
    sys.modules.update(
        {
            "torchvision": tv,
            "torchvision.transforms": transforms,
            "torchvision.datasets": datasets,
        }
    )


def torchvision_is_standin() -> bool:
    """True when ``torchvision`` in this process is the stand-in of change 4."""
    return getattr(sys.modules.get("torchvision"), "IS_STANDIN", False)


def import_airbench():
    """Import and return the ``airbench`` package (0.1.8), torchvision or not.

    Tries the real torchvision first; if it does not import (any exception), installs
    the stand-in of change 4. Raises ``ImportError`` naming the fix when PyTorch or
    airbench is missing, or when the installed airbench is not version 0.1.8 (the
    changes above were written against its source). Chapter 10.
    """
    try:
        import torch  # noqa: F401
    except ImportError as err:
        raise ImportError(f"PyTorch is not installed: {INSTALL_HINT}") from err
    if "airbench" not in sys.modules and not torchvision_is_standin():
        try:
            import torchvision  # noqa: F401
            import torchvision.transforms  # noqa: F401
        except Exception:  # ImportError, or RuntimeError from a mismatched build
            _install_torchvision_standin()
    try:
        version = importlib.metadata.version("airbench")
    except importlib.metadata.PackageNotFoundError as err:
        raise ImportError(f"airbench is not installed: {INSTALL_HINT}") from err
    if version != AIRBENCH_VERSION:
        raise ImportError(
            f"airbench {version} is installed, but benchmarks.airbench_cpu was written "
            f"against airbench {AIRBENCH_VERSION}: "
            f"pip install --no-deps airbench=={AIRBENCH_VERSION}"
        )
    import airbench

    return airbench


# ----------------------------------------------------------------- data files


def write_cifar10_pt(folder, train_size=None, test_size=None, data_dir=None) -> Path:
    """Write airbench's ``FOLDER/cifar10/train.pt`` and ``test.pt`` from the book's
    CIFAR-10.

    Each file is ``{"images": uint8 tensor (N, 32, 32, 3), "labels": int64 tensor (N,),
    "classes": the 10 class names}`` (torchvision's layout, which airbench's
    ``CifarLoader`` reads), made from :func:`utils.data.load_cifar10` (``CIFAR10_DIR``,
    ``data_dir`` or the Keras cache; never a download) with the same class-balanced
    subset for ``train_size`` / ``test_size`` (multiples of 10; ``None``: the whole
    split). Both files are written into a temporary folder renamed to ``cifar10`` only
    when complete (:func:`utils.data.staged_folder`), replacing an older one. Returns
    the ``cifar10`` folder. Raises :class:`utils.data.CIFAR10Error` when CIFAR-10 is not
    on disk or a size is bad, ``ImportError`` without PyTorch. Chapter 10.
    """
    from utils import data

    try:
        import torch
    except ImportError as err:
        raise ImportError(f"PyTorch is not installed: {INSTALL_HINT}") from err
    folder = data.as_path(folder, "folder")
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; give a folder for cifar10/")
    try:
        (x_train, y_train), (x_test, y_test) = data.load_cifar10(
            data_dir, subset=(train_size, test_size), verbose=False, download=False
        )
    except data.CIFAR10Error as err:
        raise data.CIFAR10Error(
            f"airbench's data files are written from the book's CIFAR-10 copy: {err}"
        ) from None
    target = folder / "cifar10"
    with data.staged_folder(target, ".cifar10-pt-") as staging:
        for name, x, y in (("train.pt", x_train, y_train), ("test.pt", x_test, y_test)):
            record = {
                "images": torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8)),
                "labels": torch.from_numpy(np.asarray(y).reshape(-1).astype(np.int64)),
                "classes": list(data.CIFAR10_CLASSES),
            }
            torch.save(record, staging / name)
    return target


# ----------------------------------------------------------------- the CPU redirects


class WallClockEvent:
    """Stand-in for ``torch.cuda.Event`` on a CPU (change 3): a wall-clock timestamp.

    ``record()`` stores ``time.perf_counter()``; ``start.elapsed_time(end)`` returns the
    milliseconds (float) between two recorded events, as CUDA events do. The
    constructor takes and ignores CUDA's options. Raises ``RuntimeError`` when either
    event was never recorded. Chapter 10.
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.seconds = None

    def record(self, stream=None) -> None:
        self.seconds = time.perf_counter()

    def synchronize(self) -> None:
        """Nothing to wait for on a CPU."""

    def elapsed_time(self, end: WallClockEvent) -> float:
        if self.seconds is None or end.seconds is None:
            raise RuntimeError("both events must be recorded before elapsed_time()")
        return 1000.0 * (end.seconds - self.seconds)


def _cpu_loader_class(base):
    """``base`` (airbench's CifarLoader) loading onto the CPU in float32 (change 2)."""
    import torch

    class CpuCifarLoader(base):
        def __init__(self, *args, **kwargs):
            kwargs["gpu"] = "cpu"  # torch.load(map_location=torch.device("cpu"))
            with mock.patch.object(torch.Tensor, "half", torch.Tensor.float):
                super().__init__(*args, **kwargs)

    CpuCifarLoader.__qualname__ = CpuCifarLoader.__name__ = "CpuCifarLoader"
    return CpuCifarLoader


@contextlib.contextmanager
def _module_stays_float32_on_cpu():
    """Change 1: ``nn.Module.half()`` and ``.cuda()`` leave the module as it is."""
    from torch import nn

    keep = lambda module, *args, **kwargs: module
    with (
        mock.patch.object(nn.Module, "half", keep),
        mock.patch.object(nn.Module, "cuda", keep),
    ):
        yield


@contextlib.contextmanager
def cpu_redirects(airbench):
    """Changes 2 and 3 for the length of the ``with`` block (undone on exit).

    ``airbench``: the package from :func:`import_airbench`. Yields the CPU loader class
    (use it for the training loader). Change 1 wraps each ``make_net94`` call instead
    (:func:`run_airbench94`). Chapter 10.
    """
    import torch

    loader = _cpu_loader_class(airbench.utils.CifarLoader)
    with (
        mock.patch.object(airbench.utils, "CifarLoader", loader),
        mock.patch.object(airbench.lib_airbench94, "CifarLoader", loader),
        mock.patch.object(torch.cuda, "Event", WallClockEvent),
        mock.patch.object(torch.cuda, "synchronize", lambda device=None: None),
    ):
        yield loader


# ----------------------------------------------------------------- knobs and a run


def airbench_knobs(airbench=None) -> dict:
    """airbench94's recipe as the package exposes it, under FastConfig's field names.

    From ``lib_airbench94.hyp`` and two signature defaults (``BatchNorm``'s ``eps``,
    ``init_whitening_conv``'s ``eps``). ``flip`` is ``"alternating"`` because the
    training loader here is built as ``train94`` builds its default one
    (``aug=hyp["aug"], altflip=True``). The learning-rate triangle (0.2 -> 1 at 23% ->
    0.07), the lookahead (every 5 steps, 0.95**5) and the 5,000 whitening images are
    written inside airbench's ``train`` and cannot be read as data. Returns a dict of
    JSON-ready values (``widths`` a list). Raises ``ImportError`` as
    :func:`import_airbench`. Chapter 10.
    """
    airbench = airbench or import_airbench()
    lib = airbench.lib_airbench94
    opt, net, aug = lib.hyp["opt"], lib.hyp["net"], lib.hyp["aug"]
    eps = lambda fn: inspect.signature(fn).parameters["eps"].default
    return {
        "widths": [net["widths"][k] for k in ("block1", "block2", "block3")],
        "epochs": opt["train_epochs"],
        "batch_size": opt["batch_size"],
        "lr": opt["lr"],
        "momentum": opt["momentum"],
        "weight_decay": opt["weight_decay"],
        "bias_scaler": opt["bias_scaler"],
        "label_smoothing": opt["label_smoothing"],
        "whiten_bias_epochs": opt["whiten_bias_epochs"],
        "whiten_eps": eps(airbench.utils.init_whitening_conv),
        "bn_momentum": net["batchnorm_momentum"],
        "bn_epsilon": eps(lib.BatchNorm.__init__),
        "head_scale": net["scaling_factor"],
        "translate": aug.get("translate", 0),
        "flip": "alternating" if aug.get("flip") else "none",
        "tta_level": net["tta_level"],
    }


@dataclass
class AirbenchRun:
    """What one airbench94 run measured (chapter 10); ``to_dict`` gives a JSON record.

    ``accuracy``: test accuracy in [0, 1] with airbench's TTA (``tta_level``);
    ``seconds``: airbench's timer (whitening + training + TTA evaluation);
    ``train_seconds``: the same without the final evaluation; ``images_per_second``:
    ``steps * batch_size / train_seconds``; ``epoch_accuracy``: ``[(epoch, accuracy
    without TTA), ...]`` (1-based, as airbench prints them, not timed);
    ``warmup_seconds``: the untimed warm-up; ``device``: ``"cpu"`` or the GPU's name;
    ``timer``: ``"cuda events"`` or ``"wall clock"``.
    """

    accuracy: float
    seconds: float
    train_seconds: float
    images_per_second: float
    steps: int
    batch_size: int
    tta_level: int
    warmup_seconds: float
    device: str
    timer: str
    epoch_accuracy: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


ROW_FIELDS = (
    "epoch",
    "train_loss",
    "val_acc",
    "tta_val_acc",
    "total_time_seconds",
    "current_steps",
)


def _row_recorder(rows: list, original):
    """Change 5: keep each printed row's numbers, then print it as airbench does."""

    def print_training_details(variables, is_final_entry):
        rows.append({k: variables.get(k) for k in ROW_FIELDS})
        return original(variables, is_final_entry)

    return print_training_details


def _check_recipe(widths, epochs, batch_size, lr, seed) -> None:
    ok_int = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    positive = lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v > 0
    if not (len(tuple(widths)) == 3 and all(ok_int(w) and w >= 1 for w in widths)):
        raise ValueError(f"widths must be three positive ints, got {widths!r}")
    if not (positive(epochs) and positive(lr)):
        raise ValueError(f"epochs and lr must be positive, got {epochs!r}, {lr!r}")
    if not (ok_int(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not ok_int(seed):
        raise ValueError(f"seed must be an int, got {seed!r}")


def _summarize_rows(rows, batch_size, tta_level, warmup, device, timer):
    final = rows[-1] if rows else {}
    epochs = [r for r in rows if isinstance(r["epoch"], int)]
    if final.get("epoch") != "eval" or not epochs:
        raise RuntimeError(
            "airbench's train() did not print its final 'eval' row: this adapter "
            f"reads the accuracy and time from it (airbench {AIRBENCH_VERSION})"
        )
    train_seconds = float(epochs[-1]["total_time_seconds"])
    steps = int(final["current_steps"])
    return AirbenchRun(
        accuracy=float(final["tta_val_acc"]),
        seconds=float(final["total_time_seconds"]),
        train_seconds=train_seconds,
        images_per_second=steps * batch_size / train_seconds,
        steps=steps,
        batch_size=batch_size,
        tta_level=tta_level,
        warmup_seconds=warmup,
        device=device,
        timer=timer,
        epoch_accuracy=[(r["epoch"] + 1, float(r["val_acc"])) for r in epochs],
    )


def run_airbench94(
    folder,
    *,
    widths=(64, 256, 256),
    epochs=9.9,
    batch_size=1024,
    lr=11.5,
    seed=0,
    device=None,
    quiet=False,
) -> AirbenchRun:
    """One warm-up and one timed airbench94 run of the published package.

    ``folder`` holds ``cifar10/train.pt`` and ``test.pt`` (:func:`write_cifar10_pt`).
    ``widths`` (3 ints), ``epochs``, ``batch_size`` and ``lr`` (per 1024 examples) are
    the recipe's knobs (defaults: airbench94's); every other knob is airbench's default
    (:func:`airbench_knobs`). ``device``: ``"cuda"`` (as published), ``"cpu"`` (changes
    1-3), or ``None`` (the GPU when PyTorch sees one). ``torch.manual_seed(seed)`` is
    set after the warm-up. ``quiet`` hides airbench's table. Returns an
    :class:`AirbenchRun`. Raises ``FileNotFoundError`` without the data files,
    ``ValueError`` for a bad knob, a device other than cpu/cuda, or fewer than
    :data:`MIN_STEPS` training steps (airbench's schedule needs 5), ``ImportError`` as
    :func:`import_airbench`. Chapter 10.
    """
    airbench = import_airbench()
    import torch

    _check_recipe(widths, epochs, batch_size, lr, seed)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or None, got {device!r}")
    folder = Path(folder).expanduser().resolve()
    missing = [
        n for n in ("train.pt", "test.pt") if not (folder / "cifar10" / n).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{folder / 'cifar10'} lacks {', '.join(missing)}: write them first with "
            "benchmarks.airbench_cpu.write_cifar10_pt(folder)"
        )
    widths = {k: int(w) for k, w in zip(("block1", "block2", "block3"), widths)}
    on_cpu = device == "cpu"

    def make_net():
        if not on_cpu:
            return airbench.make_net94(widths=widths)
        with _module_stays_float32_on_cpu():
            return airbench.make_net94(widths=widths)

    rows: list = []
    recorder = _row_recorder(rows, airbench.utils.print_training_details)
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.chdir(folder))
        if quiet:
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        stack.enter_context(
            mock.patch.object(airbench.utils, "print_training_details", recorder)
        )
        loader_class = (
            stack.enter_context(cpu_redirects(airbench))
            if on_cpu
            else airbench.CifarLoader
        )
        aug = airbench.lib_airbench94.hyp["aug"]
        loader = loader_class("cifar10", batch_size=batch_size, aug=aug, altflip=True)
        steps = math.ceil(len(loader) * epochs)
        if steps < MIN_STEPS:
            raise ValueError(
                f"{len(loader.images)} training images at batch {batch_size} for "
                f"{epochs:g} epochs is {steps} steps; airbench's learning-rate "
                f"schedule needs at least {MIN_STEPS}: more epochs or a smaller batch"
            )
        kwargs = {"epochs": epochs, "learning_rate": lr, "make_net": make_net}
        start = time.perf_counter()
        airbench.warmup94(loader, **kwargs)
        if not on_cpu:
            torch.cuda.synchronize()
        warmup = time.perf_counter() - start
        rows.clear()
        torch.manual_seed(seed)
        airbench.train94(loader, **kwargs)
    name = "cpu" if on_cpu else torch.cuda.get_device_name(0)
    timer = "wall clock" if on_cpu else "cuda events"
    tta = airbench.lib_airbench94.hyp["net"]["tta_level"]
    return _summarize_rows(rows, batch_size, tta, warmup, name, timer)
