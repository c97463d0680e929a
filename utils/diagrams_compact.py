"""Schematics of chapter 16 ("Small and fast networks").

- :func:`quantization_diagram`: the real line above the integer grid of an affine
  quantizer, with the scale (one step of the grid), the zero point (the integer that
  stands for 0.0), a few numbers rounded to their nearest grid point, and the clipped
  region outside the range;
- :func:`separable_diagram`: a full 3x3 convolution beside its depthwise-separable
  replacement (a 3x3 filter per channel, then a 1x1 convolution), with each one's
  multiply-accumulates per output pixel.

Drawn on the book's opaque light card with the Okabe-Ito palette
(:data:`utils.plot.PALETTE`), so they read the same in light and dark mode. Each
returns the matplotlib ``Figure``; bad input raises ``ValueError`` before drawing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

from .plot import PALETTE
from .quantize import affine_params, dequantize, integer_range, quantize
from .shapes import positive_int

__all__ = ["quantization_diagram", "separable_diagram"]

_INK = "#222222"


def quantization_diagram(low=-0.6, high=1.4, bits=3, samples=(-0.9, -0.23, 0.5, 1.1)):
    """The affine map from ``[low, high]`` to ``bits``-bit unsigned integers.

    Top: the real line with the grid points ``(q - z) * scale``; bottom: the integers
    ``0 .. 2^bits - 1``; arrows take each of ``samples`` to its integer (a sample
    outside the range is clipped to the end). Keep ``bits`` small (2 to 5) so the
    grid is visible. Raises ``ValueError`` as :func:`utils.quantize.affine_params`,
    or for ``bits`` above 5. Chapter 16.
    """
    if positive_int(bits, "bits") > 5:
        raise ValueError(f"bits must be at most 5 to draw the grid, got {bits}")
    scale, zero = affine_params(low, high, bits)
    q_min, q_max = integer_range(bits, signed=False)
    grid = dequantize(np.arange(q_min, q_max + 1), scale, zero)
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    ax.axis("off")
    ax.grid(False)
    span = high - low
    x0, x1 = low - 0.3 * span, high + 0.3 * span
    ax.set_xlim(x0, x1)
    ax.set_ylim(-0.75, 1.35)
    ax.plot([x0, x1], [1, 1], color=_INK, lw=1)
    ax.plot([x0, x1], [0, 0], color=_INK, lw=1)
    ax.axvspan(x0, grid[0] - scale / 2, 0.55, 0.95, color=PALETTE[3], alpha=0.12)
    ax.axvspan(grid[-1] + scale / 2, x1, 0.55, 0.95, color=PALETTE[3], alpha=0.12)
    for q, g in zip(range(q_min, q_max + 1), grid):
        ax.plot([g, g], [0.94, 1.06], color=PALETTE[0], lw=1.5)
        ax.add_patch(
            Rectangle((g - 0.12 * scale, -0.08), 0.24 * scale, 0.16, color=_INK)
        )
        ax.text(g, -0.25, str(q), ha="center", va="top", fontsize=9, color=_INK)
        ax.text(g, 1.1, f"{g:.2f}", ha="center", va="bottom", fontsize=7, color=_INK)
    for x in samples:
        q = int(quantize(x, scale, zero, bits))
        ax.plot([x], [1], "o", color=PALETTE[1], ms=6, zorder=4)
        ax.add_artist(
            FancyArrowPatch(
                (x, 0.95),
                (grid[q - q_min], 0.1),
                arrowstyle="-|>",
                mutation_scale=9,
                color=PALETTE[1],
                lw=1.2,
            )
        )
    ax.annotate(
        "",
        (grid[1], 1.3),
        (grid[0], 1.3),
        arrowprops=dict(arrowstyle="<->", color=PALETTE[2]),
    )
    ax.text(grid[0], 1.33, f"scale = {scale:.3f}", fontsize=9, color=_INK, va="bottom")
    ax.text(x1, 1.02, "real x", fontsize=9, color=_INK, va="bottom", ha="right")
    ax.text(x1, 0.02, f"uint{bits} q", fontsize=9, color=_INK, va="bottom", ha="right")
    ax.text(
        0.0,
        -0.5,
        f"zero point z = {zero}: q = {zero} stands for 0.0 exactly",
        ha="center",
        fontsize=9,
        color=_INK,
    )
    ax.text(x0, 0.6, "clipped to q = 0", fontsize=8, color=PALETTE[3])
    ax.text(
        x1, 0.6, f"clipped to q = {q_max}", fontsize=8, color=PALETTE[3], ha="right"
    )
    return fig


def _stack(ax, x, y, channels, colours, *, w=0.9, h=0.9, label=None):
    """``channels`` squares offset diagonally (a feature map seen in depth)."""
    for c in range(channels):
        ax.add_patch(
            Rectangle(
                (x + 0.12 * c, y + 0.12 * c),
                w,
                h,
                facecolor=colours[c % len(colours)],
                alpha=0.55,
                edgecolor=_INK,
                lw=0.8,
            )
        )
    if label:
        ax.text(
            x + w / 2 + 0.06 * channels,
            y - 0.25,
            label,
            ha="center",
            va="top",
            fontsize=8,
            color=_INK,
        )


def _arrow(ax, a, b, text):
    ax.add_artist(
        FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, color=_INK, lw=1)
    )
    ax.text((a[0] + b[0]) / 2, a[1] + 0.22, text, ha="center", fontsize=8, color=_INK)


def separable_diagram(c_in=3, c_out=4, k=3):
    """A full ``k x k`` convolution (top) and the depthwise-separable pair that
    replaces it (bottom), from ``c_in`` to ``c_out`` channels, with the MACs per
    output pixel of each: ``k*k*c_in*c_out`` against ``k*k*c_in + c_in*c_out``.
    Channel counts from 1 to 6 keep the drawing legible; others raise ``ValueError``.
    Chapter 16; Howard et al. (2017).
    """
    c_in, c_out, k = (
        positive_int(v, n) for v, n in ((c_in, "c_in"), (c_out, "c_out"), (k, "k"))
    )
    if c_in > 6 or c_out > 6:
        raise ValueError(
            f"c_in and c_out must be at most 6 to draw, got {c_in}, {c_out}"
        )
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    ax.axis("off")
    ax.grid(False)
    ax.set_xlim(0, 10.5)
    ax.set_ylim(-0.9, 5.0)
    ins, outs = PALETTE[:c_in], PALETTE[2 : 2 + c_out] if c_out > 1 else PALETTE[2:3]
    full, sep = k * k * c_in * c_out, k * k * c_in + c_in * c_out
    _stack(ax, 0.3, 3.0, c_in, ins, label=f"input, {c_in} channels")
    _arrow(ax, (1.9, 3.6), (6.6, 3.6), f"{c_out} filters of {k}x{k}x{c_in}")
    _stack(ax, 7.0, 3.0, c_out, outs, label=f"{c_out} channels")
    ax.text(10.4, 4.5, f"full: {full} MACs / pixel", ha="right", fontsize=9, color=_INK)
    _stack(ax, 0.3, 0.0, c_in, ins, label=f"input, {c_in} channels")
    _arrow(ax, (1.9, 0.6), (3.9, 0.6), f"{c_in} filters of {k}x{k}x1")
    _stack(ax, 4.2, 0.0, c_in, ins, label="depthwise: one per channel")
    _arrow(ax, (5.8, 0.6), (6.9, 0.6), f"1x1x{c_in} x {c_out}")
    _stack(ax, 7.2, 0.0, c_out, outs, label="pointwise: mixes channels")
    ax.text(
        10.4, 2.0, f"separable: {sep} MACs / pixel", ha="right", fontsize=9, color=_INK
    )
    return fig
