"""utils.attribution_checks (chapter 12): completeness without dividing by a near-zero
score difference, integrated gradients refined until complete, the six maps, the
cascading randomization test and its figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import attribution  # noqa: E402
from utils import attribution_checks as ac  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    images = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    return model, images, np.array([0, 1, 2])


def test_completeness_error_is_relative_above_one_logit_and_absolute_below():
    err = ac.completeness_error([2.1, 0.02, -3.0], [2.0, 0.01, -2.0])
    np.testing.assert_allclose(err, [0.05, 0.01, 0.5])
    with pytest.raises(ValueError, match=r"two \(N,\) arrays"):
        ac.completeness_error([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        ac.completeness_error([np.nan], [1.0])


def gradients_of(model):
    return lambda c: lambda b: attribution.input_gradients(model, b, [c] * len(b))


def score_differences(model, images, classes):
    rows = np.arange(len(images))
    scores = model.predict(images, verbose=0)[rows, classes]
    black = model.predict(np.zeros_like(images), verbose=0)[rows, classes]
    return scores - black


def test_integrated_gradients_are_refined_until_complete(tiny):
    model, images, classes = tiny
    delta = score_differences(model, images, classes)
    maps, used, errors = ac.complete_integrated_gradients(
        images, classes, gradients_of(model), delta, steps=2, max_steps=64, tol=0.01
    )
    assert maps.shape == images.shape and used.dtype.kind == "i"
    assert set(used) <= {2, 4, 8, 16, 32, 64}
    for i in range(3):  # complete, or stopped at the cap
        assert errors[i] <= 0.01 or used[i] == 64, (errors, used)
        again = attribution.integrated_gradients(
            images[i], gradients_of(model)(int(classes[i])), steps=int(used[i])
        )
        np.testing.assert_allclose(maps[i], again, rtol=1e-5, atol=1e-6)
        direct = ac.completeness_error([again.sum()], [delta[i]])[0]
        assert abs(direct - errors[i]) < 1e-6


def test_a_linear_score_is_complete_at_the_first_try():
    w = np.random.default_rng(1).normal(size=(4, 4, 3))

    def gradient_fn(c):
        return lambda batch: np.broadcast_to(w, batch.shape).astype(np.float32)

    images = np.random.default_rng(2).uniform(0, 1, (2, 4, 4, 3))
    delta = (images * w).sum(axis=(1, 2, 3))
    _, used, errors = ac.complete_integrated_gradients(
        images, [0, 0], gradient_fn, delta, steps=3, max_steps=24
    )
    assert list(used) == [3, 3] and errors.max() < 1e-6
    with pytest.raises(ValueError, match="at least steps"):
        ac.complete_integrated_gradients(
            images, [0, 0], gradient_fn, delta, steps=8, max_steps=4
        )
    with pytest.raises(ValueError, match="N classes"):
        ac.complete_integrated_gradients(
            images, [0], gradient_fn, delta, steps=2, max_steps=4
        )


def test_mean_rho_skips_constant_maps():
    a = np.random.default_rng(0).normal(size=(3, 4, 4))
    assert ac.mean_rho(a, a) == pytest.approx(1.0)
    b = a.copy()
    b[1] = 0.0  # no ranks: left out
    assert ac.mean_rho(a, b) == pytest.approx(1.0)
    assert np.isnan(ac.mean_rho(np.zeros((2, 3, 3)), a[:2, :3, :3]))
    with pytest.raises(ValueError, match="two"):
        ac.mean_rho(a, a[:2])


def test_the_cascade_randomizes_from_the_top_and_keeps_the_model(tiny):
    model, images, classes = tiny
    before = [w.copy() for w in model.get_weights()]

    def maps_fn(net):
        return ac.all_maps(net, images, classes, steps=4, layer="conv3")

    cascade = ac.randomization_cascade(model, ["logits", "conv3"], maps_fn, seed=3)
    assert cascade.stages == ["none", "logits", "conv3"] and len(cascade.maps) == 3
    names = set(cascade.maps[0])
    assert {"|gradient|", "Grad-CAM", "integrated gradients (signed)"} <= names
    assert all(m.shape == (3, 8, 8) for m in cascade.maps[0].values())
    assert all(len(v) == 3 and v[0] == 1.0 for v in cascade.rho.values())
    # stage 0 is the trained model's maps; the model itself was not changed
    np.testing.assert_allclose(
        cascade.maps[0]["|gradient|"],
        attribution.saliency_map(attribution.input_gradients(model, images, classes)),
    )
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    last = cascade.network
    assert not np.allclose(
        last.get_layer("conv3").kernel, model.get_layer("conv3").kernel
    )
    np.testing.assert_array_equal(
        last.get_layer("conv1").kernel.numpy(), model.get_layer("conv1").kernel.numpy()
    )
    with pytest.raises(ValueError, match="non-empty"):
        ac.randomization_cascade(model, [], maps_fn)
    fig = ac.plot_cascade(
        cascade, images[0], 0, ["|gradient|", "gradient (signed)", "Grad-CAM"]
    )
    assert len(fig.axes) == 3 * 4
    signed = fig.axes[4 + 1].get_images()[0]
    assert signed.get_cmap().name == "RdBu_r" and signed.get_clim() == (-1, 1)
    with pytest.raises(ValueError, match="unknown"):
        ac.plot_cascade(cascade, images[0], 0, ["nope"])
    with pytest.raises(ValueError, match="index"):
        ac.plot_cascade(cascade, images[0], 3, ["Grad-CAM"])
    plt.close("all")
