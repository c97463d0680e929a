"""utils/gan.py (chapter 15): GAN losses against Keras, their gradients, the DCGAN."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

from utils import gan

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
BCE = keras.losses.BinaryCrossentropy(from_logits=True)


@pytest.mark.parametrize("scale", [0.1, 3.0, 30.0])
def test_losses_equal_keras_binary_crossentropy(scale):
    real = RNG.normal(1, scale, (32, 1)).astype(np.float32)
    fake = RNG.normal(-1, scale, (32, 1)).astype(np.float32)
    ones, zeros = np.ones_like(real), np.zeros_like(fake)
    np.testing.assert_allclose(
        gan.discriminator_loss(real, fake),
        float(BCE(ones, real) + BCE(zeros, fake)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        gan.generator_loss_non_saturating(fake), float(BCE(ones, fake)), rtol=1e-5
    )
    np.testing.assert_allclose(
        gan.generator_loss_minimax(fake), -float(BCE(zeros, fake)), rtol=1e-5
    )


def test_values_at_an_undecided_discriminator():
    zeros = np.zeros(10)
    np.testing.assert_allclose(gan.discriminator_loss(zeros, zeros), 2 * np.log(2))
    np.testing.assert_allclose(gan.generator_loss_minimax(zeros), -np.log(2))
    np.testing.assert_allclose(gan.generator_loss_non_saturating(zeros), np.log(2))


def test_huge_logits_do_not_overflow():
    big = np.array([1e4, -1e4])
    for value in (
        gan.discriminator_loss(big, big),
        gan.generator_loss_minimax(big),
        gan.generator_loss_non_saturating(big),
    ):
        assert np.isfinite(value)


@pytest.mark.parametrize("name", gan.GENERATOR_LOSSES)
def test_logit_gradient_equals_tensorflow(name):
    logits = tf.Variable(RNG.normal(0, 4, (16, 1)))
    loss_fn = {
        "minimax": gan.generator_loss_minimax,
        "non_saturating": gan.generator_loss_non_saturating,
    }[name]
    with tf.GradientTape() as tape:
        if name == "minimax":
            loss = -tf.reduce_mean(tf.math.softplus(logits))
        else:
            loss = tf.reduce_mean(tf.math.softplus(-logits))
    np.testing.assert_allclose(float(loss), loss_fn(logits.numpy()), rtol=1e-10)
    grad = tape.gradient(loss, logits).numpy() * 16
    np.testing.assert_allclose(
        gan.generator_logit_gradient(logits.numpy(), name), grad, rtol=1e-6, atol=1e-12
    )


def test_minimax_saturates_where_non_saturating_does_not():
    rejected = np.array([-8.0])  # D(G(z)) about 3e-4: the fakes are easily spotted
    assert abs(gan.generator_logit_gradient(rejected, "minimax")[0]) < 1e-3
    assert abs(gan.generator_logit_gradient(rejected, "non_saturating")[0]) > 0.99


@pytest.mark.parametrize("loss", gan.GENERATOR_LOSSES)
def test_alternating_steps_each_move_only_their_network(loss):
    keras.utils.set_random_seed(0)
    G, D = gan.dcgan_generator(4, (8, 8, 1), 4), gan.dcgan_discriminator((8, 8, 1), 4)
    d_step, g_step = gan.alternating_steps(G, D, generator_loss=loss)
    x = RNG.uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    z = RNG.standard_normal((16, 4)).astype(np.float32)

    def kernels(model):
        return [v.numpy().copy() for v in model.trainable_variables]

    g0, d0 = kernels(G), kernels(D)
    d_loss = float(d_step(x, z))
    assert all(np.array_equal(a, b) for a, b in zip(g0, kernels(G)))
    assert not all(np.array_equal(a, b) for a, b in zip(d0, kernels(D)))
    fake = D(G(z, training=True), training=True)  # what g_step will see
    d1 = kernels(D)
    g_loss = float(g_step(z))
    assert all(np.array_equal(a, b) for a, b in zip(d1, kernels(D)))
    assert not all(np.array_equal(a, b) for a, b in zip(g0, kernels(G)))
    expected = {
        "minimax": gan.generator_loss_minimax,
        "non_saturating": gan.generator_loss_non_saturating,
    }[loss](np.asarray(fake))
    np.testing.assert_allclose(g_loss, expected, rtol=1e-4)
    assert np.isfinite(d_loss)
    with pytest.raises(ValueError, match="generator_loss"):
        gan.alternating_steps(G, D, generator_loss="wasserstein")


@pytest.mark.parametrize(
    "shape, sides", [((8, 8, 1), [4, 2]), ((32, 32, 3), [16, 8, 4])]
)
def test_dcgan_shapes(shape, sides):
    G = gan.dcgan_generator(16, shape, 8)
    D = gan.dcgan_discriminator(shape, 8)
    images = np.asarray(G(RNG.standard_normal((2, 16)).astype(np.float32)))
    assert images.shape == (2, *shape) and np.all(np.abs(images) <= 1)
    assert tuple(D(images).shape) == (2, 1)
    # D halves the side down to 4x4 (at least two convolutions), doubling the width
    convs = [layer for layer in D.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.output.shape[1] for c in convs] == sides
    assert [c.filters for c in convs] == [8 * 2**i for i in range(len(sides))]
    norms = [x for x in D.layers if isinstance(x, keras.layers.BatchNormalization)]
    assert len(norms) == len(sides) - 1  # none on the input layer


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: gan.discriminator_loss([], [0.0]), "empty"),
        (lambda: gan.generator_loss_minimax([np.nan]), "finite"),
        (lambda: gan.generator_loss_non_saturating([np.inf]), "finite"),
        (lambda: gan.generator_logit_gradient([0.0], "wasserstein"), "loss must be"),
        (lambda: gan.generator_loss_minimax(["a"]), "real numbers"),
        (lambda: gan.dcgan_generator(16, (10, 10, 1), 8), "multiple of 4"),
        (lambda: gan.dcgan_generator(0, (8, 8, 1), 8), "latent_dim"),
        (lambda: gan.dcgan_discriminator((8, 8), 8), "image_shape"),
        (lambda: gan.dcgan_discriminator((8, 8, 1), -1), "width"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
