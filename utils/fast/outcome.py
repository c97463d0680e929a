"""What a fast training run reports: its result, its progress after each epoch, and the
error that stops a run whose loss diverged.

Chapter 10 (fast CIFAR-10 training). :mod:`utils.fast.trainer` and :mod:`utils.fast`
re-export all three, so ``trainer.RunResult`` and ``fast.RunResult`` keep working. This
module imports nothing from the package. (The JSON records of benchmark runs are
:mod:`utils.fast.records`.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite (chapter 10): lower the rate."""


@dataclass
class RunResult:
    """What one training run measured (chapter 10); ``to_dict`` gives a JSON-ready
    record.

    ``seconds``: timed region (whitening init + training + final TTA evaluation);
    ``epoch_accuracy``: ``[(epoch, accuracy without TTA), ...]`` when tracked.
    """

    accuracy: float
    seconds: float
    train_seconds: float
    images_per_second: float
    steps: int
    epoch_accuracy: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EpochProgress:
    """Where a run stands after an epoch (chapter 10): what ``on_epoch`` receives.

    ``seconds``: timed seconds so far (per-epoch evaluation excluded); ``remaining``:
    the estimate ``seconds / step * (steps - step)``, in seconds, assuming the
    remaining steps cost what the past ones did (the final TTA evaluation, a few
    percent of a run, is not in it); ``accuracy``: the epoch's test accuracy without
    TTA when the run tracks epochs, else ``None``.
    """

    epoch: int
    epochs: int
    step: int
    steps: int
    seconds: float
    remaining: float
    accuracy: float | None = None

    def line(self) -> str:
        """One human line, e.g. ``epoch 3/14 (step 294/1372): 141 s, about 517 s
        left``."""
        acc = "" if self.accuracy is None else f", accuracy {100 * self.accuracy:.1f}%"
        return (
            f"epoch {self.epoch}/{self.epochs} (step {self.step}/{self.steps}): "
            f"{self.seconds:.0f} s, about {self.remaining:.0f} s left{acc}"
        )
