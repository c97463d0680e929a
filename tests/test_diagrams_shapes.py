"""utils.diagrams_shapes: chapter 3's drawing of padding, stride and dilation."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from utils import diagrams_shapes as ds
from utils.shapes import output_size


def _cells(ax, gid):
    """Top-left (row, column) of every patch with this gid, as ints."""
    return sorted(
        (round(p.get_y() + 0.5), round(p.get_x() + 0.5))
        for p in ax.patches
        if p.get_gid() == gid
    )


@pytest.mark.parametrize(
    "n, k, stride, pad, dilation",
    [
        (5, 3, 1, 0, 1),
        (5, 3, 1, 1, 1),
        (5, 3, 2, 1, 1),
        (7, 3, 1, 0, 2),
        (4, 2, 3, 2, 1),
    ],
)
def test_taps_padding_and_output_size_follow_the_formula(n, k, stride, pad, dilation):
    fig, ax = plt.subplots()
    settings = dict(stride=stride, pad=pad, dilation=dilation)
    out = ds.draw_windows(ax, n, k, **settings, title="t")
    assert out == output_size(n, k, pad, stride, dilation)
    size = n + 2 * pad
    assert len(_cells(ax, "input")) == n * n
    assert len(_cells(ax, "padding")) == size * size - n * n
    for j in range(min(out, 2)):  # output (0, j) reads rows p*d, columns j*s + q*d
        taps = [(p, q) for p in range(k) for q in range(k)]
        expected = sorted((p * dilation, j * stride + q * dilation) for p, q in taps)
        assert _cells(ax, f"output {j}") == expected
    assert ax.get_title().endswith(f"{n}x{n} -> {out}x{out}")
    plt.close(fig)


def test_a_row_with_one_output_shades_one_window():
    fig, ax = plt.subplots()
    assert ds.draw_windows(ax, 3, 3) == 1
    assert _cells(ax, "output 1") == [] and len(_cells(ax, "output 0")) == 9
    plt.close(fig)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0, k=3), "n"),
        (dict(n=5, k=2.0), "k"),
        (dict(n=5, k=3, stride=0), "stride"),
        (dict(n=5, k=3, pad=-1), "pad"),
        (dict(n=5, k=3, dilation=True), "dilation"),
        (dict(n=4, k=3, dilation=2), "does not fit"),
    ],
)
def test_bad_input_is_refused_before_drawing(kwargs, match):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        ds.draw_windows(ax, **kwargs)
    assert not ax.patches
    plt.close(fig)
