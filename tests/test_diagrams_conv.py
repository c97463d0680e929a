"""utils/diagrams_conv.py (chapters 3, 4, 5): values drawn come from the tested
functions, the shared filter scale, and bad input."""

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import conv, pool  # noqa: E402
from utils import diagrams_conv as dc  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_figures")


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        ax.get_title() for ax in fig.axes
    ]


# --------------------------------------------------------------------------- filters


def test_filters_share_one_symmetric_scale():
    w = np.zeros((3, 3, 3, 2))
    w[..., 0] = 0.01  # a weak, uniform filter ...
    w[0, 0, 0, 1], w[1, 1, 2, 1] = 0.5, -0.5  # ... next to a strong one
    images, scale = dc.filters_to_images(w)
    assert images.shape == (2, 3, 3, 3) and images.dtype == np.float32
    assert scale == 0.5
    # weak filter stays close to mid-grey instead of being stretched to full colour
    np.testing.assert_allclose(images[0], 0.5 + 0.5 * 0.01 / 0.5, rtol=1e-6)
    assert images[1, 0, 0, 0] == 1.0 and images[1, 1, 1, 2] == 0.0
    assert images[1, 2, 2, 1] == 0.5  # zero weight is grey


def test_explicit_scale_clips_and_grey_filters():
    w = np.linspace(-2, 2, 9).reshape(3, 3, 1, 1)
    images, scale = dc.filters_to_images(w, scale=1.0)
    assert images.shape == (1, 3, 3) and scale == 1.0
    assert images.min() == 0.0 and images.max() == 1.0
    zero, scale0 = dc.filters_to_images(np.zeros((2, 2, 3, 4)))
    assert scale0 == 1.0 and np.all(zero == 0.5)


def test_show_filters_names_the_scale():
    w = np.random.default_rng(0).normal(size=(3, 3, 3, 5))
    fig = dc.show_filters(w, title="conv1")
    title = fig._suptitle.get_text()
    assert title.startswith("conv1") and "shared scale" in title
    assert f"{np.abs(w).max():.2g}" in title


@pytest.mark.parametrize(
    "weights, kwargs, match",
    [
        (np.zeros((3, 3, 3)), {}, "HWIO"),
        (np.zeros((3, 3, 2, 4)), {}, "1 or 3 input channels"),
        (np.zeros((3, 3, 3, 0)), {}, "no filter"),
        (np.full((1, 1, 1, 1), np.nan), {}, "NaN"),
        (np.zeros((1, 1, 1, 1), dtype=bool), {}, "real numbers"),
        (np.ones((1, 1, 1, 1)), {"scale": 0}, "scale"),
        (np.ones((1, 1, 1, 1)), {"scale": float("inf")}, "scale"),
    ],
)
def test_filters_bad_input(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dc.filters_to_images(weights, **kwargs)


# ------------------------------------------------------------ multi-channel diagram


def test_multichannel_conv_draws_one_block_per_filter():
    fig = dc.draw_multichannel_conv(c_in=3, c_out=4, k=3, size=5)
    gids = [p.get_gid() for p in fig.axes[0].patches if p.get_gid()]
    assert sorted(set(gids)) == [f"filter {o}" for o in range(4)]
    assert len(gids) == 4 * 3  # one k x k slice per input channel in each block
    assert any("3x3x4" in t for t in _texts(fig))  # output 'valid': 5 - 3 + 1


@pytest.mark.parametrize(
    "kwargs",
    [dict(c_in=0), dict(c_out=9), dict(k=6, size=5), dict(size=13), dict(k=2.0)],
)
def test_multichannel_conv_bad_input(kwargs):
    with pytest.raises(ValueError):
        dc.draw_multichannel_conv(**kwargs)


# ------------------------------------------------------------------ sliding windows


def test_conv_frames_write_the_values_of_conv2d():
    x = np.arange(30).reshape(5, 6) % 7
    k = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    y = conv.conv2d(x[None, :, :, None], k[:, :, None, None])[0, :, :, 0]
    fig = dc.conv_frames(x, k, steps=[(0, 0), (2, 3)])
    assert len(fig.axes) == 2 * 3  # kernel column + two steps, two rows
    texts = _texts(fig)
    assert f"y[0, 0] = {y[0, 0]:.0f}" in texts and f"y[2, 3] = {y[2, 3]:.0f}" in texts
    last = fig.axes[-1]  # output grid of the last step: every cell is filled in
    shown = sorted(float(t.get_text()) for t in last.texts)
    np.testing.assert_array_equal(shown, np.sort(y.ravel()))


def test_pool_frames_follow_pool2d_with_stride():
    x = np.random.default_rng(1).normal(size=(5, 5)).round(2)
    fig = dc.pool_frames(x, 3, 2, mode="avg")
    y = pool.avg_pool2d(x[None, :, :, None], 3, strides=2)[0, :, :, 0]
    titles = [ax.get_title() for ax in fig.axes]
    assert f"avg pool[1, 1] = {y[1, 1]:.2f}" in titles
    assert len(fig.axes) == 2 * 3  # default steps of a 2x2 output: (0,0), (0,1), (1,1)


def test_window_frames_default_steps_and_partial_fill():
    x = np.arange(16.0).reshape(4, 4)
    y = pool.max_pool2d(x[None, :, :, None], 2)[0, :, :, 0]
    fig = dc.window_frames(x, y, 2, 2)
    first_output = fig.axes[len(fig.axes) // 2]  # bottom row, first step
    assert [t.get_text() for t in first_output.texts] == [f"{y[0, 0]:.0f}"]


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((4, 4)), np.zeros((2, 2)), 2), {}, "output"),
        ((np.zeros((1, 4, 4)), np.zeros((2, 2)), 2), {}, "2-D"),
        ((np.zeros((4, 4)), np.zeros((2, 2)), 5), {}, "output"),
        ((np.zeros((4, 4)), np.zeros((3, 3)), 2, 1), {"steps": [(3, 0)]}, "outside"),
        ((np.zeros((4, 4)), np.zeros((3, 3)), 2, 1), {"steps": [(0, 0)] * 7}, "steps"),
        ((np.zeros((4, 4)), np.full((3, 3), np.inf), 2, 1), {}, "finite"),
        (
            (np.zeros((4, 4)), np.zeros((2, 2)), 2, 2),
            {"kernel": np.ones((3, 3))},
            "kernel",
        ),
    ],
)
def test_window_frames_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dc.window_frames(*args, **kwargs)


def test_frames_bad_input_from_the_tested_functions():
    with pytest.raises(ValueError, match="2-D"):
        dc.conv_frames(np.zeros((1, 5, 5)), np.ones((3, 3)))
    with pytest.raises(ValueError):
        dc.conv_frames(np.zeros((2, 2)), np.ones((3, 3)))  # window does not fit
    with pytest.raises(ValueError, match="mode"):
        dc.pool_frames(np.zeros((4, 4)), 2, mode="mean")


# -------------------------------------------------------------- computational graph


def _neuron_numbers():
    values = {n: 0.5 for n in dc.NEURON_GRAPH["nodes"]}
    values["z"] = 1.9
    grads = {"L": 1.0, "z": -0.0294514}
    return values, grads


def test_graph_writes_values_and_gradients():
    values, grads = _neuron_numbers()
    fig = dc.draw_computational_graph(dc.NEURON_GRAPH, values, grads)
    texts = _texts(fig)
    assert "= 1.9000" in texts and "dL = -0.0295" in texts and "dL = 1.0000" in texts
    assert sum(t.startswith("dL = ") for t in texts) == len(grads)
    assert sum(t.startswith("= ") for t in texts) == len(dc.NEURON_GRAPH["nodes"])


def test_graph_bad_input():
    values, grads = _neuron_numbers()
    graph = dc.NEURON_GRAPH
    with pytest.raises(ValueError, match="'nodes'"):
        dc.draw_computational_graph({"edges": []}, values, grads)
    with pytest.raises(ValueError, match="unknown node 'q'"):
        bad = {"nodes": graph["nodes"], "edges": [("x1", "q")]}
        dc.draw_computational_graph(bad, values, grads)
    with pytest.raises(ValueError, match="no forward value"):
        dc.draw_computational_graph(graph, {"z": 1.0}, grads)
    with pytest.raises(ValueError, match="unknown node"):
        dc.draw_computational_graph(graph, values, {"nope": 1.0})
    with pytest.raises(ValueError, match="finite"):
        dc.draw_computational_graph(graph, {**values, "a": float("nan")}, grads)
    with pytest.raises(ValueError, match="finite"):
        dc.draw_computational_graph(graph, values, {"L": np.inf})
