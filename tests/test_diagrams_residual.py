"""utils/diagrams_residual.py (chapter 9): the block's shapes are build_cnn's, the
normalization sets are the axes utils.normalization reduces over, and bad input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import diagrams_residual as dr  # noqa: E402
from utils import normalization as nz  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        ax.get_title() for ax in fig.axes
    ]


@pytest.mark.parametrize(
    "size, c_in, c_out, stride", [(32, 16, 16, 1), (32, 16, 32, 2), (15, 8, 16, 2)]
)
def test_block_steps_shapes_are_those_of_build_cnn(size, c_in, c_out, stride):
    keras = pytest.importorskip("keras")
    from utils import residual as rs

    steps = dr.block_steps(size, c_in, c_out, stride)
    # a two-stage build_cnn whose second stage's first block is the block drawn
    widths = (c_in, c_out) if stride == 2 else (c_in,)
    keras.utils.set_random_seed(0)
    model = rs.build_cnn(blocks=1, widths=widths, image_size=size)
    convs = [layer for layer in model.layers if layer.name.startswith("conv")]
    first, second = convs[-2], convs[-1]  # the last block's two convolutions
    shape = lambda layer: "×".join(map(str, layer.output.shape[1:]))
    assert steps["main"][0][1] == shape(first)
    assert steps["main"][2][1] == shape(second) == steps["out"]
    assert steps["in"] == f"{size}×{size}×{c_in}"
    has_projection = any(layer.name.startswith("proj") for layer in model.layers)
    assert (steps["shortcut"] == "projection") == has_projection


def test_residual_block_diagram_labels_come_from_block_steps():
    fig = dr.residual_block_diagram(32, (16, 32))
    labels = texts(fig)
    assert "x: 32×32×16" in labels and "ReLU → y: 16×16×32" in labels
    assert "3×3 conv, 32, stride 2" in labels
    assert any(t.startswith("option B: 1×1 conv") for t in labels)
    assert any("16 zero channels" in t for t in labels)  # option A, the paper's
    assert "identity\n(no weights)" in labels
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # the opaque light card


def test_normalization_sets_match_the_axes_of_utils_normalization():
    rng = np.random.default_rng(0)
    n, c, groups = 4, 6, 2
    x = rng.standard_normal((n, 3, 3, c))
    outputs = {
        "batch": nz.batch_norm_forward(x)[0],
        "layer": nz.group_norm(x, 1),
        "instance": nz.group_norm(x, c),
        "group": nz.group_norm(x, groups),
    }
    for kind, y in outputs.items():
        labels = dr.normalization_sets(kind, n, c, groups)
        assert labels.shape == (n, c)
        for label in np.unique(labels):
            rows, cols = np.nonzero(labels == label)
            values = y[rows[:, None], :, :, cols[:, None]]  # every (h, w) of the set
            np.testing.assert_allclose(values.mean(), 0, atol=1e-9)  # normalized
    assert len(np.unique(dr.normalization_sets("batch", n, c))) == c
    assert len(np.unique(dr.normalization_sets("layer", n, c))) == n
    assert len(np.unique(dr.normalization_sets("instance", n, c))) == n * c
    assert len(np.unique(dr.normalization_sets("group", n, c, groups))) == n * groups


def test_normalization_axes_diagram_draws_four_boxes():
    fig = dr.normalization_axes_diagram()
    labels = texts(fig)
    for title in ("batch norm", "layer norm (papers)", "instance norm"):
        assert title in labels
    assert "group norm (2 groups)" in labels


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: dr.block_steps(0, 4, 4), "size"),
        (lambda: dr.block_steps(8, 4, 4, stride=3), "stride must be 1 or 2"),
        (lambda: dr.residual_block_diagram(32, (32, 16)), "must not shrink"),
        (lambda: dr.residual_block_diagram(32, (16,)), "two ints"),
        (lambda: dr.normalization_sets("weight"), "kind must be one of"),
        (lambda: dr.normalization_sets("group", c=6, groups=4), "must divide"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
