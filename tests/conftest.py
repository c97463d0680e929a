"""Fixtures shared by the test modules in tests/.

Matplotlib draws off screen (the Agg backend, chosen here before any test module imports
pyplot), so the figure tests run on a machine without a display.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from utils import plot  # noqa: E402


@pytest.fixture
def book_style():
    """The book's figure style on for the test; every figure it made closed after."""
    plot.use_book_style()
    yield
    plt.close("all")


@pytest.fixture
def close_figures():
    """Every figure the test made closed after it; the style is the test's own."""
    yield
    plt.close("all")


@pytest.fixture
def train_tiny_fast():
    """A function that trains chapter 10's trainer on 64 random images (widths 8/8/8,
    2 epochs, float32, no XLA) and returns ``(trainer, weights)``: the trainer and its
    trained and non-trained weights as NumPy arrays. Its keyword arguments go to
    ``FastTrainer`` (e.g. ``fused_bn=False``)."""

    def train(**trainer_kwargs):
        import numpy as np
        from keras import ops

        from utils import fast

        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=(64, 1))
        cfg = fast.FastConfig(
            widths=(8, 8, 8), epochs=2, batch_size=16, eval_batch=20, whiten_samples=32
        )
        trainer = fast.FastTrainer(
            cfg, precision="float32", jit=False, **trainer_kwargs
        )
        train, test = trainer.to_device(x, y), trainer.to_device(x[:20], y[:20])
        _, (t, nt) = trainer.run(train, test, seed=0)
        return trainer, [ops.convert_to_numpy(v) for v in [*t, *nt]]

    return train
