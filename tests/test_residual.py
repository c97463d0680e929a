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


# --- gradient_growth, train_sgd, t4_minutes (chapter 9's helpers) -------------------


def test_gradient_growth_is_input_end_over_output_end():
    assert rs.gradient_growth([8, 4, 2, 1, 1, 1], k=3) == pytest.approx(14 / 3)
    assert rs.gradient_growth(np.ones(10)) == 1.0
    assert rs.gradient_growth([1.0, 3.0], k=1) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least 6 norms"):
        rs.gradient_growth([1, 2, 3])
    with pytest.raises(ValueError, match="positive and finite"):
        rs.gradient_growth([1, 2, 3, 0, 5, 6])
    with pytest.raises(ValueError, match="positive and finite"):
        rs.gradient_growth([1, 2, 3, np.nan, 5, 6])
    with pytest.raises(ValueError, match="k"):
        rs.gradient_growth(np.ones(6), k=0)


def test_a_deep_plain_bn_network_grows_its_gradient_towards_the_input():
    # chapter 9's claim at initialization: with batch normalization and no shortcuts
    # the gradient grows towards the input with depth; with shortcuts it does not
    x = RNG.standard_normal((32, 8, 8, 3)).astype(np.float32)
    y = np.arange(32) % 10
    growth = {}
    for blocks in (1, 9):
        for residual in (False, True):
            keras.utils.set_random_seed(0)
            model = rs.build_cnn(
                blocks=blocks, widths=(4, 8, 16), residual=residual, image_size=8
            )
            norms = rs.conv_gradient_norms(model, x, y)
            growth[(blocks, residual)] = rs.gradient_growth(norms)
    assert growth[(9, False)] > 10 * growth[(1, False)]
    assert growth[(9, False)] > 10 * growth[(9, True)]
    assert growth[(9, True)] < 50


def test_train_sgd_returns_one_mean_loss_per_epoch_and_decays_weights():
    x = RNG.standard_normal((40, 8, 8, 3)).astype(np.float32)
    y = np.arange(40) % 10
    keras.utils.set_random_seed(0)
    model = rs.build_cnn(blocks=1, widths=(4, 8), image_size=8)
    losses = rs.train_sgd(model, x, y, epochs=2, batch_size=20, learning_rate=0.05)
    assert len(losses) == 2 and all(np.isfinite(losses))
    opt = model.optimizer
    assert opt.weight_decay == pytest.approx(5e-4) and opt.momentum == 0.9
    assert int(opt.iterations.numpy()) == 4  # 2 epochs of 2 batches
    no_decay = rs.build_cnn(blocks=1, widths=(4, 8), image_size=8)
    rs.train_sgd(
        no_decay, x, y, epochs=1, batch_size=20, learning_rate=0.05, weight_decay=0
    )
    assert no_decay.optimizer.weight_decay is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=1.5), "batch_size"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate="0.1"), "learning_rate"),
        (dict(weight_decay=-1e-4), "weight_decay"),
        (dict(momentum=True), "momentum"),
    ],
)
def test_train_sgd_bad_input(kwargs, match):
    args = dict(epochs=1, batch_size=4, learning_rate=0.1) | kwargs
    with pytest.raises(ValueError, match=match):
        rs.train_sgd(None, np.ones((4, 8, 8, 3)), np.zeros(4), **args)


FULL_KNOBS = dict(
    IMAGE_SIZE=32,
    WIDTH=16,
    DEPTH_SHALLOW=3,
    DEPTH=9,
    N_TRAIN=45_000,
    N_TEST=10_000,
    BATCH_SIZE=128,
    EPOCHS=15,
    EPOCHS_SWEEP=3,
    N_TRAIN_REG=5_000,
    N_VAL_REG=5_000,
    EPOCHS_REG=60,
)


def test_t4_minutes_adds_up_the_chapters_training():
    total = rs.t4_minutes(FULL_KNOBS)
    from utils import layer_cost

    macs56 = rs.cnn_cost(blocks=9, residual=False)["macs"]
    one56 = layer_cost.t4_minutes(macs56, 45_000 * 15, 15 * 352, 10_000)
    assert total > 2 * one56  # two 56-layer networks, and more
    doubled = rs.t4_minutes(FULL_KNOBS | dict(EPOCHS=30))
    assert doubled > 1.7 * total  # the three main networks dominate
    with pytest.raises(KeyError):
        rs.t4_minutes({k: v for k, v in FULL_KNOBS.items() if k != "DEPTH"})
