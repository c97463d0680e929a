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
