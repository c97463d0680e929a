"""The fast CIFAR-10 trainer under ``tf.distribute`` (chapter 9, "Scaling out"). TensorFlow backend only.

:class:`DistributedFastTrainer` runs the *same* pure training step as
:class:`utils.fast.FastTrainer` inside ``strategy.run``: every replica computes the summed loss
and its gradient on its share of the global batch, the gradients are summed across replicas
(``all_reduce``), the BatchNorm running statistics are averaged, and each replica applies the
identical Nesterov update to its copy of the weights (mirrored variables).

- :func:`split_cpu` makes ``n`` logical CPU devices, so the code can be tried without GPUs;
  it must run before TensorFlow initialises its devices (first op, first list of devices).
- :func:`make_strategy` builds a ``MirroredStrategy`` (all local GPUs, or the logical CPUs)
  or, on a Colab TPU runtime, a ``TPUStrategy``.

Each replica normalises with its own batch statistics (BatchNorm is not synchronised), as
in data-parallel PyTorch without SyncBatchNorm.
"""

from __future__ import annotations

import time

import numpy as np
from keras import ops

from utils import fast, fast_backend


def split_cpu(n: int) -> list:
    """Split the CPU into ``n`` logical devices; call before TensorFlow creates any tensor."""
    import tensorflow as tf

    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as err:
        raise RuntimeError(
            "split_cpu must run before TensorFlow initialises its devices (before the first tensor is "
            "created): call it at the top of a fresh process. In a notebook, run the distributed code "
            "in a subprocess or restart the kernel."
        ) from err
    return tf.config.list_logical_devices("CPU")


def make_strategy(kind: str = "mirrored"):
    """``"mirrored"``: every local GPU, else every logical CPU. ``"tpu"``: the Colab TPU runtime."""
    import tensorflow as tf

    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()  # Colab: finds the TPU by itself
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"kind must be 'mirrored' or 'tpu', got {kind!r}")


class DistributedFastTrainer(fast.FastTrainer):
    """:class:`utils.fast.FastTrainer` with the state held in mirrored variables of ``strategy``."""

    def __init__(self, cfg: fast.FastConfig, strategy, *, precision: str = "auto", jit="auto"):
        import tensorflow as tf

        if fast_backend.backend() != "tensorflow":
            raise ValueError("tf.distribute needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
        if cfg.batch_size % strategy.num_replicas_in_sync:
            raise ValueError(
                f"batch_size {cfg.batch_size} must divide evenly among {strategy.num_replicas_in_sync} replicas"
            )
        super().__init__(cfg, precision=precision, jit=jit)
        self.strategy = strategy
        self._tf = tf
        self._dist_step = tf.function(self._distributed_step, jit_compile=False)

    def _variables(self, values):
        tf = self._tf
        with self.strategy.scope():
            return [tf.Variable(v, trainable=False, aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA) for v in values]

    def _distributed_step(self, x, y, lr_factor, gate):
        tf = self._tf

        def replica_step(xb, yb):
            ctx = tf.distribute.get_replica_context()
            t = [v.read_value() for v in self.v_t]
            nt = [v.read_value() for v in self.v_nt]
            b = [v.read_value() for v in self.v_b]
            (_, (loss, new_nt)), grads = fast_backend.value_and_grad(self._loss)(t, nt, xb, yb)
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)  # summed loss: add the replicas
            new_nt = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, new_nt)  # average the running stats
            lrs = [lr_factor * m for m in self.lr_mult]
            lrs[self.whiten_bias_index] = lrs[self.whiten_bias_index] * gate
            new_t, new_b = fast.nesterov_sgd(t, grads, b, lrs, self.l2, self.cfg.momentum)
            for var, val in zip(self.v_t + self.v_nt + self.v_b, new_t + list(new_nt) + new_b):
                var.assign(val)
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss)

        per_replica = self.strategy.run(replica_step, args=(x, y))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

    def replica_values(self, index: int = 0) -> list:
        """The trainable weights as held by every replica: ``[[w on replica 0, ...], ...]``."""
        return [[np.asarray(r) for r in self.strategy.experimental_local_results(v)] for v in self.v_t[index : index + 1]][0]

    def run(self, train, test, *, seed: int = 0, track_epochs: bool = False):
        """One training run, data-parallel over the strategy's replicas (same schedule as the parent)."""
        tf = self._tf
        cfg = self.cfg
        x_train, y_train = train
        x_test, y_test = test
        n = y_train.shape[0]
        steps_per_epoch, total = cfg.steps_per_epoch(n), cfg.total_steps(n)
        schedule = fast.lr_schedule(total, cfg.warmup_frac, cfg.start_lr_frac, cfg.final_lr_frac)
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        whiten_images = ops.convert_to_numpy(ops.cast(x_train[: cfg.whiten_samples], "float32")) if cfg.whiten else None
        t, nt, b = self.fresh_state(seed, whiten_images)
        self.v_t, self.v_nt, self.v_b = self._variables(t), self._variables(nt), self._variables(b)
        self.v_ema = self._variables(list(t) + list(nt))
        padded = fast.reflect_pad(x_train, cfg.translate)
        base_flip = rng.random(n) < 0.5
        step, epoch = 0, 0
        while step < total:
            xe, ye = self.epoch_arrays(padded, y_train, epoch, rng, base_flip)
            ds = tf.data.Dataset.from_tensor_slices((xe, ye)).batch(cfg.batch_size, drop_remainder=True)
            gate = tf.constant(1.0 if epoch < cfg.whiten_bias_epochs else 0.0)
            for xb, yb in self.strategy.experimental_distribute_dataset(ds):
                if step >= total:
                    break
                loss = self._dist_step(xb, yb, tf.constant(schedule[step], tf.float32), gate)
                step += 1
                if cfg.lookahead and step % cfg.lookahead_every == 0:
                    self._lookahead_assign(fast.lookahead_decay(step, total, cfg.lookahead_rho))
            epoch += 1
        state = self.v_ema if cfg.lookahead else self.v_t + self.v_nt
        if cfg.lookahead:
            for var, val in zip(self.v_t + self.v_nt, [v.read_value() for v in state]):
                var.assign(val)
        trainable = [v.read_value() for v in self.v_t]
        non_trainable = [v.read_value() for v in self.v_nt]
        train_seconds = time.perf_counter() - start
        accuracy = self.evaluate(trainable, non_trainable, x_test, y_test)
        seconds = time.perf_counter() - start
        result = fast.RunResult(accuracy, seconds, train_seconds, total * cfg.batch_size / train_seconds, total)
        return result, (trainable, non_trainable)

    def _lookahead_assign(self, decay: float) -> None:
        state = self.v_t + self.v_nt
        new_ema, _ = fast.lookahead_update([v.read_value() for v in self.v_ema], [v.read_value() for v in state], decay)
        for e, s, val in zip(self.v_ema, state, new_ema):
            e.assign(val)
            s.assign(val)
