"""Where one training step of the fast trainer spends its time, op by op (TensorFlow).

Chapter 10 (fast CIFAR-10 training), section "Where a CPU step's time goes". The command
builds :class:`utils.fast.FastTrainer` for a profile, times ``--steps`` training steps
on one fixed random batch (the median of ``--repeats`` blocks), then records the same
number of steps with TensorFlow's profiler (``tf.profiler.experimental``) and reads its
trace (an ``XSpace`` protocol buffer that TensorFlow itself ships) without TensorBoard:

    python -m benchmarks.profile_step --profile cpu
    python -m benchmarks.profile_step --profile cpu --json results/profile/NAME.json
    python -m benchmarks.profile_step --profile cpu --inter-op-threads 1
    python -m benchmarks.profile_step --profile quick --widths 8,8,8 --batch-size 16 \\
        --steps 2 --repeats 1                                    # a smoke test

Every op the TensorFlow executor ran on the CPU becomes an event named
``"<name scope>/<op name>:<op type>"``; :func:`classify_op` sorts it by layer (the
first scope, e.g. ``g1_conv1``), by pass (forward, or backward when the scope starts
with ``gradient_tape/``) and by category (convolution forward / backward to the input /
backward to the filter, GELU, BatchNorm, max-pooling, the rest). "Op milliseconds" are
the wall durations of the op events, summed per step over TensorFlow's op threads. An
op may itself use every core (TensorFlow's intra-op pool); when TensorFlow also runs
independent ops at once (its inter-op pool, one thread per core by default), their
durations overlap and the sum exceeds the step. ``--inter-op-threads 1`` runs one op
at a time, so that the sum is close to the step's wall time.

The JSON record (``--json``) holds the command, the configuration, the wall time and
images/s of a step, the op milliseconds per category, per layer and pass and per op
type, the wall time of the profiled block, the thread settings, the versions, the
hardware and the date. Runs on the TensorFlow backend only (``KERAS_BACKEND=jax`` exits
with status 2 and a message): JAX's profiler writes a different trace.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from utils.cli import (
    add_step_timing_options,
    non_negative_int,
    positive_int,
    widths,
)

PROG = "python -m benchmarks.profile_step"
CATEGORIES = (
    "conv forward",
    "conv backward (input)",
    "conv backward (filter)",
    "GELU",
    "BatchNorm",
    "max-pool",
    "other",
)
_SUFFIX = re.compile(r"_\d+$")  # Keras's per-call name suffix: g1_conv1_1 -> g1_conv1
#: the trace's event for one run of an XLA-compiled function on the CPU; in the
#: trainer's plain graph those are FusedGELU's forward and backward loops
XLA_EVENT = "CpuExecutable::ExecuteAsyncOnStream"
XLA_LAYER = "fused GELU (XLA)"


def classify_op(event_name: str) -> dict | None:
    """Sort one profiler event ``"scope/.../name:OpType"`` into layer, pass, category.

    Returns ``{"layer", "pass", "category", "op_type"}``; ``None`` for an event that is
    not an op (no ``":"`` after the last ``"/"``, e.g. ``"ExecutorState::Process"``).
    ``op_type`` drops the internal prefixes (``_MklNativeConv2D``, ``_FusedConv2D`` ->
    ``Conv2D``, ``FusedConv2D``). A convolution op is "conv ..." by its type, in any
    layer (``Conv2DBackpropInput*``, ``Conv2DBackpropFilter*``, any other
    ``*Conv2D*``); the other ops of a layer
    named ``*gelu*``, ``*_bn*`` or ``*pool*`` are "GELU", "BatchNorm" or "max-pool";
    everything else (loss, update, gradient sums) is "other". An XLA executable's run
    (:data:`XLA_EVENT`: :class:`utils.fast.model.FusedGELU`'s loops, which carry no
    layer name in the trace) is "GELU", layer :data:`XLA_LAYER`, pass "forward and
    backward". Chapter 10 (fast CIFAR-10 training). Raises ``TypeError`` when
    ``event_name`` is not a str.
    """
    if not isinstance(event_name, str):
        raise TypeError(f"an event name must be a str, got {type(event_name)}")
    if event_name == XLA_EVENT:
        return {
            "layer": XLA_LAYER,
            "pass": "forward and backward",
            "category": "GELU",
            "op_type": "XLA executable",
        }
    head, sep, op_type = event_name.rpartition(":")
    if not sep or not head or "/" in op_type or ":" in head.rpartition("/")[2]:
        return None
    op_type = re.sub(r"^_(MklNative|Mkl)?", "", op_type)
    backward = head.startswith("gradient_tape/")
    scope = head.removeprefix("gradient_tape/").split("/")[0]
    layer = _SUFFIX.sub("", scope)
    if "Conv2D" in op_type:  # the whitening layer's convolution counts too
        kind = "input" if "BackpropInput" in op_type else "filter"
        category = (
            f"conv backward ({kind})" if "Backprop" in op_type else "conv forward"
        )
    elif "gelu" in layer:
        category = "GELU"
    elif "_bn" in layer:
        category = "BatchNorm"
    elif "pool" in layer:
        category = "max-pool"
    else:
        category = "other"
    return {
        "layer": layer,
        "pass": "backward" if backward else "forward",
        "category": category,
        "op_type": op_type,
    }


def summarize_events(events, steps: int) -> dict:
    """Op milliseconds per step from ``(event_name, duration_ms)`` pairs.

    Returns ``{"total_ms", "categories": {category: ms}, "shares": {category: share},
    "layers": {layer: {"forward": ms, "backward": ms}}, "op_types": {type: ms}}``
    (the XLA layer of :func:`classify_op` has a ``"forward and backward"`` entry too),
    every value divided by ``steps``; the categories are all of :data:`CATEGORIES`
    (0.0 when absent) and the shares sum to 1. Events that are not ops are skipped.
    Raises ``ValueError`` for ``steps`` < 1, a negative or non-finite duration, or when
    no event is an op (an empty trace).
    """
    if isinstance(steps, bool) or not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    cats = dict.fromkeys(CATEGORIES, 0.0)
    layers = collections.defaultdict(lambda: {"forward": 0.0, "backward": 0.0})
    types = collections.Counter()
    for name, ms in events:
        op = classify_op(name)
        if op is None:
            continue
        ms = float(ms)
        if not (math.isfinite(ms) and ms >= 0):
            raise ValueError(f"event {name!r} has duration {ms!r} ms: not >= 0")
        cats[op["category"]] += ms / steps
        row = layers[op["layer"]]
        row[op["pass"]] = row.get(op["pass"], 0.0) + ms / steps
        types[op["op_type"]] += ms / steps
    total = sum(cats.values())
    if total <= 0:
        raise ValueError(
            "the profiler trace holds no TensorFlow op events: was the step run "
            "between tf.profiler.experimental.start and stop on the TensorFlow backend?"
        )
    return {
        "total_ms": total,
        "categories": cats,
        "shares": {k: v / total for k, v in cats.items()},
        "layers": dict(sorted(layers.items(), key=lambda kv: -sum(kv[1].values()))),
        "op_types": dict(types.most_common()),
    }


def trace_events(logdir) -> list:
    """``(event_name, duration_ms)`` of every event on TensorFlow's op threads
    (``tf_Compute*`` lines of the ``/host:CPU`` plane) in the newest ``*.xplane.pb``
    under ``logdir``. Raises ``FileNotFoundError`` when there is no trace file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(Path(logdir).rglob("*.xplane.pb"), key=os.path.getmtime)
    if not files:
        raise FileNotFoundError(f"no *.xplane.pb profiler trace under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(files[-1].read_bytes())
    events = []
    for plane in space.planes:
        names = plane.event_metadata
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if line.name.startswith("tf_Compute"):
                events += [
                    (names[e.metadata_id].name, e.duration_ps / 1e9)
                    for e in line.events
                ]
    return events


def _parser() -> argparse.ArgumentParser:
    from utils.fast.recipe import PROFILES

    p = argparse.ArgumentParser(
        prog=PROG,
        description="Time and profile one training step of the fast trainer, op by op.",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    p.add_argument("--widths", type=widths, help="e.g. 32,64,128 (default: profile's)")
    p.add_argument("--batch-size", type=positive_int, help="default: the profile's")
    p.add_argument(
        "--inter-op-threads",
        type=non_negative_int,
        default=0,
        help="ops TensorFlow may run at once (0: its default, one per core); 1 runs "
        "them one at a time, so that each op's time is its own",
    )
    add_step_timing_options(p)
    return p


def config_from_args(args):
    """The profile's :class:`~utils.fast.recipe.FastConfig` with the overrides."""
    from utils.fast.recipe import profile_config

    return profile_config(args.profile, widths=args.widths, batch_size=args.batch_size)


def _batch(trainer, seed: int):
    import numpy as np
    from keras import ops

    rng, b = np.random.default_rng(seed), trainer.cfg.batch_size
    x = rng.integers(0, 256, size=(b, 32, 32, 3), dtype=np.uint8)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=b)]
    return ops.convert_to_tensor(x), ops.convert_to_tensor(y)


def step_block(trainer, steps: int, seed: int = 0, frozen: bool = False):
    """A function that runs ``steps`` training steps of ``trainer`` on one fixed random
    batch and returns the seconds per step (the device synchronised before the clock
    is read). The trainer gets fresh weights first. ``frozen``: time the step with the
    whitening bias frozen (gate 0) instead of the gated one. Chapter 10; shared by
    :func:`measure` and ``benchmarks.levers``.
    """
    import numpy as np
    from keras import ops

    from utils.fast import backend

    trainer._start(seed, np.full((2, 32, 32, 3), 0.1, np.float32))
    x, y = _batch(trainer, seed)
    lr = ops.convert_to_tensor(0.5, "float32")  # tensors, as the trainer passes them
    gate = ops.convert_to_tensor(0.0 if frozen else 1.0, "float32")

    def block():
        start = time.perf_counter()
        for _ in range(steps):
            trainer._apply_step(x, y, lr, gate, frozen)
        backend.synchronize(trainer._state["t"])
        return (time.perf_counter() - start) / steps

    return block


def measure(cfg, steps: int, repeats: int, seed: int = 0, inter_op: int = 0) -> dict:
    """Wall seconds of a step (median and min of ``repeats`` blocks of ``steps``) and
    the profiled op milliseconds (:func:`summarize_events`) of one more block.

    ``inter_op``: how many ops TensorFlow may run at once (0 keeps its default). Chapter
    10. Raises ``ValueError`` on a backend other than TensorFlow, or for ``inter_op``
    once TensorFlow has started with another value.
    """
    import tensorflow as tf

    from utils.fast import FastTrainer, backend

    if backend.backend() != "tensorflow":
        raise ValueError(
            f"{PROG} reads TensorFlow's profiler trace; run it with "
            "KERAS_BACKEND=tensorflow"
        )
    if inter_op and tf.config.threading.get_inter_op_parallelism_threads() != inter_op:
        try:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        except RuntimeError as err:  # TensorFlow has already started its threads
            raise ValueError(
                f"inter_op={inter_op} must be set before TensorFlow runs its first op: "
                f"call measure in a fresh process, as {PROG} does ({err})"
            ) from None
    trainer = FastTrainer(cfg)
    compile_seconds = trainer.warmup()
    block = step_block(trainer, steps, seed)
    block()  # the first steps after compilation are slower
    seconds = [block() for _ in range(repeats)]
    with tempfile.TemporaryDirectory(prefix="profile-step-") as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            profiled = block()
        finally:
            tf.profiler.experimental.stop()
        ops_ms = summarize_events(trace_events(logdir), steps)
    median = statistics.median(seconds)
    return {
        "threads": tf_threads(),
        "compile_seconds": compile_seconds,
        "step_seconds": {"median": median, "min": min(seconds), "blocks": seconds},
        "images_per_second": cfg.batch_size / median,
        "profiled_step_seconds": profiled,
        "ops": ops_ms,
    }


def tf_threads() -> dict:
    """TensorFlow's inter- and intra-op thread counts as configured (0: its default)."""
    import tensorflow as tf

    return {
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def format_summary(result: dict, config: dict) -> str:
    """The lines the command prints: the step's wall time, then op ms per category.

    ``result``: what :func:`measure` returns (or a JSON record); ``config``: the
    configuration as a dict (``FastConfig.to_dict()``, a record's ``"config"``).
    """
    s, ops_ms = result["step_seconds"], result["ops"]
    threads = result["threads"]["inter_op"] or "default"
    widths = "/".join(str(w) for w in config["widths"])
    lines = [
        f"widths {widths}, batch {config['batch_size']}, {threads} inter-op "
        f"thread(s): {1000 * s['median']:.0f} ms a step (median; min "
        f"{1000 * s['min']:.0f}), {result['images_per_second']:.0f} images/s",
        f"op time per step, summed over threads: {ops_ms['total_ms']:.0f} ms",
    ]
    for name in CATEGORIES:
        ms, share = ops_ms["categories"][name], ops_ms["shares"][name]
        lines.append(f"  {name:<24}{ms:8.1f} ms  {100 * share:5.1f}%")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Measure, print, and write the JSON record when ``--json`` is given; returns 0,
    or 2 with a message on a backend other than TensorFlow."""
    import keras

    from utils import env
    from utils.fast import records

    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        print(
            f"{PROG}: reads TensorFlow's profiler trace; run it with "
            f"KERAS_BACKEND=tensorflow (not {keras.backend.backend()!r})",
            file=sys.stderr,
        )
        return 2
    cfg = config_from_args(args)
    result = measure(cfg, args.steps, args.repeats, args.seed, args.inter_op_threads)
    print(format_summary(result, cfg.to_dict()), flush=True)
    if args.json:
        record = {
            "kind": "profile_step",
            "command": " ".join([PROG, shlex.join(argv)]),
            "argv": argv,
            "profile": args.profile,
            "config": cfg.to_dict(),
            "steps": args.steps,
            "repeats": args.repeats,
            **result,
            "versions": records.versions(),
            "hardware": {
                "description": f"{env.device_description()}, tensorflow backend",
                "fingerprint": env.fingerprint(),
                "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                "load_average": env.load_average(),
            },
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
        }
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
