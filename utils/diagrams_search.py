"""Schematic of chapter 17 ("Automatic learning"): successive halving's rungs.

:func:`halving_diagram` draws one row per rung: a box per configuration still running
(filled for those promoted to the next rung), each as wide as the budget it has
trained so far, with the rung's ``n_i x r_i`` and the units it costs. Drawn on the
book's opaque light card with the Okabe-Ito palette (:data:`utils.plot.PALETTE`), so
it reads the same in light and dark mode. Returns the matplotlib ``Figure``; bad input
raises ``ValueError`` (from :func:`utils.search.halving_rungs`) before drawing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from .plot import PALETTE
from .search import halving_rungs

__all__ = ["halving_diagram"]

_INK = "#222222"


def halving_diagram(n: int = 27, r_min: int = 1, eta: int = 3):
    """Successive halving of ``n`` configurations from ``r_min`` units, factor ``eta``.

    Row ``i`` holds ``n_i`` boxes of width proportional to ``r_i`` (the budget each
    has trained in all); the ``n_{i+1}`` best are filled in the promotion colour.
    The right column states ``n_i x r_i`` and the increment each rung costs when
    promoted configurations resume. Keep ``n <= 81`` so the boxes stay visible.
    Raises ``ValueError`` as :func:`utils.search.halving_rungs`, or for ``n > 81``.
    Li et al. (2017). Chapter 17.
    """
    rungs = halving_rungs(n, r_min, eta)
    if n > 81:
        raise ValueError(f"n must be at most 81 to draw every box, got {n}")
    fig, ax = plt.subplots(figsize=(7.2, 0.75 * len(rungs) + 1.1))
    ax.axis("off")
    ax.grid(False)
    r_last = rungs[-1][1]
    unit = 4.6 / max(n_i * r_i for n_i, r_i in rungs) if rungs else 1
    total, prev = 0, 0
    for i, (n_i, r_i) in enumerate(rungs):
        y = -i
        kept = rungs[i + 1][0] if i + 1 < len(rungs) else 0
        w = r_i * unit
        for j in range(n_i):
            colour = PALETTE[2] if j < kept else PALETTE[5]
            ax.add_patch(
                Rectangle((j * w, y), w * 0.92, 0.6, fc=colour, ec=_INK, lw=0.4)
            )
        cost = n_i * (r_i - prev)
        total += cost
        ax.text(
            4.8,
            y + 0.3,
            f"rung {i}: {n_i} x {r_i} units, costs {cost}",
            va="center",
            fontsize=9,
            color=_INK,
        )
        prev = r_i
    ax.text(
        0,
        0.95,
        f"successive halving: n = {n}, r_min = {r_min}, eta = {eta}; "
        f"{total} units in all",
        fontsize=10,
        color=_INK,
    )
    ax.text(
        0,
        -len(rungs) + 0.25,
        f"filled: the best 1/{eta}, promoted to train on (up to {r_last} units)",
        fontsize=9,
        color=PALETTE[2],
    )
    ax.set_xlim(0, 8.2)
    ax.set_ylim(-len(rungs) + 0.1, 1.3)
    fig.tight_layout()
    return fig
