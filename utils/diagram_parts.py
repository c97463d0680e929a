"""The drawing parts that several of the book's schematic diagrams share: a blank
equal-aspect canvas, a labelled rounded box and an arrow, in one ink colour.

Used by :mod:`utils.diagrams_training` (chapters 6-8) and
:mod:`utils.diagrams_generative` (chapter 15); each module fixes its own box size.
Plain Matplotlib patches (``FancyBboxPatch``, ``FancyArrowPatch``); coordinates are
data units of the canvas.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["INK", "canvas", "box", "arrow"]

INK = "#222222"  # outlines, arrows and labels: dark grey, readable on the light card


def canvas(width: float, height: float, xlim, ylim):
    """A figure of ``width`` x ``height`` inches with one bare axis spanning ``xlim``
    by ``ylim`` (data units, equal aspect, no ticks, no grid); returns ``(fig, ax)``.
    Chapters 6-8 and 15 draw their schematics on it."""
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.grid(False)
    return fig, ax


def box(ax, x, y, text, colour, *, w, h, fontsize, alpha=0.25):
    """Draw a rounded box of size ``w`` x ``h`` centred at ``(x, y)``, filled with
    ``colour`` at ``alpha``, labelled ``text`` at ``fontsize`` points; returns its
    ``(left, right, bottom, top)`` edges so arrows can meet it (chapters 6-8, 15)."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=colour,
            alpha=alpha,
            edgecolor=INK,
            lw=0.9,
            zorder=2,
        )
    )
    ax.text(
        x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, zorder=3
    )
    return x - w / 2, x + w / 2, y - h / 2, y + h / 2


def arrow(
    ax,
    start,
    end,
    *,
    text=None,
    dashed=False,
    dotted=False,
    colour=INK,
    lw=1.1,
    offset=(0, 0.18),
    rad=0.0,
    fontsize=8,
    zorder=1,
):
    """Draw an arrow from ``start`` to ``end`` (``(x, y)`` in data units), solid,
    ``dashed`` or ``dotted``, bent by ``rad`` (arc3), with an optional ``text`` label
    placed ``offset`` from its midpoint (chapters 6-8, 15)."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=11,
            lw=lw,
            color=colour,
            linestyle=":" if dotted else "--" if dashed else "-",
            connectionstyle=f"arc3,rad={rad}",
            zorder=zorder,
        )
    )
    if text:
        mx = (start[0] + end[0]) / 2 + offset[0]
        my = (start[1] + end[1]) / 2 + offset[1]
        va = "bottom" if offset[1] >= 0 else "top"
        ax.text(mx, my, text, ha="center", va=va, fontsize=fontsize, color=INK)
