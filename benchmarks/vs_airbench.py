"""Our Keras airbench94 port against the published airbench94, side by side.

Chapter 10 (fast CIFAR-10 training) ports Keller Jordan's airbench94
(github.com/KellerJordan/cifar10-airbench, arXiv:2404.00498) to Keras 3. This command
trains the port (:class:`utils.fast.FastTrainer`) and the PyPI package ``airbench``
0.1.8 (:mod:`benchmarks.airbench_cpu`) on the same data with the same recipe and seeds:

    python -m benchmarks.vs_airbench --profile cpu --runs 3
    python -m benchmarks.vs_airbench --profile cpu --runs 3 \\
        --json results/vs_airbench/NAME.json
    python -m benchmarks.vs_airbench --profile quick --runs 1 --train-size 1000 \\
        --test-size 500 --epochs 1 --batch-size 100 --widths 8,16,16   # a smoke test

- Same data: the class-balanced subset of :func:`utils.data.load_cifar10` that our side
  loads is what airbench's ``cifar10/train.pt`` and ``test.pt`` hold (written once, in a
  temporary folder, before the first run).
- Same recipe: widths, epochs, batch size and learning rate from ``PROFILES[profile]``
  (with the overrides); every other knob is each side's default, and airbench94's
  defaults are FastConfig's defaults: the command checks the ones airbench exposes
  (:func:`benchmarks.airbench_cpu.airbench_knobs`) before anything trains.
- Same seeds: pair ``i`` runs both sides with ``seed + i``.
- Alternating runs, each in a fresh process: ours, airbench, ours, airbench, ... so that
  a drift in the machine's load hits both sides, TensorFlow and PyTorch never share a
  process, and each run's peak resident memory (``ru_maxrss`` of its own process:
  imports, data, warm-up and run) is its own.
- Each side's own warm-up and timer: ours compiles with ``FastTrainer.warmup`` (not
  timed) and times whitening + training + TTA evaluation in ``FastTrainer.run``;
  airbench warms up with ``warmup94`` (one step, not timed) and its ``train`` times the
  same three parts. Both evaluate with TTA level 2.

Prints a line per run (side, accuracy, timed seconds, training images/s, peak memory)
and, while a run lasts, a progress line every ``--progress-every`` seconds; then per
side the mean +- std accuracy, mean seconds, images/s and peak memory, and the ratios
ours/airbench. Every option and the environment (PyTorch, airbench, CIFAR-10, the
``--json`` folder) are checked before anything trains (exit status 2 with a message).
``--json PATH`` writes a record: command, configuration, every run, the summary and the
ratios, versions, hardware, thread counts and date.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.airbench_cpu import (
    AIRBENCH_VERSION,
    INSTALL_HINT,
    MIN_STEPS,
    SHARED_KNOBS,
)
from utils import env
from utils.cli import (
    add_recipe_overrides,
    json_path,
    non_negative_float,
    non_negative_int,
    positive_int,
)

PROG = "python -m benchmarks.vs_airbench"
ROOT = Path(__file__).resolve().parents[1]
SIDES = ("ours", "airbench")
LABELS = {"ours": "ours (Keras)", "airbench": "airbench (PyTorch)"}
FULL_SIZES = (50000, 10000)
CONVENTIONS = {
    "ours": "FastTrainer.warmup() compiles the steps (not timed); FastTrainer.run "
    "times the whitening init, the training and the final TTA evaluation with "
    "time.perf_counter after a device sync",
    "airbench": "warmup94 (network, whitening, one training step; not timed); "
    "train94's own timer (CUDA events on a GPU, the wall clock on a CPU) covers the "
    "whitening init, the training and the final TTA evaluation, not its per-epoch "
    "accuracy",
    "images_per_second": "training steps x batch size / the timed seconds without the "
    "final evaluation",
    "peak_rss_bytes": "resource.getrusage(RUSAGE_SELF).ru_maxrss of the run's own "
    "process (imports, data, warm-up and run), in bytes",
}


def recipe():
    """The module ``utils.fast.recipe``: ``PROFILES``, ``PROFILE_DATA``, ``FastConfig``.

    Read from its file without importing ``utils.fast``, whose ``__init__`` imports
    Keras and TensorFlow (13 s and 0.8 GB on the 2-core machine): this process only
    reads the profiles, and each run imports what it needs in its own process. When
    ``utils.fast`` is already imported, returns that module. Chapter 10.
    """
    if "utils.fast.recipe" in sys.modules:
        return sys.modules["utils.fast.recipe"]
    name = "benchmarks._recipe"
    if name not in sys.modules:
        path = ROOT / "utils" / "fast" / "recipe.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while building
        spec.loader.exec_module(module)
    return sys.modules[name]


# option types: utils.cli (shared with utils.fast.bench)


# --------------------------------------------------------------------- arguments


def _parser() -> argparse.ArgumentParser:
    profiles = recipe().PROFILES
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Train the chapter 10 Keras port of airbench94 and the published "
        f"airbench {AIRBENCH_VERSION} (PyTorch) on the same data, recipe and seeds, "
        "alternating, each run in its own process; print both sides and the ratios.",
        epilog="Needs torch and airbench: pip install -r requirements-bench.txt. Data "
        "come from $CIFAR10_DIR or the Keras cache (never downloaded). On a CPU "
        "airbench's CUDA calls are redirected (benchmarks.airbench_cpu).",
    )
    add = p.add_argument
    add("--profile", choices=sorted(profiles), default="cpu", help="recipe and data")
    add("--runs", type=positive_int, default=3, help="runs per side (default 3)")
    add(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of pair 0; pair i uses seed+i",
    )
    add_recipe_overrides(p)
    add(
        "--jit",
        choices=("auto", "on", "off"),
        default="auto",
        help="our side: XLA compilation of the step (auto: off on a CPU, on a GPU "
        "without op determinism; benchmarks.levers measures it)",
    )
    add(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
        default="auto",
        help="our side's Keras dtype policy (auto: float32 on a CPU)",
    )
    add(
        "--inter-op-threads",
        type=non_negative_int,
        default=0,
        help="our side: ops TensorFlow may run at once (0: its default, one per core)",
    )
    add(
        "--progress-every",
        type=non_negative_float,
        default=60.0,
        help="seconds between progress lines during a run (0: none; default 60)",
    )
    add(
        "--json",
        type=json_path,
        help="write a record to this file, e.g. results/vs_airbench/NAME.json",
    )
    return p


def config_from_args(args):
    """The profile's ``FastConfig`` with the overrides: both sides train this recipe.

    Raises ``ValueError`` (from ``FastConfig``) for a combination it refuses.
    """
    return recipe().profile_config(
        args.profile,
        epochs=args.epochs,
        widths=args.widths,
        lr=args.lr,
        batch_size=args.batch_size,
    )


def data_sizes(args) -> tuple[int, int]:
    """``(training images, test images)``: the profile's, then the overrides."""
    return recipe().profile_data(args.profile, args.train_size, args.test_size)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check every option (exit status 2 with a message on a bad one)."""
    p = _parser()
    args = p.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as err:
        p.error(str(err))
    if args.inter_op_threads and os.environ.get("KERAS_BACKEND", "tensorflow") != (
        "tensorflow"
    ):
        p.error(
            f"--inter-op-threads {args.inter_op_threads} sets TensorFlow's threads; "
            f"KERAS_BACKEND is {os.environ['KERAS_BACKEND']}: leave the option out or "
            "run with KERAS_BACKEND=tensorflow"
        )
    n_train, _ = data_sizes(args)
    if cfg.batch_size > n_train:
        p.error(
            f"--batch-size {cfg.batch_size} is larger than the training set ({n_train} "
            "images): lower --batch-size or raise --train-size"
        )
    steps = cfg.total_steps(n_train)
    if steps < MIN_STEPS:
        p.error(
            f"{n_train} images at batch {cfg.batch_size} for {cfg.epochs:g} epochs is "
            f"{steps} training steps; airbench's learning-rate schedule needs at least "
            f"{MIN_STEPS}: raise --epochs or --train-size, or lower --batch-size"
        )
    return args


def preflight() -> None:
    """Check what the runs need besides options: PyTorch, airbench 0.1.8, CIFAR-10.

    Imports neither PyTorch nor TensorFlow. Exits with status 2 and a message naming
    the fix when something is missing.
    """
    p = _parser()
    if importlib.util.find_spec("torch") is None:
        p.error(f"PyTorch is not installed: {INSTALL_HINT}")
    try:
        version = importlib.metadata.version("airbench")
    except importlib.metadata.PackageNotFoundError:
        p.error(f"airbench is not installed: {INSTALL_HINT}")
    if version != AIRBENCH_VERSION:
        p.error(
            f"airbench {version} is installed; this benchmark needs {AIRBENCH_VERSION}:"
            f" pip install --no-deps airbench=={AIRBENCH_VERSION}"
        )
    from utils import data

    try:
        folder, source = data.locate_cifar10(download=False)
    except data.CIFAR10Error as err:
        p.error(str(err))
    missing = [
        f for f in (*data.TRAIN_FILES, data.TEST_FILE) if not (folder / f).is_file()
    ]
    if missing:
        p.error(
            f"CIFAR-10 folder {folder} (from {source}) lacks {', '.join(missing)}. "
            f"{data.HOW_TO_GET}"
        )


# --------------------------------------------------------------------- arithmetic


def knob_mismatches(config: dict, knobs: dict) -> list[str]:
    """The shared knobs on which our config and airbench's defaults disagree.

    ``config``: ``FastConfig.to_dict()``; ``knobs``: :func:`benchmarks.airbench_cpu.
    airbench_knobs`. Numbers are compared to a relative 1e-12. Returns one sentence per
    disagreement (empty when they agree). Raises ``KeyError`` naming a knob missing from
    either dict.
    """
    problems = []
    for name in SHARED_KNOBS:
        ours, theirs = config[name], knobs[name]
        if isinstance(ours, str) or isinstance(theirs, str):
            same = ours == theirs
        else:
            same = math.isclose(float(ours), float(theirs), rel_tol=1e-12)
        if not same:
            problems.append(f"{name}: ours {ours!r}, airbench's {theirs!r}")
    return problems


RUN_FIELDS = ("side", "accuracy", "seconds", "images_per_second", "peak_rss_bytes")


def summarize_runs(runs) -> dict:
    """Per-side statistics and the ratios ours/airbench, from a list of run records.

    Each run is a dict with at least ``side`` ("ours" or "airbench"), ``accuracy`` (a
    fraction in [0, 1]), ``seconds`` (> 0, the timed region), ``images_per_second``
    and ``peak_rss_bytes``. Returns ``{"sides": {side: {runs, accuracy_mean,
    accuracy_std (sample std, 0 for one run), seconds_mean, seconds_std,
    images_per_second_mean, peak_rss_bytes_max}}, "ratios": {"seconds",
    "images_per_second", "peak_rss"} (ours / airbench: a time ratio below 1 and an
    images/s ratio above 1 mean ours is faster), "accuracy_difference_points": 100 *
    (ours' mean - airbench's mean)}``. Raises ``ValueError`` for a run without those
    fields, an unknown side, a side with no runs, or a non-positive time, rate or
    memory (a ratio needs them). Chapter 10.
    """
    by_side = {side: [] for side in SIDES}
    for i, run in enumerate(runs):
        missing = [f for f in RUN_FIELDS if f not in run]
        if missing:
            raise ValueError(f"run {i} lacks {missing}")
        if run["side"] not in by_side:
            raise ValueError(f"run {i} has side {run['side']!r}; expected {SIDES}")
        for f in RUN_FIELDS[2:]:
            if not (math.isfinite(run[f]) and run[f] > 0):
                raise ValueError(f"run {i}: {f} must be positive, got {run[f]!r}")
        by_side[run["side"]].append(run)
    sides = {}
    for side, rows in by_side.items():
        if not rows:
            raise ValueError(f"no {side} runs to compare")
        col = lambda f, rows=rows: np.array([r[f] for r in rows], dtype=float)
        std = lambda v: float(v.std(ddof=1)) if v.size > 1 else 0.0
        sides[side] = {
            "runs": len(rows),
            "accuracy_mean": float(col("accuracy").mean()),
            "accuracy_std": std(col("accuracy")),
            "seconds_mean": float(col("seconds").mean()),
            "seconds_std": std(col("seconds")),
            "images_per_second_mean": float(col("images_per_second").mean()),
            "peak_rss_bytes_max": int(col("peak_rss_bytes").max()),
        }
    ours, theirs = sides["ours"], sides["airbench"]
    ratio = lambda f: ours[f] / theirs[f]
    return {
        "sides": sides,
        "ratios": {
            "seconds": ratio("seconds_mean"),
            "images_per_second": ratio("images_per_second_mean"),
            "peak_rss": ratio("peak_rss_bytes_max"),
        },
        "accuracy_difference_points": 100
        * (ours["accuracy_mean"] - theirs["accuracy_mean"]),
    }


def peak_record(measured: dict, summary: dict) -> dict:
    """The record's ``peak`` field: the measured float32 matrix-multiply peak, the
    network's forward MACs per image, and per side the fraction of the peak its
    training reached (:func:`benchmarks.peak.peak_fraction` of the side's mean training
    images/s). ``measured`` is the ``peak`` job's result, ``summary`` is
    :func:`summarize_runs`'s. Chapter 10, issue 30."""
    from benchmarks.peak import peak_fraction

    macs, flops = measured["forward_macs_per_image"], measured["matmul"]["peak_flops"]
    return {
        "matmul": measured["matmul"],
        "forward_macs_per_image": macs,
        "training_flop_per_image": 6 * macs,
        "fraction_of_peak": {
            side: peak_fraction(macs, row["images_per_second_mean"], flops)
            for side, row in summary["sides"].items()
        },
    }


def format_peak(peak: dict) -> str:
    """One line: the matmul peak, its library, and each side's fraction of it."""
    m = peak["matmul"]
    shares = ", ".join(f"{s} {f:.0%}" for s, f in peak["fraction_of_peak"].items())
    return (
        f"float32 matmul peak {m['peak_flops'] / 1e9:.0f} GFLOP/s ({m['library']}, "
        f"{m['n']}x{m['n']}); training at 6 x "
        f"{peak['forward_macs_per_image'] / 1e6:.1f} M MACs an image reaches: {shares}"
    )


def format_run(run: dict, index: int, total: int) -> str:
    """One line per run: side, seed, accuracy with TTA, timed s, images/s, peak
    memory."""
    return (
        f"[{index}/{total}] {LABELS[run['side']]:<18} seed {run['seed']}: accuracy "
        f"{100 * run['accuracy']:.2f}% (TTA {run['tta_level']})  timed "
        f"{run['seconds']:.1f} s  {run['images_per_second']:,.0f} images/s  peak RSS "
        f"{run['peak_rss_bytes'] / 1e9:.2f} GB  (process {run['wall_seconds']:.0f} s)"
    )


def format_record(rec: dict) -> str:
    """A committed ``--json`` record as chapter 10 prints it: the command, the recipe
    and data, the machine (load, date, the CPU's model and flags when recorded), the
    per-side table with the ratios, and the peak line when the record has one (with a
    note when our side ran in bfloat16, counted against the float32 peak). Chapter
    10. Raises ``KeyError`` for a dict that is not a record of this command."""
    cfg, hw = rec["config"], rec["hardware"]
    widths = "/".join(map(str, cfg["widths"]))
    load = hw["load_average"]  # at the start and the end of the benchmark
    lines = [
        rec["command"],
        f"recipe: widths {widths}, {cfg['epochs']:g} epochs, batch "
        f"{cfg['batch_size']}, lr {cfg['lr']:g}; {rec['data']['train_images']:,} "
        f"training and {rec['data']['test_images']:,} test images",
        f"{hw['description']}, load {load['start']} -> {load['end']}, {rec['date']}",
    ]
    if "cpu" in hw:  # the CPU's model and the flags that change its kernels
        lines.append(f"{hw['cpu']['model']}: {', '.join(hw['cpu']['isa'])}")
    summary = {
        "sides": rec["summary"],
        "ratios": rec["ratios"],
        "accuracy_difference_points": rec["accuracy_difference_points"],
    }
    lines.append(format_summary(summary))
    if "peak" in rec:  # records made since the peak was measured carry it
        lines.append(format_peak(rec["peak"]))
        if rec.get("ours_levers", {}).get("precision") == "mixed_bfloat16":
            lines.append(
                "(our side in bfloat16: a share of the float32 peak, may pass 100%)"
            )
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """The per-side table and the ratios ours/airbench (GB = 10^9 bytes)."""
    lines = [
        f"{'side':<18} {'runs':>4}  {'accuracy (TTA)':>16}  {'timed s':>8}  "
        f"{'images/s':>9}  {'peak RSS':>9}"
    ]
    for side, s in summary["sides"].items():
        acc = f"{100 * s['accuracy_mean']:.2f} +- {100 * s['accuracy_std']:.2f}%"
        lines.append(
            f"{LABELS[side]:<18} {s['runs']:>4}  {acc:>16}  {s['seconds_mean']:>8.1f}  "
            f"{s['images_per_second_mean']:>9,.0f}  "
            f"{s['peak_rss_bytes_max'] / 1e9:>6.2f} GB"
        )
    r = summary["ratios"]
    lines.append(
        f"ours / airbench: time {r['seconds']:.2f}x, images/s "
        f"{r['images_per_second']:.2f}x, peak memory {r['peak_rss']:.2f}x; accuracy "
        f"{summary['accuracy_difference_points']:+.2f} points"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------- the workers


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far, in bytes (``ru_maxrss``)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux: KiB


def _subset(sizes) -> tuple:
    # the whole split is loaded as it is (no copy), a smaller one balanced
    return tuple(None if n == full else n for n, full in zip(sizes, FULL_SIZES))


def _prepare(spec: dict) -> dict:
    from benchmarks import airbench_cpu

    airbench = airbench_cpu.import_airbench()
    import torch

    airbench_cpu.write_cifar10_pt(spec["folder"], *_subset(spec["sizes"]))
    return {
        "knobs": airbench_cpu.airbench_knobs(airbench),
        "versions": {"torch": torch.__version__, "airbench": AIRBENCH_VERSION},
        "torchvision_standin": airbench_cpu.torchvision_is_standin(),
    }


def _fast_config(spec: dict):
    """The spec's recipe as our FastConfig (JSON turned the widths into a list)."""
    from utils.fast import FastConfig

    return FastConfig(**{**spec["config"], "widths": tuple(spec["config"]["widths"])})


#: our side's levers when the command line sets none (benchmarks.levers measures them)
OURS_DEFAULTS = {"jit": "auto", "precision": "auto", "inter_op_threads": 0}


def ours_levers(args) -> dict:
    """Our side's levers from the options: ``{"jit", "precision",
    "inter_op_threads"}`` (the keys of :data:`OURS_DEFAULTS`). Chapter 10."""
    return {
        "jit": args.jit,
        "precision": args.precision,
        "inter_op_threads": args.inter_op_threads,
    }


def _run_ours(spec: dict) -> dict:
    from utils import data, env
    from utils.fast import FastTrainer
    from utils.fast.records import versions

    cfg, levers = _fast_config(spec), spec.get("ours_levers", OURS_DEFAULTS)
    if levers["inter_op_threads"] and env.keras_backend() == "tensorflow":
        import tensorflow as tf  # before TensorFlow's first op

        tf.config.threading.set_inter_op_parallelism_threads(levers["inter_op_threads"])
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(
        subset=_subset(spec["sizes"]), verbose=False, download=False
    )
    jit = {"auto": "auto", "on": True, "off": False}[levers["jit"]]
    trainer = FastTrainer(cfg, jit=jit, precision=levers["precision"])
    warmup = trainer.warmup()
    train, test = trainer.to_device(x_train, y_train), trainer.to_device(x_test, y_test)
    del x_train, y_train, x_test, y_test
    result, _ = trainer.run(train, test, seed=spec["seed"])
    threads = {"cpu_count": os.cpu_count()}
    if env.keras_backend() == "tensorflow":
        import tensorflow as tf

        threads["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        threads["tf_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads()
        threads["note"] = "0 is TensorFlow's default: one thread per core"
        threads["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return {
        **result.to_dict(),
        "tta_level": cfg.tta_level,
        "warmup_seconds": warmup,
        "precision": trainer.precision,
        "jit": trainer.jit,
        "device": env.device_description(),
        "fingerprint": env.fingerprint(),
        "versions": versions(),
        "threads": threads,
    }


def _run_airbench(spec: dict) -> dict:
    from benchmarks import airbench_cpu

    airbench_cpu.import_airbench()
    import torch

    cfg = spec["config"]
    result = airbench_cpu.run_airbench94(
        spec["folder"],
        widths=tuple(cfg["widths"]),
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        seed=spec["seed"],
    )
    threads = {
        "cpu_count": os.cpu_count(),
        "torch_intra_op": torch.get_num_threads(),
        "torch_inter_op": torch.get_num_interop_threads(),
    }
    return {**result.to_dict(), "threads": threads}


def _measure_peak(spec: dict) -> dict:
    from benchmarks.peak import measure_peak
    from utils.fast import build_fast_model
    from utils.layer_cost import model_macs

    cfg = _fast_config(spec)
    return {
        "matmul": measure_peak(),
        "forward_macs_per_image": model_macs(build_fast_model(cfg)),
    }


WORKERS = {
    "prepare": _prepare,
    "ours": _run_ours,
    "airbench": _run_airbench,
    "peak": _measure_peak,
}


def worker(job: str, spec_file: str, out_file: str) -> int:
    """The body of one child process: run ``job`` on the JSON spec, write JSON out.

    ``job`` is ``prepare`` (write airbench's data files, read its knobs), ``ours`` or
    ``airbench`` (one warm-up and one timed run), or ``peak`` (the machine's float32
    matrix-multiply peak and the network's forward MACs, :mod:`benchmarks.peak`). The
    result gets this process's ``peak_rss_bytes``. Returns 0; raises ``KeyError`` for
    an unknown job.
    """
    spec = json.loads(Path(spec_file).read_text())
    result = WORKERS[job](spec)
    result["peak_rss_bytes"] = peak_rss_bytes()
    Path(out_file).write_text(json.dumps(result, indent=1) + "\n")
    return 0


class RunFailed(RuntimeError):
    """A child process failed; its traceback is above in the output."""


def _child(job, spec, workdir, label, every, expected=None) -> dict:
    """Run :func:`worker` in a fresh Python; progress lines every ``every`` seconds."""
    spec_file, out_file = workdir / f"{job}-spec.json", workdir / f"{job}-out.json"
    spec_file.write_text(json.dumps(spec))
    out_file.unlink(missing_ok=True)
    code = (
        "import sys; from benchmarks.vs_airbench import worker; "
        "sys.exit(worker(*sys.argv[1:]))"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, job, str(spec_file), str(out_file)],
        cwd=ROOT,
        env=env,
    )
    try:
        while True:
            try:
                proc.wait(timeout=every or None)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.perf_counter() - start
                left = (
                    f", about {max(0.0, expected - elapsed):.0f} s left (as the last "
                    "run of this side)"
                    if expected
                    else ""
                )
                print(f"    ... {label}: {elapsed:.0f} s so far{left}", flush=True)
    except BaseException:  # Ctrl-C: stop our own child, then stop
        proc.terminate()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RunFailed(f"{label} failed (exit status {proc.returncode}); see above")
    result = json.loads(out_file.read_text())
    result["wall_seconds"] = time.perf_counter() - start
    return result


# --------------------------------------------------------------------- main


def _record(argv, args, cfg, sizes, prepared, runs, summary, load) -> dict:
    ours = next(r for r in runs if r["side"] == "ours")
    theirs = next(r for r in runs if r["side"] == "airbench")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    prefix = "" if backend == "tensorflow" else f"KERAS_BACKEND={backend} "
    keep = ("versions", "threads", "fingerprint")
    return {
        "kind": "vs_airbench",
        "command": prefix + " ".join([PROG, *argv]),
        "argv": list(argv),
        "env": {"KERAS_BACKEND": backend},
        "profile": args.profile,
        "config": cfg.to_dict(),
        "ours_levers": ours_levers(args),
        "airbench_knobs": prepared["knobs"],
        "data": {"train_images": sizes[0], "test_images": sizes[1]},
        "conventions": CONVENTIONS,
        "order": [r["side"] for r in runs],
        "runs": [{k: v for k, v in r.items() if k not in keep} for r in runs],
        "summary": summary["sides"],
        "ratios": summary["ratios"],
        "accuracy_difference_points": summary["accuracy_difference_points"],
        "versions": {
            **ours["versions"],
            **prepared["versions"],
            "python": platform.python_version(),
        },
        "torchvision_standin": prepared["torchvision_standin"],
        "hardware": {
            "description": f"{ours['device']}, {backend} backend",
            "cpu": env.cpu_info(),  # model, cores and the kernel-relevant flags
            "airbench_device": theirs["device"],
            "fingerprint": ours["fingerprint"],
            "load_average": load,
        },
        "threads": {"ours": ours["threads"], "airbench": theirs["threads"]},
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def main(argv=None) -> int:
    """Run the side-by-side benchmark; returns 0, or 1 when a run or a check failed."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    preflight()
    cfg, sizes = config_from_args(args), data_sizes(args)
    config = cfg.to_dict()
    total = 2 * args.runs
    print(
        f"profile {args.profile}: widths {cfg.widths}, {cfg.epochs:g} epochs, batch "
        f"{cfg.batch_size}, lr {cfg.lr:g}; {sizes[0]:,} training / {sizes[1]:,} test "
        f"images; {args.runs} run(s) per side, alternating, seeds {args.seed}.."
        f"{args.seed + args.runs - 1}",
        flush=True,
    )
    load_start, runs, last = env.load_average(), [], {}
    try:
        with tempfile.TemporaryDirectory(prefix="vs-airbench-") as tmp:
            workdir = Path(tmp)
            spec = {"folder": str(workdir), "sizes": list(sizes), "config": config}
            spec["ours_levers"] = ours_levers(args)
            prepared = _child("prepare", spec, workdir, "data files", 0)
            problems = knob_mismatches(config, prepared["knobs"])
            if problems:
                print(
                    "the recipes differ beyond widths/epochs/batch/lr: "
                    + "; ".join(problems),
                    file=sys.stderr,
                )
                return 1
            print(
                f"airbench's data files written; its defaults equal ours on the "
                f"{len(SHARED_KNOBS)} other knobs ({', '.join(SHARED_KNOBS[:3])}, ...)"
                + (", torchvision stand-in" if prepared["torchvision_standin"] else ""),
                flush=True,
            )
            for i in range(total):
                side, seed = SIDES[i % 2], args.seed + i // 2
                label = f"[{i + 1}/{total}] {LABELS[side]}, seed {seed}"
                print(f"{label}: started", flush=True)
                run = _child(
                    side,
                    {**spec, "seed": seed},
                    workdir,
                    label,
                    args.progress_every,
                    last.get(side),
                )
                run.update(side=side, seed=seed, pair=i // 2)
                last[side] = run["wall_seconds"]
                runs.append(run)
                print(format_run(run, i + 1, total), flush=True)
            # after the runs, on the same cores: the ceiling they are measured against
            measured = _child("peak", spec, workdir, "matmul peak", 0)
    except RunFailed as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    summary = summarize_runs(runs)
    print(format_summary(summary))
    peak = peak_record(measured, summary)
    print(format_peak(peak))
    ours = next(r for r in runs if r["side"] == "ours")
    print(f"hardware: {ours['device']}   software: {ours['fingerprint']}")
    if args.json:
        load = {"start": load_start, "end": env.load_average()}
        record = _record(argv, args, cfg, sizes, prepared, runs, summary, load)
        record["peak"] = peak
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
