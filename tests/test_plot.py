"""utils.plot: figures build, captions land, bad input is explained."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_style_is_an_opaque_light_card():
    plot.use_book_style()
    assert plt.rcParams["figure.facecolor"] == "white" and plt.rcParams["savefig.facecolor"] == "white"


def test_image_grid_layout_and_captions():
    imgs = np.random.default_rng(0).integers(0, 255, (10, 32, 32, 3), dtype=np.uint8)
    fig = plot.image_grid(imgs, [f"c{i}" for i in range(10)], ncols=4)
    axes = fig.axes
    assert len(axes) == 12  # 3 rows x 4 columns, two left empty
    assert [ax.get_title() for ax in axes[:10]] == [f"c{i}" for i in range(10)]


def test_image_grid_accepts_grey_and_standardised_floats():
    grey = np.random.default_rng(1).normal(size=(3, 8, 8, 1))
    fig = plot.image_grid(grey)
    data = fig.axes[0].images[0].get_array()
    assert data.min() >= 0 and data.max() <= 1


@pytest.mark.parametrize(
    "images,labels,match",
    [([], None, "at least one"), (np.zeros((2, 4, 4, 3)), ["a"], "2 images but 1 labels"), (np.zeros((1, 4, 4, 5)), None, "each image")],
)
def test_image_grid_bad_input(images, labels, match):
    with pytest.raises(ValueError, match=match):
        plot.image_grid(images, labels)


def test_plot_curves_and_confusion():
    ax = plot.plot_curves({"train": [1, 0.5, 0.2], "val": [1.1, 0.7, 0.6]}, ylabel="loss")
    assert len(ax.lines) == 2
    ax = plot.plot_confusion(np.eye(3) * 5, ["a", "b", "c"])
    assert len(ax.texts) == 9
    with pytest.raises(ValueError, match="must be \\(2, 2\\)"):
        plot.plot_confusion(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        plot.plot_curves({})
