"""Diagrams for chapters 11 and 12: the three transfer set-ups, what each attribution
method reads from a network, and the cascading randomization test.

Chapter 11 ("Learning from little data") draws :func:`transfer_setups`: the same
backbone and head trained from scratch, used frozen under a linear probe, and
fine-tuned from a probe-initialised head, with each part coloured by what happens to its
weights. Chapter 12 ("What the network looks at") draws :func:`attribution_methods`
(where saliency, integrated gradients, Grad-CAM and occlusion read the network) and
:func:`randomization_cascade` (Adebayo et al. 2018: the layers re-initialised at each
stage of the cascade, from the top down).

The figures are drawn on the book's opaque light card (``plot.use_book_style``) with
the Okabe-Ito palette (Okabe & Ito 2008), so they read the same in the light and the
dark theme. What they show is derived from data (:data:`SETUPS`, the layer names
passed in), and bad input raises ``ValueError`` before anything is drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle

from .plot import PALETTE

__all__ = ["transfer_setups", "attribution_methods", "randomization_cascade"]

_INK = "#222222"
#: what happens to a part's weights -> (fill colour, legend text)
ROLES = {
    "random": ("#BBBBBB", "random start"),
    "frozen": (PALETTE[5], "pretrained, frozen"),
    "tuned": (PALETTE[1], "pretrained, fine-tuned"),
    "probe": (PALETTE[2], "fitted on frozen features"),
    "new": (PALETTE[4], "new, trained"),
}
#: chapter 11's three set-ups: title -> (backbone role, BatchNorm role, head role)
SETUPS = {
    "from scratch": ("random", "random", "new"),
    "linear probe": ("frozen", "frozen", "probe"),
    "fine-tuning": ("tuned", "frozen", "tuned"),
}
TRAINED, RANDOM = "#8FB8DE", "#F4A582"  # the cascade's two states (blue, salmon)


def _names(layers, what: str) -> list[str]:
    if isinstance(layers, (str, bytes)) or not all(
        isinstance(n, str) and n for n in layers
    ):
        raise ValueError(f"{what} must be a list of layer names, got {layers!r}")
    names = list(layers)
    if not 1 <= len(names) <= 8:
        raise ValueError(f"{what} must name 1 to 8 layers, got {len(names)}")
    return names


def _box(ax, x, y, w, h, text, face, *, size=8.5, hatch=None, colour=_INK):
    ax.add_patch(
        Rectangle((x, y), w, h, facecolor=face, edgecolor=_INK, lw=0.8, hatch=hatch)
    )
    ax.text(
        x + w / 2,
        y + h / 2,
        text,
        ha="center",
        va="center",
        fontsize=size,
        color=colour,
    )


def _arrow(ax, start, end, *, colour=_INK, style="-|>", ls="-"):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=10,
            lw=1.1,
            color=colour,
            linestyle=ls,
        )
    )


def _card(width, height):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.axis("off")
    ax.grid(False)
    return fig, ax


def transfer_setups(blocks=("conv1", "conv2", "conv3")):
    """Draw chapter 11's three transfer set-ups side by side.

    Each column is one set-up of :data:`SETUPS`: the image enters the backbone (one box
    per name in ``blocks``, with its BatchNormalization), whose feature vector feeds a
    ``Dense`` head. Boxes are coloured by :data:`ROLES`: trained from a random start,
    pretrained and frozen, pretrained and fine-tuned, or fitted on frozen features.
    Returns the matplotlib ``Figure``. Raises ``ValueError`` unless ``blocks`` is a
    list of 1 to 8 non-empty names. Chapter 11.
    """
    blocks = _names(blocks, "blocks")
    n = len(blocks)
    fig, ax = _card(9.5, 1.2 + 0.55 * (n + 3))
    top = n + 2.6
    for col, (title, (body, bn, head)) in enumerate(SETUPS.items()):
        x = col * 3.2
        ax.text(
            x + 1.2,
            top + 0.55,
            title,
            ha="center",
            fontsize=11,
            weight="bold",
            color=_INK,
        )
        _box(ax, x + 0.2, 0, 2.0, 0.5, "image (32x32x3)", "white")
        for i, name in enumerate(blocks, start=1):
            _box(ax, x + 0.2, i, 1.4, 0.5, name, ROLES[body][0])
            _box(ax, x + 1.6, i, 0.6, 0.5, "BN", ROLES[bn][0], size=7.5)
        _box(ax, x + 0.2, n + 1, 2.0, 0.5, "Dense head", ROLES[head][0])
        for y in range(n + 1):
            _arrow(ax, (x + 1.2, y + 0.5), (x + 1.2, y + 1.0))
        _arrow(ax, (x + 1.2, n + 1.5), (x + 1.2, n + 2.0))
        ax.text(x + 1.2, n + 2.1, "logits", ha="center", fontsize=8.5, color=_INK)
    for k, (face, text) in enumerate(ROLES.values()):
        ax.add_patch(
            Rectangle(
                (k * 1.95, -1.0), 0.3, 0.3, facecolor=face, edgecolor=_INK, lw=0.6
            )
        )
        ax.text(k * 1.95 + 0.38, -0.85, text, va="center", fontsize=7.5, color=_INK)
    ax.set_xlim(-0.1, 9.6)
    ax.set_ylim(-1.2, top + 1.0)
    fig.tight_layout()
    return fig


#: chapter 12's four methods -> (where they read the network, what they compute)
METHODS = {
    "saliency, gradient x input": ("input", "dS_c/dx at the image"),
    "integrated gradients": ("path", "dS_c/dx along x' -> x, averaged"),
    "Grad-CAM": ("last", "dS_c/dA at the last convolution, x A"),
    "occlusion": ("forward", "forward passes with a patch covered"),
}


def attribution_methods(layers=("conv1", "conv2", "conv3", "dense", "logits")):
    """Draw where each attribution method of chapter 12 reads the network.

    One row per method of :data:`METHODS`. Each row draws the network as a chain of
    boxes (the image, then ``layers``; the last one holds the class score ``S_c``) and
    marks what the method uses: a backward arrow from the score to the image
    (gradients), several images on the path from the baseline ``x'`` (integrated
    gradients), a backward arrow to the last convolution, taken to be the last name
    with "conv" in it (Grad-CAM), or only forward arrows and a covered patch
    (occlusion). Returns the ``Figure``. Raises ``ValueError`` for a layer list that
    is not 1 to 8 names or has no convolution. Chapter 12.
    """
    layers = _names(layers, "layers")
    convs = [i for i, name in enumerate(layers) if "conv" in name]
    if not convs:
        raise ValueError(f"layers must include a convolution (a 'conv' name): {layers}")
    last_conv = convs[-1] + 1  # box index (0 is the image)
    boxes = ["x", *layers]
    fig, ax = _card(10, 1.1 * len(METHODS) + 0.4)
    for row, (method, (reads, says)) in enumerate(METHODS.items()):
        y = (len(METHODS) - 1 - row) * 1.1
        ax.text(
            -0.2,
            y + 0.55,
            method,
            ha="right",
            va="center",
            fontsize=9,
            weight="bold",
            color=_INK,
        )
        ax.text(
            len(boxes) * 1.3 + 0.1, y + 0.25, says, va="center", fontsize=8, color=_INK
        )
        for i, name in enumerate(boxes):
            face = "white" if i else "#EEEEEE"
            if reads == "last" and i == last_conv:
                face = PALETTE[1]
            _box(ax, i * 1.3, y, 1.0, 0.5, name, face, size=8)
            if i:
                _arrow(ax, (i * 1.3 - 0.3, y + 0.25), (i * 1.3, y + 0.25))
        end = (len(boxes) - 1) * 1.3 + 0.5
        if reads in ("input", "path", "last"):
            target = last_conv * 1.3 + 0.5 if reads == "last" else 0.5
            _arrow(ax, (end, y + 0.55), (target, y + 0.55), colour=PALETTE[3], ls="--")
            ax.text(
                (end + target) / 2,
                y + 0.62,
                "gradient (backward pass)",
                ha="center",
                fontsize=7,
                color=PALETTE[3],
            )
        if reads == "path":
            for k in range(3):
                ax.add_patch(
                    Rectangle(
                        (-0.45 - 0.28 * k, y + 0.05 + 0.05 * k),
                        0.22,
                        0.22,
                        facecolor=str(0.85 - 0.25 * k),
                        edgecolor=_INK,
                        lw=0.5,
                    )
                )
            ax.text(-0.75, y - 0.12, "x' ... x", ha="center", fontsize=7, color=_INK)
        if reads == "forward":
            ax.add_patch(
                Rectangle(
                    (0.55, y + 0.08), 0.3, 0.3, facecolor="0.45", edgecolor=_INK, lw=0.5
                )
            )
    ax.set_xlim(-3.2, len(boxes) * 1.3 + 4.4)
    ax.set_ylim(-0.4, 1.1 * len(METHODS))
    fig.tight_layout()
    return fig


def randomization_cascade(layers=("conv1", "conv2", "conv3", "dense", "logits")):
    """Draw the cascading randomization test of Adebayo et al. (2018).

    ``layers`` are the network's layers from input to output. Row 0 is the trained
    network; row ``s`` has the top ``s`` layers re-initialised (red, hatched) and the
    rest trained (blue), down to every layer random. An arrow says what is compared:
    each stage's map with the trained network's map. Returns the ``Figure``. Raises
    ``ValueError`` unless ``layers`` is a list of 1 to 8 names. Chapter 12.
    """
    layers = _names(layers, "layers")
    n = len(layers)
    fig, ax = _card(1.2 * n + 4.6, 0.5 * (n + 1) + 1.2)
    for stage in range(n + 1):
        y = (n - stage) * 0.5
        label = "trained" if stage == 0 else f"top {stage} random"
        ax.text(
            -0.15, y + 0.2, label, ha="right", va="center", fontsize=8.5, color=_INK
        )
        for i, name in enumerate(layers):
            random = i >= n - stage
            _box(
                ax,
                i * 1.2,
                y,
                1.1,
                0.4,
                name,
                RANDOM if random else TRAINED,
                size=7.5,
                hatch="///" if random else None,
            )
    ax.text(
        n * 1.2 / 2,
        (n + 1) * 0.5 + 0.1,
        "input  ->  output",
        ha="center",
        fontsize=8.5,
        color=_INK,
    )
    _arrow(ax, (n * 1.2 + 0.2, 0.2), (n * 1.2 + 0.2, n * 0.5 + 0.2), style="<|-|>")
    ax.text(
        n * 1.2 + 0.35,
        n * 0.25 + 0.2,
        "rank correlation of\neach stage's map\nwith the trained map",
        va="center",
        fontsize=8,
        color=_INK,
    )
    ax.set_xlim(-1.9, n * 1.2 + 2.9)
    ax.set_ylim(-0.2, (n + 1) * 0.5 + 0.5)
    fig.tight_layout()
    return fig
