"""The fast trainer: compiled pure steps over arrays held on the device, one training
loop.

Chapter 10 (fast CIFAR-10 training). The loop (whitening init, per-epoch augmentation of
the whole set, Nesterov steps, lookahead every 5 steps, TTA evaluation, timing that
excludes compilation) is Keller Jordan's airbench94
(github.com/KellerJordan/cifar10-airbench). :class:`utils.fast.distribute.
DistributedFastTrainer` reuses :meth:`FastTrainer.run` and overrides only the state
hooks (``_start``, ``_batches``, ``_apply_step``, ``_apply_lookahead``,
``_use_average``, ``weights``).
"""

from __future__ import annotations

import math
import time

import numpy as np
from keras import ops

from utils.fast import backend
from utils.fast.augment import (
    alternating_flip_mask,
    crop_flip_shuffle,
    normalize_batch,
    reflect_pad,
    tta_logits,
)
from utils.fast.evaluation import EvaluationMixin
from utils.fast.model import build_fast_model, variable_groups
from utils.fast.outcome import EpochProgress, RunResult, TrainingDivergedError
from utils.fast.recipe import (
    FastConfig,
    check_cifar_images,
    lookahead_decay,
    lr_schedule,
    normalize,
    whitening_kernel,
)
from utils.fast.update import lookahead_update, nesterov_sgd, smoothed_cross_entropy

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
COMPUTE_DTYPE = {
    "float32": "float32",
    "mixed_bfloat16": "bfloat16",
    "mixed_float16": "float16",
}


def pick_precision(requested: str = "auto") -> str:
    """Keras dtype policy: bf16 on Ampere or newer, fp16 on older GPUs, fp32 on a CPU.

    ``requested`` is ``"auto"`` or one of :data:`PRECISIONS` (returned unchanged).
    Chapter 10 (fast CIFAR-10 training); airbench94 trains in half precision. Raises
    ``ValueError`` for anything else.
    """
    if requested != "auto":
        if requested not in PRECISIONS:
            raise ValueError(
                f"precision must be auto or one of {PRECISIONS}, got {requested!r}"
            )
        return requested
    cc = backend.gpu_compute_capability()
    if cc is None:
        return "float32"
    return "mixed_bfloat16" if cc[0] >= 8 else "mixed_float16"


def _tensor(variable):
    """A copy of a Keras variable's value as a plain tensor (not a variable)."""
    return ops.convert_to_tensor(ops.convert_to_numpy(variable.value))


def _f32(value):
    return ops.convert_to_tensor(value, "float32")


def _check_finite(loss, epoch: int, step: int) -> None:
    value = float(
        ops.convert_to_numpy(loss)
    )  # one host copy per epoch: also a device sync
    if not math.isfinite(value):
        raise TrainingDivergedError(
            f"the training loss became {value} in epoch {epoch} (by step {step}): "
            "the run diverged; lower the learning rate (--lr) or check the input data"
        )


class FastTrainer(EvaluationMixin):
    """Trains the fast model from arrays held on the device, with compiled pure steps.

    Build it once per (``cfg``, ``precision``); :meth:`warmup` compiles the steps (timed
    separately), then every :meth:`run` starts from a fresh initialisation. ``jit``:
    ``"auto"`` (XLA with a GPU unless op determinism is on, a TF graph on a CPU) or a
    bool, decided by :func:`utils.fast.backend.resolve_jit`. ``fused_bn``: BatchNorm
    as :class:`~utils.fast.model.FusedBatchNorm` (default) or Keras's layer;
    ``fused_gelu``: GELU as :class:`~utils.fast.model.FusedGELU` (default) or Keras's
    activation. Chapter 10
    (fast CIFAR-10); airbench94. Raises ``ValueError`` for a config that is not a
    :class:`FastConfig`, a bad precision, ``jit`` or ``loss_scale``, a ``fused_bn`` or
    ``fused_gelu`` that is not a bool, and for ``jit=True`` on a GPU with op
    determinism on.
    """

    def __init__(
        self,
        cfg: FastConfig,
        *,
        precision="auto",
        jit="auto",
        loss_scale=None,
        fused_bn=True,
        fused_gelu=True,
    ):
        backend.backend()
        if not isinstance(cfg, FastConfig):
            raise ValueError(f"cfg must be a FastConfig, got {type(cfg).__name__}")
        jit = backend.resolve_jit(jit)  # XLA and op determinism: one rule
        # fp16 needs a loss scale; the summed loss (x batch size) already is one
        self.loss_scale = float(1.0 if loss_scale is None else loss_scale)
        if not (math.isfinite(self.loss_scale) and self.loss_scale > 0):
            raise ValueError(
                f"loss_scale must be a positive number, got {loss_scale!r}"
            )
        for name, value, fused in (
            ("fused_bn", fused_bn, "TensorFlow's fused BatchNorm kernel"),
            ("fused_gelu", fused_gelu, "one XLA loop each way"),
        ):
            if not isinstance(value, bool):
                raise ValueError(
                    f"{name} must be True ({fused}) or False (Keras's layer), "
                    f"got {value!r}"
                )
        self.jit, self.cfg = jit, cfg
        self._fused = {"fused_bn": fused_bn, "fused_gelu": fused_gelu}
        self.precision = pick_precision(precision)
        self.compute_dtype = COMPUTE_DTYPE[self.precision]
        self.model = build_fast_model(cfg, dtype=self.precision, seed=0, **self._fused)
        groups = variable_groups(self.model)
        self.whiten_bias_index = groups["whiten_bias"]
        hp = cfg.sgd_hyperparameters()
        is_bn = set(groups["bn_bias"])
        n = len(self.model.trainable_variables)
        self.lr_mult = [hp["lr_bias"] if i in is_bn else hp["lr"] for i in range(n)]
        self.l2 = [hp["l2_bias"] if i in is_bn else hp["l2"] for i in range(n)]
        self._train_step = backend.compile_fn(self._step, jit=jit)
        # after whiten_bias_epochs nothing upstream of g1_conv1 trains: a second step
        # without that part of the backward pass (airbench94 sets requires_grad=False)
        self._train_step_frozen = backend.compile_fn(self._step_frozen_whiten, jit=jit)
        self._lookahead = backend.compile_fn(lookahead_update, jit=jit)
        self._predict = backend.compile_fn(self._predict_fn, jit=jit)
        self._predict_at = {}  # other TTA levels, compiled on first use
        self._predict_plain = backend.compile_fn(self._logits, jit=jit)

    # ---- pure functions (compiled in __init__)
    def _loss(self, trainable, non_trainable, x, y):
        x = normalize_batch(x, self.compute_dtype)  # uint8 in, normalised inside
        logits, new_nt = self.model.stateless_call(
            trainable, non_trainable, x, training=True
        )
        loss = smoothed_cross_entropy(
            logits, y, self.cfg.label_smoothing, reduction="sum"
        )
        return loss * self.loss_scale, (loss, new_nt)

    def _gradients(self, trainable, non_trainable, x, y, frozen=None):
        """``(loss, new_non_trainable, grads)`` of the summed loss on one batch.

        ``frozen``: the index of a trainable tensor that is held fixed: its gradient is
        not computed (zeros are returned in its place), so the backward pass skips what
        only it needs.
        """
        if frozen is None:
            grad_fn = backend.value_and_grad(self._loss)
            (_, (loss, new_nt)), grads = grad_fn(trainable, non_trainable, x, y)
        else:
            rest = list(trainable[:frozen]) + list(trainable[frozen + 1 :])

            def loss_of_rest(params, held, nt, xb, yb):
                full = list(params[:frozen]) + [held] + list(params[frozen:])
                return self._loss(full, nt, xb, yb)

            grad_fn = backend.value_and_grad(loss_of_rest)
            held = trainable[frozen]
            (_, (loss, new_nt)), grads = grad_fn(rest, held, non_trainable, x, y)
            grads = list(grads[:frozen]) + [ops.zeros_like(held)] + list(grads[frozen:])
        return loss, new_nt, [g / self.loss_scale for g in grads]

    def _update(self, trainable, grads, buffers, lr_factor, whiten_gate):
        """Nesterov step with the per-group rates; fp16 skips a step that overflowed."""
        lrs = [lr_factor * m for m in self.lr_mult]
        lrs[self.whiten_bias_index] = lrs[self.whiten_bias_index] * whiten_gate
        new_t, new_b = nesterov_sgd(
            trainable, grads, buffers, lrs, self.l2, self.cfg.momentum
        )
        if self.precision == "mixed_float16":
            finite = ops.all(ops.stack([ops.all(ops.isfinite(g)) for g in grads]))
            new_t = [ops.where(finite, a, b) for a, b in zip(new_t, trainable)]
            new_b = [ops.where(finite, a, b) for a, b in zip(new_b, buffers)]
        return new_t, new_b

    def _step(self, trainable, non_trainable, buffers, x, y, lr_factor, whiten_gate):
        loss, new_nt, grads = self._gradients(trainable, non_trainable, x, y)
        new_t, new_b = self._update(trainable, grads, buffers, lr_factor, whiten_gate)
        return new_t, new_nt, new_b, loss

    def _step_frozen_whiten(self, trainable, non_trainable, buffers, x, y, lr_factor):
        """:meth:`_step` with the whitening bias frozen (its gate 0): the gradient with
        respect to the whitening bias, and so the backward pass through ``g1_conv1``
        to its input and through the whitening, are not computed. The weights get the
        same update as ``_step(..., whiten_gate=0)``: the frozen bias has learning rate
        0 and stays as it is. Two things differ, as they do in airbench94, whose frozen
        bias has no gradient at all: the bias's momentum buffer (never used again), and
        a non-finite gradient of the bias alone (with ``mixed_float16`` the gated step
        would skip the whole update; in float32 it would turn the bias into NaN).
        """
        i = self.whiten_bias_index
        loss, new_nt, grads = self._gradients(trainable, non_trainable, x, y, frozen=i)
        new_t, new_b = self._update(trainable, grads, buffers, lr_factor, _f32(0.0))
        return new_t, new_nt, new_b, loss

    def _logits(self, trainable, non_trainable, x):
        x = normalize_batch(x, self.compute_dtype)
        logits, _ = self.model.stateless_call(
            trainable, non_trainable, x, training=False
        )
        return logits

    def _predict_fn(self, trainable, non_trainable, x):
        predict = lambda v: self._logits(trainable, non_trainable, v)
        return tta_logits(predict, x, self.cfg.tta_level)

    # ---- data
    def to_device(self, images_uint8, labels=None):
        """Hold (N, 32, 32, 3) uint8 images on the device, still as uint8.

        Returns the uint8 images, or ``(images, onehot)`` with float32 (N, 10) one-hot
        labels when ``labels`` (N ints in 0..9, any shape) are given. The images are
        normalised batch by batch inside the compiled step and prediction
        (:func:`~utils.fast.augment.normalize_batch`): 50,000 images take 154 MB
        instead of 614 MB in float32, and each epoch's augmented copy shrinks alike.
        Raises ``ValueError`` for bad images (see :func:`check_cifar_images`) or
        labels.
        """
        x = ops.convert_to_tensor(check_cifar_images(images_uint8))
        if labels is None:
            return x
        y = np.asarray(labels).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels")
        if not np.issubdtype(y.dtype, np.integer) or (
            y.size and not 0 <= y.min() <= y.max() <= 9
        ):
            raise ValueError(
                f"labels must be ints in 0..9 (CIFAR-10 classes), got {y.dtype}"
            )
        return x, ops.convert_to_tensor(np.eye(10, dtype=np.float32)[y])

    def epoch_arrays(self, padded, y, epoch: int, rng: np.random.Generator, base_flip):
        """One epoch of the whole set: translated, flipped and shuffled
        (:func:`~utils.fast.augment.crop_flip_shuffle`, two gathers)."""
        cfg, n = self.cfg, y.shape[0]
        shifts = np.zeros((2, n), np.int64)
        if cfg.translate:
            shifts = rng.integers(-cfg.translate, cfg.translate + 1, size=(2, n))
        flip = np.zeros(n, bool)
        if cfg.flip == "alternating":
            flip = alternating_flip_mask(base_flip, epoch)
        elif cfg.flip == "random":
            flip = rng.random(n) < 0.5
        order = rng.permutation(n)
        x = crop_flip_shuffle(padded, shifts[0], shifts[1], flip, order, cfg.translate)
        return x, ops.take(y, ops.convert_to_tensor(order.astype("int32")), axis=0)

    # ---- state of one run (the distributed trainer overrides these hooks)
    def fresh_state(self, seed: int, whiten_images=None):
        """``(trainable, non_trainable, buffers)``: fresh weights, whitening, zero
        momentum.

        ``whiten_images``: normalised float images, required when ``cfg.whiten``.
        """
        model = build_fast_model(
            self.cfg, dtype=self.precision, seed=seed, **self._fused
        )
        if self.cfg.whiten:
            if whiten_images is None:
                raise ValueError(
                    "a whitening model needs whiten_images (normalised images)"
                )
            kernel = whitening_kernel(whiten_images, self.cfg.whiten_eps)
            model.get_layer("whiten").set_kernel(kernel)
        # plain tensors, never the variables themselves: TensorFlow traces a compiled
        # function again for variables, which would retrace the train step at the
        # first step of every run (and warn about it)
        trainable = [_tensor(v) for v in model.trainable_variables]
        non_trainable = [_tensor(v) for v in model.non_trainable_variables]
        return trainable, non_trainable, [ops.zeros_like(t) for t in trainable]

    def _start(self, seed, whiten_images):
        t, nt, b = self.fresh_state(seed, whiten_images)
        self._state = {"t": t, "nt": nt, "b": b, "ema": list(t) + list(nt)}

    def _batches(self, xe, ye):
        bs = self.cfg.batch_size
        for i in range(self.cfg.steps_per_epoch(ye.shape[0])):
            yield xe[i * bs : (i + 1) * bs], ye[i * bs : (i + 1) * bs]

    #: whether a step with the whitening bias frozen skips its backward pass
    #: (subclasses whose ``_step`` adds work set it False and keep the gated step)
    skip_frozen_backward = True

    def _apply_step(self, xb, yb, lr_factor, gate, frozen=False):
        """One step on the state. ``frozen`` (a Python bool, decided per epoch, never
        read back from a tensor): the whitening bias is frozen (``gate`` is 0), so the
        step without its backward pass runs when ``skip_frozen_backward`` allows."""
        s = self._state
        if frozen and self.skip_frozen_backward:
            s["t"], s["nt"], s["b"], loss = self._train_step_frozen(
                s["t"], s["nt"], s["b"], xb, yb, lr_factor
            )
            return loss
        s["t"], s["nt"], s["b"], loss = self._train_step(
            s["t"], s["nt"], s["b"], xb, yb, lr_factor, gate
        )
        return loss

    def _apply_lookahead(self, decay: float) -> None:
        s, n_t = self._state, len(self._state["t"])
        s["ema"], state = self._lookahead(s["ema"], s["t"] + s["nt"], _f32(decay))
        s["t"], s["nt"] = list(state[:n_t]), list(state[n_t:])

    def _use_average(self) -> None:
        s, n_t = self._state, len(self._state["t"])
        s["t"], s["nt"] = list(s["ema"][:n_t]), list(s["ema"][n_t:])

    def weights(self):
        """``(trainable, non_trainable)`` lists of tensors of the current (or last)
        run."""
        return list(self._state["t"]), list(self._state["nt"])

    # ---- compilation, the run (evaluation: utils.fast.evaluation)
    def warmup(self) -> float:
        """Compile the train step, the lookahead and the prediction on dummy data;
        seconds."""
        b = self.cfg.batch_size
        start = time.perf_counter()
        t, nt, bu = self.fresh_state(0, np.zeros((2, 32, 32, 3), np.float32) + 0.1)
        x = ops.zeros((b, 32, 32, 3), dtype="uint8")  # what to_device gives
        y = ops.convert_to_tensor(np.eye(10, dtype=np.float32)[np.arange(b) % 10])
        t, nt, bu, loss = self._train_step(t, nt, bu, x, y, _f32(0.0), _f32(1.0))
        if self.skip_frozen_backward and self.cfg.whiten_bias_epochs < math.ceil(
            self.cfg.epochs
        ):
            t, nt, bu, loss = self._train_step_frozen(t, nt, bu, x, y, _f32(0.0))
        e, _ = self._lookahead(list(t) + list(nt), list(t) + list(nt), _f32(0.5))
        xe = ops.zeros((self.cfg.eval_batch, 32, 32, 3), dtype="uint8")
        backend.synchronize([loss, e, self._predict(t, nt, xe)])
        return time.perf_counter() - start

    def _train_epoch(self, xe, ye, epoch, step, schedule):
        cfg, total = self.cfg, len(schedule) - 1
        frozen = epoch >= cfg.whiten_bias_epochs  # the whitening bias stops training
        gate = _f32(0.0 if frozen else 1.0)
        loss = None
        for xb, yb in self._batches(xe, ye):
            if step >= total:
                break
            loss = self._apply_step(xb, yb, _f32(schedule[step]), gate, frozen)
            step += 1
            if cfg.lookahead and step % cfg.lookahead_every == 0:
                self._apply_lookahead(lookahead_decay(step, total, cfg.lookahead_rho))
        return step, loss

    def _train_all(self, train, test, seed: int, track_epochs: bool, on_epoch=None):
        """Initialise and train every epoch: ``(steps, epoch_acc, paused seconds)``."""
        cfg, (x_train, y_train) = self.cfg, train
        n = int(y_train.shape[0])
        total = cfg.total_steps(n)
        sched = lr_schedule(
            total, cfg.warmup_frac, cfg.start_lr_frac, cfg.final_lr_frac
        )
        rng = np.random.default_rng(seed)
        if cfg.whiten:
            whiten = normalize(ops.convert_to_numpy(x_train[: cfg.whiten_samples]))
        self._start(seed, whiten if cfg.whiten else None)
        padded = reflect_pad(x_train, cfg.translate)
        base_flip = rng.random(n) < 0.5
        step, epoch, paused, epoch_acc = 0, 0, 0.0, []
        start = time.perf_counter()
        while step < total:
            xe, ye = self.epoch_arrays(padded, y_train, epoch, rng, base_flip)
            step, loss = self._train_epoch(xe, ye, epoch, step, sched)
            epoch += 1
            _check_finite(loss, epoch, step)
            if track_epochs:
                t0 = time.perf_counter()
                acc = self.evaluate(*self.weights(), *test, tta=False)
                epoch_acc.append((epoch, acc))
                paused += time.perf_counter() - t0
            if on_epoch is not None:
                t0 = time.perf_counter()
                elapsed = t0 - start - paused
                on_epoch(
                    EpochProgress(
                        epoch=epoch,
                        epochs=math.ceil(total / cfg.steps_per_epoch(n)),
                        step=step,
                        steps=total,
                        seconds=elapsed,
                        remaining=elapsed / step * (total - step),
                        accuracy=epoch_acc[-1][1] if track_epochs else None,
                    )
                )
                paused += time.perf_counter() - t0
        if cfg.lookahead:  # finish on the average (drops steps after the last 5th)
            self._use_average()
        return total, epoch_acc, paused

    def run(
        self, train, test, *, seed: int = 0, track_epochs: bool = False, on_epoch=None
    ):
        """One timed run; returns ``(RunResult, (trainable, non_trainable))``.

        ``on_epoch``: ``None`` (silent, what the chapter uses) or a function called
        after every epoch with an :class:`EpochProgress` (the benchmark prints it with
        the estimated time left); its own time is not counted.

        ``train``/``test``: ``(images, onehot)`` pairs from :meth:`to_device`. The timer
        covers the whitening kernel, training and the final TTA evaluation, not the
        compile (:meth:`warmup`) nor the per-epoch checks of ``track_epochs``; the
        device is synchronised before the clock is read. Raises
        :class:`TrainingDivergedError` (checked once per epoch) when the loss is NaN or
        infinite, ``ValueError`` when the batch exceeds the training set.
        """
        backend.synchronize([train[0]])
        start = time.perf_counter()
        steps, epoch_acc, paused = self._train_all(
            train, test, seed, track_epochs, on_epoch
        )
        trainable, non_trainable = self.weights()
        backend.synchronize([trainable, non_trainable])
        train_seconds = time.perf_counter() - start - paused
        accuracy = self.evaluate(trainable, non_trainable, *test)
        seconds = time.perf_counter() - start - paused
        ips = steps * self.cfg.batch_size / train_seconds
        result = RunResult(accuracy, seconds, train_seconds, ips, steps, epoch_acc)
        return result, (trainable, non_trainable)
