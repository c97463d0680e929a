"""Benchmark the fast CIFAR-10 trainer from the command line; result records as data.

Chapter 10 (fast CIFAR-10 training); the recipe is airbench94 (Keller Jordan,
github.com/KellerJordan/cifar10-airbench), whose own benchmark reports the mean accuracy
over runs and the time to 94%.

    python -m utils.fast.bench --runs 5 --profile full      # airbench94 on a GPU
    python -m utils.fast.bench --runs 1 --profile cpu       # the narrow CPU variant
    python -m utils.fast.bench --profile quick --json results/bench/my-run.json

Prints each run's test accuracy (with TTA), the mean and standard deviation, the time to
the target, training images per second, the compile time (a warm-up run, kept out of the
timer) and the hardware; while a run trains, one line per epoch on stderr says where it
stands and about how long it has left (``--quiet`` turns them off). Every option is
checked before anything loads or trains (a bad one exits with status 2). ``--json PATH``
writes a record: the exact command, the resolved configuration, the metrics, versions,
hardware and date. The records in
``results/bench/`` are what chapter 10 prints (:func:`load_records`,
:func:`format_record`).
"""

from __future__ import annotations

import argparse
import json
import sys

from utils.cli import (  # noqa: F401  (the option types, re-exported)
    add_recipe_overrides,
    any_int,
    json_path,
    percent,
    positive_float,
    positive_int,
    subset_size,
    widths,
)
from utils.fast.records import (  # noqa: F401  (load_records, format_record: chapter 10)
    PROG,
    RESULTS,
    format_record,
    load_records,
    make_record,
    summarize,
)

# option types: utils.cli (shared with benchmarks.vs_airbench)


# --------------------------------------------------------------------- arguments


def _parser() -> argparse.ArgumentParser:
    # one add() per option: a table of 15 options, longer than 40 lines on purpose
    from utils.fast.recipe import PROFILES

    p = argparse.ArgumentParser(
        prog=PROG,
        description="Time the chapter 10 fast CIFAR-10 trainer "
        "(a Keras 3 port of airbench94).",
        epilog="The 'full' profile needs a GPU "
        "(--allow-cpu forces it on a CPU, very slowly). "
        "Data come from $CIFAR10_DIR or the Keras cache (see utils.data.load_cifar10).",
    )
    add = p.add_argument
    add("--runs", type=positive_int, default=1, help="timed training runs (default 1)")
    add(
        "--profile",
        choices=sorted(PROFILES),
        default="cpu",
        help="recipe and data size",
    )
    add("--allow-cpu", action="store_true", help="let --profile full run without a GPU")
    add(
        "--precision",
        default="auto",
        choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
        help="Keras dtype policy "
        "(auto: bf16 on Ampere or newer, fp16 older, fp32 on CPU)",
    )
    add(
        "--jit",
        choices=["auto", "on", "off"],
        default="auto",
        help="XLA compilation of the steps (auto: on with a GPU; JAX always compiles)",
    )
    add("--target", type=percent, default=94.0, help="accuracy target in percent")
    add(
        "--seed",
        type=any_int,
        default=0,
        help="seed of the first run; run i uses seed+i",
    )
    add_recipe_overrides(p)
    add(
        "--track-epochs",
        action="store_true",
        help="also print accuracy after each epoch",
    )
    add(
        "--quiet",
        action="store_true",
        help="no per-epoch progress lines (printed to stderr by default, with the "
        "time left)",
    )
    add(
        "--json",
        type=json_path,
        help="write a result record to this file, e.g. results/bench/NAME.json",
    )
    return p


def config_from_args(args):
    """The profile's :class:`~utils.fast.recipe.FastConfig` with the overrides applied.

    Raises ``ValueError`` (from ``FastConfig``) for a combination it refuses.
    Chapter 10.
    """
    from utils.fast.recipe import profile_config

    return profile_config(
        args.profile,
        epochs=args.epochs,
        widths=args.widths,
        lr=args.lr,
        batch_size=args.batch_size,
    )


def data_sizes(args) -> tuple[int, int]:
    """``(training images, test images)`` the run loads: the profile's, then
    overrides. Chapter 10."""
    from utils.fast.recipe import profile_data

    return profile_data(args.profile, args.train_size, args.test_size)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check every option (exit status 2 with a message on a bad one).

    Chapter 10.
    """
    p = _parser()
    args = p.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as err:
        p.error(str(err))
    n_train, n_test = data_sizes(args)
    if cfg.batch_size > n_train:
        p.error(
            f"--batch-size {cfg.batch_size} is larger than the training set ({n_train} "
            "images): lower --batch-size or raise --train-size"
        )
    return args


# --------------------------------------------------------------------- main


def _report(args, runs, compile_seconds, hardware) -> None:
    summary = summarize(
        [r.accuracy for r in runs], [r.seconds for r in runs], args.target
    )
    print(
        f"accuracy: {100 * summary['mean']:.2f} +- {100 * summary['std']:.2f}% "
        f"over {args.runs} run(s)"
    )
    if summary["time_to_target"] is None:
        print(f"time to {args.target:g}%: not reached")
    else:
        print(
            f"time to {args.target:g}%: {summary['time_to_target']:.1f} s "
            f"({summary['reached']}/{args.runs} runs reached it)"
        )
    ips = sum(r.images_per_second for r in runs) / len(runs)
    print(f"images per second (training): {ips:,.0f}")
    print(f"compile time: {compile_seconds:.1f} s   hardware: {hardware}")


def progress_printer(run: int, runs: int, stream=None):
    """An ``on_epoch`` function for :meth:`FastTrainer.run` that prints one line per
    epoch, ``run 1/3: epoch 3/14 (step 294/1372): 141 s, about 517 s left``, to
    ``stream`` (stderr by default), flushed at once so a long run shows its progress
    in a log file too. Chapter 10 (fast CIFAR-10 training)."""

    def show(progress) -> None:
        print(
            f"run {run}/{runs}: {progress.line()}",
            file=sys.stderr if stream is None else stream,
            flush=True,
        )

    return show


def _train(args, trainer, train, test) -> list:
    runs = []
    for i in range(args.runs):
        show = None if args.quiet else progress_printer(i + 1, args.runs)
        res, _ = trainer.run(
            train,
            test,
            seed=args.seed + i,
            track_epochs=args.track_epochs,
            on_epoch=show,
        )
        runs.append(res)
        print(
            f"run {i + 1}/{args.runs}: test accuracy {100 * res.accuracy:.2f}%  time "
            f"{res.seconds:.1f} s (training {res.train_seconds:.1f} s, "
            f"{res.images_per_second:,.0f} images/s)",
            flush=True,
        )
        if args.track_epochs:
            print(
                "  per epoch (no TTA): "
                + ", ".join(f"{e}: {100 * a:.1f}%" for e, a in res.epoch_accuracy)
            )
    return runs


def main(argv=None) -> int:
    """Run the benchmark; returns 0. Raises ``env.NoGPUError`` for full without a
    GPU. Chapter 10."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    from utils import data, env, fast

    cfg, sizes = config_from_args(args), data_sizes(args)
    if args.profile == "full" and not args.allow_cpu:
        env.require_gpu(f"{PROG} --profile full (airbench94 at full size)")
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(subset=sizes)
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    trainer = fast.FastTrainer(cfg, precision=args.precision, jit=jit)
    hardware = env.device_description()
    print(f"hardware: {hardware}\nsoftware: {env.fingerprint()}")
    print(
        f"profile {args.profile}: widths {cfg.widths}, {cfg.epochs:g} epochs, batch "
        f"{cfg.batch_size}, {len(y_train):,} training / {len(y_test):,} test images, "
        f"precision {trainer.precision}"
    )
    compile_seconds = trainer.warmup()
    print(f"compile (warm-up, not timed): {compile_seconds:.1f} s")
    train, test = trainer.to_device(x_train, y_train), trainer.to_device(x_test, y_test)
    runs = _train(args, trainer, train, test)
    _report(args, runs, compile_seconds, hardware)
    if args.json:
        sizes = (int(len(y_train)), int(len(y_test)))
        record = make_record(
            argv, args, cfg, sizes, trainer.precision, runs, compile_seconds
        )
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
