"""utils.diagrams_beyond: each box is coloured by what happens to its weights in chapter
11's set-ups, each method marks the layer it reads, each cascade stage re-initialises
exactly the top layers."""

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from utils import diagrams_beyond as db  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def boxes(fig):
    """[(label, fill colour hex, (x, y))] of every labelled box, in drawing order."""
    ax = fig.axes[0]
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    found = []
    for t in ax.texts:
        x, y = t.get_position()
        for r in rects:
            if (
                r.get_x() < x < r.get_x() + r.get_width()
                and r.get_y() < y < r.get_y() + r.get_height()
            ):
                found.append((t.get_text(), to_hex(r.get_facecolor()), (x, y)))
                break
    return found


def test_transfer_setups_colour_each_part_by_its_role():
    fig = db.transfer_setups(["conv1", "conv2"])
    found = boxes(fig)
    titles = list(db.SETUPS)
    assert [t.get_text() for t in fig.axes[0].texts[:1]] == [titles[0]]
    for col, (body, bn, head) in enumerate(db.SETUPS.values()):
        left, right = col * 3.2, col * 3.2 + 3.2
        mine = [(label, colour) for label, colour, (x, _) in found if left <= x < right]
        assert mine.count(("conv1", to_hex(db.ROLES[body][0]))) == 1
        assert mine.count(("conv2", to_hex(db.ROLES[body][0]))) == 1
        assert mine.count(("BN", to_hex(db.ROLES[bn][0]))) == 2
        assert ("Dense head", to_hex(db.ROLES[head][0])) in mine
    legend = [t.get_text() for t in fig.axes[0].texts]
    assert all(text in legend for _, text in db.ROLES.values())
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # the opaque light card


def test_attribution_methods_mark_what_each_method_reads():
    fig = db.attribution_methods(["c_conv1", "conv_last", "fc"])
    found = boxes(fig)
    highlighted = [label for label, colour, _ in found if colour != "#ffffff"]
    # the image boxes are grey, and only Grad-CAM's last convolution is coloured
    assert highlighted.count("x") == len(db.METHODS)
    assert [h for h in highlighted if h != "x"] == ["conv_last"]
    dashed = [p for p in fig.axes[0].patches if p.get_linestyle() == "--"]
    assert len(dashed) == 3  # gradients: saliency, IG and Grad-CAM, not occlusion
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert all(m in texts for m in db.METHODS) and "x' ... x" in texts


@pytest.mark.parametrize("n", [1, 3, 5])
def test_randomization_cascade_reinitialises_the_top_layers(n):
    names = [f"layer{i}" for i in range(n)]
    fig = db.randomization_cascade(names)
    found = [(label, colour, y) for label, colour, (_, y) in boxes(fig)]
    assert len(found) == n * (n + 1)
    rows = sorted({y for *_, y in found}, reverse=True)  # stage 0 on top
    for stage, y in enumerate(rows):
        row = [(label, colour) for label, colour, yy in found if yy == y]
        random = [label for label, colour in row if colour == db.RANDOM.lower()]
        assert random == names[n - stage :], (stage, random)


@pytest.mark.parametrize(
    "function, arg, match",
    [
        (db.transfer_setups, "conv1", "list of layer names"),
        (db.transfer_setups, [], "1 to 8"),
        (db.randomization_cascade, ["a", ""], "list of layer names"),
        (db.randomization_cascade, [f"l{i}" for i in range(9)], "1 to 8"),
        (db.attribution_methods, ["dense", "logits"], "convolution"),
        (db.attribution_methods, [1, 2], "list of layer names"),
    ],
)
def test_bad_layer_lists_are_refused_before_drawing(function, arg, match):
    with pytest.raises(ValueError, match=match):
        function(arg)
    assert not plt.get_fignums()
