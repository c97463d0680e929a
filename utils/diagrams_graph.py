"""The computational-graph diagram of the backpropagation chapter (chapter 5).

:func:`draw_computational_graph` writes each node's forward value and its gradient
``dL/d(node)`` on a computational graph; :data:`NEURON_GRAPH` is the layout of chapter
5's worked example. The figure is drawn from the numbers it is given, never typed by
hand, on the book's opaque light card (see :mod:`utils.plot`), so it reads the same in
the light and the dark theme. Bad input raises ``ValueError`` naming what was wrong,
before anything is drawn. :mod:`utils.diagrams_conv` re-exports both names, so
``diagrams_conv.draw_computational_graph`` keeps working.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from .plot import PALETTE
from .shapes import real_number

__all__ = ["NEURON_GRAPH", "draw_computational_graph"]

_GRID = "#888888"  # edges, as in utils.diagrams_conv
_TEXT = "#222222"
_GRAD = PALETTE[3]  # vermillion: gradients

#: Layout of chapter 5's worked example, ``L = (sigmoid(w1 x1 + w2 x2 + b) - t)^2 +
#: lam w1^2``: node name -> ``(x, y, caption)`` and the edges ``(from, to)``.
NEURON_GRAPH = {
    "nodes": {
        "x1": (0, 4, "x1"),
        "w1": (0, 3, "w1"),
        "x2": (0, 2, "x2"),
        "w2": (0, 1, "w2"),
        "b": (0, 0, "b"),
        "lam": (0, 5, "lam"),
        "p1": (1, 3.5, "p1 = w1 x1"),
        "p2": (1, 1.5, "p2 = w2 x2"),
        "reg": (3, 4.6, "reg = lam w1^2"),
        "z": (2, 1.5, "z = p1+p2+b"),
        "a": (3, 1.5, "a = sigmoid(z)"),
        "t": (3, 0, "t"),
        "e": (4, 1.5, "e = a - t"),
        "data_loss": (5, 1.5, "data_loss = e^2"),
        "L": (6, 3, "L = e^2 + reg"),
    },
    "edges": [
        ("x1", "p1"),
        ("w1", "p1"),
        ("x2", "p2"),
        ("w2", "p2"),
        ("p1", "z"),
        ("p2", "z"),
        ("b", "z"),
        ("z", "a"),
        ("a", "e"),
        ("t", "e"),
        ("e", "data_loss"),
        ("data_loss", "L"),
        ("w1", "reg"),
        ("lam", "reg"),
        ("reg", "L"),
    ],
}


def draw_computational_graph(graph, values, grads, *, figsize=(11, 4.6), title=None):
    """Draw a computational graph with each node's forward value and gradient.

    ``graph`` is ``{"nodes": {name: (x, y, caption)}, "edges": [(from, to), ...]}``
    (:data:`NEURON_GRAPH` is chapter 5's); ``values`` maps **every** node to its
    forward value and ``grads`` maps some nodes to ``dL/d(node)`` (inputs that are
    data, such as ``x1``, may have none). Each node is a box with its caption, the
    value in black above the line ("= 0.8692") and the gradient in vermillion below
    ("dL = -0.0295"), four decimals. Chapter 5.

    Raises ``ValueError`` for an edge or a gradient naming an unknown node, a node
    without a value, or a value or gradient that is not a finite real number.
    """
    try:
        nodes, edges = graph["nodes"], list(graph["edges"])
    except (KeyError, TypeError):
        raise ValueError(
            "graph must be a dict with 'nodes' {name: (x, y, caption)} and 'edges' "
            "[(from, to), ...], like utils.diagrams_graph.NEURON_GRAPH"
        ) from None
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"edge ({a!r}, {b!r}) names unknown node {end!r}")
    missing = [n for n in nodes if n not in values]
    if missing:
        raise ValueError(f"no forward value for node(s) {missing}")
    unknown = [n for n in grads if n not in nodes]
    if unknown:
        raise ValueError(f"gradient(s) given for unknown node(s) {unknown}")
    val = {n: real_number(values[n], f"value of {n}") for n in nodes}
    grad = {n: real_number(grads[n], f"gradient of {n}") for n in grads}

    fig, ax = plt.subplots(figsize=figsize)
    ax.axis("off")
    w, h = 0.84, 0.7
    for a, b in edges:
        (xa, ya, _), (xb, yb, _) = nodes[a], nodes[b]
        ax.annotate(
            "",
            xy=(xb - w / 2, yb),
            xytext=(xa + w / 2, ya),
            arrowprops=dict(arrowstyle="->", color=_GRID, lw=1, shrinkA=0, shrinkB=0),
        )
    for name, (x, y, caption) in nodes.items():
        has_grad = name in grad
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.02",
                fc="#f2f2f2" if has_grad else "white",
                ec=_TEXT,
                lw=0.8,
            )
        )
        ax.text(x, y + 0.17, caption, ha="center", va="center", size=8, weight="bold")
        ax.text(x, y - 0.02, f"= {val[name]:.4f}", ha="center", va="center", size=8)
        if has_grad:
            ax.text(
                x,
                y - 0.2,
                f"dL = {grad[name]:.4f}",
                ha="center",
                va="center",
                size=8,
                color=_GRAD,
            )
    xs = [p[0] for p in nodes.values()]
    ys = [p[1] for p in nodes.values()]
    ax.set(xlim=(min(xs) - 0.6, max(xs) + 0.6), ylim=(min(ys) - 0.6, max(ys) + 0.6))
    ax.set_title(
        title
        or "forward values (black, left to right); gradients dL/d(node) "
        "(vermillion, right to left)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
