"""utils/attribution.py (chapter 12): hand cases, TensorFlow parity, bad input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils.attribution import (
    grad_cam,
    grad_cam_inputs,
    gradient_times_input,
    input_gradients,
    integrated_gradients,
    occlusion_map,
    path_alphas,
    randomized_copy,
    rank_correlation,
    saliency_map,
    upsample_bilinear,
)

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ NumPy, by hand
def test_saliency_and_gradient_times_input_by_hand():
    g = np.array([[[1.0, -3.0, 2.0], [0.5, 0.0, -0.25]]])[None]  # (1, 1, 2, 3)
    x = np.full_like(g, 2.0)
    np.testing.assert_array_equal(saliency_map(g), [[[3.0, 0.5]]])
    np.testing.assert_array_equal(gradient_times_input(x, g), 2 * g)
    assert saliency_map(g.astype(np.float32)).dtype == np.float32


def test_path_alphas_are_midpoints():
    np.testing.assert_allclose(path_alphas(4), [0.125, 0.375, 0.625, 0.875])


def test_integrated_gradients_of_a_quadratic_is_exact_with_midpoints():
    # S(x) = sum(w * x**2): grad 2 w x, IG_i = w_i (x_i**2 - b_i**2) exactly, since the
    # midpoint rule integrates a linear function of alpha without error
    w = RNG.standard_normal((3, 4, 2))
    x, b = RNG.standard_normal((3, 4, 2)), RNG.standard_normal((3, 4, 2))
    ig = integrated_gradients(x, lambda p: 2 * w * p, baseline=b, steps=3)
    np.testing.assert_allclose(ig, w * (x**2 - b**2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ig.sum(), (w * x**2).sum() - (w * b**2).sum(), rtol=1e-5)


def test_integrated_gradients_completeness_error_shrinks_with_steps():
    w = RNG.standard_normal((2, 2, 1))

    def score(x):
        return np.sum(np.tanh(w * x))

    def grads(p):
        return w / np.cosh(w * p) ** 2

    x = 2 * RNG.standard_normal((2, 2, 1))
    errors = [
        abs(integrated_gradients(x, grads, steps=m).sum() - (score(x) - score(0 * x)))
        for m in (2, 8, 32)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3


def test_grad_cam_by_hand():
    a = np.zeros((1, 2, 2, 2))
    a[0, :, :, 0] = [[1, 2], [3, 4]]
    a[0, :, :, 1] = [[4, 0], [0, 0]]
    g = np.zeros_like(a)
    g[0, :, :, 0] = 0.5  # alpha_0 = 0.5
    g[0, 0, 0, 1] = -4.0  # alpha_1 = -1
    # 0.5 * A0 - A1 = [[-3.5, 1], [1.5, 2]] -> ReLU
    np.testing.assert_allclose(grad_cam(a, g)[0], [[0, 1], [1.5, 2]])
    np.testing.assert_allclose(grad_cam(a, g, relu=False)[0], [[-3.5, 1], [1.5, 2]])


def test_occlusion_of_a_linear_probability_by_hand():
    # "probability" of class 0 = mean of the image; class 1 = 1 - that
    x = RNG.uniform(0, 1, (4, 4, 1))

    def predict(batch):
        m = batch.reshape(len(batch), -1).mean(axis=1)
        return np.stack([m, 1 - m], axis=1)

    occ = occlusion_map(predict, x, 0, patch=2, stride=2)
    # non-overlapping patches: each pixel's drop = (its 2x2 block's sum) / 16
    blocks = x[..., 0].reshape(2, 2, 2, 2).sum(axis=(1, 3)) / 16
    np.testing.assert_allclose(occ, np.kron(blocks, np.ones((2, 2))), rtol=1e-6)
    # stride 3 misses the border: the last position is added, every pixel covered
    assert np.isfinite(occlusion_map(predict, x, 1, patch=2, stride=3)).all()


def test_rank_correlation_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    a = RNG.integers(0, 5, 60).astype(float)  # many ties
    b = a + RNG.integers(0, 3, 60)
    assert rank_correlation(a, b) == pytest.approx(stats.spearmanr(a, b)[0])
    c = RNG.standard_normal((5, 6))
    assert rank_correlation(c, -c) == pytest.approx(-1.0)
    assert rank_correlation(c, np.exp(c)) == pytest.approx(1.0)
    assert np.isnan(rank_correlation(np.zeros(4), np.arange(4)))


@pytest.mark.parametrize("size", [(4, 4), (8, 6), (3, 5), (7, 7)])
def test_upsample_bilinear_equals_tf_image_resize(size):
    tf = pytest.importorskip("tensorflow")
    m = RNG.standard_normal((2, 4, 3))
    ours = upsample_bilinear(m, size)
    ref = tf.image.resize(m[..., None], size, method="bilinear")[..., 0].numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: saliency_map(np.zeros((4, 4, 3))), r"\(N, H, W, C\)"),
        (lambda: saliency_map(np.full((1, 2, 2, 1), np.nan)), "NaN"),
        (lambda: saliency_map(np.zeros((1, 2, 2, 1), dtype=bool)), "bool"),
        (
            lambda: gradient_times_input(
                np.zeros((1, 2, 2, 1)), np.zeros((1, 2, 2, 3))
            ),
            "same shape",
        ),
        (
            lambda: grad_cam(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 3, 3))),
            "same shape",
        ),
        (lambda: path_alphas(0), "steps"),
        (lambda: integrated_gradients(np.zeros((1, 2, 2, 1)), lambda p: p), "ONE"),
        (
            lambda: integrated_gradients(
                np.zeros((2, 2, 1)), lambda p: p, baseline=np.zeros((2, 3, 1))
            ),
            "same shape",
        ),
        (
            lambda: integrated_gradients(np.ones((2, 2, 1)), lambda p: p[:1]),
            "one gradient",
        ),
        (lambda: upsample_bilinear(np.zeros((2, 2)), 4), r"\(N, h, w\)"),
        (lambda: upsample_bilinear(np.zeros((1, 2, 2)), 0), "size"),
        (lambda: rank_correlation(np.zeros(3), np.zeros(4)), "same size"),
        (lambda: rank_correlation([1.0], [2.0]), "at least 2"),
        (lambda: rank_correlation([1.0, np.inf], [2.0, 1.0]), "finite"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_callables_and_occlusion_arguments():
    x = np.zeros((4, 4, 1))

    def predict(b):
        return np.full((len(b), 2), 0.5)

    with pytest.raises(TypeError, match="gradient_fn"):
        integrated_gradients(x, "grads")
    with pytest.raises(TypeError, match="predict_fn"):
        occlusion_map(None, x, 0)
    with pytest.raises(ValueError, match="larger than the image"):
        occlusion_map(predict, x, 0, patch=5)
    with pytest.raises(ValueError, match="stride"):
        occlusion_map(predict, x, 0, patch=2, stride=0)
    with pytest.raises(ValueError, match="label"):
        occlusion_map(predict, x, 2, patch=2)
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        occlusion_map(lambda b: np.zeros(len(b)), x, 0, patch=2)
    with pytest.raises(ValueError, match="NaN"):
        occlusion_map(lambda b: np.full((len(b), 2), np.nan), x, 0, patch=2)


# ------------------------------------------------------------------ Keras side
@pytest.fixture(scope="module")
def tiny_cam_model():
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(
        inputs
    )
    h = keras.layers.GlobalAveragePooling2D(name="gap")(a)
    out = keras.layers.Dense(4, name="logits")(h)
    return keras.Model(inputs, out)


def test_grad_cam_of_a_gap_network_is_cam(tiny_cam_model):
    # conv -> GAP -> dense: dy_c/dA^k_ij = W[k, c] / (h w), so Grad-CAM is the CAM of
    # Zhou et al. (2016), ReLU(sum_k W[k, c] A^k), divided by h w
    x = RNG.standard_normal((3, 6, 6, 2)).astype(np.float32)
    classes = [0, 2, 3]
    acts, grads = grad_cam_inputs(tiny_cam_model, "conv", x, classes)
    w = tiny_cam_model.get_layer("logits").get_weights()[0]  # (3, 4)
    cam = np.maximum(np.einsum("nhwk,kn->nhw", acts, w[:, classes]), 0) / 36
    np.testing.assert_allclose(grad_cam(acts, grads), cam, rtol=1e-5, atol=1e-7)


def test_input_gradients_of_a_linear_model():
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    inputs = keras.Input((2, 2, 1))
    out = keras.layers.Dense(3, use_bias=False)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, out)
    w = model.get_weights()[0]  # (4, 3)
    x = RNG.standard_normal((2, 2, 2, 1)).astype(np.float32)
    g = input_gradients(model, x, np.array([1, 2]))
    np.testing.assert_allclose(g[0].reshape(-1), w[:, 1], rtol=1e-6)
    np.testing.assert_allclose(g[1].reshape(-1), w[:, 2], rtol=1e-6)
    # a linear model without bias: gradient x input sums to the score
    scores = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        gradient_times_input(x, g).sum(axis=(1, 2, 3)),
        scores[[0, 1], [1, 2]],
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="one integer class index per image"):
        input_gradients(model, x, [1])


def test_randomized_copy_changes_only_the_named_layers(tiny_cam_model):
    copy = randomized_copy(tiny_cam_model, ["logits"], seed=3)
    old, new = tiny_cam_model.get_layer("conv"), copy.get_layer("conv")
    for a, b in zip(old.get_weights(), new.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(
        tiny_cam_model.get_layer("logits").get_weights()[0],
        copy.get_layer("logits").get_weights()[0],
    )
    with pytest.raises(ValueError, match="no layer"):
        randomized_copy(tiny_cam_model, ["nope"])
    with pytest.raises(ValueError, match="no kernel"):
        randomized_copy(tiny_cam_model, "gap")
    with pytest.raises(ValueError, match="no layer"):
        grad_cam_inputs(tiny_cam_model, "nope", np.zeros((1, 6, 6, 2)), [0])
    with pytest.raises(ValueError, match="feature map"):
        grad_cam_inputs(tiny_cam_model, "gap", np.zeros((1, 6, 6, 2)), [0])
