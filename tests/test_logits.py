"""utils.logits (chapters 6 and 8): is a model's output logits or probabilities?

Issue 9 item 1: a model ending in a ``Softmax`` layer (or ``tf.nn.softmax``) was read as
ending in logits, so it was compiled with ``from_logits=True`` and ``predict_image``
applied a second softmax (confidence 0.2128 instead of 0.9).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from utils import first_cnn, logits  # noqa: E402
from utils.data import CIFAR10_CLASSES  # noqa: E402


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)


def _head(*last, activation=None, prob0=0.9):
    """Flatten -> Dense(10) (+ ``last``) whose logits give softmax ``prob0`` to class 0.

    Kernel zeros and bias ``log([prob0, rest...])``: every image gets the same output.
    """
    m = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation=activation),
            *last,
        ]
    )
    bias = np.log(np.array([prob0] + [(1 - prob0) / 9] * 9, np.float32))
    m.layers[1].set_weights([np.zeros((3072, 10), np.float32), bias])
    return m


def _softmax_heads():
    import functools

    tf = pytest.importorskip("tensorflow")
    act, lam, layers = keras.layers.Activation, keras.layers.Lambda, keras.layers
    part = functools.partial(keras.activations.softmax, axis=-1)
    return {
        "Softmax layer": lambda: _head(layers.Softmax()),
        "Activation('softmax')": lambda: _head(act("softmax")),
        "Activation(activations.softmax)": lambda: _head(
            act(keras.activations.softmax)
        ),
        "activation='softmax'": lambda: _head(activation="softmax"),
        "activation=tf.nn.softmax": lambda: _head(activation=tf.nn.softmax),
        "activation=keras.ops.softmax": lambda: _head(activation=keras.ops.softmax),
        "activation=partial(softmax)": lambda: _head(activation=part),
        "Lambda(keras.ops.softmax)": lambda: _head(lam(keras.ops.softmax)),
        "Lambda(lambda t: tf.nn.softmax(t))": lambda: _head(
            lam(lambda t: tf.nn.softmax(t))
        ),
        "Softmax, Dropout, Identity": lambda: _head(
            layers.Softmax(), layers.Dropout(0.2), layers.Identity()
        ),
        "Softmax, linear Activation": lambda: _head(layers.Softmax(), act("linear")),
    }


@pytest.mark.parametrize("case", list(_softmax_heads()))
def test_every_softmax_ending_is_recognised(case):
    """Issue 9 item 1: a Softmax layer or tf.nn.softmax was read as logits (0.2128)."""
    m = _softmax_heads()[case]()
    assert logits.output_activation(m) == "softmax" and logits.ends_in_softmax(m)
    assert first_cnn.compile_seed_model(m).loss.get_config()["from_logits"] is False
    pred = first_cnn.predict_image(m, np.zeros((32, 32, 3), np.uint8), CIFAR10_CLASSES)
    assert pred.index == 0 and pred.confidence == pytest.approx(0.9, rel=1e-5)


def test_logits_stay_logits():
    m = _head()
    assert logits.output_activation(m) is None and not logits.ends_in_softmax(m)
    assert first_cnn.compile_seed_model(m).loss.get_config()["from_logits"] is True
    pred = first_cnn.predict_image(m, np.zeros((32, 32, 3), np.uint8), CIFAR10_CLASSES)
    assert pred.confidence == pytest.approx(0.9, rel=1e-5)  # the softmax of the logits
    for last in (
        keras.layers.Activation("log_softmax"),
        keras.layers.ReLU(),
        keras.layers.Dropout(0.1),
    ):
        assert logits.output_activation(_head(last)) is None


def test_functional_and_nested_models_are_read_through_their_graph():
    inp = keras.Input((32, 32, 3))
    h = keras.layers.Flatten()(inp)
    probs = keras.layers.Dense(10, activation="softmax", name="probs")(h)
    functional = keras.Model(inp, probs)
    assert logits.ends_in_softmax(functional)
    assert logits.ends_in_softmax(
        keras.Sequential([keras.Input((32, 32, 3)), functional])
    )
    # the output layer is not the last listed layer: model.layers[-1] is "aux"
    aux = keras.layers.Dense(10, name="aux")(h)
    two = keras.Model(inp, [probs, aux])
    assert two.layers[-1].name == "aux"
    assert logits.ends_in_softmax(keras.Model(inp, two.outputs[0]))
    with pytest.raises(ValueError, match="2 outputs"):
        logits.output_activation(two)


def test_custom_layer_is_probed_and_unbuilt_model_read():
    class Probabilities(keras.layers.Layer):
        def call(self, x):
            return keras.ops.softmax(x * 2.0)

    assert logits.ends_in_softmax(_head(Probabilities()))
    unbuilt = keras.Sequential([keras.layers.Dense(10), keras.layers.Softmax()])
    assert logits.ends_in_softmax(unbuilt)

    class Subclassed(keras.Model):  # its call() cannot be read: documented as logits
        def __init__(self):
            super().__init__()
            self.head = keras.layers.Dense(10, activation="softmax")

        def call(self, x):
            return self.head(x)

    assert logits.output_activation(Subclassed()) is None


def test_sigmoid_outputs(image):
    m = _head(activation="sigmoid")
    assert logits.output_activation(m) == "sigmoid" and not logits.ends_in_softmax(m)
    with pytest.raises(ValueError, match="sigmoid.*BinaryCrossentropy"):
        first_cnn.compile_seed_model(m)
    pred = first_cnn.predict_image(m, image, CIFAR10_CLASSES)
    want = m.predict(image[None], verbose=0)[0]
    np.testing.assert_allclose(pred.probabilities, want, rtol=1e-6)
    binary = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    bias = np.array([np.log(3.0)], np.float32)  # sigmoid(log 3) = 0.75
    binary.layers[-1].set_weights([np.zeros((3072, 1), np.float32), bias])
    pred = first_cnn.predict_image(binary, image, ["no", "yes"])
    assert pred.label == "yes" and pred.confidence == pytest.approx(0.75, rel=1e-5)
    np.testing.assert_allclose(pred.probabilities, [0.25, 0.75], rtol=1e-5)


def test_predict_image_refuses_nan_outputs(image):
    """Issue 9 item 2: NaN outputs got an arg-max (NumPy's: the NaN), confidence NaN."""
    m = _head()
    m.layers[1].set_weights(
        [np.zeros((3072, 10), np.float32), np.full(10, np.nan, np.float32)]
    )
    with pytest.raises(ValueError, match="not all finite"):
        first_cnn.predict_image(m, image, CIFAR10_CLASSES)
