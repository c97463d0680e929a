"""utils/diagram_parts.py: the canvas, box and arrow the schematic diagrams share."""

import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from utils import diagram_parts as parts

pytestmark = pytest.mark.usefixtures("book_style")


def test_canvas_is_bare_with_the_limits_asked_for():
    fig, ax = parts.canvas(4, 2, (0, 8), (-1, 3))
    assert tuple(fig.get_size_inches()) == (4, 2)
    assert ax.get_xlim() == (0, 8) and ax.get_ylim() == (-1, 3)
    assert not ax.axison and ax.get_aspect() == 1.0


def test_box_is_centred_labelled_and_returns_its_edges():
    _, ax = parts.canvas(4, 2, (0, 8), (0, 4))
    edges = parts.box(ax, 3, 2, "encoder", "#0072b2", w=2, h=1, fontsize=9)
    assert edges == (2, 4, 1.5, 2.5)
    [patch] = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert (patch.get_x(), patch.get_y(), patch.get_width()) == (2, 1.5, 2)
    [label] = ax.texts
    assert label.get_text() == "encoder" and label.get_position() == (3, 2)


@pytest.mark.parametrize(
    "kwargs, style", [({}, "-"), ({"dashed": True}, "--"), ({"dotted": True}, ":")]
)
def test_arrow_styles_and_its_label_above_the_midpoint(kwargs, style):
    _, ax = parts.canvas(4, 2, (0, 8), (0, 4))
    parts.arrow(ax, (0, 1), (4, 1), text="x", **kwargs)
    [patch] = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert patch.get_linestyle() == style
    [label] = ax.texts
    assert label.get_position() == (2, 1.18) and label.get_va() == "bottom"


def test_arrow_without_text_draws_no_label():
    _, ax = parts.canvas(4, 2, (0, 8), (0, 4))
    parts.arrow(ax, (0, 1), (4, 1), offset=(0, -0.2))
    assert len(ax.texts) == 0
