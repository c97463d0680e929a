"""utils.transfer (chapter 11): class splits, labelled subsets, augmentation, the NumPy
linear probe against Keras, backbones (the FULL-only applications built offline with
weights=None) and BatchNormalization while fine-tuning."""

import numpy as np
import pytest

from utils import backbones as bb
from utils import transfer as tr
from utils.images import hflip, translate


def toy_images(n=40, k=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    y = (np.arange(n) % k).astype(np.uint8).reshape(-1, 1)
    return x, y


# ------------------------------------------------------------------ splits, subsets


def test_class_split_keeps_order_and_renumbers():
    x = np.arange(10)
    y = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3]).reshape(-1, 1)
    xs, ys = tr.class_split(x, y, [5, 3])
    assert xs.tolist() == [0, 4, 8, 9]
    assert ys.tolist() == [1, 0, 0, 1] and ys.dtype == np.int64


@pytest.mark.parametrize(
    "classes, match",
    [([], "non-empty"), ([1, 1], "repeat"), ([7], "no image"), (["a"], "ints")],
)
def test_class_split_rejects_bad_classes(classes, match):
    with pytest.raises(ValueError, match=match):
        tr.class_split(np.zeros(3), np.array([0, 1, 2]), classes)


def test_class_split_rejects_bad_labels():
    with pytest.raises(ValueError, match="one label per image"):
        tr.class_split(np.zeros(3), np.array([0, 1]), [0])
    with pytest.raises(ValueError, match="integer"):
        tr.class_split(np.zeros(2), np.array([0.0, 1.0]), [0])


def test_labelled_subset_is_balanced_seeded_and_nested():
    x, y = toy_images(100)
    xa, ya = tr.labelled_subset(x, y, 4, seed=3)
    assert len(xa) == 20 and np.bincount(ya).tolist() == [4] * 5
    xb, yb = tr.labelled_subset(x, y, 4, seed=3)
    np.testing.assert_array_equal(xa, xb)
    xc, yc = tr.labelled_subset(x, y, 10, seed=3)
    for c in range(5):  # the small set is a prefix of the large one, per class
        np.testing.assert_array_equal(xc[yc == c][:4], xa[ya == c])
    xd, _ = tr.labelled_subset(x, y, 4, seed=4)
    assert not np.array_equal(xa, xd)


@pytest.mark.parametrize("per_class", [0, -1, 2.0, 21])
def test_labelled_subset_rejects_bad_sizes(per_class):
    x, y = toy_images(100)
    with pytest.raises(ValueError):
        tr.labelled_subset(x, y, per_class)


# ---------------------------------------------------------------------- augmentation


@pytest.mark.parametrize("max_shift", [0, 1, 4])
def test_augment_is_per_image_flip_and_reflect_shift(max_shift):
    x, _ = toy_images(16)
    out = tr.augment(x, seed=5, max_shift=max_shift)
    assert out.shape == x.shape and out.dtype == x.dtype
    rng = np.random.default_rng(5)
    flip = rng.random(16) < 0.5
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, 16))
    for i in range(16):
        one = hflip(x[i : i + 1]) if flip[i] else x[i : i + 1]
        if max_shift:
            one = translate(one, int(dy[i]), int(dx[i]), mode="reflect")
        np.testing.assert_array_equal(out[i : i + 1], one)


def test_augment_rejects_bad_input():
    x, _ = toy_images(2)
    with pytest.raises(ValueError, match="max_shift"):
        tr.augment(x, max_shift=32)
    with pytest.raises(ValueError, match="max_shift"):
        tr.augment(x, max_shift=-1)
    with pytest.raises(ValueError):
        tr.augment(x[0])


def test_training_stream_has_fixed_length_and_uses_images_evenly():
    x, y = toy_images(10)
    xs, ys = tr.training_stream(x, y, steps=7, batch_size=10, augmented=False, seed=1)
    assert xs.shape == (70, 32, 32, 3) and ys.shape == (70,)
    counts = np.zeros(10, int)
    for img, label in zip(xs, ys):
        i = np.flatnonzero((x == img).all(axis=(1, 2, 3)))[0]
        assert label == y[i, 0]
        counts[i] += 1
    assert counts.tolist() == [7] * 10
    xa, ya = tr.training_stream(x, y, steps=3, batch_size=4, augmented=True, seed=1)
    assert xa.shape == (12, 32, 32, 3) and xa.dtype == np.uint8


def test_training_stream_rejects_bad_sizes():
    x, y = toy_images(4)
    with pytest.raises(ValueError):
        tr.training_stream(x, y, steps=0, batch_size=4, augmented=False)
    with pytest.raises(ValueError):
        tr.training_stream(x, y[:3], steps=1, batch_size=4, augmented=False)
    with pytest.raises(ValueError, match="at least one"):
        tr.training_stream(x[:0], y[:0], steps=1, batch_size=4, augmented=False)


# ---------------------------------------------------------------------- linear probe


@pytest.mark.parametrize(
    "l2, lr, steps", [(0.0, 0.1, 1), (1e-2, 0.5, 8), (0.3, 1.0, 5)]
)
def test_softmax_regression_equals_keras_dense_with_sgd(l2, lr, steps):
    import keras

    rng = np.random.default_rng(0)
    f = rng.normal(size=(30, 6))
    y = rng.integers(0, 4, size=30)
    w0, b0 = rng.normal(0, 0.1, (6, 4)), rng.normal(0, 0.1, 4)
    w, b = tr.softmax_regression(f, y, w0, b0, steps=steps, learning_rate=lr, l2=l2)
    reg = keras.regularizers.L2(l2 / 2) if l2 else None
    dense = keras.layers.Dense(4, kernel_regularizer=reg)
    net = keras.Sequential([keras.Input((6,)), dense])
    dense.set_weights([w0.astype(np.float32), b0.astype(np.float32)])
    net.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    net.fit(f.astype(np.float32), y, batch_size=30, epochs=steps, verbose=0)
    np.testing.assert_allclose(dense.get_weights()[0], w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dense.get_weights()[1], b, rtol=1e-4, atol=1e-5)


def test_softmax_regression_rejects_bad_input():
    f, w, b = np.zeros((4, 3)), np.zeros((3, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="need features"):
        tr.softmax_regression(f, [0, 1, 0, 1], w, np.zeros(3), steps=1, learning_rate=1)
    with pytest.raises(ValueError, match=r"in \[0, 1\] for 2 classes.*from 0 to 2"):
        tr.softmax_regression(f, [0, 1, 2, 1], w, b, steps=1, learning_rate=1)
    with pytest.raises(ValueError):
        tr.softmax_regression(f, [0, 1, 0, 1], w, b, steps=0, learning_rate=1)
    with pytest.raises(ValueError):
        tr.softmax_regression(f, [0, 1, 0, 1], w, b, steps=1, learning_rate=0)
    with pytest.raises(ValueError):
        tr.softmax_regression(f, [0, 1, 0, 1], w, b, steps=1, learning_rate=1, l2=-1)


def test_probe_separates_separable_data_and_converts_to_dense():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 20)
    f = rng.normal(size=(60, 5)) * 0.1 + 50
    f[np.arange(60), y] += 3.0  # class c is large in feature c; big offset and scale
    probe = tr.fit_linear_probe(f, y, 3)
    assert tr.accuracy(tr.probe_logits(probe, f), y) == 1.0
    kernel, bias = tr.probe_as_dense(probe)
    np.testing.assert_allclose(f @ kernel + bias, tr.probe_logits(probe, f), rtol=1e-4)
    with pytest.raises(ValueError, match="like the probe"):
        tr.probe_logits(probe, f[:, :4])
    with pytest.raises(ValueError, match="non-empty"):
        tr.fit_linear_probe(np.zeros((0, 5)), [], 3)


def test_accuracy_checks_its_input():
    assert tr.accuracy([[0.0, 1.0], [2.0, 1.0]], [1, 1]) == 0.5
    with pytest.raises(ValueError, match="diverged"):
        tr.accuracy([[np.nan, 1.0]], [1])
    with pytest.raises(ValueError):
        tr.accuracy([[0.0, 1.0]], [1, 0])


# ------------------------------------------------------------- fine-tuning and BN


def test_bn_inference_keeps_moving_statistics_while_fine_tuning():
    x, y = toy_images(20)
    y = y.reshape(-1) % 5
    for bn_inference, should_move in ((True, False), (False, True)):
        backbone = bb.cnn_backbone(4)
        model = tr.compile_classifier(
            tr.classifier(backbone, 5, bn_inference=bn_inference), 1e-3
        )
        before = backbone.get_layer("bn1").moving_mean.numpy().copy()
        kernel = backbone.get_layer("conv1").kernel.numpy().copy()
        tr.train_steps(
            model,
            x,
            y,
            weights=model.get_weights(),
            steps=2,
            batch_size=10,
            augmented=False,
        )
        moved = not np.allclose(backbone.get_layer("bn1").moving_mean.numpy(), before)
        assert moved == should_move
        assert not np.allclose(backbone.get_layer("conv1").kernel.numpy(), kernel)


def test_train_steps_restarts_from_the_given_weights():
    x, y = toy_images(20)
    y = y.reshape(-1) % 5
    model = tr.compile_classifier(
        tr.classifier(bb.cnn_backbone(4), 5, bn_inference=False), 1e-2
    )
    start = model.get_weights()
    kw = dict(weights=start, steps=3, batch_size=10, augmented=True, seed=2)
    first = [w.copy() for w in tr.train_steps(model, x, y, **kw).get_weights()]
    second = tr.train_steps(model, x, y, **kw).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_classifier_and_train_steps_reject_bad_use():
    backbone = bb.cnn_backbone(4)
    with pytest.raises(ValueError, match="bn_inference"):
        tr.classifier(backbone, 5, bn_inference=1)
    with pytest.raises(ValueError):
        tr.classifier(backbone, 0, bn_inference=True)
    model = tr.classifier(backbone, 5, bn_inference=True)
    x, y = toy_images(4)
    with pytest.raises(ValueError, match="compile_classifier"):
        tr.train_steps(
            model,
            x,
            y,
            weights=model.get_weights(),
            steps=1,
            batch_size=2,
            augmented=False,
        )
    with pytest.raises(ValueError):
        bb.cnn_backbone(0)
    with pytest.raises(ValueError):
        tr.compile_classifier(model, 0.0)


# ---------------------------------------------------------------- one comparison


def test_transfer_run_probes_then_fine_tunes_from_the_probe():
    x, y = toy_images(40)
    y = y.reshape(-1) % 5
    backbone = bb.cnn_backbone(4)
    t = tr.prepare_transfer(backbone, x, x[:10], n_classes=5)
    assert t.features_pool.shape == (40, 16) and t.features_test.shape == (10, 16)
    assert bb.bn_layers(t.model) and not any(b.trainable for b in bb.bn_layers(t.model))
    found = tr.transfer_run(t, x, y, x[:10], y[:10], k=2, seed=1, steps=2)
    assert set(found) == {"probe", "fine-tune"}
    assert all(0.0 <= v <= 1.0 for v in found.values())
    # the probe's accuracy is exactly what the probe fitted on the same draw gives
    f_k, y_k = tr.labelled_subset(t.features_pool, y, 2, seed=1)
    probe = tr.fit_linear_probe(f_k, y_k, 5)
    logits = tr.probe_logits(probe, t.features_test)
    assert found["probe"] == tr.accuracy(logits, y[:10])
    # the same run again gives the same numbers: every run starts from t.start
    again = tr.transfer_run(t, x, y, x[:10], y[:10], k=2, seed=1, steps=2)
    assert again["probe"] == found["probe"]
    assert abs(again["fine-tune"] - found["fine-tune"]) <= 0.1  # one image of ten
    with pytest.raises(ValueError, match="per_class"):
        tr.transfer_run(t, x, y, x[:10], y[:10], k=9, seed=1, steps=2)
