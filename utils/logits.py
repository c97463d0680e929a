"""Logits or probabilities? What a Keras model's output is, read from the model itself.

Chapter 6 ("from_logits") explains why a loss must know whether it gets logits or
probabilities, and chapter 8 shows the seed article's double-softmax bug that follows
when it is told wrong. :func:`output_activation` answers the question for any Keras
model; :func:`ends_in_softmax` is its yes/no form. Both
:func:`utils.first_cnn.compile_seed_model` and :func:`utils.first_cnn.predict_image`
use it, so neither ever applies a softmax twice.
"""

from __future__ import annotations

import functools
import sys
from operator import attrgetter

import numpy as np

__all__ = ["output_activation", "ends_in_softmax"]

_PASS_THROUGH = ("Identity", "Flatten", "Reshape", "Dropout", "InputLayer")


def _known_activations() -> dict:
    """``{id(function): kind}``: softmax, sigmoid of Keras and loaded backends."""
    import keras

    pairs = [
        (keras.activations.softmax, "softmax"),
        (keras.ops.softmax, "softmax"),
        (keras.activations.sigmoid, "sigmoid"),
        (keras.ops.sigmoid, "sigmoid"),
    ]
    backends = {
        "tensorflow": ("nn.softmax", "nn.sigmoid"),
        "jax": ("nn.softmax", "nn.sigmoid"),
        "torch": ("softmax", "sigmoid"),
    }
    for module, (soft, sig) in backends.items():  # a model can only hold loaded ones
        if module in sys.modules:
            lib = sys.modules[module]
            pairs.append((attrgetter(soft)(lib), "softmax"))
            pairs.append((attrgetter(sig)(lib), "sigmoid"))
    return {id(fn): kind for fn, kind in pairs}


def _function_kind(fn) -> str | None:
    """``"softmax"``/``"sigmoid"`` for a known function (``partial`` unwrapped)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return _known_activations().get(id(fn))


def _probe(layer) -> str | None:
    """Call an opaque layer (Lambda, custom) on random input; judge what comes out."""
    import keras

    try:
        shape = tuple(layer.input.shape[1:])
        x = keras.random.normal((8, *shape), stddev=4.0, seed=0)
        y = np.asarray(keras.ops.convert_to_numpy(layer(x)), dtype=np.float64)
    except Exception:  # unbuilt, several inputs, ...: nothing to see
        return None
    if y.size == 0 or not np.all((y >= 0) & (y <= 1)):
        return None
    if y.ndim >= 2 and y.shape[-1] > 1 and np.allclose(y.sum(axis=-1), 1.0, atol=1e-4):
        return "softmax"
    return "sigmoid" if np.all((y > 0) & (y < 1)) else None


def _feeding_layer(layer):
    """The one layer whose output ``layer`` consumes; ``None`` unless exactly one."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if len(nodes) == 1 and len(nodes[0].parent_nodes) == 1:
        return nodes[0].parent_nodes[0].operation
    return None


def _layer_kind(layer) -> str | None:
    """What ``layer`` outputs (for a pass-through layer: what the one before does)."""
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, keras.Model):  # a nested model: look at its own output layer
        return output_activation(layer)
    if isinstance(layer, keras.layers.Lambda):
        return _function_kind(layer.function) or _probe(layer)
    activation = getattr(layer, "activation", None)
    if activation is not None and activation is not keras.activations.linear:
        return _function_kind(activation)
    passes = isinstance(layer, keras.layers.Activation)  # a linear one, here
    if passes or type(layer).__name__ in _PASS_THROUGH:
        before = _feeding_layer(layer)  # values unchanged: the layer before decides
        return None if before is None else _layer_kind(before)
    if not type(layer).__module__.startswith("keras"):
        return _probe(layer)  # a custom layer: its code is opaque
    return None


def output_activation(model) -> str | None:
    """``"softmax"``, ``"sigmoid"`` or ``None`` (logits): what a Keras model outputs.

    Chapter 8 (the double-softmax bug) uses it to choose ``from_logits``. Recognised: a
    ``Softmax`` layer; an ``Activation`` layer or ``activation=`` argument given as a
    name, as ``keras.activations.softmax``/``sigmoid``,
    ``keras.ops.softmax``/``sigmoid`` or the backend's own (``tf.nn.softmax``, ...),
    also inside ``functools.partial``; a ``Lambda`` of any of these; a nested model; and
    any of these followed by value-preserving layers (``Identity``, ``Flatten``,
    ``Reshape``, ``Dropout``, a linear ``Activation``). The output layer is found
    through the model's graph, not as ``model.layers[-1]``. A ``Lambda`` of other code
    or a custom layer is called once on random input: rows in ``[0, 1]`` summing to 1
    count as softmax, values strictly inside ``(0, 1)`` as sigmoid. A subclassed model
    cannot be inspected and counts as logits.

    Raises ``ValueError`` for a model with more than one output (pass a one-output
    model).
    """
    try:
        outputs = list(model.outputs or [])
    except (AttributeError, ValueError, TypeError):  # unbuilt or subclassed
        outputs = []
    if len(outputs) > 1:
        raise ValueError(
            f"model {model.name!r} has {len(outputs)} outputs; pass a model with one "
            "output, e.g. keras.Model(model.inputs, model.outputs[0])"
        )
    if outputs and hasattr(outputs[0], "_keras_history"):
        return _layer_kind(outputs[0]._keras_history.operation)
    import keras

    if isinstance(model, keras.Sequential) and model.layers:  # not built yet
        return _layer_kind(model.layers[-1])
    return None  # a subclassed model: its call() is opaque


def ends_in_softmax(model) -> bool:
    """True when the model's output is a softmax (already probabilities); chapter 8.

    Same rules and errors as :func:`output_activation`.
    """
    return output_activation(model) == "softmax"
