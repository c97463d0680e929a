"""Explanatory diagrams drawn with matplotlib: a batch's memory layout and an MLP.

Chapter 1 ("Images as tensors") draws :func:`memory_layout`: how the numbers of an
``(N, H, W, C)`` batch line up in flat, row-major memory in the NHWC and the NCHW
layout. Chapter 2 ("Neural-network basics") draws :func:`mlp_diagram`: the layers of a
multilayer perceptron as columns of units, labelled with the shapes of the weight
matrices and bias vectors that connect them.

Both figures are drawn on the book's opaque light card (``plot.use_book_style``) with
the Okabe-Ito colour-blind palette (Okabe & Ito 2008), so they read the same in the
light and the dark theme. Both derive what they show from data, not from typed labels:
the layout from the transpose that :func:`utils.images.to_layout` performs, the MLP
from the weight shapes of the chapter's own network. Bad input raises ``ValueError``
before anything is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Rectangle

from .images import to_layout
from .plot import PALETTE
from .shapes import is_int, positive_int

__all__ = ["memory_layout", "mlp_diagram"]

# one colour per channel, the same hues chapter 1 uses for the R, G, B histograms
CHANNEL_COLOURS = ("#D55E00", "#009E73", "#0072B2")
_INK = "#222222"
MAX_CELLS = 48  # more boxes than this would not be readable in one row


def memory_layout(shape=(2, 2, 2, 3), *, box: float = 0.42):
    """Draw where each number of an ``(N, H, W, C)`` batch sits in flat memory.

    Two rows of boxes, one per memory position (offset 0 on the left): the NHWC order
    on top, the NCHW order below. Each box is coloured by its channel and labelled
    ``c:n,h,w`` (channel letter R, G, B for ``C == 3``, else the channel number).
    Brackets mark each image ``n``; the NCHW row is computed with
    :func:`utils.images.to_layout`, so the figure shows what the transpose really does.

    ``shape``: four positive ints ``(N, H, W, C)`` with at most 48 numbers in all;
    ``box``: box width in inches (> 0). Returns the matplotlib ``Figure``.

    Raises ``ValueError`` for a shape that is not four positive ints, more than 48
    numbers (use a smaller example: the idea does not depend on size), or a bad ``box``.
    Chapter 1.
    """
    if (
        isinstance(shape, (str, bytes))
        or not isinstance(shape, Sequence)
        or len(shape) != 4
    ):
        raise ValueError(f"shape must be four ints (N, H, W, C), got {shape!r}")
    n, h, w, c = (positive_int(v, f"shape[{i}]") for i, v in enumerate(shape))
    total = n * h * w * c
    if total > MAX_CELLS:
        raise ValueError(
            f"shape {tuple(shape)} holds {total} numbers; the diagram shows at most "
            f"{MAX_CELLS}, so pick a smaller example such as (2, 2, 2, 3)"
        )
    if not isinstance(box, (int, float)) or isinstance(box, bool) or not box > 0:
        raise ValueError(f"box (inches) must be a number > 0, got {box!r}")

    # index[n, h, w, c] = (n, h, w, c) packed as one int; the rows read memory order
    index = np.arange(total).reshape(n, h, w, c)
    orders = {
        "NHWC": index.ravel(),
        "NCHW": np.ascontiguousarray(to_layout(index, "NHWC", "NCHW")).ravel(),
    }
    names = "RGB" if c == 3 else [str(k) for k in range(c)]

    fig, ax = plt.subplots(figsize=(box * total + 1.6, 2.9))
    ax.set_xlim(-1.6, total + 0.2)
    ax.set_ylim(-0.9, 4.3)
    ax.axis("off")
    ax.grid(False)
    for row, (layout, order) in enumerate(orders.items()):
        y = 2.6 - 2.2 * row
        ax.text(
            -0.2,
            y + 0.45,
            layout,
            ha="right",
            va="center",
            fontsize=11,
            color=_INK,
            weight="bold",
        )
        for pos, flat in enumerate(order):
            nn_, hh, ww, cc = np.unravel_index(flat, (n, h, w, c))
            ax.add_patch(
                Rectangle(
                    (pos, y),
                    0.94,
                    0.9,
                    facecolor=CHANNEL_COLOURS[cc % 3],
                    alpha=0.55,
                    edgecolor=_INK,
                    lw=0.6,
                )
            )
            ax.text(
                pos + 0.47,
                y + 0.58,
                names[cc],
                ha="center",
                va="center",
                fontsize=9,
                color=_INK,
                weight="bold",
            )
            ax.text(
                pos + 0.47,
                y + 0.24,
                f"{nn_},{hh},{ww}",
                ha="center",
                va="center",
                fontsize=6.5,
                color=_INK,
            )
        per_image = h * w * c
        for k in range(n):  # a bracket above each image's stretch of memory
            x0, x1 = k * per_image + 0.05, (k + 1) * per_image - 0.11
            ax.plot(
                [x0, x0, x1, x1],
                [y + 1.0, y + 1.12, y + 1.12, y + 1.0],
                color=_INK,
                lw=0.8,
            )
            ax.text(
                (x0 + x1) / 2,
                y + 1.2,
                f"image n={k}",
                ha="center",
                va="bottom",
                fontsize=8,
                color=_INK,
            )
    for pos in range(0, total, max(1, total // 8)):
        ax.text(pos + 0.47, -0.75, str(pos), ha="center", fontsize=7, color=_INK)
    ax.text(-0.2, -0.75, "offset", ha="right", fontsize=7, color=_INK)
    ax.set_title(
        f"A batch of shape (N, H, W, C) = {(n, h, w, c)} in flat memory "
        "(box label: channel, then n,h,w)",
        fontsize=10,
        color=_INK,
    )
    fig.tight_layout()
    return fig


def _widths_from_shapes(shapes) -> list[int]:
    """Layer widths ``[n_0, ..., n_L]`` from ``[W1.shape, b1.shape, W2.shape, ...]``."""
    try:
        shapes = [tuple(s) for s in shapes]
    except TypeError:
        raise ValueError(
            "shapes must be a list of array shapes [W1.shape, b1.shape, ...]"
        ) from None
    if not shapes or len(shapes) % 2:
        raise ValueError(
            f"shapes must alternate weight and bias shapes [W1, b1, W2, b2, ...], got "
            f"{len(shapes)} entries"
        )
    if not all(all(is_int(d) and d > 0 for d in s) for s in shapes):
        raise ValueError(f"every dimension must be a positive int, got {shapes}")
    widths = []
    for layer, (kernel, bias) in enumerate(zip(shapes[::2], shapes[1::2]), start=1):
        if len(kernel) != 2 or len(bias) != 1 or kernel[1] != bias[0]:
            raise ValueError(
                f"layer {layer}: W{layer} must be (n_in, n_out) and b{layer} (n_out,), "
                f"got {kernel} and {bias}"
            )
        if widths and widths[-1] != kernel[0]:
            raise ValueError(
                f"layer {layer}: W{layer} expects {kernel[0]} inputs but the layer "
                f"before has {widths[-1]} units"
            )
        widths = widths or [kernel[0]]
        widths.append(kernel[1])
    return widths


def mlp_diagram(shapes, activations=None, *, max_units: int = 7):
    """Draw an MLP as columns of units joined by its weight matrices.

    ``shapes`` lists the parameter shapes in Keras order, ``[W1.shape, b1.shape,
    W2.shape, b2.shape, ...]`` (``[w.shape for w in model.get_weights()]``), so the
    figure is drawn from the network itself: column ``l`` has ``n_l`` units, and between
    columns ``l-1`` and ``l`` the labels read ``W_l: (n_{l-1}, n_l)`` and ``b_l:
    (n_l,)``. ``activations`` (optional, one string per layer) are written under the
    columns. A column wider than ``max_units`` (int >= 3) shows its first and last
    units with a gap between them. Returns the matplotlib ``Figure``.

    Raises ``ValueError`` for shapes that do not chain (``W_l`` must be ``(n_{l-1},
    n_l)`` and ``b_l`` ``(n_l,)``), a wrong number of activations, or a bad
    ``max_units``. Chapter 2.
    """
    widths = _widths_from_shapes(shapes)
    layers = len(widths) - 1
    if activations is not None:
        activations = [str(a) for a in activations]
        if len(activations) != layers:
            raise ValueError(
                f"{layers} layers need {layers} activations, got {len(activations)}"
            )
    max_units = positive_int(max_units, "max_units")
    if max_units < 3:
        raise ValueError(f"max_units must be >= 3, got {max_units}")

    def unit_rows(width):
        """Vertical positions of the drawn units, and where the gap goes (or None)."""
        if width <= max_units:
            return list(np.arange(width) - (width - 1) / 2), None
        top = max_units // 2
        rows = [k - (max_units - 1) / 2 for k in range(max_units)]
        return rows[:top] + rows[top + 1 :], rows[top]

    fig, ax = plt.subplots(figsize=(1.5 * layers + 2.2, 4.4))
    ax.set_xlim(-0.8, 2.3 * layers + 0.8)
    ax.set_ylim(-max_units / 2 - 1.6, max_units / 2 + 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.grid(False)
    columns = []
    for layer, width in enumerate(widths):
        x = 2.3 * layer
        rows, gap = unit_rows(width)
        columns.append((x, rows))
        colour = PALETTE[0] if layer == 0 else PALETTE[2 if layer < layers else 3]
        for y in rows:
            ax.add_patch(
                Circle(
                    (x, y),
                    0.3,
                    facecolor=colour,
                    alpha=0.35,
                    edgecolor=_INK,
                    lw=0.8,
                    zorder=3,
                )
            )
        if gap is not None:
            ax.text(x, gap, "⋮", ha="center", va="center", fontsize=14, color=_INK)
        name = (
            "input x" if layer == 0 else ("output" if layer == layers else f"h{layer}")
        )
        ax.text(
            x,
            max_units / 2 + 0.55,
            f"{name}\n{width} units",
            ha="center",
            va="center",
            fontsize=9,
            color=_INK,
        )
        if layer and activations is not None:
            ax.text(
                x,
                -max_units / 2 - 0.2,
                activations[layer - 1],
                ha="center",
                va="center",
                fontsize=9,
                color=_INK,
                style="italic",
            )
    for layer in range(1, layers + 1):
        (x0, rows0), (x1, rows1) = columns[layer - 1], columns[layer]
        for y0 in rows0:
            for y1 in rows1:
                ax.plot([x0 + 0.3, x1 - 0.3], [y0, y1], color="0.6", lw=0.4, zorder=1)
        n_in, n_out = widths[layer - 1], widths[layer]
        ax.text(
            (x0 + x1) / 2,
            -max_units / 2 - 1.0,
            f"W{layer}: ({n_in}, {n_out})\nb{layer}: ({n_out},)",
            ha="center",
            va="center",
            fontsize=9,
            color=_INK,
            bbox=dict(facecolor="white", edgecolor="0.7", boxstyle="round"),
        )
    ax.set_title(
        "MLP " + " → ".join(map(str, widths)) + ": layers as columns of units",
        fontsize=10,
        color=_INK,
    )
    fig.tight_layout()
    return fig
