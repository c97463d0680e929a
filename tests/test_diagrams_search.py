"""utils.diagrams_search: successive halving's rungs."""

import pytest  # noqa: E402

from utils import diagrams_search as ds  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def test_halving_diagram_draws_every_rung_and_box():
    fig = ds.halving_diagram(27, r_min=1, eta=3)
    words = " | ".join(t.get_text() for t in fig.axes[0].texts)
    for text in ("27 x 1 units, costs 27", "9 x 3 units, costs 18", "1 x 27 units"):
        assert text in words
    assert "81 units in all" in words
    assert len(fig.axes[0].patches) == 27 + 9 + 3 + 1
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_halving_diagram_refuses_bad_input():
    with pytest.raises(ValueError, match="eta"):
        ds.halving_diagram(9, 1, 1)
    with pytest.raises(ValueError, match="at most 81"):
        ds.halving_diagram(243, 1, 3)
