"""Evaluation of the fast trainer's weights: accuracy with or without TTA.

Chapter 10 (fast CIFAR-10 training). :class:`EvaluationMixin` holds the two methods of
:class:`utils.fast.trainer.FastTrainer` that evaluate: it uses the trainer's compiled
predictions (``_predict``, ``_predict_plain``, ``_predict_at``, ``_logits``) and its
``cfg`` and ``jit``.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from utils.fast import backend
from utils.fast.augment import tta_logits
from utils.fast.outcome import TrainingDivergedError


class EvaluationMixin:
    """``evaluate`` and the compiled predictions per TTA level, for ``FastTrainer``.
    Chapter 10 (fast CIFAR-10 training)."""

    def _predictor(self, tta_level):
        """The compiled prediction for ``tta_level`` (the configured one is compiled in
        ``__init__``; others once, on first use, and kept)."""
        if tta_level is None or tta_level == self.cfg.tta_level:
            return self._predict
        if tta_level not in (0, 1, 2):
            raise ValueError(f"tta_level must be 0, 1 or 2, got {tta_level!r}")
        if tta_level not in self._predict_at:

            def predict_at(trainable, non_trainable, x):
                view = lambda v: self._logits(trainable, non_trainable, v)
                return tta_logits(view, x, tta_level)

            self._predict_at[tta_level] = backend.compile_fn(predict_at, jit=self.jit)
        return self._predict_at[tta_level]

    def evaluate(
        self, trainable, non_trainable, x_test, y_test, *, tta=True, tta_level=None
    ) -> float:
        """Accuracy in [0, 1] (with the configured TTA unless ``tta=False``, or with
        ``tta_level`` 0, 1 or 2 views of :func:`tta_weights` when given: one trainer
        compares TTA levels without building and tracing new trainers).

        ``x_test``: (N, 32, 32, 3) uint8 device images (:meth:`to_device`);
        ``y_test``: one-hot (N, 10) or N ints.
        Fixed-size batches, the last one padded. Raises ``ValueError`` for N = 0 or a
        label count other than N or a ``tta_level`` other than 0, 1, 2,
        ``TrainingDivergedError`` for non-finite logits. Chapter 10.
        """
        predict = self._predictor(tta_level) if tta else self._predict_plain
        b, n = self.cfg.eval_batch, x_test.shape[0]
        if n == 0:
            raise ValueError("x_test is empty: nothing to evaluate")
        labels = np.asarray(ops.convert_to_numpy(y_test))
        labels = (
            labels.argmax(-1)
            if labels.ndim == 2 and labels.shape[-1] == 10
            else labels.reshape(-1)
        )
        if labels.shape[0] != n:
            raise ValueError(f"{n} test images but {labels.shape[0]} labels")
        preds = []
        for start in range(0, n, b):
            xb = x_test[start : start + b]
            m = xb.shape[0]
            if m < b:  # keep the compiled shape
                pad = ops.zeros((b - m, *xb.shape[1:]), dtype=xb.dtype)
                xb = ops.concatenate([xb, pad], axis=0)
            logits = ops.convert_to_numpy(predict(trainable, non_trainable, xb))[:m]
            if not np.isfinite(logits).all():  # argmax would skip NaN and look fine
                raise TrainingDivergedError(
                    f"the model's logits are NaN or infinite on test images "
                    f"{start}..{start + m - 1}: the weights diverged; lower the lr"
                )
            preds.append(logits.argmax(-1))
        return float(np.mean(np.concatenate(preds) == labels))
