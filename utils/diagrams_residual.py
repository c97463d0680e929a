"""Diagrams of chapter 9: the residual block and the axes each normalization uses.

Chapter 9 ("Normalization, residual connections and regularization") draws
:func:`residual_block_diagram`: the basic block of He et al. (2016) as the data flows
through it, ``x -> conv-BN-ReLU -> conv-BN -> (+ shortcut) -> ReLU``, once with the
identity shortcut (the shape is kept) and once for a block that halves the height and
width and widens the channels, where the shortcut must change shape too: the paper's
CIFAR-10 networks subsample and pad zero channels (option A, no weights), this book's
``build_cnn`` uses a 1x1 projection (option B). The shapes printed beside each step are
computed with the same rule :func:`utils.residual.build_cnn` uses ('same' padding:
``ceil(H / stride)``), and a test checks them against a built Keras model.

:func:`normalization_axes_diagram` draws the figure of Wu & He (2018, Fig. 2): a batch
as a block of N examples x C channels x (H, W) positions, with the values that share one
mean and variance shaded, for batch, layer, instance and group normalization. The
shaded sets are computed by :func:`normalization_sets`, which a test compares with the
axes that :mod:`utils.normalization` reduces over.

Both figures use the book's opaque light card and the Okabe-Ito palette
(:mod:`utils.plot`), so they read the same in the light and the dark theme. Bad input
raises ``ValueError`` before anything is drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch, Polygon

from .plot import PALETTE
from .shapes import positive_int

__all__ = [
    "block_steps",
    "residual_block_diagram",
    "normalization_sets",
    "normalization_axes_diagram",
]

_INK = "#222222"
_CONV, _NORM, _SHORT = PALETTE[0], PALETTE[2], PALETTE[1]
SHORTCUTS = ("projection", "zero-pad")
KINDS = ("batch", "layer", "instance", "group")


def _shape(size: int, channels: int) -> str:
    return f"{size}×{size}×{channels}"


def block_steps(size: int, c_in: int, c_out: int, stride: int = 1) -> dict:
    """The steps of one basic residual block and the shape after each, as drawn.

    ``size`` is the input's height and width, ``c_in``/``c_out`` its channels before
    and after, ``stride`` 1 or 2 (the first 3x3 convolution's). Returns
    ``{"main": [(label, shape), ...], "shortcut": kind, "shortcut_label": str,
    "out": shape}`` where each shape is a ``"H×W×C"`` string; the spatial size after
    the strided convolution is ``ceil(size / stride)``, as with 'same' padding in
    :func:`utils.residual.build_cnn`. ``kind`` is ``"identity"`` when the shape is
    kept, else ``"projection"`` (this book's option B). Chapter 9.

    Raises ``ValueError`` for sizes that are not positive ints or a stride other than
    1 or 2.
    """
    size = positive_int(size, "size")
    c_in, c_out = positive_int(c_in, "c_in"), positive_int(c_out, "c_out")
    stride = positive_int(stride, "stride")
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2 (the paper's blocks), got {stride}")
    out = -(-size // stride)
    stride_note = f", stride {stride}" if stride > 1 else ""
    main = [
        (f"3×3 conv, {c_out}{stride_note}", _shape(out, c_out)),
        ("BN, ReLU", _shape(out, c_out)),
        (f"3×3 conv, {c_out}", _shape(out, c_out)),
        ("BN", _shape(out, c_out)),
    ]
    keeps = stride == 1 and c_in == c_out
    return {
        "in": _shape(size, c_in),
        "main": main,
        "shortcut": "identity" if keeps else "projection",
        "shortcut_label": "identity"
        if keeps
        else f"option B: 1×1 conv,\n{c_out}{stride_note}, BN",
        "out": _shape(out, c_out),
    }


def _box(ax, x, y, text, colour, width=2.6, height=0.62):
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=colour,
            alpha=0.28,
            edgecolor=_INK,
            lw=0.9,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9, color=_INK)


def _arrow(ax, start, end, colour=_INK, lw=1.1):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops=dict(arrowstyle="-|>", color=colour, lw=lw, shrinkA=0, shrinkB=0),
    )


def _draw_block(ax, steps: dict, title: str, note: str | None):
    x, top, gap = 0.0, 7.4, 1.0
    ax.set_xlim(-3.0, 4.6)
    ax.set_ylim(0.3, 8.0)
    ax.axis("off")
    ax.grid(False)
    ax.set_title(title, fontsize=10, color=_INK)
    _box(ax, x, top, f"x: {steps['in']}", "white")
    y = top
    for label, shape in steps["main"]:
        _arrow(ax, (x, y - 0.31), (x, y - gap + 0.31))
        y -= gap
        colour = _CONV if "conv" in label else _NORM
        _box(ax, x, y, label, colour)
        ax.text(-1.4, y, shape, ha="right", va="center", fontsize=7.5, color="0.35")
    add_y = y - gap
    _arrow(ax, (x, y - 0.31), (x, add_y + 0.25))
    ax.add_patch(Circle((x, add_y), 0.25, facecolor="white", edgecolor=_INK, lw=1.1))
    ax.text(x, add_y, "+", ha="center", va="center", fontsize=12, color=_INK)
    relu_y = add_y - 0.85
    _arrow(ax, (x, add_y - 0.25), (x, relu_y + 0.31))
    _box(ax, x, relu_y, f"ReLU → y: {steps['out']}", "white")
    # the shortcut: out of x to the right, down, into the addition
    side = 2.95
    ax.plot([1.3, side, side], [top, top, add_y], color=_SHORT, lw=2.0)
    _arrow(ax, (side, add_y), (x + 0.25, add_y), colour=_SHORT, lw=2.0)
    if steps["shortcut"] == "identity":
        ax.text(
            side + 0.12,
            (top + add_y) / 2,
            "identity\n(no weights)",
            ha="left",
            va="center",
            fontsize=8.5,
            color=_INK,
        )
    else:
        mid = (top + add_y) / 2
        _box(ax, side, mid, steps["shortcut_label"], _SHORT, width=2.4, height=0.9)
    if note:
        ax.text(
            0.8,
            relu_y - 0.75,
            note,
            ha="center",
            va="center",
            fontsize=8,
            color=_INK,
            style="italic",
        )


def residual_block_diagram(size: int = 32, widths=(16, 32)):
    """Draw the basic residual block twice: identity shortcut, then downsampling.

    Left: a block of the first stage, ``size × size × widths[0]`` in and out, whose
    shortcut is the identity. Right: the first block of the next stage, which halves
    the height and width (stride 2) and goes from ``widths[0]`` to ``widths[1]``
    channels; its shortcut is this book's 1x1 projection (option B), and a note gives
    the paper's CIFAR-10 choice, option A: every second pixel, zero-padded channels,
    no weights (He et al. 2016, section 4.2). Shapes come from :func:`block_steps`.
    Returns the matplotlib ``Figure``. Chapter 9.

    Raises ``ValueError`` for a size that is not a positive int, or ``widths`` that
    are not two positive ints with ``widths[1] >= widths[0]``.
    """
    size = positive_int(size, "size")
    if not isinstance(widths, (tuple, list)) or len(widths) != 2:
        raise ValueError(f"widths must be two ints (this stage, next), got {widths!r}")
    c1, c2 = (positive_int(w, "each width") for w in widths)
    if c2 < c1:
        raise ValueError(
            f"widths must not shrink (the paper doubles them), got {widths}"
        )
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 5.0))
    same = block_steps(size, c1, c1, 1)
    down = block_steps(size, c1, c2, 2)
    _draw_block(axes[0], same, "shape kept: identity shortcut", None)
    pad = c2 - c1
    note = (
        "the paper's CIFAR nets (option A): every 2nd pixel,\n"
        f"plus {pad} zero channels, no weights"
    )
    _draw_block(axes[1], down, "stride 2, more channels: the shortcut must match", note)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------- normalization axes


def normalization_sets(kind: str, n: int = 4, c: int = 6, groups: int = 2):
    """Which values share one mean and variance, as integer labels on an (N, C) grid.

    The grid stands for a batch ``(N, H, W, C)`` with (H, W) folded into one axis (every
    position of a cell shares its label). ``kind`` is ``"batch"`` (one set per channel,
    over N, H, W), ``"layer"`` (one per example, over H, W, C: the papers' layer norm
    on conv maps, ``group_norm(x, 1)``), ``"instance"`` (one per example and channel,
    over H, W) or ``"group"`` (one per example and group of ``C / groups`` channels).
    Returns an int ``(n, c)`` array of set labels. Chapter 9.

    Raises ``ValueError`` for an unknown ``kind``, sizes that are not positive ints, or
    ``groups`` that does not divide ``c``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n, c = positive_int(n, "n"), positive_int(c, "c")
    groups = positive_int(groups, "groups")
    if c % groups:
        raise ValueError(f"groups={groups} must divide the channels c={c}")
    rows, cols = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    if kind == "batch":
        return cols
    if kind == "layer":
        return rows
    if kind == "instance":
        return rows * c + cols
    return rows * groups + cols // (c // groups)


def _face(ax, corners, on: bool, colour, alpha: float):
    """One face of a cube cell: ``colour`` at ``alpha`` when ``on``, else white."""
    ax.add_patch(
        Polygon(
            corners,
            closed=True,
            facecolor=colour if on else "white",
            alpha=alpha if on else 1.0,
            edgecolor="0.45",
            lw=0.5,
        )
    )


def _cube(ax, x0, y0, labels, highlight, colour, cell=0.42, depth=0.9):
    """Draw an (N, C) grid as the front of a box with an (H, W) depth."""
    n, c = labels.shape
    dx, dy = depth * 0.55, depth * 0.45
    for i in range(n):
        for j in range(c):
            on = labels[i, j] == highlight
            x, y = x0 + j * cell, y0 + (n - 1 - i) * cell
            front = [(x, y), (x + cell, y), (x + cell, y + cell), (x, y + cell)]
            _face(ax, front, on, colour, 0.75)
            if i == 0:  # the top face of the first row
                top = [
                    (x, y + cell),
                    (x + cell, y + cell),
                    (x + cell + dx, y + cell + dy),
                    (x + dx, y + cell + dy),
                ]
                _face(ax, top, on, colour, 0.45)
            if j == c - 1:  # the side face of the last column
                side = [
                    (x + cell, y),
                    (x + cell + dx, y + dy),
                    (x + cell + dx, y + cell + dy),
                    (x + cell, y + cell),
                ]
                _face(ax, side, on, colour, 0.45)


def normalization_axes_diagram(n: int = 4, c: int = 6, groups: int = 2):
    """Draw which values share statistics in batch, layer, instance and group norm.

    Four boxes, one per :data:`KINDS`, each an (N, C) front face with (H, W) as its
    depth (as in Wu & He 2018, Fig. 2); the values of one set (the set holding example
    0, channel 0) are shaded, from :func:`normalization_sets`. Returns the matplotlib
    ``Figure``. Chapter 9. Raises ``ValueError`` like :func:`normalization_sets`.
    """
    sets = {kind: normalization_sets(kind, n, c, groups) for kind in KINDS}
    fig, ax = plt.subplots(figsize=(10, 2.9))
    ax.axis("off")
    ax.grid(False)
    ax.set_aspect("equal")
    cell, step = 0.42, c * 0.42 + 1.7
    titles = {
        "batch": "batch norm",
        "layer": "layer norm (papers)",
        "instance": "instance norm",
        "group": f"group norm ({groups} groups)",
    }
    for k, kind in enumerate(KINDS):
        x0 = k * step
        _cube(ax, x0, 0.0, sets[kind], sets[kind][0, 0], PALETTE[k % 4], cell=cell)
        ax.text(
            x0 + c * cell / 2,
            n * cell + 0.75,
            titles[kind],
            ha="center",
            fontsize=10,
            color=_INK,
        )
        ax.text(
            x0 + c * cell / 2,
            -0.3,
            "C (channels) →, depth: H, W",
            ha="center",
            va="top",
            fontsize=8,
            color=_INK,
        )
        ax.text(
            x0 - 0.15,
            n * cell / 2,
            "N ↓",
            ha="right",
            va="center",
            fontsize=8,
            color=_INK,
        )
    ax.set_xlim(-0.8, step * len(KINDS) - 0.9)
    ax.set_ylim(-0.9, n * cell + 1.1)
    fig.tight_layout()
    return fig
