"""utils.diagrams_compact: the quantization grid and the separable convolution."""

import pytest  # noqa: E402

from utils import diagrams_compact as dc  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def texts(fig):
    return " | ".join(t.get_text() for t in fig.axes[0].texts)


def test_quantization_diagram_labels_every_integer_and_the_zero_point():
    fig = dc.quantization_diagram(-0.6, 1.4, bits=3)
    words = texts(fig)
    for q in range(8):
        assert f"| {q} |" in f"| {words} |" or f"{q} |" in words
    assert "zero point z = 2" in words and "scale = 0.286" in words
    assert "clipped to q = 0" in words and "clipped to q = 7" in words
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_quantization_diagram_refuses_a_big_grid_and_a_bad_range():
    with pytest.raises(ValueError, match="at most 5"):
        dc.quantization_diagram(bits=8)
    with pytest.raises(ValueError, match="low must be <= high"):
        dc.quantization_diagram(1.0, -1.0)


def test_separable_diagram_gives_both_mac_counts():
    words = texts(dc.separable_diagram(3, 4, 3))
    assert "full: 108 MACs / pixel" in words
    assert "separable: 39 MACs / pixel" in words
    with pytest.raises(ValueError, match="at most 6"):
        dc.separable_diagram(3, 9)
