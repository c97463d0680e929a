"""Diagrams of chapters 6-8: where the softmax goes, one momentum step, the seed CNN.

- :func:`double_softmax_diagram` (chapter 6, "Loss functions"): the correct pairing of
  a logits head with ``from_logits=True`` above the seed article's softmax head with
  the same loss, which applies a second softmax. The range each loss can take is
  computed (:func:`utils.ce_pitfalls.double_softmax_floor`), not typed.
- :func:`momentum_step_diagram` (chapter 7, "Optimizers"): one update of plain SGD, of
  the heavy ball and of Nesterov momentum as arrows in the plane, from the same weights,
  velocity and gradient. The arrows are the vectors of :func:`momentum_steps`, which
  follows Keras' formulas (``keras/src/optimizers/sgd.py``); a test checks them
  against :class:`utils.optim.SGD`.
- :func:`layer_stack_diagram` (chapter 8, "A first CIFAR-10 CNN"): a network as a
  row of boxes, one per layer, each labelled with its output shape and parameter
  count, drawn from the model's own layers (:func:`layer_rows`).

Every figure uses the book's opaque light card (``plot.use_book_style``), the
Okabe-Ito palette (:data:`utils.plot.PALETTE`) and dark ink, so it reads the same in
the light and the dark theme. Each drawing function returns the matplotlib
``Figure``; bad input raises ``ValueError`` before anything is drawn.
"""

from __future__ import annotations

import math
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

from . import diagram_parts as parts
from .ce_pitfalls import double_softmax_floor
from .plot import PALETTE
from .shapes import is_int

__all__ = [
    "double_softmax_diagram",
    "momentum_steps",
    "momentum_step_diagram",
    "layer_rows",
    "group_rows",
    "layer_stack_diagram",
]

_INK = parts.INK
DATA, NETWORK, LOSS, BAD = PALETTE[0], PALETTE[2], PALETTE[1], PALETTE[3]


_canvas = parts.canvas
_box = partial(parts.box, w=1.8, h=0.9, fontsize=8.5)
_arrow = partial(parts.arrow, zorder=3)


def double_softmax_diagram(num_classes: int = 10):
    """Draw the two pairings of chapter 6: logits head vs the seed's softmax head.

    Top row: ``image -> network -> logits z (any real) -> loss with
    from_logits=True: -log softmax(z)_y``, a loss in ``[0, inf)``. Bottom row: the
    seed's ``Dense(K, activation="softmax")`` gives probabilities ``p`` in ``[0, 1]``,
    and the same loss applies ``softmax`` to them again, so its value is trapped in
    ``[log(1 + (K-1)/e), log(e + K - 1)]``; both bounds are computed for
    ``num_classes`` (an int >= 2, default 10). A note says where Keras 3 on TensorFlow
    repairs the bottom row. Returns the ``Figure``. Raises ``ValueError`` for a bad
    ``num_classes``. Chapter 6.
    """
    floor = double_softmax_floor(num_classes)  # checks num_classes
    ceiling = math.log(math.e + num_classes - 1)
    fig, ax = _canvas(9.6, 3.9, (-0.2, 16.4), (-3.3, 3.2))
    for y, head, out, loss, colour in (
        (
            1.6,
            f"Dense({num_classes})",
            "logits z\nany real numbers",
            "−log softmax(z)_y\nfrom 0 to ∞",
            LOSS,
        ),
        (
            -1.2,
            f"Dense({num_classes},\nactivation='softmax')",
            "probabilities p\neach in [0, 1]",
            f"−log softmax(p)_y\n{floor:.3f} to {ceiling:.3f}",
            BAD,
        ),
    ):
        _box(ax, 0.8, y, "image", DATA, w=1.3)
        _box(ax, 3.8, y, "convolutions\n+ " + head, NETWORK, w=3.0, h=1.1)
        _box(ax, 7.6, y, out, DATA, w=2.4)
        _box(ax, 11.2, y, "loss: from_logits=True\napplies a softmax", LOSS, w=3.0)
        _box(ax, 14.7, y, loss, colour, w=2.8, h=1.0, alpha=0.35)
        for a, b in ((1.45, 2.3), (5.3, 6.4), (8.8, 9.7), (12.7, 13.3)):
            _arrow(ax, (a, y), (b, y))
    ax.text(
        0.0,
        2.55,
        "fixed: the loss sees logits, softmax applied once",
        fontsize=9,
        color=_INK,
        ha="left",
    )
    ax.text(
        0.0,
        -0.25,
        "the seed's code: softmax twice (the loss sees probabilities as logits)",
        fontsize=9,
        color=_INK,
        ha="left",
    )
    ax.text(
        8.1,
        -2.65,
        "Keras 3 on TensorFlow takes the logits cached on the softmax"
        " tensor and repairs the lower row;\nNumPy arrays from predict, and the JAX"
        " and PyTorch backends, get the double softmax.",
        fontsize=8,
        color=_INK,
        ha="center",
        va="center",
        style="italic",
    )
    ax.set_title(
        f"Where the softmax goes ({num_classes} classes)", fontsize=10, color=_INK
    )
    fig.tight_layout()
    return fig


def _vector(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} must be 2 finite numbers (a vector in the plane), got {value!r}"
        )
    return arr


def momentum_steps(weights, velocity, gradient, learning_rate=0.1, momentum=0.9):
    """One update of SGD, heavy ball and Nesterov from the same state (Keras' rules).

    ``weights``, ``velocity`` and ``gradient`` are 2-vectors (the velocity ``m`` holds
    the learning rate, as in Keras); ``learning_rate`` > 0 and ``momentum`` in
    ``[0, 1)``. Returns a dict of float64 arrays: ``"sgd"`` ``-lr g``, ``"coast"``
    ``mu m``, ``"velocity"`` the new ``m' = mu m - lr g`` (the heavy ball's step),
    ``"nesterov"`` Nesterov's step ``mu m' - lr g``. Chapter 7 derives the rules.
    Raises ``ValueError`` for vectors that are not 2 finite numbers or settings out of
    range.
    """
    _vector(weights, "weights")
    m, g = _vector(velocity, "velocity"), _vector(gradient, "gradient")
    if isinstance(learning_rate, bool) or not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if isinstance(momentum, bool) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    new = momentum * m - learning_rate * g
    return {
        "sgd": -learning_rate * g,
        "coast": momentum * m,
        "velocity": new,
        "nesterov": momentum * new - learning_rate * g,
    }


def momentum_step_diagram(
    velocity=(1.0, 0.3), gradient=(-0.5, 2.0), learning_rate=0.2, momentum=0.9
):
    """Draw one momentum update in the plane: what each method adds to the weights.

    From a point ``w``: plain SGD's step ``-lr g``; the heavy ball's step, the sum of
    the coasting term ``mu m`` and ``-lr g`` (drawn head to tail, dashed); Nesterov's
    step ``mu m' - lr g``, which adds the gradient step once more after coasting on
    the new velocity. The defaults picture a valley: the velocity runs along it, the
    gradient points up its steep wall. Arguments as :func:`momentum_steps`. Returns
    the ``Figure``. Chapter 7.
    """
    s = momentum_steps((0.0, 0.0), velocity, gradient, learning_rate, momentum)
    points = np.array([[0, 0], s["sgd"], s["coast"], s["velocity"], s["nesterov"]])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.15 * max(hi - lo) + 0.05
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.set_xlim(lo[0] - pad, hi[0] + 6 * pad)  # room for the labels on the right
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.grid(False)
    origin = np.zeros(2)
    arrows = (  # start, end, colour, label, dashed, where the label goes
        (
            origin,
            s["sgd"],
            PALETTE[0],
            f"SGD: −ηg (η = {learning_rate:g})",
            False,
            "end",
        ),
        (origin, s["coast"], "0.45", f"coasting: μm (μ = {momentum:g})", True, "end"),
        (s["coast"], s["velocity"], PALETTE[0], "+ (−ηg)", True, "middle"),
        (origin, s["velocity"], PALETTE[2], "heavy ball: m' = μm − ηg", False, "end"),
        (origin, s["nesterov"], PALETTE[3], "Nesterov: μm' − ηg", False, "end"),
    )
    for start, end, colour, label, dashed, where in arrows:
        _arrow(ax, tuple(start), tuple(end), colour=colour, lw=1.6, dashed=dashed)
        x, y = end if where == "end" else 0.5 * (start + end)
        ax.text(x, y, "  " + label, fontsize=8.5, color=_INK, ha="left", va="center")
    ax.plot([0], [0], "o", color=_INK, ms=4)
    ax.text(0, 0, "w  ", ha="right", va="center", fontsize=9, color=_INK)
    ax.set_title(
        "One update from the same weights w, velocity m and gradient g",
        fontsize=10,
        color=_INK,
    )
    fig.tight_layout()
    return fig


def layer_rows(model) -> list[tuple[str, str, tuple, int]]:
    """``(name, kind, output shape without the batch axis, parameters)`` per layer.

    ``model`` is a built Keras model (anything with ``.layers`` whose layers have
    ``.output.shape`` and ``count_params()``); the first row is the input. Raises
    ``ValueError`` for an object without layers. Chapter 8 draws the seed CNN from it.
    """
    layers = getattr(model, "layers", None)
    if not layers:
        raise ValueError(
            f"model must be a built Keras model with layers, got {model!r}"
        )
    rows = [("input", "Input", tuple(model.inputs[0].shape[1:]), 0)]
    for layer in layers:
        if type(layer).__name__ == "InputLayer":  # the input row stands for it
            continue
        rows.append(
            (
                layer.name,
                type(layer).__name__,
                tuple(layer.output.shape[1:]),
                int(layer.count_params()),
            )
        )
    return rows


def group_rows(rows, groups: dict) -> list[tuple[str, str, tuple, int]]:
    """Merge runs of consecutive :func:`layer_rows` rows into one row each.

    ``groups`` maps a layer-name prefix to ``(label, kind)``: every consecutive row
    whose name starts with that prefix becomes one row ``(label, kind, shape of the
    last of them, sum of their parameters)``; other rows stay as they are. A deep
    network then draws as a few readable boxes (chapter 10 draws airbench94's three
    conv groups this way). Raises ``ValueError`` for a prefix that matches no row, so a
    renamed layer cannot silently drop out of the picture.
    """
    out, used = [], set()
    for name, kind, shape, params in rows:
        prefix = next((p for p in groups if name.startswith(p)), None)
        if prefix is None:
            out.append((name, kind, shape, params))
            continue
        label, group_kind = groups[prefix]
        if out and out[-1][0] == label and prefix in used:
            out[-1] = (label, group_kind, shape, out[-1][3] + params)
        else:
            out.append((label, group_kind, shape, params))
        used.add(prefix)
    unused = [p for p in groups if p not in used]
    if unused:
        names = [r[0] for r in rows]
        raise ValueError(f"groups {unused} match no layer name; the names are {names}")
    return out


_KIND_COLOURS = {
    "Conv2D": PALETTE[0],
    "MaxPooling2D": PALETTE[2],
    "Dense": PALETTE[1],
    "Flatten": "0.6",
    "Rescaling": "0.6",
    "Input": "0.85",
    "conv group": PALETTE[0],
    "whitening": PALETTE[5],
}


def layer_stack_diagram(rows, *, title=None):
    """Draw a network as a row of boxes, one per layer, from :func:`layer_rows`.

    Each box is as tall as its output's height (a feature map) or a fixed bar (a
    vector), coloured by layer kind, and labelled with the layer's name, kind, output
    shape and parameter count; the total is in the title. ``rows`` is a list of
    ``(name, kind, shape, params)`` with shape a tuple of positive ints and params an
    int >= 0. Returns the ``Figure``. Raises ``ValueError`` for an empty or malformed
    ``rows``. Chapter 8.
    """
    rows = list(rows) if rows is not None else []
    if not rows:
        raise ValueError("rows must list at least one layer (see layer_rows)")
    for row in rows:
        ok = (
            len(row) == 4
            and isinstance(row[2], tuple)
            and row[2]
            and all(is_int(d) and d > 0 for d in row[2])
            and is_int(row[3])
            and row[3] >= 0
        )
        if not ok:
            raise ValueError(
                f"each row must be (name, kind, shape, params), got {row!r}"
            )
    tallest = max(r[2][0] if len(r[2]) == 3 else 1 for r in rows)
    fig, ax = plt.subplots(figsize=(1.15 * len(rows) + 0.6, 2.9))
    ax.set_xlim(-0.7, len(rows) - 0.3)
    ax.set_ylim(-1.35, 1.35)
    ax.axis("off")
    ax.grid(False)
    for i, (name, kind, shape, params) in enumerate(rows):
        height = shape[0] / tallest if len(shape) == 3 else 0.12
        colour = _KIND_COLOURS.get(kind, PALETTE[4])
        ax.add_patch(
            FancyBboxPatch(
                (i - 0.3, -height / 2),
                0.6,
                height,
                boxstyle="round,pad=0.01,rounding_size=0.04",
                facecolor=colour,
                alpha=0.45,
                edgecolor=_INK,
                lw=0.8,
            )
        )
        if i:
            _arrow(ax, (i - 0.68, 0), (i - 0.34, 0), lw=0.9)
        size = "×".join(str(d) for d in shape)
        ax.text(
            i,
            0.62,
            f"{name}\n{kind}",
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=_INK,
        )
        ax.text(
            i,
            -0.62,
            f"{size}\n{params:,} w",
            ha="center",
            va="top",
            fontsize=7.5,
            color=_INK,
        )
    total = sum(r[3] for r in rows)
    ax.set_title(
        (title or "Layers, output shapes and weights") + f": {total:,} in all",
        fontsize=10,
        color=_INK,
    )
    fig.tight_layout()
    return fig
