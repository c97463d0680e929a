"""utils.diagrams: the figures show the real memory order and the real weight shapes."""

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import diagrams  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def box_labels(fig):
    """Texts of the boxes, row by row: (channel letter, 'n,h,w') pairs in order."""
    texts = [t.get_text() for t in fig.axes[0].texts]
    pairs = [
        (a, b)
        for a, b in zip(texts, texts[1:])
        if a in ("R", "G", "B") and b.count(",") == 2
    ]
    return pairs


def test_memory_layout_rows_follow_the_row_major_offsets():
    fig = diagrams.memory_layout((2, 2, 2, 3))
    pairs = box_labels(fig)
    assert len(pairs) == 2 * 24
    nhwc, nchw = pairs[:24], pairs[24:]
    # NHWC: the three colours of one pixel are neighbours
    assert nhwc[:4] == [("R", "0,0,0"), ("G", "0,0,0"), ("B", "0,0,0"), ("R", "0,0,1")]
    # NCHW: a whole red plane of image 0 first
    assert [c for c, _ in nchw[:4]] == ["R"] * 4 and nchw[4] == ("G", "0,0,0")
    # every box sits at the offset the formula of chapter 1 gives
    H, W, C = 2, 2, 3
    for pos, (c, nhw) in enumerate(nchw):
        n, h, w = map(int, nhw.split(","))
        assert ((n * C + "RGB".index(c)) * H + h) * W + w == pos
    for pos, (c, nhw) in enumerate(nhwc):
        n, h, w = map(int, nhw.split(","))
        assert ((n * H + h) * W + w) * C + "RGB".index(c) == pos
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # the opaque light card


def test_memory_layout_other_channel_counts_use_numbers():
    fig = diagrams.memory_layout((1, 2, 2, 2))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "0" in texts and "1" in texts and "R" not in texts


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(shape=(2, 2, 3)), "four ints"),
        (dict(shape="NHWC"), "four ints"),
        (dict(shape=(2, 0, 2, 3)), r"shape\[1\] must be a positive int"),
        (dict(shape=(2, 2.0, 2, 3)), r"shape\[1\] must be a positive int"),
        (dict(shape=(4, 4, 4, 3)), "at most 48"),
        (dict(box=0), "box"),
        (dict(box="wide"), "box"),
    ],
)
def test_memory_layout_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        diagrams.memory_layout(**kwargs)


def test_mlp_diagram_labels_every_weight_and_bias_shape():
    shapes = [(64, 32), (32,), (32, 16), (16,), (16, 10), (10,)]
    fig = diagrams.mlp_diagram(shapes, ["relu", "gelu", "softmax"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    for label in ["W1: (64, 32)\nb1: (32,)", "W2: (32, 16)\nb2: (16,)",
                  "W3: (16, 10)\nb3: (10,)"]:  # fmt: skip
        assert label in texts
    assert "input x\n64 units" in texts and "output\n10 units" in texts
    assert {"relu", "gelu", "softmax"} <= set(texts)
    # wide layers are drawn with a gap; small ones unit by unit
    circles = [p for p in fig.axes[0].patches if type(p).__name__ == "Circle"]
    assert len(circles) == 4 * 6  # every layer is wider than 7: 6 units and a gap


def test_mlp_diagram_accepts_numpy_shapes_from_keras_weights():
    weights = [np.zeros((8, 4)), np.zeros(4), np.zeros((4, 3)), np.zeros(3)]
    fig = diagrams.mlp_diagram([w.shape for w in weights])
    circles = [p for p in fig.axes[0].patches if type(p).__name__ == "Circle"]
    assert len(circles) == 6 + 4 + 3  # 8 inputs > max_units=7: 6 drawn and a gap


@pytest.mark.parametrize(
    "args,match",
    [
        (([(4, 3)],), "alternate"),
        (([(4, 3), (2,)],), "b1"),
        (([(4, 3), (3,), (2, 5), (5,)],), "W2 expects 2 inputs"),
        (([(4, 0), (0,)],), "positive int"),
        (([(4, 3), (3,)], ["relu", "relu"]), "1 layers need 1 activations"),
        ((5,), "list of array shapes"),
    ],
)
def test_mlp_diagram_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        diagrams.mlp_diagram(*args)


def test_mlp_diagram_bad_max_units():
    with pytest.raises(ValueError, match="max_units must be >= 3"):
        diagrams.mlp_diagram([(4, 3), (3,)], max_units=2)
