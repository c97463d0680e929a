"""utils.plot: figures build, captions land, bad input is explained."""

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import plot  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_figures")


def test_style_is_an_opaque_light_card():
    plot.use_book_style()
    assert (
        plt.rcParams["figure.facecolor"] == "white"
        and plt.rcParams["savefig.facecolor"] == "white"
    )


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
    [
        ([], None, "at least one"),
        (np.zeros((2, 4, 4, 3)), ["a"], "2 images but 1 labels"),
        (np.zeros((1, 4, 4, 5)), None, "each image"),
    ],
)
def test_image_grid_bad_input(images, labels, match):
    with pytest.raises(ValueError, match=match):
        plot.image_grid(images, labels)


def test_plot_curves_and_confusion():
    ax = plot.plot_curves(
        {"train": [1, 0.5, 0.2], "val": [1.1, 0.7, 0.6]}, ylabel="loss"
    )
    assert len(ax.lines) == 2
    ax = plot.plot_confusion(np.eye(3) * 5, ["a", "b", "c"])
    assert len(ax.texts) == 9
    with pytest.raises(ValueError, match="must be \\(2, 2\\)"):
        plot.plot_confusion(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        plot.plot_curves({})


# ------------------------------------------------------------ audit: faithful display


def test_grey_images_are_not_stretched_by_imshow():
    """imshow auto-scaled each grey image, so a flat mid-grey one could look black."""
    fig = plot.image_grid([np.full((4, 4), 0.5), np.full((4, 4), 128, np.uint8)])
    for ax, top in zip(fig.axes[:2], (1, 255)):
        im = ax.images[0]
        assert (im.norm.vmin, im.norm.vmax) == (0, top) and im.get_cmap().name == "gray"


def test_integer_pixels_keep_their_brightness():
    """int64 pixels 0-200 were stretched so that 200 became white."""
    img = np.zeros((4, 4, 3), np.int64)
    img[0, 0] = 200
    shown = plot.image_grid(img[None]).axes[0].images[0].get_array()
    assert float(shown.max()) == pytest.approx(200 / 255)
    boolean = plot.image_grid([np.eye(4, dtype=bool)]).axes[0].images[0].get_array()
    assert float(boolean.max()) == 1.0


@pytest.mark.parametrize(
    "images,match",
    [
        (np.zeros((32, 32, 3), np.uint8), "look like ONE image"),
        (np.zeros((8, 8)), "look like ONE image"),
        ([np.full((4, 4), np.nan)], "NaN"),
        ([np.zeros((4, 4), complex)], "real numbers"),
        ([np.zeros((0, 4))], "pixels"),
    ],
)
def test_image_grid_refuses_what_it_cannot_draw_faithfully(images, match):
    with pytest.raises(ValueError, match=match):
        plot.image_grid(images)
    assert not plt.get_fignums()  # nothing half-drawn
    assert len(plot.image_grid(list(np.zeros((2, 5, 3)))).axes) == 2  # 3 px wide


@pytest.mark.parametrize(
    "kwargs,match",
    [({"ncols": 0}, "ncols"), ({"ncols": 2.5}, "ncols"), ({"size": 0}, "size")],
)
def test_image_grid_bad_layout(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.image_grid(np.zeros((2, 4, 5)), **kwargs)


def test_plot_curves_bad_series():
    with pytest.raises(ValueError, match="1-D"):
        plot.plot_curves({"a": [[1, 2], [3, 4]]})
    with pytest.raises(ValueError, match="numbers"):
        plot.plot_curves({"a": ["x", "y"]})
    with pytest.raises(ValueError, match="log axis"):
        plot.plot_curves({"a": [1.0, 0.0]}, logy=True)
    assert len(plot.plot_curves({"a": [1.0, np.nan, 0.5]}).lines) == 1


def test_plot_confusion_values():
    with pytest.raises(ValueError, match="non-negative"):
        plot.plot_confusion(np.array([[1, -1], [0, 2]]), ["a", "b"])
    with pytest.raises(ValueError, match="finite"):
        plot.plot_confusion(np.array([[1, np.nan], [0, 2]]), ["a", "b"])
    ax = plot.plot_confusion(np.array([[3, 1], [0, 0]]), ["a", "b"], normalize=False)
    assert [t.get_text() for t in ax.texts] == ["3", "1", "0", "0"]
