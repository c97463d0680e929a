"""utils.diagrams_training: the diagrams of chapters 6, 7 and 8."""

import math

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import diagrams_training as dt  # noqa: E402
from utils import optim  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def texts(fig):
    return " | ".join(t.get_text() for t in fig.axes[0].texts)


@pytest.mark.parametrize("k", [2, 10, 100])
def test_double_softmax_diagram_computes_the_trapped_range(k):
    fig = dt.double_softmax_diagram(k)
    words = texts(fig)
    floor, ceiling = math.log1p((k - 1) / math.e), math.log(math.e + k - 1)
    assert f"{floor:.3f} to {ceiling:.3f}" in words
    assert f"Dense({k})" in words and "activation='softmax'" in words
    assert "from 0 to ∞" in words and "repairs the lower row" in words
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # the opaque light card


@pytest.mark.parametrize("bad", [1, 0, 2.5, "10", True])
def test_double_softmax_diagram_refuses_bad_class_counts(bad):
    with pytest.raises(ValueError, match="num_classes"):
        dt.double_softmax_diagram(bad)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_steps_match_optim_sgd(nesterov):
    # one step of utils.optim.SGD (Keras' rules) from a state with velocity m
    lr, mu = 0.2, 0.9
    m, g = np.array([1.0, 0.3]), np.array([-0.5, 2.0])
    opt = optim.SGD(lr, mu, nesterov=nesterov)
    w = np.zeros(2)
    opt.step([w], [np.zeros(2)])  # creates the state
    opt.state[0]["momentum"][...] = m
    w[...] = 0.0
    opt.step([w], [g])
    steps = dt.momentum_steps((0, 0), m, g, lr, mu)
    np.testing.assert_allclose(w, steps["nesterov" if nesterov else "velocity"])
    np.testing.assert_allclose(steps["velocity"], steps["coast"] + steps["sgd"])
    np.testing.assert_allclose(steps["sgd"], -lr * g)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(velocity=(1.0, 2.0, 3.0)), "velocity must be 2 finite numbers"),
        (dict(gradient=(np.nan, 1.0)), "gradient must be 2 finite numbers"),
        (dict(learning_rate=0.0), "learning_rate must be > 0"),
        (dict(momentum=1.0), r"momentum must be in \[0, 1\)"),
        (dict(momentum=True), r"momentum must be in \[0, 1\)"),
    ],
)
def test_momentum_step_errors(kwargs, message):
    args = dict(velocity=(1.0, 0.0), gradient=(0.0, 1.0)) | kwargs
    with pytest.raises(ValueError, match=message):
        dt.momentum_step_diagram(**args)


def test_momentum_step_diagram_draws_the_three_methods():
    fig = dt.momentum_step_diagram()
    words = texts(fig)
    for part in ("SGD: −ηg", "coasting: μm", "heavy ball: m' = μm − ηg", "Nesterov"):
        assert part in words, part
    assert len(fig.axes[0].patches) == 5  # five arrows


def test_layer_rows_and_stack_diagram_from_a_keras_model():
    import keras

    inputs = keras.Input(shape=(8, 8, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    rows = dt.layer_rows(model)
    assert [r[0] for r in rows] == ["input", "conv", "pool", "flat", "out"]
    assert [r[2] for r in rows] == [(8, 8, 3), (6, 6, 4), (3, 3, 4), (36,), (2,)]
    assert [r[3] for r in rows] == [0, 3 * 3 * 3 * 4 + 4, 0, 0, 36 * 2 + 2]
    fig = dt.layer_stack_diagram(rows, title="Tiny")
    assert fig.axes[0].get_title() == f"Tiny: {model.count_params():,} in all"
    assert "6×6×4\n112 w" in texts(fig)


@pytest.mark.parametrize(
    "rows",
    [[], None, [("a", "Dense", (0,), 1)], [("a", "Dense", (3,), -1)], [("a", "b")]],
)
def test_layer_stack_diagram_refuses_bad_rows(rows):
    with pytest.raises(ValueError, match="rows must|each row must"):
        dt.layer_stack_diagram(rows)
    with pytest.raises(ValueError, match="built Keras model"):
        dt.layer_rows(object())


def test_group_rows_merges_consecutive_layers_by_prefix():
    rows = [
        ("input", "Input", (8, 8, 3), 0),
        ("g1_conv", "Conv2D", (8, 8, 4), 108),
        ("g1_pool", "MaxPooling2D", (4, 4, 4), 0),
        ("g1_bn", "BatchNormalization", (4, 4, 4), 12),
        ("head", "Dense", (10,), 170),
    ]
    out = dt.group_rows(rows, {"g1_": ("group 1", "conv group")})
    assert out == [
        ("input", "Input", (8, 8, 3), 0),
        ("group 1", "conv group", (4, 4, 4), 120),
        ("head", "Dense", (10,), 170),
    ]
    # the parameters are kept in all: nothing drops out of the picture
    assert sum(r[3] for r in out) == sum(r[3] for r in rows)
    with pytest.raises(ValueError, match="match no layer"):
        dt.group_rows(rows, {"g2_": ("group 2", "conv group")})
