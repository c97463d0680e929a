"""Which settings make chapter 10's trainer faster on this CPU: each lever, measured.

Chapter 10 (fast CIFAR-10 training), section "Where a CPU step's time goes". A training
step of :class:`utils.fast.FastTrainer` is timed under each lever, every lever in its
own fresh Python process (oneDNN and TensorFlow's thread pools are fixed when
TensorFlow starts), on one fixed random batch, the median of ``--repeats`` blocks of
``--steps`` steps after one untimed block:

    python -m benchmarks.levers --profile cpu
    python -m benchmarks.levers --profile cpu --json results/levers/NAME.json
    python -m benchmarks.levers --profile quick --widths 8,8,8 --batch-size 16 \\
        --steps 2 --repeats 1 --rounds 1 --levers xla             # a smoke test

The levers (:data:`LEVERS`), each one change from the baseline (TensorFlow's defaults:
oneDNN on, one thread per core in both pools, float32, no XLA; the trainer's
defaults: the gated step of the first epochs, the fused BatchNorm and GELU):

- ``onednn-off``: ``TF_ENABLE_ONEDNN_OPTS=0`` (the notebooks' setting, for outputs
  that do not depend on the CPU's kernels), TensorFlow's Eigen kernels instead;
- ``xla``: the step compiled by XLA (``jit=True``), which fuses the elementwise ops
  (BatchNorm, GELU, the update) into loops around the convolutions;
- ``bf16``: Keras's ``mixed_bfloat16`` policy (bfloat16 compute, float32 weights).
  It pays only on CPUs with bfloat16 instructions (``avx512_bf16``, ``amx_bf16``): on
  any other CPU the lever is skipped and the record says why. It changes the
  numerics, so its accuracy is measured apart (``benchmarks.vs_airbench --precision
  mixed_bfloat16``);
- ``inter-op-1``: TensorFlow runs one op at a time (its intra-op pool still uses every
  core for each op);
- ``whiten-frozen``: not a setting but the other step of every run: after
  ``whiten_bias_epochs`` (3 of the recipe's epochs) the whitening bias is frozen and
  the step skips its backward pass (through ``g1_conv1`` to its input and through the
  whitening GELU), as airbench94 does with ``requires_grad=False``;
- ``keras-bn``: Keras's own ``BatchNormalization`` (``ops.moments`` and
  ``ops.batch_normalization``, a chain of elementwise and reduction ops) instead of
  :class:`utils.fast.model.FusedBatchNorm` (TensorFlow's fused kernel), the trainer's
  default;
- ``keras-gelu``: Keras's exact GELU (``Activation("gelu")``: TensorFlow's erfc and
  products forward, their automatic gradient backward, one op and one pass over the
  tensor each) instead of :class:`utils.fast.model.FusedGELU` (the same function and
  its closed-form gradient, each one XLA-compiled loop), the trainer's default;
- ``xla+bf16``: both;
- ``bf16+keras-gelu``: bfloat16 with Keras's GELU, whose TensorFlow ops then run on
  bfloat16 tensors (the fused GELU computes in float32 inside its loops).

The whole list is measured ``--rounds`` times (default 2), every second round in
reverse order, so that with an even number of rounds a drift of the machine's speed
that is linear in time cancels.
In each round the baseline is measured first and again last, and a lever's ratio is its
images/s over the mean of that round's two baselines; the reported ratio is the mean
over rounds, with each round's ratio beside it, and the record keeps every round's
baseline drift so that a machine that changed speed during the run shows. After the
levers, the same cores'
float32 matrix-multiply peak (:mod:`benchmarks.peak`) gives each lever's fraction of
the peak. The JSON record (``--json``) holds the command, the configuration, the
levers (settings, images/s, step seconds, compile seconds, ratio and each round's
ratio, fraction of the float32 peak, bfloat16 rows included, or why skipped), the
peak, the CPU's flags, versions and date. TensorFlow backend only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from utils.cli import (
    add_step_timing_options,
    positive_int,
    widths,
)

PROG = "python -m benchmarks.levers"
ROOT = Path(__file__).resolve().parents[1]
BASELINE = {
    "onednn": True,
    "jit": False,
    "precision": "float32",
    "inter_op": 0,
    "whiten_gate": 1.0,
    "fused_bn": True,
    "fused_gelu": True,
}
LEVERS = {
    "baseline": {},
    "onednn-off": {"onednn": False},
    "xla": {"jit": True},
    "bf16": {"precision": "mixed_bfloat16"},
    "inter-op-1": {"inter_op": 1},
    "whiten-frozen": {"whiten_gate": 0.0},
    "keras-bn": {"fused_bn": False},
    "keras-gelu": {"fused_gelu": False},
    "xla+bf16": {"jit": True, "precision": "mixed_bfloat16"},
    "bf16+keras-gelu": {"precision": "mixed_bfloat16", "fused_gelu": False},
}
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def lever_settings(name: str) -> dict:
    """The full settings of lever ``name``: the baseline with the lever's changes.

    Returns ``{"onednn": bool, "jit": bool, "precision": str, "inter_op": int,
    "whiten_gate": float, "fused_bn": bool, "fused_gelu": bool}`` (the gate 0.0 times
    the step with the whitening frozen).
    Raises ``ValueError`` naming the known levers for an unknown ``name``. Chapter 10.
    """
    if name not in LEVERS:
        raise ValueError(f"unknown lever {name!r}: choose from {', '.join(LEVERS)}")
    return {**BASELINE, **LEVERS[name]}


def skip_reason(settings: dict, flags) -> str | None:
    """Why a lever cannot be measured on this CPU, or ``None`` when it can.

    ``flags``: the CPU's kernel-relevant flags (``utils.env.cpu_info()["isa"]``).
    bfloat16 compute needs one of :data:`BF16_FLAGS`; without them oneDNN emulates
    it, slower than float32, and the lever says nothing about a CPU that has them.
    Chapter 10.
    """
    if settings["precision"] == "mixed_bfloat16" and not set(BF16_FLAGS) & set(flags):
        return (
            f"this CPU has none of {', '.join(BF16_FLAGS)}: bfloat16 would be "
            "emulated, so the lever is skipped"
        )
    return None


def ratios(levers: dict) -> dict:
    """Each measured lever's images/s over the mean of the two baseline blocks.

    ``levers``: name -> result with ``images_per_second`` (or ``skipped``), and
    ``"baseline"`` -> ``{"images_per_second": [first, last]}``. Returns name -> ratio
    (above 1: faster than the baseline) and ``"baseline drift"`` = last / first.
    Raises ``ValueError`` when the baseline lacks its two measurements. Chapter 10.
    """
    base = levers.get("baseline", {}).get("images_per_second")
    if not isinstance(base, list) or len(base) != 2 or min(base) <= 0:
        raise ValueError(
            f"the baseline needs two positive images/s (first, last), got {base!r}"
        )
    mean = sum(base) / 2
    out = {
        name: row["images_per_second"] / mean
        for name, row in levers.items()
        if name != "baseline" and "images_per_second" in row
    }
    out["baseline drift"] = base[1] / base[0]
    return out


def measure(spec: dict) -> dict:
    """Time training steps under one lever (in the calling, fresh process).

    ``spec``: ``config`` (``FastConfig.to_dict()``), ``settings``
    (:func:`lever_settings`), ``steps``, ``repeats``, ``seed``. oneDNN must already be
    set in the environment (the parent sets it); the inter-op pool is set here, before
    TensorFlow's first op. Returns images/s (batch size / median step seconds), the step
    seconds of every block, the compile seconds, the thread counts and the versions.
    Chapter 10. Raises ``RuntimeError`` (TensorFlow's) when the inter-op pool was
    already started, which a fresh process rules out.
    """
    import tensorflow as tf

    from benchmarks.profile_step import step_block, tf_threads
    from utils.fast import FastConfig, FastTrainer
    from utils.fast.records import versions

    s = spec["settings"]
    if s["inter_op"]:
        tf.config.threading.set_inter_op_parallelism_threads(s["inter_op"])
    cfg = FastConfig(**{**spec["config"], "widths": tuple(spec["config"]["widths"])})
    trainer = FastTrainer(
        cfg,
        jit=s["jit"],
        precision=s["precision"],
        fused_bn=s["fused_bn"],
        fused_gelu=s["fused_gelu"],
    )
    compile_seconds = trainer.warmup()
    block = step_block(trainer, spec["steps"], spec["seed"], s["whiten_gate"] == 0.0)
    block()  # the first steps after compilation are slower
    seconds = [block() for _ in range(spec["repeats"])]
    median = statistics.median(seconds)
    return {
        "images_per_second": cfg.batch_size / median,
        "step_seconds": seconds,
        "compile_seconds": compile_seconds,
        "threads": tf_threads(),
        "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "versions": versions(),
    }


def run_order(names: list, rounds: int) -> list:
    """The order of the measurements: one list per round, each ``["baseline",
    *levers, "baseline"]``, the levers reversed in every second round.

    Reversing cancels a drift of the machine's speed that is linear in time: a lever
    measured late in one round is measured early in the next. Chapter 10.
    Raises ``ValueError`` for ``rounds`` < 1.
    """
    if isinstance(rounds, bool) or not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds must be a positive int, got {rounds!r}")
    names = list(names)
    return [
        ["baseline", *(names if r % 2 == 0 else names[::-1]), "baseline"]
        for r in range(rounds)
    ]


def _measure_row(name, base, flags, tmp, row):
    settings = lever_settings(name)
    reason = skip_reason(settings, flags)
    if reason:
        return {"settings": settings, "skipped": reason}
    out = _child(name, {**base, "settings": settings}, tmp)
    if name != "baseline":
        return {"settings": settings, **out}
    if row is None:  # the round's first baseline; the last one appends to it
        row = {**out, "settings": settings}
        row.update(images_per_second=[], step_seconds=[], compile_seconds=[])
    for key in ("images_per_second", "step_seconds", "compile_seconds"):
        row[key].append(out[key])
    return row


def _print_row(name, row, r, rounds):
    tag = f"[round {r + 1}/{rounds}] " if rounds > 1 else ""
    if "skipped" in row:
        print(f"{tag}{name:<16} skipped: {row['skipped']}", flush=True)
        return
    ips, compile_s = row["images_per_second"], row["compile_seconds"]
    if isinstance(ips, list):  # the baseline: its latest measurement
        ips, compile_s = ips[-1], compile_s[-1]
    print(
        f"{tag}{name:<16} {ips:8.0f} images/s  (compile {compile_s:.0f} s)",
        flush=True,
    )


def mean_ips(row: dict) -> float:
    """A row's images/s: its value, or the mean of a list (the baseline's blocks).
    Chapter 10."""
    ips = row["images_per_second"]
    return sum(ips) / len(ips) if isinstance(ips, list) else ips


def combine_rounds(rounds: list) -> tuple:
    """Merge the rows of every round into one row per lever: ``(levers, rel)``.

    ``rounds``: one dict per round, lever name -> row as measured (the baseline's row
    with its two images/s, first and last). A lever's ``ratio_to_baseline`` is the
    mean over rounds of :func:`ratios` (its images/s over the mean of the same round's
    two baselines), ``ratio_rounds`` each round's ratio, ``images_per_second`` the
    mean over rounds (``images_per_second_rounds`` each), ``step_seconds`` and
    ``compile_seconds`` one entry a round; the baseline keeps every block's images/s,
    step seconds and compile seconds in order; other fields come from the last round.
    ``rel``: name -> mean ratio, and ``"baseline drift"``: each round's last / first
    baseline. A lever skipped in one round is skipped.
    Raises ``ValueError`` for no rounds, rounds with different levers, or a round
    whose baseline lacks its two measurements (from :func:`ratios`). Chapter 10.
    """
    if not rounds:
        raise ValueError("combine_rounds needs at least one round, got none")
    names = list(rounds[0])
    if any(sorted(r) != sorted(names) for r in rounds):
        raise ValueError(
            f"every round must measure the same levers, got {[list(r) for r in rounds]}"
        )
    per_round = [ratios(r) for r in rounds]
    levers, rel = {}, {"baseline drift": [p["baseline drift"] for p in per_round]}
    for name in names:
        rows = [r[name] for r in rounds]
        if any("skipped" in row for row in rows):
            levers[name] = next(row for row in rows if "skipped" in row)
            continue
        row = dict(rows[-1])
        if name == "baseline":
            for key in ("images_per_second", "step_seconds", "compile_seconds"):
                row[key] = [v for x in rows for v in x[key]]  # every block in order
            row["ratio_to_baseline"] = 1.0
        else:
            each = [p[name] for p in per_round]
            row["ratio_rounds"] = each
            row["ratio_to_baseline"] = rel[name] = sum(each) / len(each)
            ips = [x["images_per_second"] for x in rows]
            row["images_per_second_rounds"] = ips
            row["images_per_second"] = sum(ips) / len(ips)
            row["step_seconds"] = [x["step_seconds"] for x in rows]  # one list a round
            row["compile_seconds"] = [x["compile_seconds"] for x in rows]
        levers[name] = row
    return levers, rel


def worker(spec_file: str, out_file: str) -> int:
    """A child process's body: :func:`measure` the JSON spec, write the JSON result."""
    spec = json.loads(Path(spec_file).read_text())
    Path(out_file).write_text(json.dumps(measure(spec)) + "\n")
    return 0


def _child(name: str, spec: dict, workdir: Path) -> dict:
    spec_file, out_file = workdir / "spec.json", workdir / "out.json"
    spec_file.write_text(json.dumps(spec))
    out_file.unlink(missing_ok=True)
    onednn = "1" if spec["settings"]["onednn"] else "0"
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, KERAS_BACKEND="tensorflow")
    code = (
        "import sys; from benchmarks.levers import worker; "
        "sys.exit(worker(*sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(spec_file), str(out_file)], cwd=ROOT, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"lever {name!r} failed (exit status {done.returncode}); its traceback is "
            "above"
        )
    return json.loads(out_file.read_text())


def _parser() -> argparse.ArgumentParser:
    from benchmarks.vs_airbench import recipe

    p = argparse.ArgumentParser(
        prog=PROG,
        description="Time chapter 10's training step under each lever (oneDNN, XLA, "
        "bfloat16, threads), each in a fresh process, against the baseline measured "
        "first and last; then the matmul peak of the same cores.",
    )
    p.add_argument("--profile", choices=sorted(recipe().PROFILES), default="cpu")
    p.add_argument("--widths", type=widths, help="e.g. 32,64,128 (default: profile's)")
    p.add_argument("--batch-size", type=positive_int, help="default: the profile's")
    p.add_argument(
        "--levers",
        default=",".join(n for n in LEVERS if n != "baseline"),
        help=f"comma-separated, from {', '.join(n for n in LEVERS if n != 'baseline')}"
        " (the baseline always runs, first and last)",
    )
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=2,
        help="times the whole list is measured, every second round in reverse "
        "order (default 2); each ratio is the mean over rounds",
    )
    add_step_timing_options(p)
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check the options (exit status 2 naming a bad or repeated lever)."""
    p = _parser()
    args = p.parse_args(argv)
    names = [n.strip() for n in args.levers.split(",") if n.strip()]
    bad = [n for n in names if n not in LEVERS or n == "baseline"]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        p.error(
            f"--levers {args.levers!r} names {', '.join(twice)} twice: list each once"
        )
    if bad or not names:
        p.error(
            f"--levers {args.levers!r}: unknown {bad or 'empty list'}; choose from "
            + ", ".join(n for n in LEVERS if n != "baseline")
        )
    args.lever_names = names
    return args


def main(argv=None) -> int:
    """Run the baseline, each lever and the baseline again; print and record them."""
    from benchmarks.peak import peak_fraction
    from benchmarks.vs_airbench import _child as vs_child
    from benchmarks.vs_airbench import recipe
    from utils import env

    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    cfg = recipe().profile_config(
        args.profile, widths=args.widths, batch_size=args.batch_size
    )
    cpu, load_start = env.cpu_info(), env.load_average()
    flags = cpu["isa"]
    base = {"config": cfg.to_dict(), "steps": args.steps, "repeats": args.repeats}
    base["seed"] = args.seed
    order = run_order(args.lever_names, args.rounds)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="levers-") as tmp:
        for r, sequence in enumerate(order):
            rows: dict = {}
            for name in sequence:
                rows[name] = _measure_row(name, base, flags, Path(tmp), rows.get(name))
                _print_row(name, rows[name], r, len(order))
            rounds.append(rows)
        spec = {"config": cfg.to_dict()}
        measured = vs_child("peak", spec, Path(tmp), "matmul peak", 0)
    levers, rel = combine_rounds(rounds)
    macs, peak = measured["forward_macs_per_image"], measured["matmul"]["peak_flops"]
    for row in levers.values():
        if "skipped" not in row:
            row["fraction_of_peak"] = peak_fraction(macs, mean_ips(row), peak)
    print(format_table(levers, rel, measured))
    if args.json:
        record = {
            "kind": "levers",
            "command": " ".join([PROG, *map(shlex.quote, argv)]),
            "argv": argv,
            "profile": args.profile,
            "config": cfg.to_dict(),
            "steps": args.steps,
            "repeats": args.repeats,
            "rounds": args.rounds,
            "order": order,
            "levers": levers,
            "baseline_drift": rel["baseline drift"],
            "peak": {
                "matmul": measured["matmul"],
                "forward_macs_per_image": macs,
                "training_flop_per_image": 6 * macs,
            },
            "hardware": {
                "cpu": cpu,
                "load_average": {"start": load_start, "end": env.load_average()},
            },
            "versions": levers["baseline"]["versions"],
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
        }
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def format_table(levers: dict, rel: dict, measured: dict) -> str:
    """The printed table: lever, images/s, ratio to the baseline (with its range over
    rounds when there were several), fraction of the float32 peak. ``rel["baseline
    drift"]``: one number, or one per round. Chapter 10."""
    peak = measured["matmul"]
    lines = [f"{'lever':<16} {'images/s':>9} {'x baseline':>11} {'of peak':>8}"]
    for name, row in levers.items():
        if "skipped" in row:
            lines.append(f"{name:<16} skipped ({row['skipped']})")
            continue
        spread = row.get("ratio_rounds", [])
        spread = f"  ({min(spread):.2f}-{max(spread):.2f})" if len(spread) > 1 else ""
        lines.append(
            f"{name:<16} {mean_ips(row):>9.0f} {row['ratio_to_baseline']:>11.2f} "
            f"{row['fraction_of_peak']:>8.0%}{spread}"
        )
    drift = rel["baseline drift"]
    drift = drift if isinstance(drift, list) else [drift]
    lines.append(
        f"baseline drift (last / first) {', '.join(f'{d:.2f}' for d in drift)}; "
        f"float32 matmul peak {peak['peak_flops'] / 1e9:.0f} GFLOP/s "
        f"({peak['library']}); bfloat16 rows use the float32 peak"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
