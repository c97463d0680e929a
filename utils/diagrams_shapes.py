"""Where a convolution's window lands: padding, stride and dilation, drawn (chapter 3).

:func:`draw_windows` draws one input grid, its zero padding in grey, and the input
pixels that the first two outputs of a row read, so a reader sees what each of the
three settings does before meeting the output-size formula. The output size it writes
in the title comes from :func:`utils.shapes.output_size`, the tested formula of the
chapter, never from the drawing. Drawn with white and grey cells and the Okabe-Ito
colours of :mod:`utils.plot`, on the book's opaque light card, so it reads the same in
the light and the dark theme. Bad input raises ``ValueError`` before anything is drawn.
"""

from __future__ import annotations

from matplotlib.patches import Rectangle

from .plot import PALETTE
from .shapes import output_size, positive_int

__all__ = ["draw_windows"]

_GRID = "#888888"
_PAD = "#d9d9d9"  # padding cells: light grey
_TAPS = (PALETTE[0], PALETTE[1])  # blue: output (0, 0); orange: output (0, 1)


def draw_windows(ax, n, k, *, stride=1, pad=0, dilation=1, title="") -> int:
    """An ``n x n`` input padded by ``pad``, with the taps of outputs (0, 0) and (0, 1).

    ``n`` (input pixels per side), ``k`` (kernel taps per side), ``stride`` and
    ``dilation`` are positive ints, ``pad`` a non-negative int (zeros on every side,
    drawn grey). The pixels read by output (0, 0) are shaded blue, those of output
    (0, 1) orange (overlap looks darker; only the first when the row has one output).
    The title gets ``"{n}x{n} -> {out}x{out}"`` under ``title``. Draws on the matplotlib
    axes ``ax`` and returns ``out``, the output size along one axis
    (:func:`utils.shapes.output_size`). Chapter 3 ("Shapes: padding, stride and
    dilation"); the cases follow Dumoulin and Visin, "A guide to convolution
    arithmetic for deep learning" (2016).

    Raises ``ValueError`` naming the argument for a size that is not a positive int
    (``pad``: not a non-negative int), or when the dilated window does not fit the
    padded input.
    """
    n, k = positive_int(n, "n"), positive_int(k, "k")
    stride = positive_int(stride, "stride")
    dilation = positive_int(dilation, "dilation")
    pad = positive_int(pad, "pad", allow_zero=True)
    out = output_size(n, k, pad, stride, dilation)  # raises if the window does not fit
    size = n + 2 * pad
    for r in range(size):
        for c in range(size):
            inside = pad <= r < pad + n and pad <= c < pad + n
            fill = "white" if inside else _PAD
            cell = Rectangle((c - 0.5, r - 0.5), 1, 1, fc=fill, ec=_GRID, lw=0.6)
            cell.set_gid("input" if inside else "padding")
            ax.add_patch(cell)
    for j, colour in enumerate(_TAPS[: min(out, 2)]):
        for p in range(k):
            for q in range(k):
                xy = (j * stride + q * dilation - 0.5, p * dilation - 0.5)
                tap = Rectangle(xy, 1, 1, fc=colour, alpha=0.55, gid=f"output {j}")
                ax.add_patch(tap)
    ax.set(xlim=(-0.6, size - 0.4), ylim=(size - 0.4, -0.6), aspect="equal")
    ax.axis("off")
    ax.set_title(f"{title}\n{n}x{n} -> {out}x{out}", fontsize=9)
    return out
