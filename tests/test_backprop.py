"""Unit tests for utils.backprop (chapter 5): every backward pass against finite
differences and
TensorFlow's GradientTape, plus every bad-input error."""

import numpy as np
import pytest

from utils import backprop as bp
from utils import grad_flow

tf = pytest.importorskip("tensorflow")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tape_grads(fn, *arrays):
    """Gradients of the scalar ``fn(*tensors)`` w.r.t. every input (GradientTape)."""
    variables = [tf.Variable(a) for a in arrays]
    with tf.GradientTape() as tape:
        loss = fn(*variables)
    return [g.numpy() for g in tape.gradient(loss, variables)]


# ------------------------------------------------------------- rel_error / grad_check


def test_rel_error_basic():
    assert bp.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert bp.rel_error([1.0], [3.0]) == pytest.approx(0.5)
    assert bp.rel_error([0.0], [0.0]) == 0.0  # the eps floor avoids 0/0
    assert bp.rel_error(np.zeros((0,)), np.zeros((0,))) == 0.0


def test_numerical_gradient_of_quadratic(rng):
    x = rng.standard_normal((3, 4))
    g = bp.numerical_gradient(lambda t: np.sum(t**2), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8)


def test_grad_check_accepts_right_and_rejects_wrong_gradient(rng):
    x = rng.standard_normal(10)
    f = lambda t: np.sum(np.sin(t))  # noqa: E731
    assert bp.grad_check(f, x, np.cos(x)) < 1e-8
    assert bp.grad_check(f, x, np.cos(x) * 1.01) > 1e-3
    assert bp.grad_check(f, x, np.cos(x), num_checks=4) < 1e-8


def test_grad_check_restores_input(rng):
    x = rng.standard_normal(5)
    before = x.copy()
    bp.grad_check(lambda t: np.sum(t**3), x, 3 * x**2)
    np.testing.assert_array_equal(x, before)


def test_float32_finite_differences_are_much_worse(rng):
    x = rng.standard_normal(50)
    f = lambda t: np.sum(np.tanh(t) * 3)  # noqa: E731
    exact = 3 * (1 - np.tanh(x) ** 2)
    err64 = bp.rel_error(bp.numerical_gradient(f, x, 1e-5), exact)
    err32 = bp.rel_error(bp.numerical_gradient(f, x.astype(np.float32), 1e-5), exact)
    assert err64 < 1e-8 and err32 > 1e-3


def test_grad_check_bad_input(rng):
    x = rng.standard_normal(4)
    with pytest.raises(ValueError, match="float64"):
        bp.grad_check(lambda t: t.sum(), x.astype(np.float32), np.ones(4))
    # integers become float64 (the book's float policy, utils.shapes.as_float)
    assert bp.grad_check(lambda t: t.sum(), np.arange(4), np.ones(4)) < 1e-9
    with pytest.raises(ValueError, match="real numbers"):
        bp.grad_check(lambda t: t.sum(), np.ones(4, bool), np.ones(4))
    with pytest.raises(ValueError, match="analytic_grad has shape"):
        bp.grad_check(lambda t: t.sum(), x, np.ones(3))
    with pytest.raises(ValueError, match="must return a scalar"):
        bp.grad_check(lambda t: t * 2, x, np.ones(4))
    with pytest.raises(ValueError, match="num_checks"):
        bp.grad_check(lambda t: t.sum(), x, np.ones(4), num_checks=0)
    with pytest.raises(ValueError, match="step h"):
        bp.numerical_gradient(lambda t: t.sum(), x, h=0.0)
    with pytest.raises(ValueError, match="same shape"):
        bp.rel_error(np.ones(3), np.ones(4))


# -------------------------------------------------------------- dense and activations


def test_dense_backward_matches_tape_and_finite_differences(rng):
    x, w, b = (
        rng.standard_normal((4, 5)),
        rng.standard_normal((5, 3)),
        rng.standard_normal(3),
    )
    y, cache = bp.dense_forward(x, w, b)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = bp.dense_backward(dy, cache)
    gx, gw, gb = tape_grads(lambda x, w, b: tf.reduce_sum((x @ w + b) * dy), x, w, b)
    for mine, theirs in ((dx, gx), (dw, gw), (db, gb)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)
    assert (
        bp.grad_check(lambda t: np.sum(bp.dense_forward(x, t, b)[0] * dy), w, dw) < 1e-7
    )


@pytest.mark.parametrize(
    "name, tf_fn", [("relu", tf.nn.relu), ("sigmoid", tf.sigmoid), ("tanh", tf.tanh)]
)
def test_activation_backward_matches_tape(rng, name, tf_fn):
    fwd, bwd = bp.ACTIVATIONS[name]
    x = rng.standard_normal((6, 7))
    y, cache = fwd(x)
    np.testing.assert_allclose(y, tf_fn(x).numpy(), rtol=1e-12, atol=1e-15)
    dy = rng.standard_normal(x.shape)
    (gx,) = tape_grads(lambda t: tf.reduce_sum(tf_fn(t) * dy), x)
    np.testing.assert_allclose(bwd(dy, cache), gx, rtol=1e-10, atol=1e-12)


def test_sigmoid_does_not_overflow():
    y, _ = bp.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])


# ------------------------------------------------------------ softmax + cross-entropy


def test_softmax_cross_entropy_matches_keras_and_tape(rng):
    logits = rng.standard_normal((8, 5)) * 3
    labels = rng.integers(0, 5, size=(8, 1))  # Keras-style column
    loss, cache = bp.softmax_cross_entropy(logits, labels)
    ref = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels[:, 0], logits)
    ).numpy()
    assert loss == pytest.approx(ref, rel=1e-12)
    (g,) = tape_grads(
        lambda z: tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels[:, 0], z)
        ),
        logits,
    )
    np.testing.assert_allclose(
        bp.softmax_cross_entropy_backward(cache), g, rtol=1e-10, atol=1e-14
    )
    np.testing.assert_allclose(
        bp.softmax(logits), tf.nn.softmax(logits).numpy(), rtol=1e-12
    )


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])
    loss, cache = bp.softmax_cross_entropy(logits, np.array([2, 1]))
    assert np.isfinite(loss) and loss == pytest.approx(1000.0)  # (2000 + 0) / 2
    assert np.all(np.isfinite(bp.softmax_cross_entropy_backward(cache)))


def test_softmax_cross_entropy_bad_input(rng):
    logits = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match="rank 2"):
        bp.softmax_cross_entropy(logits[0], np.array([1]))
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 1\)"):
        bp.softmax_cross_entropy(logits, np.array([1, 2]))
    with pytest.raises(ValueError, match="whole numbers"):
        bp.softmax_cross_entropy(logits, np.array([1.0, 2.5, 0.0]))
    with pytest.raises(ValueError, match="integers"):
        bp.softmax_cross_entropy(logits, np.array([True, False, True]))
    # whole-number float labels are fine, as in the sparse loss and Keras
    as_float_labels = bp.softmax_cross_entropy(logits, np.array([1.0, 2.0, 0.0]))[0]
    assert as_float_labels == bp.softmax_cross_entropy(logits, np.array([1, 2, 0]))[0]
    with pytest.raises(ValueError, match=r"must be in \[0, 3\]"):
        bp.softmax_cross_entropy(logits, np.array([1, 2, 4]))
    _, cache = bp.softmax_cross_entropy(logits, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="dloss must be a scalar"):
        bp.softmax_cross_entropy_backward(cache, np.ones(3))


# ------------------------------------------------------------------------ convolution


@pytest.mark.parametrize(
    "stride, padding",
    [(1, "valid"), (1, "same"), (2, "valid"), (2, "same"), (3, "same")],
)
def test_conv2d_backward_matches_tape(rng, stride, padding):
    x, w, b = (
        rng.standard_normal((2, 7, 8, 3)),
        rng.standard_normal((3, 3, 3, 4)),
        rng.standard_normal(4),
    )
    y, cache = bp.conv2d_forward(x, w, b, stride=stride, padding=padding)
    ref = tf.nn.conv2d(x, w, stride, padding.upper()) + b
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = bp.conv2d_backward(dy, cache)
    gx, gw, gb = tape_grads(
        lambda x, w, b: tf.reduce_sum(
            (tf.nn.conv2d(x, w, stride, padding.upper()) + b) * dy
        ),
        x,
        w,
        b,
    )
    for mine, theirs in ((dx, gx), (dw, gw), (db, gb)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    none, dw2, _ = bp.conv2d_backward(dy, cache, need_dx=False)
    assert none is None and np.array_equal(dw2, dw)


def test_conv2d_backward_dilated_by_finite_differences(rng):
    # TensorFlow's CPU kernels have no dilated-convolution gradient: check numerically
    x, w = rng.standard_normal((1, 7, 7, 2)), rng.standard_normal((3, 3, 2, 2))
    y, cache = bp.conv2d_forward(x, w, stride=1, padding="same", dilation=2)
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = bp.conv2d_backward(dy, cache)
    f = lambda t: np.sum(
        bp.conv2d_forward(t, w, stride=1, padding="same", dilation=2)[0] * dy
    )  # noqa: E731
    assert bp.grad_check(f, x, dx) < 1e-7


def test_col2im_is_the_adjoint_of_im2col(rng):
    from utils.conv import im2col

    x = rng.standard_normal((2, 6, 5, 3))
    cols = im2col(x, (3, 2), stride=2, padding="same")
    c = rng.standard_normal(cols.shape)
    back = bp.col2im(c, x.shape, (3, 2), stride=2, padding="same")
    assert back.shape == x.shape
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)


def test_conv_bad_input(rng):
    x, w = rng.standard_normal((1, 5, 5, 3)), rng.standard_normal((3, 3, 3, 2))
    with pytest.raises(ValueError, match="rank-4 NHWC"):
        bp.conv2d_forward(x[0], w)
    with pytest.raises(ValueError, match="rank 4"):
        bp.conv2d_forward(x, w[0])
    with pytest.raises(ValueError, match="3 channels but w expects 2"):
        bp.conv2d_forward(x, rng.standard_normal((3, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        bp.conv2d_forward(x, w, np.zeros(3))
    y, cache = bp.conv2d_forward(x, w)
    with pytest.raises(ValueError, match="upstream gradient dout has shape"):
        bp.conv2d_backward(np.ones((1, 5, 5, 2)), cache)
    with pytest.raises(ValueError, match="cols has shape"):
        bp.col2im(np.ones((1, 3, 3, 5)), x.shape, 3)
    with pytest.raises(ValueError, match="NHWC shape"):
        bp.col2im(np.ones((1, 3, 3, 27)), (5, 5, 3), 3)


# ------------------------------------------------------------------------ max pooling


@pytest.mark.parametrize(
    "pool, strides, padding", [(2, None, "valid"), (3, 2, "same"), (2, 1, "valid")]
)
def test_maxpool_backward_matches_tape(rng, pool, strides, padding):
    x = rng.standard_normal((2, 7, 6, 3))
    y, cache = bp.maxpool_forward(x, pool, strides=strides, padding=padding)
    s = pool if strides is None else strides
    np.testing.assert_allclose(y, tf.nn.max_pool2d(x, pool, s, padding.upper()).numpy())
    dy = rng.standard_normal(y.shape)
    (gx,) = tape_grads(
        lambda t: tf.reduce_sum(tf.nn.max_pool2d(t, pool, s, padding.upper()) * dy), x
    )
    np.testing.assert_allclose(
        bp.maxpool_backward(dy, cache), gx, rtol=1e-12, atol=1e-12
    )


def test_maxpool_backward_bad_upstream(rng):
    _, cache = bp.maxpool_forward(rng.standard_normal((1, 4, 4, 2)), 2)
    with pytest.raises(
        ValueError, match=r"forward output it belongs to had shape \(1, 2, 2, 2\)"
    ):
        bp.maxpool_backward(np.ones((1, 4, 4, 2)), cache)


# ------------------------------------------------------------ shape/rank/cache errors


def test_dense_bad_input(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="x must be rank 2"):
        bp.dense_forward(x[None], w, b)
    with pytest.raises(ValueError, match="w must be rank 2"):
        bp.dense_forward(x, w[0], b)
    with pytest.raises(ValueError, match="x has 5 features but w expects 4"):
        bp.dense_forward(x, w[:4], b)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        bp.dense_forward(x, w, np.zeros(4))
    y_int, _ = bp.dense_forward(np.ones((4, 5), dtype=int), w, b)  # ints -> float64
    np.testing.assert_array_equal(y_int, bp.dense_forward(np.ones((4, 5)), w, b)[0])
    with pytest.raises(ValueError, match="real numbers"):
        bp.dense_forward(np.ones((4, 5), dtype=bool), w, b)
    _, cache = bp.dense_forward(x, w, b)
    with pytest.raises(
        ValueError, match=r"dout has shape \(4, 2\).*had shape \(4, 3\)"
    ):
        bp.dense_backward(np.ones((4, 2)), cache)
    with pytest.raises(ValueError, match="cache must be the tuple"):
        bp.dense_backward(np.ones((4, 3)), (x,))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_backward_rejects_wrong_shape(rng, name):
    fwd, bwd = bp.ACTIVATIONS[name]
    _, cache = fwd(rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match=r"upstream gradient dout has shape \(4, 3\)"):
        bwd(np.ones((4, 3)), cache)


# -------------------------------------------------------------- vanishing / exploding


def test_init_weights_scales(rng):
    for scheme, std in (
        ("small", 0.01),
        ("glorot", np.sqrt(2 / 600)),
        ("he", np.sqrt(2 / 300)),
        ("large", 1.0),
    ):
        w = grad_flow.init_weights(300, 300, scheme, rng)
        assert w.std() == pytest.approx(std, rel=0.02)
    with pytest.raises(ValueError, match="init scheme"):
        grad_flow.init_weights(3, 3, "xavier", rng)
    with pytest.raises(ValueError, match="fan_in"):
        grad_flow.init_weights(0, 3, "he", rng)


def test_mlp_gradient_norms_vanish_with_sigmoid_and_hold_with_he_relu(rng):
    x = rng.standard_normal((32, 64))
    sig = grad_flow.mlp_gradient_norms(x, 15, "sigmoid", "glorot")
    he = grad_flow.mlp_gradient_norms(x, 15, "relu", "he")
    assert sig.shape == (15,)
    assert sig[0] / sig[-1] < 1e-4
    assert 0.1 < he[0] / he[-1] < 10


def test_mlp_gradient_norms_bad_input(rng):
    x = rng.standard_normal((4, 8))
    with pytest.raises(ValueError, match="rank 2"):
        grad_flow.mlp_gradient_norms(x[0], 3, "relu", "he")
    with pytest.raises(ValueError, match="depth"):
        grad_flow.mlp_gradient_norms(x, 0, "relu", "he")
    with pytest.raises(ValueError, match="activation must be one of"):
        grad_flow.mlp_gradient_norms(x, 3, "gelu", "he")
    with pytest.raises(ValueError, match="of must be"):
        grad_flow.mlp_gradient_norms(x, 3, "relu", "he", of="biases")


def test_relu_weight_gradients_scale_uniformly_with_init(rng):
    # ReLU is positively homogeneous: scaling every weight scales all dW_l by one factor
    x = rng.standard_normal((16, 32))
    ratios = [
        (lambda n: n[0] / n[-1])(
            grad_flow.mlp_gradient_norms(x, 8, "relu", init, of="weights")
        )
        for init in ("small", "he", "large")
    ]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-6)


def test_one_softmax_and_sigmoid_and_gradcheck_home():
    # one function per concept: backprop re-exports, it does not re-implement
    from utils import gradcheck, losses, nn

    assert bp.softmax is nn.softmax and losses.softmax is nn.softmax
    assert losses.sigmoid is nn.sigmoid
    assert bp.grad_check is gradcheck.grad_check


def test_softmax_cross_entropy_value_is_the_sparse_loss(rng):
    logits = rng.standard_normal((6, 4)) * 50
    labels = rng.integers(0, 4, 6)
    from utils import losses

    loss, _ = bp.softmax_cross_entropy(logits, labels[:, None])
    expected = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    assert loss == float(expected)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: grad_flow.init_weights(3, 3, "he", None), "numpy.random.Generator"),
        (
            lambda: grad_flow.mlp_gradient_norms(np.ones((2, 3)), True, "relu", "he"),
            "depth",
        ),
        (
            lambda: grad_flow.mlp_gradient_norms(
                np.ones((2, 3)), 2, "relu", "he", width=0
            ),
            "width",
        ),
        (lambda: bp.col2im(np.ones((1, 2, 2, 4)), None, 2), "x_shape"),
        (lambda: bp.numerical_gradient(None, np.ones(3)), "f must be a function"),
        (
            lambda: bp.softmax_cross_entropy_backward(
                bp.softmax_cross_entropy(np.ones((2, 3)), [0, 1])[1], "a"
            ),
            "dloss",
        ),
    ],
)
def test_audit_bad_input_gives_one_clear_valueerror(call, match):
    # each of these used to raise TypeError/AttributeError from deep inside NumPy
    with pytest.raises(ValueError, match=match):
        call()
