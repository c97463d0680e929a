"""utils/residual.py (chapter 9): the residual block, the CNN builder, cost counts."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import residual as rs

RNG = np.random.default_rng(0)


def test_zero_residual_branch_gives_relu_of_the_input():
    x = RNG.standard_normal((2, 5, 5, 3))
    zeros1, zeros2 = np.zeros((3, 3, 3, 3)), np.zeros((3, 3, 3, 3))
    np.testing.assert_allclose(rs.residual_block(x, zeros1, zeros2), np.maximum(x, 0))


def test_projection_shortcut_shapes():
    x = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w1 = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    w2 = RNG.standard_normal((3, 3, 4, 4)).astype(np.float32)
    wp = RNG.standard_normal((1, 1, 3, 4)).astype(np.float32)
    y = rs.residual_block(x, w1, w2, stride=2, w_proj=wp)
    assert y.shape == (2, 3, 3, 4) and y.dtype == np.float32 and (y >= 0).all()


keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("stride, c_in, c_out", [(1, 4, 4), (2, 3, 5), (1, 3, 6)])
def test_residual_block_matches_keras(stride, c_in, c_out):
    x = RNG.standard_normal((2, 7, 7, c_in)).astype(np.float32)
    w1 = RNG.standard_normal((3, 3, c_in, c_out)).astype(np.float32) * 0.3
    w2 = RNG.standard_normal((3, 3, c_out, c_out)).astype(np.float32) * 0.3
    proj = stride != 1 or c_in != c_out
    wp = RNG.standard_normal((1, 1, c_in, c_out)).astype(np.float32) if proj else None
    inp = keras.Input(x.shape[1:])
    conv = keras.layers.Conv2D
    h = conv(c_out, 3, strides=stride, padding="same", use_bias=False)(inp)
    h = conv(c_out, 3, padding="same", use_bias=False)(keras.layers.ReLU()(h))
    s = (
        conv(c_out, 1, strides=stride, padding="same", use_bias=False)(inp)
        if proj
        else inp
    )
    model = keras.Model(inp, keras.layers.ReLU()(keras.layers.Add()([h, s])))
    model.set_weights([w1, w2] + ([wp] if proj else []))
    np.testing.assert_allclose(
        rs.residual_block(x, w1, w2, stride=stride, w_proj=wp),
        model(x),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "blocks, widths, residual, batchnorm, size",
    [
        (3, (16, 32, 64), True, True, 32),
        (3, (16, 32, 64), False, True, 32),
        (1, (8, 16, 32), True, False, 16),
        (2, (4, 6), True, True, 8),
        (1, (5,), False, False, 9),
    ],
)
def test_cost_matches_keras(blocks, widths, residual, batchnorm, size):
    model = rs.build_cnn(
        blocks=blocks,
        widths=widths,
        residual=residual,
        batchnorm=batchnorm,
        image_size=size,
    )
    cost = rs.cnn_cost(
        blocks=blocks,
        widths=widths,
        residual=residual,
        batchnorm=batchnorm,
        image_size=size,
    )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert cost["params"] == trainable
    convs = [la for la in model.layers if type(la).__name__ == "Conv2D"]
    assert cost["conv_layers"] == len(convs)
    macs = sum(
        int(np.prod(la.output.shape[1:])) * int(np.prod(la.kernel.shape[:3]))
        for la in convs
    )
    assert cost["macs"] == macs + widths[-1] * 10


def test_resnet20_has_the_papers_size():
    # He et al. (2016), Table 6: ResNet-20 has 0.27 M parameters
    assert round(rs.cnn_cost(blocks=3)["params"] / 1e6, 2) == 0.27


def test_gradient_norms_one_per_main_conv():
    keras.utils.set_random_seed(0)
    model = rs.build_cnn(blocks=1, widths=(4, 8), image_size=8)
    x = RNG.standard_normal((6, 8, 8, 3)).astype(np.float32)
    norms = rs.conv_gradient_norms(model, x, np.arange(6) % 10)
    assert norms.shape == (5,) and np.all(norms > 0)
    with pytest.raises(ValueError, match="labels"):
        rs.conv_gradient_norms(model, x, np.arange(5))
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="convNN"):
        rs.conv_gradient_norms(plain, np.ones((1, 2)), [0])


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: rs.residual_block(
                np.ones((1, 4, 4, 3)), np.ones((3, 3, 3, 5)), np.ones((3, 3, 5, 5))
            ),
            "identity shortcut",
        ),
        (
            lambda: rs.residual_block(
                np.ones((1, 4, 4, 3)), np.ones((3, 3, 2, 3)), np.ones((3, 3, 3, 3))
            ),
            "w1",
        ),
        (
            lambda: rs.residual_block(
                np.ones((1, 4, 4, 3)), np.ones((3, 3, 3, 3)), np.ones((3, 3, 3, 4))
            ),
            "w2",
        ),
        (
            lambda: rs.residual_block(
                np.ones((1, 4, 4, 3)),
                np.ones((3, 3, 3, 3)),
                np.ones((3, 3, 3, 3)),
                stride=0,
            ),
            "stride",
        ),
        (
            lambda: rs.residual_block(
                np.ones((4, 4, 3)), np.ones((3, 3, 3, 3)), np.ones((3, 3, 3, 3))
            ),
            "rank-4",
        ),
        (lambda: rs.build_cnn(blocks=0), "blocks"),
        (lambda: rs.build_cnn(widths=()), "widths"),
        (lambda: rs.build_cnn(residual="yes"), "residual"),
        (lambda: rs.build_cnn(dropout=1.0), "dropout"),
        (lambda: rs.cnn_cost(image_size=0), "image_size"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
