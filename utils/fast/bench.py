"""Benchmark the fast CIFAR-10 trainer of chapter 9 from the command line.

    python -m utils.bench --runs 5 --profile full       # airbench94 on a GPU (the 94% target)
    python -m utils.bench --runs 1 --profile cpu        # the narrow CPU variant on all 50,000 images
    python -m utils.bench --runs 1 --profile quick      # what the chapter's QUICK run trains

Prints each run's test accuracy (with test-time augmentation), the mean and standard
deviation, the time to the target accuracy (the run's timed seconds if it reached the target,
else "not reached"), training images per second, the compile time (measured by a warm-up run
and kept out of the timed region) and the hardware. ``--json FILE`` also stores the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# Hide TensorFlow's C++ start-up logs (its oneDNN kernels stay on: they are faster on a CPU).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# Results measured on the book's build machine with the commands shown (chapter 9 prints this table).
# "load" is the 1-minute load average when the run ended: the machine's 2 cores were shared with other jobs.
RECORDED = [
    {
        "profile": "cpu",
        "command": "python -m utils.bench --profile cpu --epochs 14 --runs 1 --target 88 --track-epochs",
        "config": "widths 32/64/128, 14 epochs, batch 512, lr 9.0, 50,000 / 10,000 images",
        "accuracy": 0.8791,
        "seconds": 561.5,
        "images_per_second": 1267,
        "compile_seconds": 3.1,
        "target": 88.0,
        "time_to_target": None,
        "per_epoch": [0.557, 0.701, 0.693, 0.700, 0.704, 0.674, 0.740, 0.783, 0.799, 0.817, 0.808, 0.834, 0.857, 0.866],
        "hardware": "CPU (2 cores, x86_64), TensorFlow 2.21 backend",
        "load": "about 1 (this run alone)",
    },
    {
        "profile": "cpu",
        "command": "python -m utils.bench --profile cpu --runs 1 --track-epochs --target 88",
        "config": "widths 32/64/128, 8 epochs, batch 512, lr 9.0, 50,000 / 10,000 images",
        "accuracy": 0.8678,
        "seconds": 1574.9,
        "images_per_second": 255,
        "compile_seconds": 41.5,
        "target": 88.0,
        "time_to_target": None,
        "per_epoch": [0.466, 0.596, 0.702, 0.724, 0.793, 0.784, 0.824, 0.851],
        "hardware": "CPU (2 cores, x86_64), TensorFlow 2.21 backend",
        "load": "9-13",
    },
    {
        "profile": "cpu",
        "command": "python -m utils.bench --profile cpu --epochs 12 --runs 1 --target 88",
        "config": "widths 32/64/128, 12 epochs, batch 512, lr 9.0, 50,000 / 10,000 images",
        "accuracy": 0.8732,
        "seconds": 482.6,
        "images_per_second": 1267,
        "compile_seconds": 2.9,
        "target": 88.0,
        "time_to_target": None,
        "hardware": "CPU (2 cores, x86_64), TensorFlow 2.21 backend",
        "load": "about 2 (this run alone)",
    },
    {
        "profile": "quick",
        "command": "python -m utils.bench --profile quick --train-size 24000 --test-size 2000 --batch-size 128 "
        "--lr 11.5 --epochs 2 --track-epochs --target 68.4",
        "config": "widths 32/64/128, 2 epochs, batch 128, lr 11.5, 24,000 / 2,000 images",
        "accuracy": 0.715,
        "seconds": 135.9,
        "images_per_second": 367,
        "compile_seconds": 21.2,
        "target": 68.4,
        "time_to_target": 135.9,
        "hardware": "CPU (2 cores, x86_64), TensorFlow 2.21 backend",
        "load": "6-10",
    },
    {
        "profile": "quick",
        "command": "KERAS_BACKEND=jax python -m utils.bench --profile quick --train-size 2560 --test-size 1000 "
        "--batch-size 128 --epochs 2 --track-epochs",
        "config": "widths 32/64/128, 2 epochs, batch 128, lr 9.0, 2,560 / 1,000 images (a JAX smoke test)",
        "accuracy": 0.372,
        "seconds": 113.1,
        "images_per_second": 51,
        "compile_seconds": 42.7,
        "target": 94.0,
        "time_to_target": None,
        "hardware": "CPU (2 cores, x86_64), JAX 0.10.2 backend (XLA)",
        "load": "10",
    },
]


def parse_args(argv=None) -> argparse.Namespace:
    from utils.fast import PROFILES

    p = argparse.ArgumentParser(
        prog="python -m utils.bench",
        description="Time the chapter 9 fast CIFAR-10 trainer (a Keras 3 port of airbench94).",
        epilog="The 'full' profile needs a GPU (use --allow-cpu to force it on a CPU, very slowly). "
        "Data come from $CIFAR10_DIR or the Keras cache (see utils.data.load_cifar10).",
    )
    p.add_argument("--runs", type=int, default=1, help="number of timed training runs (default 1)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu", help="recipe and data size (default cpu)")
    p.add_argument("--allow-cpu", action="store_true", help="let --profile full run without a GPU")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                   help="Keras dtype policy (auto: bf16 on Ampere or newer, fp16 on older GPUs, fp32 on a CPU)")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto",
                   help="XLA compilation of the steps (auto: on with a GPU; JAX always compiles)")
    p.add_argument("--target", type=float, default=94.0, help="accuracy target in percent (default 94)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first run; run i uses seed+i")
    p.add_argument("--epochs", type=float, default=None, help="override the profile's epochs")
    p.add_argument("--widths", default=None, help="override the profile's widths, e.g. 32,64,128")
    p.add_argument("--lr", type=float, default=None, help="override the profile's (decoupled) learning rate")
    p.add_argument("--batch-size", type=int, default=None, help="override the profile's batch size")
    p.add_argument("--train-size", type=int, default=None, help="use a balanced subset of this many training images")
    p.add_argument("--test-size", type=int, default=None, help="use a balanced subset of this many test images")
    p.add_argument("--track-epochs", action="store_true", help="also print the accuracy (no TTA) after each epoch")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def config_from_args(args):
    """The profile's :class:`utils.fast.FastConfig` with the command-line overrides applied."""
    from utils.fast import PROFILES

    cfg = PROFILES[args.profile]
    changes = {}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.widths is not None:
        try:
            changes["widths"] = tuple(int(w) for w in args.widths.split(","))
        except ValueError:
            raise ValueError(f"--widths must be three comma-separated ints, got {args.widths!r}") from None
    if args.lr is not None:
        changes["lr"] = args.lr
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    return cfg.replace(**changes) if changes else cfg


def summarize(accuracies, seconds, target: float) -> dict:
    """Mean and (sample) standard deviation of the accuracies, and the time to ``target`` percent.

    The time to target is the mean timed seconds of the runs that reached it, or ``None``.
    """
    import numpy as np

    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0:
        raise ValueError("no runs to summarize")
    reached = [s for a, s in zip(acc, seconds) if 100 * a >= target]
    return {
        "mean": float(acc.mean()),
        "std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0,
        "reached": len(reached),
        "time_to_target": float(np.mean(reached)) if reached else None,
        "mean_reaches_target": bool(100 * acc.mean() >= target),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # (oneDNN stays on: it is faster on a CPU)
    from utils import data, env, fast

    cfg = config_from_args(args)
    if args.profile == "full" and not args.allow_cpu:
        env.require_gpu("python -m utils.bench --profile full (airbench94 at full size)")
    subset = fast.PROFILE_DATA[args.profile]
    if args.train_size is not None or args.test_size is not None:
        subset = subset or (50000, 10000)
        subset = (args.train_size or subset[0], args.test_size or subset[1])
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(subset=subset)
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    trainer = fast.FastTrainer(cfg, precision=args.precision, jit=jit)
    hardware = env.device_description()
    print(f"hardware: {hardware}")
    print(f"software: {env.fingerprint()}")
    print(f"profile {args.profile}: widths {cfg.widths}, {cfg.epochs:g} epochs, batch {cfg.batch_size}, "
          f"{len(y_train):,} training / {len(y_test):,} test images, precision {trainer.precision}, "
          f"XLA {'on' if trainer.jit or env.keras_backend() == 'jax' else 'off'}")
    compile_seconds = trainer.warmup()
    print(f"compile (warm-up, not timed): {compile_seconds:.1f} s")
    train = trainer.to_device(x_train, y_train)
    test = trainer.to_device(x_test, y_test)
    results = []
    for i in range(args.runs):
        res, _ = trainer.run(train, test, seed=args.seed + i, track_epochs=args.track_epochs)
        results.append(res)
        line = (f"run {i + 1}/{args.runs}: test accuracy {100 * res.accuracy:.2f}%  time {res.seconds:.1f} s "
                f"(training {res.train_seconds:.1f} s, {res.images_per_second:,.0f} images/s)")
        print(line, flush=True)
        if args.track_epochs:
            print("  per epoch (no TTA): " + ", ".join(f"{e}: {100 * a:.1f}%" for e, a in res.epoch_accuracy))
    summary = summarize([r.accuracy for r in results], [r.seconds for r in results], args.target)
    print(f"accuracy: {100 * summary['mean']:.2f} +- {100 * summary['std']:.2f}% over {args.runs} run(s)")
    if summary["time_to_target"] is None:
        print(f"time to {args.target:g}%: not reached")
    else:
        print(f"time to {args.target:g}%: {summary['time_to_target']:.1f} s "
              f"({summary['reached']}/{args.runs} runs reached it)")
    ips = sum(r.images_per_second for r in results) / len(results)
    print(f"images per second (training): {ips:,.0f}")
    print(f"compile time: {compile_seconds:.1f} s   hardware: {hardware}")
    if args.json:
        record = {
            "command": "python -m utils.bench " + " ".join(sys.argv[1:] if argv is None else argv),
            "profile": args.profile,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
            "precision": trainer.precision,
            "train_images": int(len(y_train)),
            "test_images": int(len(y_test)),
            "hardware": hardware,
            "software": env.fingerprint(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "compile_seconds": compile_seconds,
            "runs": [vars(r) for r in results],
            "summary": summary,
            "target": args.target,
            "date": time.strftime("%Y-%m-%d"),
        }
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
