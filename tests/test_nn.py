"""Unit tests for utils.nn (chapter 2, neural-network basics): NumPy vs Keras 3 / TF."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import nn

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

ELEMENTWISE = ["linear", "sigmoid", "tanh", "relu", "gelu"]
# float32 has a unit roundoff of 6e-8; values here are at most ~10, so a few ulps
# is ~1e-6
F32 = dict(rtol=1e-6, atol=1e-6)


@pytest.fixture
def grid():
    return np.linspace(-8, 8, 640).astype(np.float32)


# ------------------------------------------------------------------------ activations


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_activation_matches_keras(name, grid):
    x = grid.reshape(-1, 40)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
    got = nn.get_activation(name)(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, expected, **F32)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_gradient_tape(name, grid):
    t = tf.constant(grid)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = keras.activations.get(name)(t)
    np.testing.assert_allclose(
        nn.get_derivative(name)(grid), tape.gradient(y, t).numpy(), **F32
    )


def test_gelu_exact_and_approximate_match_keras_defaults(grid):
    # keras.activations.gelu defaults to the exact erf form, keras.ops.gelu to the
    # tanh approximation
    np.testing.assert_allclose(
        nn.gelu(grid), keras.activations.gelu(grid).numpy(), **F32
    )
    np.testing.assert_allclose(
        nn.gelu(grid, approximate=True), keras.ops.gelu(grid).numpy(), **F32
    )
    gap = np.abs(
        nn.gelu(grid.astype(np.float64))
        - nn.gelu(grid.astype(np.float64), approximate=True)
    ).max()
    assert 1e-4 < gap < 1e-3


def test_gelu_approximate_derivative_matches_tape(grid):
    t = tf.constant(grid)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = keras.ops.gelu(t, approximate=True)
    # where tanh saturates, float32 computes 1 - tanh^2 with cancellation: the true
    # derivative at x = 4.9 is 1.000003, TensorFlow gets 1.0 and NumPy 1.0000038, so
    # allow 1e-5 here
    np.testing.assert_allclose(
        nn.gelu_grad(grid, approximate=True),
        tape.gradient(y, t).numpy(),
        rtol=1e-6,
        atol=1e-5,
    )


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_differences(name):
    x = np.linspace(-3, 3, 61) + 0.013  # avoid the kink of ReLU at 0
    h = 1e-6
    f = nn.get_activation(name)
    numeric = (f(x + h) - f(x - h)) / (2 * h)
    np.testing.assert_allclose(
        nn.get_derivative(name)(x), numeric, rtol=1e-6, atol=1e-8
    )


def test_relu_derivative_at_zero_is_zero_like_tensorflow():
    assert nn.relu_grad(np.array([0.0]))[0] == 0.0


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        s = nn.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])


def test_softmax_is_stable_and_sums_to_one():
    logits = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise"):
        s = nn.softmax(logits)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)
    np.testing.assert_allclose(s[0], nn.softmax(np.array([0.0, 1.0, 2.0])))


def test_softmax_axis(grid):
    x = grid.reshape(16, 40)
    np.testing.assert_allclose(
        nn.softmax(x, axis=0), keras.ops.softmax(x, axis=0).numpy(), **F32
    )


def test_softmax_jacobian_matches_tape():
    z = np.random.default_rng(0).normal(size=(4, 6))
    t = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(t)
        s = keras.activations.softmax(t)
    np.testing.assert_allclose(
        nn.softmax_jacobian(z), tape.batch_jacobian(s, t).numpy(), atol=1e-12
    )


def test_integer_input_becomes_float():
    assert nn.relu(np.array([-1, 2])).dtype == np.float64


def test_callable_activation_passes_through():
    assert nn.get_activation(np.sin) is np.sin
    assert nn.get_activation(None) is nn.linear


# ----------------------------------------------------------------- neuron, dense, MLP


def test_neuron_by_hand():
    x = np.array([1.0, 2.0, 3.0])
    w = np.array([0.5, -1.0, 0.25])
    assert nn.neuron(x, w, 0.5) == pytest.approx(0.5 - 2.0 + 0.75 + 0.5)
    assert nn.neuron(x, w, 0.5, "relu") == 0.0
    assert nn.neuron(np.stack([x, x]), w, 0.5).shape == (2,)


def test_dense_matches_keras():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 7)).astype(np.float32)
    layer = keras.layers.Dense(3, activation="tanh")
    y = layer(x).numpy()
    W, b = layer.get_weights()
    assert W.shape == (7, 3) and b.shape == (3,)
    np.testing.assert_allclose(nn.dense(x, W, b, "tanh"), y, **F32)


def test_mlp_forward_matches_keras_with_copied_weights():
    rng = np.random.default_rng(2)
    acts = ["relu", "gelu", "softmax"]
    model = keras.Sequential(
        [keras.Input((12,))]
        + [keras.layers.Dense(n, activation=a) for n, a in zip([8, 6, 4], acts)]
    )
    new = [
        rng.normal(scale=0.5, size=w.shape).astype(np.float32)
        for w in model.get_weights()
    ]
    model.set_weights(new)
    x = rng.normal(size=(9, 12)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(nn.mlp_forward(x, new, acts), expected, **F32)
    pairs = list(zip(new[0::2], new[1::2]))
    np.testing.assert_allclose(nn.mlp_forward(x, pairs, acts), expected, **F32)
    assert model.count_params() == nn.mlp_param_count([12, 8, 6, 4])


def test_param_counts_match_keras():
    dense = keras.layers.Dense(256)
    dense.build((None, 3072))
    assert dense.count_params() == nn.dense_param_count(3072, 256) == 3072 * 256 + 256
    assert nn.dense_param_count(4, 2, bias=False) == 8


# -------------------------------------------------------------------------- bad input


def test_unknown_activation_name():
    with pytest.raises(
        ValueError, match="unknown activation 'swishy'.*known activations: linear"
    ):
        nn.get_activation("swishy")
    with pytest.raises(ValueError, match="unknown activation"):
        nn.dense(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4), activation="rleu")
    with pytest.raises(ValueError, match="must be a name"):
        nn.get_derivative(3)
    with pytest.raises(ValueError, match="softmax_jacobian"):
        nn.get_derivative("softmax")


def test_non_numeric_input():
    with pytest.raises(ValueError, match="real numbers"):
        nn.relu(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="real numbers"):
        nn.tanh(np.array([1j]))
    with pytest.raises(ValueError, match="bool array"):
        nn.sigmoid(np.array([True, False]))


def test_float_policy():
    # ints become float64, float16 becomes float32, float32 stays float32
    assert nn.relu(np.array([1, -2])).dtype == np.float64
    assert nn.sigmoid(np.zeros(3, np.float16)).dtype == np.float32
    assert nn.softmax(np.zeros((2, 3), np.float32)).dtype == np.float32
    assert nn.gelu(np.zeros(3, np.float32)).dtype == np.float32


def test_softmax_bad_input():
    with pytest.raises(ValueError, match="scalar"):
        nn.softmax(3.0)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        nn.softmax(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="empty axis"):  # was numpy's "zero-size array"
        nn.softmax(np.ones((2, 0)))


def test_neuron_bad_input():
    with pytest.raises(ValueError, match="x has 3 inputs per example but w has 2"):
        nn.neuron(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="w must be a vector"):
        nn.neuron(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="rank 3"):
        nn.neuron(np.ones((2, 2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="scalar bias"):
        nn.neuron(np.ones(3), np.ones(3), b=np.ones(2))


def test_dense_bad_input():
    with pytest.raises(
        ValueError, match=r"x must be a batch of vectors .* rank 4.*flatten"
    ):
        nn.dense(np.ones((2, 8, 8, 3)), np.ones((192, 4)))
    with pytest.raises(ValueError, match="rank 1"):
        nn.dense(np.ones(3), np.ones((3, 4)))
    with pytest.raises(ValueError, match="W must be a matrix"):
        nn.dense(np.ones((2, 3)), np.ones(3))
    with pytest.raises(
        ValueError,
        match=r"shape mismatch: x has 5 features per example but W expects 3",
    ):
        nn.dense(np.ones((2, 5)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        nn.dense(np.ones((2, 3)), np.ones((3, 4)), np.ones(3))


def test_mlp_forward_bad_input():
    W1, b1, W2, b2 = np.ones((4, 3)), np.zeros(3), np.ones((5, 2)), np.zeros(2)
    with pytest.raises(
        ValueError, match=r"layer 1: shape mismatch: x has 3 features .* W expects 5"
    ):
        nn.mlp_forward(np.ones((2, 4)), [(W1, b1), (W2, b2)], ["relu", "linear"])
    with pytest.raises(ValueError, match="got 2 layers but 1 activations"):
        nn.mlp_forward(np.ones((2, 4)), [W1, b1, W1.T, b1], ["relu"])
    with pytest.raises(ValueError, match="got 1 layers but 1 activations") as err:
        nn.mlp_forward(np.ones((2, 4)), [(W1, b1)], "relu")
    assert "one activation name per layer" in str(err.value)
    with pytest.raises(ValueError, match="odd length 3"):
        nn.mlp_forward(np.ones((2, 4)), [W1, b1, W2], ["relu", "relu"])
    with pytest.raises(ValueError, match="empty"):
        nn.mlp_forward(np.ones((2, 4)), [], [])
    with pytest.raises(ValueError, match="weights must be a list"):
        nn.mlp_forward(np.ones((2, 4)), "W", ["relu"])
    with pytest.raises(ValueError, match=r"layer 0: expected a \(W, b\) pair, got 3"):
        nn.mlp_forward(np.ones((2, 4)), [(W1, b1, b1)], ["relu"])
    with pytest.raises(ValueError, match="layer 0: unknown activation"):
        nn.mlp_forward(np.ones((2, 4)), [(W1, b1)], ["sigmod"])


def test_param_count_bad_input():
    with pytest.raises(ValueError, match="n_in must be a positive int"):
        nn.dense_param_count(0, 3)
    with pytest.raises(ValueError, match="n_out must be a positive int"):
        nn.dense_param_count(3, 2.5)
    with pytest.raises(ValueError, match="at least one layer width"):
        nn.mlp_param_count([10])


# -------------------------------------------------------------------- audit (issue 9)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: nn.mlp_param_count(None), "input width"),  # was TypeError
        (lambda: nn.dense_param_count(3, 2, bias="yes"), "bias must be True or False"),
        (lambda: nn.softmax([[1.0, 2.0], [3.0]]), "rectangular"),
    ],
)
def test_audit_bad_input_gives_one_clear_valueerror(call, match):
    with pytest.raises(ValueError, match=match):
        call()
