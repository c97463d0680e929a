"""The fast trainer data-parallel through Keras 3's own distribution API (JAX backend).

Chapter 10 (fast CIFAR-10 training, "Scaling out"). :mod:`utils.fast.distribute` does
data parallelism with ``tf.distribute`` on the TensorFlow backend; this module does the
same with ``keras.distribution.DataParallel`` on the JAX backend, the one the GPU path
uses. The API (``list_devices``, ``DataParallel``, ``TensorLayout``,
``distribute_tensor``, ``scope``) is the one described in the Keras guide "Distributed
training with Keras 3" (Qianli Zhu, keras.io/guides/distribution); the recipe is Keller
Jordan's airbench94 (github.com/KellerJordan/cifar10-airbench).

How it works. :class:`DataParallelFastTrainer` reuses :meth:`FastTrainer.run
<utils.fast.trainer.FastTrainer.run>` (the one training loop) and overrides only the
state hooks: the weights, BatchNorm statistics, momentum buffers and lookahead average
are *replicated* (every device holds a full copy) and each batch is *sharded* along
its first axis (each device holds ``batch_size / devices`` images). The compiled step
is the single-device one: JAX's SPMD partitioner splits it over the devices and adds
the cross-device sums itself. The program keeps its single-device meaning, so the
BatchNorm statistics are those of the whole global batch (synchronised BatchNorm),
unlike the ``tf.distribute`` version, where each replica normalises its own share; a
data-parallel run therefore matches a one-device run up to float32 rounding.

Try it on a CPU split into two devices (the split must happen before JAX starts)::

    XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax \\
        JAX_PLATFORMS=cpu python -m utils.fast.data_parallel
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from utils.fast.recipe import FastConfig
from utils.fast.trainer import FastTrainer
from utils.shapes import is_int

SPLIT_FLAG = "--xla_force_host_platform_device_count"
# the check's tiny recipe: 4 steps an epoch on 64 images, fast to compile on a CPU
CHECK_CONFIG = FastConfig(
    widths=(8, 8, 8),
    epochs=2,
    batch_size=16,
    eval_batch=20,
    whiten_samples=32,
    tta_level=0,
)


def cpu_split_command(n: int = 2) -> str:
    """The shell prefix that splits the CPU into ``n`` JAX devices (chapter 10).

    Returns e.g. ``"XLA_FLAGS=--xla_force_host_platform_device_count=2
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu"``: put it before ``python ...``. Raises
    ``ValueError`` unless ``n`` is a positive int.
    """
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return f"XLA_FLAGS={SPLIT_FLAG}={n} KERAS_BACKEND=jax JAX_PLATFORMS=cpu"


def data_parallel_devices(n: int | None = None) -> list[str]:
    """The first ``n`` Keras devices (all when ``None``), e.g. ``["cpu:0", "cpu:1"]``.

    Devices come from ``keras.distribution.list_devices()`` (GPUs or TPUs when there are
    any, else the CPU devices). Chapter 10 (fast CIFAR-10 training); Keras guide
    "Distributed training with Keras 3". Raises ``ValueError`` on a backend other than
    JAX or for ``n`` that is not a positive int, ``RuntimeError`` naming the
    ``XLA_FLAGS`` split when fewer than ``n`` devices exist.
    """
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError(
            "keras.distribution.DataParallel needs the JAX backend here, not "
            f"{keras.backend.backend()!r}: start Python with KERAS_BACKEND=jax "
            f"(on a CPU: {cpu_split_command(2)} python ...)"
        )
    if n is not None and (not is_int(n) or n < 1):
        raise ValueError(f"n must be a positive int or None, got {n!r}")
    devices = keras.distribution.list_devices()
    if n is not None and len(devices) < n:
        raise RuntimeError(
            f"found {len(devices)} device(s) ({', '.join(devices)}) but data "
            f"parallelism was asked for {n}. On a CPU, split it into {n} devices "
            f"before JAX starts: {cpu_split_command(n)} python ..."
        )
    return devices if n is None else devices[:n]


class DataParallelFastTrainer(FastTrainer):
    """:class:`~utils.fast.trainer.FastTrainer` under ``keras.distribution``.

    ``distribution``: a ``keras.distribution.DataParallel`` (default: one over every
    device of :func:`data_parallel_devices`). ``run`` is the parent's; the state is
    replicated and each batch of ``batch_size`` images is split into equal parts
    along its first axis, one per device. Evaluation runs on the replicated weights,
    unsplit. :meth:`warmup` compiles the one-device step; the first :meth:`run`
    compiles the split one (inside its timer). Chapter 10 (fast CIFAR-10, "Scaling
    out"); Keras guide "Distributed training with Keras 3"
    (keras.io/guides/distribution); airbench94. Raises ``ValueError`` on a backend
    other than JAX, for a distribution that is not a ``DataParallel``, or when
    ``batch_size`` does not divide evenly among the devices.
    """

    def __init__(
        self, cfg: FastConfig, distribution=None, *, precision="auto", jit="auto"
    ):
        import keras

        devices = data_parallel_devices()  # checks the backend first
        if distribution is None:
            distribution = keras.distribution.DataParallel(devices=devices)
        if not isinstance(distribution, keras.distribution.DataParallel):
            raise ValueError(
                "distribution must be a keras.distribution.DataParallel, got "
                f"{type(distribution).__name__}"
            )
        n_devices = distribution.device_mesh.devices.size
        if isinstance(cfg, FastConfig) and cfg.batch_size % n_devices:
            raise ValueError(
                f"batch_size {cfg.batch_size} must divide evenly among the "
                f"{n_devices} devices "
                f"({', '.join(map(str, distribution.device_mesh.devices.flat))})"
            )
        self.distribution, self._keras = distribution, keras
        super().__init__(cfg, precision=precision, jit=jit)

    @property
    def devices(self) -> list[str]:
        """The devices of the distribution's mesh, e.g. ``["cpu:0", "cpu:1"]``."""
        return [str(d) for d in self.distribution.device_mesh.devices.flat]

    # ---- placement
    def replicate(self, tensor):
        """``tensor`` with a full copy on every device (a replicated layout).

        Works eagerly and inside the compiled step (where it is a sharding
        constraint).
        """
        layout = self._keras.distribution.TensorLayout(
            [None] * len(tensor.shape), self.distribution.device_mesh
        )
        return self._keras.distribution.distribute_tensor(tensor, layout)

    def shard_batch(self, tensor):
        """``tensor`` split along its first axis into equal parts, one per device.

        The layout is the distribution's data layout (``get_data_layout``). Raises
        ``ValueError`` when the first axis does not divide evenly among the devices.
        """
        n, parts = tensor.shape[0], len(self.devices)
        if n % parts:
            raise ValueError(
                f"a batch of {n} cannot be split evenly among {parts} devices"
            )
        layout = self.distribution.get_data_layout(tuple(tensor.shape))
        return self._keras.distribution.distribute_tensor(tensor, layout)

    # the replicated state needs this class's _step: the frozen-whitening step would
    # bypass it, so every step stays the gated one
    skip_frozen_backward = False

    # ---- the hooks of FastTrainer.run
    def _step(self, trainable, non_trainable, buffers, x, y, lr_factor, whiten_gate):
        # the parent's step, with the new state declared replicated (the partitioner
        # then keeps every device's copy the same, the batch's sums included)
        out = super()._step(
            trainable, non_trainable, buffers, x, y, lr_factor, whiten_gate
        )
        new_t, new_nt, new_b, loss = out
        rep = lambda values: [self.replicate(v) for v in values]
        return rep(new_t), rep(new_nt), rep(new_b), loss

    def _start(self, seed, whiten_images):
        with self.distribution.scope():  # the fresh model's variables: replicated
            super()._start(seed, whiten_images)
        self._state = {
            k: [self.replicate(v) for v in values] for k, values in self._state.items()
        }

    def _batches(self, xe, ye):
        for xb, yb in super()._batches(xe, ye):
            yield self.shard_batch(xb), self.shard_batch(yb)

    def replica_values(self, index: int = 0, group: str = "t") -> list:
        """State tensor ``index`` of ``group`` as held by each device: NumPy arrays.

        ``group``: ``"t"`` (trainable), ``"nt"`` (non-trainable: BatchNorm statistics,
        the whitening kernel), ``"b"`` (momentum buffers) or ``"ema"`` (lookahead
        average). Raises ``ValueError`` for another group, ``RuntimeError`` before the
        first :meth:`run`.
        """
        if group not in ("t", "nt", "b", "ema"):
            raise ValueError(f"group must be 't', 'nt', 'b' or 'ema', got {group!r}")
        if not hasattr(self, "_state"):
            raise RuntimeError("no state yet: call run() first")
        value = self._state[group][index]
        return [np.asarray(s.data) for s in value.addressable_shards]


def _max_abs(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def check_data_parallel(
    n_devices: int = 2, n_images: int = 64, seed: int = 0, cfg: FastConfig | None = None
) -> dict:
    """Train the same tiny run data-parallel and on one device; compare the weights.

    ``n_images`` random uint8 images (at least one batch) and labels, both runs from
    seed ``seed``; ``cfg`` defaults to :data:`CHECK_CONFIG` (8 steps on 64 images).
    Returns a dict: ``devices`` (names), ``global_batch``, ``per_device_batch`` (list,
    one per device), ``steps``, ``replica_difference`` (the largest difference between
    two devices' copies of any weight, BatchNorm statistic, momentum buffer or
    lookahead average: 0.0 when replicated exactly), ``one_device_difference`` (the
    largest difference from the one-device run's weights and statistics) and
    ``accuracy`` (data-parallel, one device). Chapter 10 (fast CIFAR-10, "Scaling
    out"); Keras guide "Distributed training with Keras 3". Raises as
    :func:`data_parallel_devices` and :class:`DataParallelFastTrainer` do, and
    ``ValueError`` when ``n_images`` is smaller than a batch.
    """
    import keras

    cfg = CHECK_CONFIG if cfg is None else cfg
    if not is_int(n_images) or n_images < cfg.batch_size:
        raise ValueError(
            f"n_images must be an int >= the batch size {cfg.batch_size}, "
            f"got {n_images!r}"
        )
    devices = data_parallel_devices(n_devices)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=(n_images,))
    dist = keras.distribution.DataParallel(devices=devices)
    parallel = DataParallelFastTrainer(cfg, dist, precision="float32")
    single = FastTrainer(cfg, precision="float32")
    results, states = {}, {}
    for name, trainer in (("parallel", parallel), ("single", single)):
        train = trainer.to_device(x, y)
        test = trainer.to_device(x[: cfg.eval_batch], y[: cfg.eval_batch])
        results[name], (t, nt) = trainer.run(train, test, seed=seed)
        states[name] = [np.asarray(v) for v in list(t) + list(nt)]
    xb, _ = next(parallel._batches(*parallel.to_device(x, y)))
    per_device = [int(s.data.shape[0]) for s in xb.addressable_shards]
    replica = 0.0
    for group in ("t", "nt", "b", "ema"):
        for i in range(len(parallel._state[group])):
            copies = parallel.replica_values(i, group)
            replica = max([replica] + [_max_abs(copies[0], c) for c in copies[1:]])
    one_device = max(
        _max_abs(a, b) for a, b in zip(states["parallel"], states["single"])
    )
    return {
        "devices": parallel.devices,
        "global_batch": cfg.batch_size,
        "per_device_batch": per_device,
        "steps": results["parallel"].steps,
        "replica_difference": replica,
        "one_device_difference": one_device,
        "accuracy": (results["parallel"].accuracy, results["single"].accuracy),
    }


def format_report(report: dict) -> str:
    """The human-readable lines of :func:`check_data_parallel`'s dict (chapter 10).

    Every line fits the book's 88-column code output.
    """
    devices = report["devices"]
    split = ", ".join(
        f"{b} on {d}" for d, b in zip(devices, report["per_device_batch"])
    )
    same = "identical" if report["replica_difference"] == 0 else "NOT identical"
    return "\n".join(
        [
            f"keras.distribution.DataParallel, JAX backend: {len(devices)} devices "
            f"({', '.join(devices)})",
            f"global batch {report['global_batch']} -> per device: {split}",
            f"{report['steps']} steps on tiny random data, data-parallel and on one "
            "device (same seed)",
            f"max difference between replicas: {report['replica_difference']:.3g} "
            f"(weights, statistics, momentum: {same})",
            f"max difference from one device: {report['one_device_difference']:.3g} "
            "(float32 rounding)",
        ]
    )


def main(argv=None) -> int:
    """``python -m utils.fast.data_parallel [--devices N]``: run the check, print it.

    Returns 0 when the replicas are identical and the run matches one device within
    1e-4, 1 otherwise; 2 (with a message naming ``XLA_FLAGS`` / ``KERAS_BACKEND``) when
    the backend or the device count is wrong. Chapter 10.
    """
    parser = argparse.ArgumentParser(
        prog="python -m utils.fast.data_parallel",
        description="Check the chapter 10 fast trainer under "
        "keras.distribution.DataParallel (JAX backend) on tiny random data.",
        epilog=f"On a CPU: {cpu_split_command(2)} python -m utils.fast.data_parallel",
    )
    parser.add_argument(
        "--devices",
        type=int,
        default=2,
        help="devices to split each batch over (default 2)",
    )
    args = parser.parse_args(argv)
    if args.devices < 1 or CHECK_CONFIG.batch_size % args.devices:
        parser.error(
            f"--devices must divide the batch of {CHECK_CONFIG.batch_size} evenly, "
            f"got {args.devices}"
        )
    try:
        report = check_data_parallel(args.devices)
    except (ValueError, RuntimeError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    print(format_report(report))
    ok = report["replica_difference"] == 0 and report["one_device_difference"] < 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
