"""The fast trainer under ``tf.distribute`` (TensorFlow backend only).

Chapter 10 (fast CIFAR-10 training, "Scaling out"); the recipe is airbench94 (Keller
Jordan, github.com/KellerJordan/cifar10-airbench), made data-parallel here.
:class:`DistributedFastTrainer` reuses :meth:`utils.fast.trainer.FastTrainer.run` (the
one training loop: same schedule, timing, per-epoch tracking, divergence check and
:class:`~utils.fast.trainer.RunResult`) and overrides only the state hooks: the weights
live in mirrored variables and each step runs under ``strategy.run``. Every replica
computes the summed loss and its gradient on its share of the global batch, the
gradients are summed across replicas, the BatchNorm running statistics averaged, and
each replica applies the same Nesterov update. BatchNorm is not synchronised (like
PyTorch without SyncBatchNorm).

- :func:`split_cpu` makes ``n`` logical CPUs, so the code can be tried without GPUs; it
  must run before TensorFlow initialises its devices.
- :func:`make_strategy` builds a ``MirroredStrategy`` (local GPUs, else the logical
  CPUs) or, on a Colab TPU runtime, a ``TPUStrategy``.
- :func:`demo` (``python -m utils.fast.distribute``) is the chapter's two-replica run.
"""

from __future__ import annotations

import numpy as np

from utils.fast import backend
from utils.fast.recipe import FastConfig
from utils.fast.trainer import FastTrainer
from utils.fast.update import lookahead_update
from utils.shapes import is_int


def split_cpu(n: int) -> list:
    """Split the CPU into ``n`` logical devices; returns TensorFlow's logical CPU list.

    Chapter 10 (fast CIFAR-10). Raises ``ValueError`` unless ``n`` is a positive
    int, ``RuntimeError`` when TensorFlow has already initialised its devices.
    """
    import tensorflow as tf

    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n
        )
    except RuntimeError as err:
        raise RuntimeError(
            "split_cpu must run before TensorFlow initialises its devices (before the "
            "first tensor is created): call it at the top of a fresh process. In a "
            "notebook, run the distributed code in a subprocess or restart the kernel."
        ) from err
    return tf.config.list_logical_devices("CPU")


def make_strategy(kind: str = "mirrored"):
    """``"mirrored"``: every local GPU, else every logical CPU; ``"tpu"``: a Colab TPU.

    Chapter 10 (fast CIFAR-10 training). Raises ``ValueError`` for another ``kind``.
    """
    import tensorflow as tf

    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()  # Colab finds it
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"kind must be 'mirrored' or 'tpu', got {kind!r}")


class DistributedFastTrainer(FastTrainer):
    """:class:`~utils.fast.trainer.FastTrainer` with its state in mirrored variables.

    Chapter 10 (fast CIFAR-10 training). ``run`` is the parent's; only the hooks differ.
    Raises ``ValueError`` without the TensorFlow backend or when ``batch_size`` does not
    divide evenly among the replicas.
    """

    # the replicas run their own step (_replica_step), always the gated one
    skip_frozen_backward = False

    def __init__(self, cfg: FastConfig, strategy, *, precision="auto", jit="auto"):
        import tensorflow as tf

        if backend.backend() != "tensorflow":
            raise ValueError(
                "tf.distribute needs the TensorFlow backend (KERAS_BACKEND=tensorflow)"
            )
        replicas = strategy.num_replicas_in_sync
        if cfg.batch_size % replicas:
            raise ValueError(
                f"batch_size {cfg.batch_size} must divide evenly among "
                f"{replicas} replicas"
            )
        super().__init__(cfg, precision=precision, jit=jit)
        self.strategy, self._tf = strategy, tf
        self._vars = None  # {"t", "nt", "b", "ema"}: lists of mirrored variables
        self._dist_step = tf.function(self._distributed_step, jit_compile=False)

    def _replica_step(self, xb, yb, lr_factor, gate):
        tf, v = self._tf, self._vars
        ctx = tf.distribute.get_replica_context()
        t, nt, b = ([x.read_value() for x in v[k]] for k in ("t", "nt", "b"))
        loss, new_nt, grads = self._gradients(t, nt, xb, yb)
        grads = ctx.all_reduce(
            tf.distribute.ReduceOp.SUM, grads
        )  # summed loss: add them
        new_nt = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, list(new_nt))
        new_t, new_b = self._update(t, grads, b, lr_factor, gate)
        for var, val in zip(v["t"] + v["nt"] + v["b"], new_t + list(new_nt) + new_b):
            var.assign(val)
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss)

    def _distributed_step(self, x, y, lr_factor, gate):
        per_replica = self.strategy.run(
            self._replica_step, args=(x, y, lr_factor, gate)
        )
        return self.strategy.reduce(
            self._tf.distribute.ReduceOp.MEAN, per_replica, axis=None
        )

    # ---- the hooks of FastTrainer.run
    def _start(self, seed, whiten_images):
        tf = self._tf
        t, nt, b = self.fresh_state(seed, whiten_images)
        values = {"t": t, "nt": nt, "b": b, "ema": list(t) + list(nt)}
        if (
            self._vars is None
        ):  # created once: the compiled step captures these variables
            agg = tf.VariableAggregation.ONLY_FIRST_REPLICA
            with self.strategy.scope():
                self._vars = {
                    k: [tf.Variable(x, trainable=False, aggregation=agg) for x in vals]
                    for k, vals in values.items()
                }
            return
        for k, vals in values.items():
            for var, x in zip(self._vars[k], vals):
                var.assign(x)

    def _batches(self, xe, ye):
        ds = self._tf.data.Dataset.from_tensor_slices((xe, ye))
        ds = ds.batch(self.cfg.batch_size, drop_remainder=True)
        return iter(self.strategy.experimental_distribute_dataset(ds))

    def _apply_step(self, xb, yb, lr_factor, gate, frozen=False):
        # the replicas always run the gated step (skip_frozen_backward is False)
        return self._dist_step(xb, yb, lr_factor, gate)

    def _apply_lookahead(self, decay: float) -> None:
        state = self._vars["t"] + self._vars["nt"]
        ema = [v.read_value() for v in self._vars["ema"]]
        new_ema, _ = lookahead_update(ema, [v.read_value() for v in state], decay)
        for e, s, val in zip(self._vars["ema"], state, new_ema):
            e.assign(val)
            s.assign(val)

    def _use_average(self) -> None:
        for var, e in zip(self._vars["t"] + self._vars["nt"], self._vars["ema"]):
            var.assign(e.read_value())

    def weights(self):
        return (
            [v.read_value() for v in self._vars["t"]],
            [v.read_value() for v in self._vars["nt"]],
        )

    def replica_values(self, index: int = 0) -> list:
        """Trainable variable ``index`` as held by every replica: NumPy arrays, one
        each."""
        var = self._vars["t"][index]
        return [np.asarray(r) for r in self.strategy.experimental_local_results(var)]


def demo(train, test, *, replicas: int = 2) -> list[str]:
    """Chapter 10's two-replica run: three lines, the last one the accuracy.

    Splits the CPU into ``replicas`` logical devices (GPUs are hidden, so a one-GPU
    machine also gets ``replicas`` replicas), trains a narrow network (widths
    16/32/64, batch 256, 2 epochs of the ``quick`` recipe) with
    :class:`DistributedFastTrainer`, and reports the replicas, the steps, whether the
    replicas hold identical weights, and the accuracy. ``train``/``test`` are
    ``(uint8 images, int labels)`` pairs. Must run in a fresh process, before
    TensorFlow initialises its devices: ``python -m utils.fast.distribute``. Raises
    ``RuntimeError`` otherwise (from :func:`split_cpu`).
    """
    import tensorflow as tf

    from utils.fast.recipe import PROFILES

    tf.config.set_visible_devices([], "GPU")  # before TensorFlow creates its devices
    split_cpu(replicas)
    strategy = make_strategy("mirrored")
    cfg = PROFILES["quick"].replace(
        widths=(16, 32, 64), batch_size=256, epochs=2, eval_batch=500
    )
    tr = DistributedFastTrainer(cfg, strategy)
    res, _ = tr.run(tr.to_device(*train), tr.to_device(*test), seed=0)
    copies = tr.replica_values(2)
    same = all(np.array_equal(copies[0], c) for c in copies[1:])
    return [
        f"replicas: {strategy.num_replicas_in_sync}",
        f"steps: {res.steps} | weights identical on all replicas: {same}",
        f"accuracy: {res.accuracy:.3f}",
    ]


def main(argv=None) -> int:
    """``python -m utils.fast.distribute [--train N] [--test N]``: :func:`demo` on a
    balanced CIFAR-10 subset (default 1,280 training and 500 test images).
    Chapter 10."""
    import argparse

    from utils import data

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--train", type=int, default=1280)
    parser.add_argument("--test", type=int, default=500)
    args = parser.parse_args(argv)
    train, test = data.load_cifar10(subset=(args.train, args.test), verbose=False)
    print("\n".join(demo(train, test)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
