"""Unit tests for utils.first_cnn (chapter 8)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from utils import first_cnn, logits  # noqa: E402
from utils.data import CIFAR10_CLASSES  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return first_cnn.build_seed_model()


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)


# -------------------------------------------------------------------- the model


def test_seed_model_architecture(model):
    assert model.count_params() == first_cnn.SEED_PARAMS == 122_570
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 10)
    assert [layer.name for layer in model.layers if layer.weights] == [
        "conv1",
        "conv2",
        "conv3",
        "dense",
        "logits",
    ]
    assert model.layers[-1].activation is keras.activations.linear
    assert not logits.ends_in_softmax(model)


@pytest.mark.parametrize("augment", [None, False, True])
def test_variants_keep_parameter_count(augment):
    m = first_cnn.build_seed_model(logits=False, augment=augment, normalize=False)
    assert m.count_params() == first_cnn.SEED_PARAMS
    assert logits.ends_in_softmax(m)
    assert (
        (m.get_layer("augment") is not None)
        if augment
        else "augment" not in [la.name for la in m.layers]
    )


def test_softmax_variant_gives_probabilities(image):
    m = first_cnn.build_seed_model(logits=False)
    p = m.predict(image[None], verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_bad_augment():
    with pytest.raises(ValueError, match="augment must be"):
        first_cnn.build_seed_model(augment="flip")


def test_augmentation_only_when_training(image):
    aug = first_cnn.default_augmentation(seed=1)
    batch = np.repeat(image[None].astype("float32"), 4, axis=0)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(aug(batch, training=False)), batch
    )
    out = keras.ops.convert_to_numpy(aug(batch, training=True))
    assert out.shape == batch.shape and not np.array_equal(out, batch)
    with pytest.raises(ValueError, match="shift"):
        first_cnn.default_augmentation(shift=0.6)


def test_compile_matches_last_layer():
    for linear in (True, False):
        m = first_cnn.compile_seed_model(first_cnn.build_seed_model(logits=linear))
        assert m.loss.get_config()["from_logits"] is linear


def test_softmax_and_cross_entropy_live_in_nn_and_losses():
    """Chapter 8's double-softmax floor, from the book's one softmax and loss."""
    from utils import losses, nn

    assert not hasattr(first_cnn, "softmax")
    assert not hasattr(first_cnn, "sparse_cross_entropy")
    perfect = np.eye(10, dtype=np.float32)
    floor = losses.sparse_categorical_crossentropy(
        np.arange(10), perfect, from_logits=True
    )
    assert float(floor) == pytest.approx(np.log(np.e + 9) - 1, rel=1e-6)
    z = np.random.default_rng(0).normal(0, 3, (4, 10)).astype(np.float32)
    want = keras.ops.convert_to_numpy(keras.ops.softmax(z))
    np.testing.assert_allclose(nn.softmax(z), want, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------- data helpers


def test_confusion_matrix_matches_tf_and_sklearn():
    tf = pytest.importorskip("tensorflow")
    from sklearn.metrics import confusion_matrix as sk_cm

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    cm = first_cnn.confusion_matrix(t, p, 10)
    np.testing.assert_array_equal(
        cm, tf.math.confusion_matrix(t, p, num_classes=10).numpy()
    )
    np.testing.assert_array_equal(cm, sk_cm(t, p, labels=range(10)))
    acc = first_cnn.per_class_accuracy(cm)
    for c in range(10):
        assert acc[c] == pytest.approx(np.mean(p[t == c] == c))


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="labels but"):
        first_cnn.confusion_matrix([0, 1], [0], 10)
    with pytest.raises(ValueError, match="integers"):
        first_cnn.confusion_matrix([0.0, 1.0], [0.0, 1.0], 10)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        first_cnn.confusion_matrix([0, 10], [0, 1], 10)
    with pytest.raises(ValueError, match="square"):
        first_cnn.per_class_accuracy(np.zeros((2, 3)))


def test_per_class_accuracy_empty_row():
    np.testing.assert_array_equal(
        first_cnn.per_class_accuracy(np.array([[2, 0], [0, 0]])), [1.0, 0.0]
    )


def test_to_model_size():
    photo = np.zeros((300, 400, 3), np.uint8)
    photo[:, 200:] = 200  # right half bright; the centre crop keeps columns 50..349
    small = first_cnn.to_model_size(photo)
    assert small.shape == (32, 32, 3) and small.dtype == np.uint8
    assert small[:, :10].max() == 0 and small[:, -10:].min() == 200
    grey = first_cnn.to_model_size(np.full((64, 64), 0.5))
    assert grey.shape == (32, 32, 3) and np.all(grey == 128)
    with pytest.raises(ValueError, match="colour"):
        first_cnn.to_model_size(np.zeros((10, 10, 4)))
    with pytest.raises(ValueError, match="size"):
        first_cnn.to_model_size(photo, size=0)


# ---------------------------------------------------------------- predict_image


def test_predict_image(model, image):
    pred = first_cnn.predict_image(model, image, CIFAR10_CLASSES)
    probs = keras.ops.convert_to_numpy(
        keras.ops.softmax(model.predict(image[None], verbose=0)[0])
    )
    np.testing.assert_allclose(pred.probabilities, probs, rtol=1e-5, atol=1e-7)
    assert (
        pred.index == int(np.argmax(probs))
        and pred.label == CIFAR10_CLASSES[pred.index]
    )
    assert pred.confidence == pytest.approx(float(probs.max()))


def test_predict_image_softmax_model(image):
    m = first_cnn.build_seed_model(logits=False)
    pred = first_cnn.predict_image(m, image, CIFAR10_CLASSES)
    np.testing.assert_allclose(
        pred.probabilities, m.predict(image[None], verbose=0)[0], rtol=1e-6
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((1, 32, 32, 3), np.uint8), "batch"),
        (np.zeros((32, 32), np.uint8), "rank 3"),
        (np.zeros((2, 32, 32, 3), np.uint8), "rank 3"),
        (np.zeros((64, 64, 3), np.uint8), r"shape \(32, 32, 3\)"),
        (np.zeros((32, 32, 1), np.uint8), r"shape \(32, 32, 3\)"),
        (np.zeros((32, 32, 3), np.float32), "uint8"),
        ([[0]], "NumPy array"),
    ],
)
def test_predict_image_errors(model, bad, match):
    with pytest.raises(ValueError, match=match):
        first_cnn.predict_image(model, bad, CIFAR10_CLASSES)


def test_predict_image_wrong_class_names(model, image):
    with pytest.raises(ValueError, match="10 outputs but 3 class names"):
        first_cnn.predict_image(model, image, ["a", "b", "c"])


def test_epoch_summary_prints_one_line_per_epoch(capsys):
    cb = first_cnn.EpochSummary()
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, {"loss": 1.23456, "val_accuracy": 0.5})
    out = capsys.readouterr().out
    assert (
        out.startswith("epoch  1 | loss 1.2346 | val_accuracy 0.5000 |")
        and len(cb.seconds) == 1
    )
    with pytest.raises(ValueError, match="every"):
        first_cnn.EpochSummary(every=0)


# ------------------------------------------------------------- audit: bad input


@pytest.mark.parametrize(
    "photo, match",
    [
        (
            np.full((40, 40, 3), 200.0),
            r"\[0, 1\]",
        ),  # 0-255 floats: were clipped to white
        (np.full((40, 40, 3), 1000, np.uint16), "uint16"),  # were multiplied by 255
        (np.ones((40, 40, 3), bool), "bool"),
        (np.full((40, 40), np.nan), r"\[0, 1\]"),
        (np.zeros((0, 5, 3), np.uint8), "non-empty"),
    ],
)
def test_to_model_size_refuses_what_it_would_get_wrong(photo, match):
    with pytest.raises(ValueError, match=match):
        first_cnn.to_model_size(photo)


def test_to_model_size_grey_with_channel_axis_and_float32():
    out = first_cnn.to_model_size(np.full((40, 40, 1), 0.5, np.float32), size=8)
    assert out.shape == (8, 8, 3) and np.all(out == 128)
    with pytest.raises(ValueError, match="size"):
        first_cnn.to_model_size(np.zeros((8, 8, 3), np.uint8), size=4.0)


def test_confusion_matrix_edge_cases():
    cm = first_cnn.confusion_matrix([], [], 3)
    assert cm.shape == (3, 3) and cm.dtype == np.int64 and cm.sum() == 0
    cm = first_cnn.confusion_matrix(
        np.array([0, 1], np.uint8), np.array([1, 1], np.int32), 2
    )
    assert cm.dtype == np.int64 and cm.tolist() == [[0, 1], [0, 1]]
    with pytest.raises(ValueError, match="num_classes"):
        first_cnn.confusion_matrix([0], [0], 0)
    with pytest.raises(ValueError, match="integers"):
        first_cnn.confusion_matrix(np.array([True]), np.array([False]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        first_cnn.per_class_accuracy(np.array([[1, -1], [0, 1]]))
    assert first_cnn.per_class_accuracy(np.eye(2, dtype=np.int32)).dtype == np.float64


def test_other_bad_arguments(model, image):
    with pytest.raises(ValueError, match="shift"):
        first_cnn.default_augmentation(shift="0.1")
    with pytest.raises(ValueError, match="every"):
        first_cnn.EpochSummary(every=True)
    with pytest.raises(ValueError, match="string"):
        first_cnn.predict_image(model, image, "abcdefghij")
